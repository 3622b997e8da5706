//! The config file and the flags, as a user writes them: merged, checked, and the
//! errors they get.

use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(Path::new("remotecam.toml"), text)
}

fn error(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn motion_settings_per_camera() {
    let config = parse(
        r#"
[cameras.yard]
source = "test:"

[cameras.yard.motion]
enabled = true
threshold = 2.5
pre_roll_s = 1
noise_level = 12
mask = [[[0.0, 0.0], [0.5, 0.0], [0.5, 0.5]]]
"#,
    )
    .unwrap();
    let update = config.cameras[0].motion.clone().unwrap();
    let settings = MotionSettings::default().apply(update).unwrap();
    assert!(settings.enabled);
    assert_eq!(settings.threshold, 2.5);
    assert_eq!(settings.pre_roll_s, 1.0);
    assert_eq!(settings.noise_level, Some(12.0));
    assert_eq!(
        settings.mask,
        vec![vec![[0.0, 0.0], [0.5, 0.0], [0.5, 0.5]]]
    );
    // Keys not set keep their defaults.
    assert_eq!(settings.calm_frames, MotionSettings::default().calm_frames);

    let e = error("[cameras.a]\nsource = \"test:\"\n[cameras.a.motion]\nthreshhold = 2\n");
    assert!(
        e.starts_with("remotecam.toml:4:1: unknown field `threshhold`"),
        "{e}"
    );
    let e = error("[cameras.a]\nsource = \"test:\"\n[cameras.a.motion]\nthreshold = 200\n");
    assert!(
        e.starts_with("remotecam.toml:4:1: cameras.a.motion: threshold"),
        "{e}"
    );
    assert!(e.ends_with("threshold = 200"), "{e}");
    // The key's own place, from the parser, also inside an inline table, and not a
    // camera's key of the same name elsewhere in the file.
    let e = error(
        "[cameras.b]\nsource = \"test:\"\n[cameras.b.motion]\nthreshold = 5\n\
         [cameras.a]\nsource = \"test:\"\nmotion = { enabled = true, threshold = 0 }\n",
    );
    assert!(
        e.starts_with("remotecam.toml:7:28: cameras.a.motion: threshold"),
        "{e}"
    );
}

#[test]
fn a_full_file() {
    let config = parse(
        r#"
bind = "127.0.0.1"
port = 9000
https_port = 9443
trust_loopback = false
max_cameras = 8

[cameras.front]
source = "test:?width=320&height=240&fps=5"

[cameras.Door]
source = "http://user:pw@10.0.0.7/video"
read_timeout_s = 3
"#,
    )
    .unwrap();
    assert_eq!(config.file.port, Some(9000));
    assert_eq!(config.file.trust_loopback, Some(false));
    assert_eq!(config.cameras.len(), 2);
    assert_eq!(config.cameras[0].name, "door", "names are lower-cased");
    let Some(SourceSpec::Http(http)) = &config.cameras[0].source else {
        panic!()
    };
    assert_eq!(http.read_timeout, Duration::from_secs(3));
}

#[test]
fn unknown_key_names_the_key_the_line_and_the_choices() {
    let e = error("port = 1\nprot = 8100\n");
    assert!(
        e.starts_with("remotecam.toml:2:1: unknown field `prot`"),
        "{e}"
    );
    assert!(e.contains("expected one of"), "{e}");
    assert!(e.contains("`port`"), "{e}");
    assert!(e.contains("\n    prot = 8100"), "{e}");
}

#[test]
fn wrong_type_says_what_was_expected() {
    let e = error("port = \"eighty\"\n");
    assert!(e.starts_with("remotecam.toml:1:8:"), "{e}");
    assert!(e.contains("expected a port number"), "{e}");
    let e = error("trust_loopback = \"yes\"\n");
    assert!(e.contains("expected true or false"), "{e}");
    let e = error("bind = \"my-laptop\"\n");
    assert!(e.contains("IP address"), "{e}");
}

#[test]
fn bad_source_points_at_its_line() {
    let e = error("[cameras.a]\nsource = \"rtmp://cam/1\"\n");
    assert!(
        e.starts_with("remotecam.toml:2:10: cameras.a.source: unknown source"),
        "{e}"
    );
    let e = error("[cameras.a]\nsource = \"test:?width=13\"\n");
    assert!(e.contains("width must be an even number"), "{e}");
}

#[test]
fn bad_camera_name_and_missing_source() {
    let e = error("[cameras.\"front door\"]\nsource = \"test:\"\n");
    assert!(
        e.starts_with("remotecam.toml:1:10: [cameras.front door]: camera name may contain only"),
        "{e}"
    );
    let e = error("[cameras.a]\nsorce = \"test:\"\n");
    assert!(e.contains("unknown field `sorce`"), "{e}");
}

#[test]
fn a_camera_without_a_source_has_settings_only() {
    let config = parse("[cameras.phone.motion]\nenabled = true\n").unwrap();
    assert_eq!(config.cameras.len(), 1);
    assert_eq!(config.cameras[0].name, "phone");
    assert_eq!(config.cameras[0].source, None);
    assert_eq!(
        config.cameras[0].motion.as_ref().and_then(|m| m.enabled),
        Some(true)
    );
    let e = error("[cameras.phone]\non_demand = true\n");
    assert!(
        e.starts_with("remotecam.toml:1:10: cameras.phone.on_demand needs a source"),
        "{e}"
    );
}

#[test]
fn motion_defaults_for_every_camera() {
    let config = parse("[motion]\nenabled = true\nthreshold = 3\n").unwrap();
    let defaults = config.motion_defaults.unwrap();
    assert_eq!(defaults.enabled, Some(true));
    assert_eq!(defaults.threshold, Some(3.0));
    let e = error("port = 1\n[motion]\nenabled = true\ncalm_frames = 0\n");
    assert!(
        e.starts_with("remotecam.toml:4:1: motion: calm_frames"),
        "{e}"
    );
}

#[test]
fn options_that_do_not_fit_the_source() {
    let e = error("[cameras.a]\nsource = \"test:\"\npoll_fps = 2\n");
    assert!(
        e.contains("poll_fps applies only to http:// sources"),
        "{e}"
    );
    let e = error("[cameras.a]\nsource = \"http://x/\"\nread_timeout_s = 0\n");
    assert!(e.contains("above 0"), "{e}");
    let e = error("[cameras.a]\nsource = \"test:\"\n[cameras.A]\nsource = \"test:\"\n");
    assert!(e.contains("used twice"), "{e}");
}

/// `detect_source` is a second stream of an RTSP camera: its timeouts are the
/// camera's, its password stays out of the URL, and it belongs nowhere else.
#[test]
fn an_rtsp_camera_takes_its_substream_for_pictures() {
    let config = parse(
        "[cameras.yard]
source = \"rtsp://cam/main\"
read_timeout_s = 3
\
         detect_source = \"rtsp://admin:p%40ss@cam/sub#transport=udp\"\n",
    )
    .unwrap();
    let Some(SourceSpec::Rtsp(main)) = &config.cameras[0].source else {
        panic!("an RTSP source");
    };
    let detect = main.detect.as_ref().expect("the substream");
    assert_eq!(detect.url.as_str(), "rtsp://cam/sub");
    assert_eq!(detect.user, Some(("admin".into(), "p@ss".into())));
    assert_eq!(detect.transport, crate::source::RtspTransport::Udp);
    assert_eq!(detect.read_timeout, Duration::from_secs(3));
    let shown = config.cameras[0].source.as_ref().unwrap().to_string();
    assert!(
        shown.ends_with("pictures from RTSP rtsp://admin:***@cam/sub (over UDP)"),
        "{shown}"
    );

    let e = error("[cameras.a]\nsource = \"http://x/\"\ndetect_source = \"rtsp://c/s\"\n");
    assert!(
        e.contains("detect_source applies only to rtsp:// sources"),
        "{e}"
    );
    let e = error("[cameras.a]\nsource = \"rtsp://c/m\"\ndetect_source = \"test:\"\n");
    assert!(
        e.starts_with(
            "remotecam.toml:3:17: cameras.a.detect_source must be an rtsp:// or rtsps:// URL"
        ),
        "{e}"
    );
    let e = error("[cameras.a]\ndetect_source = \"rtsp://c/s\"\n");
    assert!(e.contains("detect_source needs a source"), "{e}");
}

/// An error about a camera's table points at that camera's name, found by the
/// parser (a search of the text once took `[cameras.yard]` for camera `a`'s table).
#[test]
fn errors_point_at_their_own_camera() {
    let e = error(
        "[cameras.yard]\nsource = \"test:\"\n\n[cameras.a]\nsource = \"test:\"\npoll_fps = 2\n",
    );
    assert!(
        e.starts_with("remotecam.toml:4:10: cameras.a.poll_fps applies only"),
        "{e}"
    );
    let e = error("cameras.x = { source = \"test:\", idle_after_s = 3 }\n");
    assert!(
        e.starts_with("remotecam.toml:1:9: cameras.x.idle_after_s"),
        "{e}"
    );
}

/// One declaration for flags and file: a flag given wins, the others come from the
/// file, and a flag not given (`--demo` absent) leaves the file's value.
#[test]
fn flags_over_the_file() {
    let file: Keys = toml::from_str(
        "port = 9000\nhttps_port = 9443\ndemo = true\nallowed_hosts = [\"cam.lan\"]\n\
         [cameras.a]\nsource = \"test:\"\n",
    )
    .unwrap();
    let flags = Keys {
        port: Some(8000),
        max_cameras: Some(3),
        ..Keys::default()
    };
    let keys = flags.over(&file);
    assert_eq!((keys.port, keys.https_port), (Some(8000), Some(9443)));
    assert_eq!(keys.max_cameras, Some(3));
    assert!(keys.demo);
    assert_eq!(keys.allowed_hosts, Some(vec!["cam.lan".to_owned()]));
    assert_eq!(keys.cameras.len(), 1);
    let none = Keys::default().over(&Keys::default());
    assert_eq!((none.port, none.demo), (None, false));
}

#[test]
fn broken_toml() {
    let e = error("port = 8100\n[cameras\n");
    assert!(e.starts_with("remotecam.toml:2:"), "{e}");
}
