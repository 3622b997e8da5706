//! Every camera over RTSP (`rtsp://host:port/<camera>`), read by real clients: ffprobe
//! and ffmpeg as NVRs and Frigate run them, GStreamer's `rtspsrc`, and retina as a
//! second, independent client that compares what it receives with what the camera sent.

mod common;

use common::{Hub, RtspCamera, probe_stream};

fn probe(url: &str) -> serde_json::Value {
    probe_stream(url).unwrap_or_else(|e| panic!("ffprobe {url}: {e}"))
}

#[test]
fn a_test_pattern_and_an_rtsp_camera_play_in_ffprobe() {
    let camera = RtspCamera::start();
    let hub = Hub::with_config(
        &format!(
            "[cameras.pattern]\nsource = \"test:?width=320&height=240&fps=15\"\n\n\
             [cameras.door]\nsource = \"{}\"\n",
            camera.url_with_user()
        ),
        &[],
    );
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
