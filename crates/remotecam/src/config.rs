//! The config file (TOML). Every flag of the hub has a key of the same name; cameras are
//! tables `[cameras.<name>]` with a `source` URL, or without one for a camera that comes
//! by itself (a browser, a `Publisher`) and only has settings here; `[motion]` gives the
//! motion settings every camera starts from. Unknown keys are errors, and every error
//! names the file, the line and what was expected. The reference is `docs/config.md`.
//!
//! One responsibility, kept whole: the file's shape and its checks (about 400 lines),
//! then their tests, each error's wording and place (the rest).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::hub::camera_name;
use crate::motion::{MotionSettings, MotionUpdate};
use crate::source::{RtspSpec, SourceSpec};

/// Every setting the hub takes both as a flag and as a key of the config file, declared
/// once: clap reads the flags (the doc comments are `--help`), serde the file, where each
/// key has its flag's name (`--https-port`, `https_port`). The file also has `[motion]`
/// and `[cameras.<name>]`, which have no flags. A flag given wins over the file
/// ([`Keys::over`]); defaults are applied after (`server::Settings`).
#[derive(Debug, Clone, Default, clap::Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keys {
    /// Address to listen on, HTTP and HTTPS [default: 0.0.0.0, the whole LAN].
    #[arg(long)]
    pub bind: Option<IpAddr>,
    /// Plain HTTP port, 0 for any free one [default: 8100].
    #[arg(long)]
    pub port: Option<u16>,
    /// HTTPS port, 0 for any free one [default: 8443]. Phones need HTTPS for the camera.
    #[arg(long)]
    pub https_port: Option<u16>,
    /// Where the hub keeps its data: token, certificate and key, motion.json, recordings/,
    /// and remotecam.toml if you put one there
    /// [default: the user's data directory, e.g. ~/.local/share/remotecam].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Your own certificate (PEM) instead of the generated self-signed one.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Let requests from this machine (127.0.0.1, ::1) in without the token [default: true].
    #[arg(long, action = clap::ArgAction::Set)]
    pub trust_loopback: Option<bool>,
    /// Largest frame a publisher or source may send, in bytes [default: 8388608].
    #[arg(long)]
    pub max_frame_bytes: Option<usize>,
    /// Largest picture a publisher or source may send, width times height in pixels
    /// [default: 33177600, 7680x4320].
    #[arg(long)]
    pub max_frame_pixels: Option<u64>,
    /// More names the hub answers to (comma-separated), besides localhost, its
    /// addresses, its host name and its certificate's names: e.g. a name a reverse proxy
    /// or a DNS record gives it. Requests for any other name are refused (DNS rebinding).
    #[arg(long, value_delimiter = ',')]
    pub allowed_hosts: Option<Vec<String>>,
    /// Most cameras the hub keeps [default: 64].
    #[arg(long)]
    pub max_cameras: Option<usize>,
    /// Most client connections open at once, both listeners together [default: 4096,
    /// and never more than the open-file limit leaves after 128 for the hub itself].
    #[arg(long)]
    pub max_connections: Option<usize>,
    /// Most connections open at once from one address that needs the token (another
    /// machine) [default: 128].
    #[arg(long)]
    pub max_connections_per_address: Option<usize>,
    /// Start with a test-pattern camera named "demo", so there is something to watch.
    #[arg(long)]
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub demo: bool,
    /// Remove recordings older than this many days, 0 to keep them whatever their age
    /// [default: 30].
    #[arg(long)]
    pub record_max_age_days: Option<f64>,
    /// Keep at most this many megabytes of recordings, 0 for no limit [default: 0].
    #[arg(long)]
    pub record_max_total_mb: Option<f64>,
    /// Keep this many megabytes free on the recordings' disk: old clips are removed, and
    /// recording stops when none is left to remove [default: 256].
    #[arg(long)]
    pub record_min_free_mb: Option<u64>,
    /// POST every hub event (JSON) to this http:// or https:// URL.
    #[arg(long)]
    pub webhook: Option<String>,
    /// `[motion]`: the motion settings of every camera that has none of its own (saved
    /// from its page or the API), any of the keys of `/api/cameras/{name}/motion`.
    #[arg(skip)]
    #[serde(default, skip_serializing)]
    pub motion: Option<toml::Spanned<MotionUpdate>>,
    /// `[mqtt]`: the broker the hub tells its cameras' state and events to, and takes
    /// commands from (`docs/config.md`).
    #[arg(skip)]
    #[serde(default, skip_serializing)]
    pub mqtt: Option<MqttTable>,
    /// `[recordings]`: where clips go besides the data directory (`[recordings.s3]`).
    #[arg(skip)]
    #[serde(default, skip_serializing)]
    pub recordings: Option<RecordingsTable>,
    /// `[[peers]]`: other hubs whose cameras and clips this hub's pages show.
    #[arg(skip)]
    #[serde(default, skip_serializing)]
    pub peers: Vec<PeerTable>,
    /// `[cameras.<name>]`, by name (where the parser found it, for errors).
    #[arg(skip)]
    #[serde(default, skip_serializing)]
    pub cameras: BTreeMap<toml::Spanned<String>, CameraTable>,
}

impl Keys {
    /// These keys (the flags) over `file`'s: each key given here wins, the others come
    /// from the file. Done on the keys' TOML form, so that no key is listed again here.
    pub fn over(&self, file: &Keys) -> Keys {
        let table = |keys: &Keys| toml::Table::try_from(keys).expect("keys serialize");
        let mut merged = table(file);
        merged.extend(table(self));
        let mut keys: Keys = merged.try_into().expect("merged keys deserialize");
        keys.motion.clone_from(&file.motion);
        keys.mqtt.clone_from(&file.mqtt);
        keys.peers.clone_from(&file.peers);
        keys.recordings.clone_from(&file.recordings);
        keys.cameras.clone_from(&file.cameras);
        keys
    }
}

/// `[mqtt]`, as written; checked by `mqtt::MqttConfig::from_table`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttTable {
    /// `mqtt://host[:port]` or `mqtts://host[:port]`, credentials allowed in it.
    pub url: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// `mqtts://`: the SHA-256 of the broker's certificate, to trust a self-signed one.
    pub fingerprint: Option<String>,
    /// First level of the hub's topics [default: remotecam].
    pub prefix: Option<String>,
    /// [default: remotecam-<host name>-<8 hex digits of the data directory>]
    pub client_id: Option<String>,
    /// Announce the cameras to Home Assistant [default: true].
    pub discovery: Option<bool>,
    /// [default: homeassistant]
    pub discovery_prefix: Option<String>,
}

/// `[recordings]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordingsTable {
    /// `[recordings.s3]`: upload each finished clip to an S3-compatible store.
    pub s3: Option<crate::record::upload::S3Table>,
}

/// One of `[[peers]]`, as written; checked by `peers::from_tables`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerTable {
    /// What this hub calls it, on its pages.
    pub name: String,
    /// The other hub's address: `https://cabin.local:8443`.
    pub url: String,
    /// A token of the other hub's (a viewer token made there is enough).
    pub token: String,
    /// `https://`: the SHA-256 of the other hub's certificate, to trust its self-signed one.
    pub fingerprint: Option<String>,
}

/// `[cameras.<name>]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraTable {
    /// Where the hub gets the frames; none for a camera that publishes by itself.
    pub source: Option<toml::Spanned<String>>,
    /// RTSP sources: the camera's second (H.264) stream, decoded for motion detection
    /// and the JPEG views instead of `source`.
    pub detect_source: Option<toml::Spanned<String>>,
    /// HTTP and RTSP sources: seconds to wait for the connection.
    pub connect_timeout_s: Option<f64>,
    /// HTTP and RTSP sources: seconds a stream may stay silent before it is reconnected.
    pub read_timeout_s: Option<f64>,
    /// HTTP snapshot sources: fetches per second.
    pub poll_fps: Option<f64>,
    /// Run the source only while someone watches.
    pub on_demand: Option<bool>,
    /// With `on_demand`: seconds without viewers before the source stops.
    pub idle_after_s: Option<f64>,
    /// `[cameras.<name>.motion]`: motion settings, any of the keys of
    /// `/api/cameras/{name}/motion`.
    pub motion: Option<toml::Spanned<MotionUpdate>>,
}

/// A camera the config file asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfiguredCamera {
    pub name: String,
    /// `None`: a camera that comes by itself (a browser, a `Publisher`); the file only
    /// gives its settings, which apply when it appears.
    pub source: Option<SourceSpec>,
    /// When set, the source runs only while someone watches, and stops after this long
    /// without viewers.
    pub on_demand: Option<Duration>,
    /// Motion settings the file sets (checked); they apply at every start, over those
    /// saved from the API.
    pub motion: Option<MotionUpdate>,
}

/// A parsed, checked config file.
#[derive(Debug)]
pub struct Config {
    pub path: PathBuf,
    pub file: Keys,
    pub cameras: Vec<ConfiguredCamera>,
    /// `[motion]`, checked.
    pub motion_defaults: Option<MotionUpdate>,
}

/// A config error: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: PathBuf,
    /// 1-based line and column, when the error has a place.
    pub at: Option<(usize, usize)>,
    pub message: String,
    /// The offending line, for context.
    pub line_text: Option<String>,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.at {
            Some((line, col)) => {
                write!(f, "{}:{line}:{col}: {}", self.path.display(), self.message)?
            }
            None => write!(f, "{}: {}", self.path.display(), self.message)?,
        }
        if let Some(text) = &self.line_text {
            write!(f, "\n    {}", text.trim_end())?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            path: path.to_owned(),
            at: None,
            message: format!("cannot read the config file: {e}"),
            line_text: None,
        })?;
        Config::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let error_at = |offset: Option<usize>, message: String| {
            let at = offset.map(|o| line_col(text, o));
            ConfigError {
                path: path.to_owned(),
                at,
                line_text: at
                    .and_then(|(l, _)| text.lines().nth(l - 1))
                    .map(str::to_owned),
                message,
            }
        };
        let file: Keys = toml::from_str(text)
            .map_err(|e| error_at(e.span().map(|s| s.start), friendly(e.message())))?;
        // Motion keys checked as the API checks them; an error points at the key's line.
        let check_motion = |update: &toml::Spanned<MotionUpdate>, camera: Option<&str>| {
            MotionSettings::default()
                .apply(update.get_ref().clone())
                .map_err(|e| {
                    let at = motion_key_at(text, camera, e.key);
                    let table = camera.map_or("motion".into(), |c| format!("cameras.{c}.motion"));
                    error_at(
                        Some(at.unwrap_or(update.span().start)),
                        format!("{table}: {e}"),
                    )
                })
                .map(|_| update.get_ref().clone())
        };
        let motion_defaults = file
            .motion
            .as_ref()
            .map(|update| check_motion(update, None))
            .transpose()?;
        let mut cameras = Vec::new();
        for (key, table) in &file.cameras {
            let (raw_name, header) = (key.get_ref(), Some(key.span().start));
            let name = camera_name(raw_name)
                .map_err(|e| error_at(header, format!("[cameras.{raw_name}]: {e}")))?;
            let mut source = table
                .source
                .as_ref()
                .map(|source| {
                    SourceSpec::parse(source.get_ref()).map_err(|e| {
                        error_at(
                            Some(source.span().start),
                            format!("cameras.{raw_name}.source: {e}"),
                        )
                    })
                })
                .transpose()?;
            let only_for = |key: &str, sources: &str| {
                error_at(
                    header,
                    format!("cameras.{raw_name}.{key} applies only to {sources} sources"),
                )
            };
            let seconds = |key: &str, v: f64| {
                Duration::try_from_secs_f64(v)
                    .ok()
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| error_at(header, format!("cameras.{raw_name}.{key} must be a number of seconds above 0, not {v}")))
            };
            if source.is_none() {
                let set = [
                    ("connect_timeout_s", table.connect_timeout_s.is_some()),
                    ("read_timeout_s", table.read_timeout_s.is_some()),
                    ("poll_fps", table.poll_fps.is_some()),
                    ("on_demand", table.on_demand.is_some()),
                    ("idle_after_s", table.idle_after_s.is_some()),
                    ("detect_source", table.detect_source.is_some()),
                ];
                if let Some((key, _)) = set.iter().find(|(_, set)| *set) {
                    return Err(error_at(
                        header,
                        format!(
                            "cameras.{raw_name}.{key} needs a source: without one, the camera \
                             is one that publishes by itself (a browser, a Publisher) and only \
                             its motion settings apply"
                        ),
                    ));
                }
            }
            match &mut source {
                Some(SourceSpec::Http(http)) => {
                    if let Some(v) = table.connect_timeout_s {
                        http.connect_timeout = seconds("connect_timeout_s", v)?;
                    }
                    if let Some(v) = table.read_timeout_s {
                        http.read_timeout = seconds("read_timeout_s", v)?;
                    }
                    if let Some(v) = table.poll_fps {
                        if !(0.01..=60.0).contains(&v) {
                            return Err(error_at(
                                header,
                                format!(
                                    "cameras.{raw_name}.poll_fps must be from 0.01 to 60, not {v}"
                                ),
                            ));
                        }
                        http.poll_fps = v;
                    }
                    if table.detect_source.is_some() {
                        return Err(only_for("detect_source", "rtsp://"));
                    }
                }
                Some(SourceSpec::Rtsp(rtsp)) => {
                    if let Some(v) = table.connect_timeout_s {
                        rtsp.connect_timeout = seconds("connect_timeout_s", v)?;
                    }
                    if let Some(v) = table.read_timeout_s {
                        rtsp.read_timeout = seconds("read_timeout_s", v)?;
                    }
                    if table.poll_fps.is_some() {
                        return Err(only_for("poll_fps", "http://"));
                    }
                    if let Some(detect) = &table.detect_source {
                        let at = Some(detect.span().start);
                        let key = format!("cameras.{raw_name}.detect_source");
                        match SourceSpec::parse(detect.get_ref()) {
                            Ok(SourceSpec::Rtsp(d)) => {
                                rtsp.detect = Some(Box::new(RtspSpec {
                                    connect_timeout: rtsp.connect_timeout,
                                    read_timeout: rtsp.read_timeout,
                                    ..d
                                }));
                            }
                            Ok(_) => {
                                return Err(error_at(
                                    at,
                                    format!(
                                        "{key} must be an rtsp:// or rtsps:// URL (the camera's H.264 substream)"
                                    ),
                                ));
                            }
                            Err(e) => return Err(error_at(at, format!("{key}: {e}"))),
                        }
                    }
                }
                Some(_) => {
                    for (key, set, sources) in [
                        (
                            "connect_timeout_s",
                            table.connect_timeout_s.is_some(),
                            "http:// and rtsp://",
                        ),
                        (
                            "read_timeout_s",
                            table.read_timeout_s.is_some(),
                            "http:// and rtsp://",
                        ),
                        ("poll_fps", table.poll_fps.is_some(), "http://"),
                        ("detect_source", table.detect_source.is_some(), "rtsp://"),
                    ] {
                        if set {
                            return Err(only_for(key, sources));
                        }
                    }
                }
                None => {}
            }
            let on_demand = match (table.on_demand, table.idle_after_s) {
                (Some(true), idle) => Some(seconds("idle_after_s", idle.unwrap_or(10.0))?),
                (_, Some(_)) => {
                    return Err(error_at(
                        header,
                        format!("cameras.{raw_name}.idle_after_s needs on_demand = true"),
                    ));
                }
                _ => None,
            };
            let motion = table
                .motion
                .as_ref()
                .map(|update| check_motion(update, Some(raw_name)))
                .transpose()?;
            if cameras.iter().any(|c: &ConfiguredCamera| c.name == name) {
                return Err(error_at(
                    header,
                    format!("camera name {name:?} is used twice (names are not case-sensitive)"),
                ));
            }
            cameras.push(ConfiguredCamera {
                name,
                source,
                on_demand,
                motion,
            });
        }
        Ok(Config {
            path: path.to_owned(),
            file,
            cameras,
            motion_defaults,
        })
    }
}

/// Line and column (1-based) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map_or(0, |p| p + 1) + 1;
    (line, col)
}

/// Where the parser found motion key `key`: in `[motion]`, or in camera `camera`'s
/// `motion` table (the file read again, for an error only).
fn motion_key_at(text: &str, camera: Option<&str>, key: &str) -> Option<usize> {
    type Keyed = BTreeMap<toml::Spanned<String>, toml::Value>;
    #[derive(Deserialize)]
    struct File {
        motion: Option<Keyed>,
        #[serde(default)]
        cameras: BTreeMap<String, CameraMotion>,
    }
    #[derive(Deserialize)]
    struct CameraMotion {
        motion: Option<Keyed>,
    }
    let mut file: File = toml::from_str(text).ok()?;
    let table = match camera {
        None => file.motion?,
        Some(name) => file.cameras.remove(name)?.motion?,
    };
    let found = table.into_keys().find(|k| k.get_ref() == key)?;
    Some(found.span().start)
}

/// The parser's words, made plainer for the types a user meets here.
fn friendly(message: &str) -> String {
    message
        .trim()
        .replace("expected u16", "expected a port number (0 to 65535)")
        .replace("expected usize", "expected a whole number")
        .replace("expected a boolean", "expected true or false")
        .replace(
            "invalid IP address syntax",
            "not an IP address (like 0.0.0.0 or 192.168.1.5)",
        )
}

#[cfg(test)]
mod tests {
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
            e.starts_with(
                "remotecam.toml:1:10: [cameras.front door]: camera name may contain only"
            ),
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
}
