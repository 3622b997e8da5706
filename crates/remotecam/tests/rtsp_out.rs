//! Every camera over RTSP (`rtsp://host:port/<camera>`), read by real clients: ffprobe
//! and ffmpeg as NVRs and Frigate run them, GStreamer's `rtspsrc`, and retina as a
//! second, independent client that compares what it receives with what the camera sent.

mod common;

use common::{Hub, RtspCamera, probe_stream};

fn probe(url: &str) -> serde_json::Value {
    probe_stream(url).unwrap_or_else(|e| panic!("ffprobe {url}: {e}"))
}

/// A hub with a test pattern (320x240, 15 fps) and an RTSP camera passed through
/// (`door`: H.264 High, 640x360, 30 fps).
fn pattern_and_door() -> (Hub, RtspCamera) {
    let camera = RtspCamera::start();
    let hub = Hub::with_config(
        &format!(
            "[cameras.pattern]\nsource = \"test:?width=320&height=240&fps=15\"\n\n\
             [cameras.door]\nsource = \"{}\"\n",
            camera.url_with_user()
        ),
        &[],
    );
    (hub, camera)
}

#[test]
fn a_test_pattern_and_an_rtsp_camera_play_in_ffprobe() {
    let (hub, _camera) = pattern_and_door();
    let pattern = probe(&format!("rtsp://{}/pattern", hub.rtsp));
    assert_eq!(pattern["codec_name"], "h264", "{pattern}");
    assert_eq!(
        (pattern["width"].as_u64(), pattern["height"].as_u64()),
        (Some(320), Some(240))
    );
    // Passed through: the camera's own profile and size.
    let door = probe(&format!("rtsp://{}/door", hub.rtsp));
    assert_eq!(door["codec_name"], "h264", "{door}");
    assert_eq!(door["profile"], "High");
    assert_eq!(
        (door["width"].as_u64(), door["height"].as_u64()),
        (Some(640), Some(360))
    );
}

/// `ffmpeg -rtsp_transport tcp -i <url> -t <secs> -c copy` into a file, as Frigate and
/// NVRs record a camera: what ffprobe then counts in it.
fn ffmpeg_copy(url: &str, secs: u32, dir: &std::path::Path, name: &str) -> common::Probe {
    let path = dir.join(format!("{name}.mp4"));
    let out = std::process::Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-rtsp_transport",
            "tcp",
            "-timeout",
            "15000000",
        ])
        .args(["-i", url, "-t", &secs.to_string(), "-c", "copy", "-y"])
        .arg(&path)
        .output()
        .expect("run ffmpeg");
    assert!(
        out.status.success(),
        "ffmpeg {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    common::ffprobe(&path)
}

#[test]
fn ffmpeg_records_ten_seconds_at_the_cameras_frame_rate() {
    let (hub, _camera) = pattern_and_door();
    let dir = tempfile::tempdir().unwrap();
    let (pattern, door) = std::thread::scope(|s| {
        let pattern = s.spawn(|| {
            ffmpeg_copy(
                &format!("rtsp://{}/pattern", hub.rtsp),
                10,
                dir.path(),
                "pattern",
            )
        });
        let door =
            s.spawn(|| ffmpeg_copy(&format!("rtsp://{}/door", hub.rtsp), 10, dir.path(), "door"));
        (pattern.join().unwrap(), door.join().unwrap())
    });
    for (probe, fps) in [(pattern, 15.0), (door, 30.0)] {
        assert_eq!(probe.codec, "h264");
        assert!((9.5..=10.5).contains(&probe.duration), "{}", probe.duration);
        let rate = probe.frames as f64 / probe.duration;
        assert!(
            rate >= fps * 0.9 && rate <= fps * 1.1,
            "{} frames in {} s: {rate} fps, the camera sends {fps}",
            probe.frames,
            probe.duration
        );
    }
}

/// GStreamer's `rtspsrc` (`gst_rtsp_client.py`): the caps it read and the units and
/// keyframes it took.
fn gstreamer(url: &str, codec: &str, units: u32) -> (String, u32, u32) {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/common/gst_rtsp_client.py"
    );
    let out = std::process::Command::new("/usr/bin/python3")
        .args([script, url, "--codec", codec, "--units", &units.to_string()])
        .output()
        .expect("run GStreamer");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "rtspsrc {url}: {text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut fields = text.split_whitespace();
    let caps = fields.next().unwrap().to_owned();
    (
        caps,
        fields.next().unwrap().parse().unwrap(),
        fields.next().unwrap().parse().unwrap(),
    )
}

#[test]
fn gstreamer_plays_h264_and_h265_cameras() {
    let h264 = RtspCamera::start();
    let h265 = RtspCamera::with(common::RtspOptions {
        codec: "h265",
        profile: "main",
        ..Default::default()
    });
    let hub = Hub::with_config(
        &format!(
            "[cameras.door]\nsource = \"{}\"\n\n[cameras.yard]\nsource = \"{}\"\n\n\
             [cameras.pattern]\nsource = \"test:?width=320&height=240&fps=15\"\n",
            h264.url_with_user(),
            h265.url_with_user()
        ),
        &[],
    );
    let (caps, units, keyframes) = gstreamer(&format!("rtsp://{}/door", hub.rtsp), "h264", 45);
    assert!(caps.contains("width=(int)640,height=(int)360"), "{caps}");
    assert!(caps.contains("profile=(string)high"), "{caps}");
    assert_eq!(units, 45);
    assert!(keyframes >= 1, "it started at a keyframe");
    let (caps, _, _) = gstreamer(&format!("rtsp://{}/yard", hub.rtsp), "h265", 45);
    assert!(caps.contains("video/x-h265"), "{caps}");
    assert!(caps.contains("width=(int)640,height=(int)360"), "{caps}");
    // H.265 through ffprobe too: the SDP's sprop-vps/sps/pps.
    let yard = probe(&format!("rtsp://{}/yard", hub.rtsp));
    assert_eq!(
        (yard["codec_name"].as_str(), yard["profile"].as_str()),
        (Some("hevc"), Some("Main"))
    );
    let (caps, units, _) = gstreamer(&format!("rtsp://{}/pattern", hub.rtsp), "h264", 20);
    assert!(caps.contains("width=(int)320,height=(int)240"), "{caps}");
    assert_eq!(units, 20);
}

/// The picture NAL units (slices) of `count` access units of a stream, read with retina.
async fn retina_pictures(url: &str, count: usize) -> Vec<Vec<u8>> {
    use futures_util::StreamExt;
    use retina::codec::CodecItem;
    let mut demuxed = common::retina_play(url).await;
    let mut pictures = Vec::new();
    while pictures.len() < count {
        let item = tokio::time::timeout(common::WAIT, demuxed.next())
            .await
            .expect("a frame in time")
            .expect("the stream goes on")
            .expect("a good frame");
        let CodecItem::VideoFrame(frame) = item else {
            continue;
        };
        let mut rest = frame.data();
        let mut slices = Vec::new();
        while let Some((len, tail)) = rest.split_first_chunk::<4>() {
            let len = u32::from_be_bytes(*len) as usize;
            if matches!(tail[0] & 0x1F, 1..=5) {
                slices.extend_from_slice(&tail[..len]);
            }
            rest = &tail[len..];
        }
        pictures.push(slices);
    }
    pictures
}

#[tokio::test]
async fn retina_receives_the_units_the_camera_sent_untouched() {
    let camera = RtspCamera::start();
    let hub = Hub::with_config(
        &format!("[cameras.door]\nsource = \"{}\"\n", camera.url_with_user()),
        &[],
    );
    // The camera directly, and through the hub, at once: the hub's must be a run of
    // the camera's, byte for byte.
    let own = camera.url_with_user();
    let direct = retina_pictures(&own, 150);
    let url = format!("rtsp://{}/door", hub.rtsp);
    let through = retina_pictures(&url, 60);
    let (direct, through) = tokio::join!(direct, through);
    let first = through
        .iter()
        .find_map(|p| direct.iter().position(|d| d == p).map(|at| (p, at)));
    let (picture, at) = first.expect("the hub's pictures are the camera's");
    let from = through.iter().position(|p| p == picture).unwrap();
    let run = through[from..].len().min(direct[at..].len());
    assert!(run >= 30, "only {run} pictures overlap");
    assert_eq!(through[from..from + run], direct[at..at + run]);
}

#[tokio::test]
async fn a_jpeg_camera_is_encoded_once_whatever_the_number_of_clients() {
    let hub = Hub::with_config(
        "[cameras.pattern]\nsource = \"test:?width=320&height=240&fps=15\"\n",
        &[],
    );
    let url = format!("rtsp://{}/pattern", hub.rtsp);
    let (a, b, c) = tokio::join!(
        retina_pictures(&url, 40),
        retina_pictures(&url, 40),
        retina_pictures(&url, 40)
    );
    // One encoder's output: the clients' pictures are the same bytes where they
    // overlap (each started at the keyframe it found).
    for other in [&b, &c] {
        let at = other
            .iter()
            .position(|p| p == &a[a.len() - 1])
            .or_else(|| a.iter().position(|p| p == &other[other.len() - 1]));
        assert!(
            at.is_some(),
            "the clients' pictures are not the same encoder's"
        );
    }
    let status = hub.camera("pattern").await;
    assert_eq!(status["encoding"], true, "{status}");
}
