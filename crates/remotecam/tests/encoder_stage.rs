//! A JPEG camera's video, made by the hub's encoder for whoever wants it: `stream.mp4`
//! of a test pattern and of an MJPEG camera is H.264 that ffprobe reads; the encoder
//! runs from the first viewer of video to a few seconds after the last, one encoder
//! whatever their number.

mod common;

use std::path::Path;

use common::*;

fn config(dir: &tempfile::TempDir, text: &str) -> String {
    let path = dir.path().join("cameras.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

fn hub_with(text: &str) -> Hub {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&dir, text);
    Hub::builder().dir(dir).args(&["--config", &cfg]).start()
}

/// The first `bytes` of the camera's `stream.mp4`, and the response still open.
async fn mp4_start(hub: &Hub, name: &str, bytes: usize) -> (Vec<u8>, reqwest::Response) {
    let mut res = reqwest::get(hub.url(&format!("/api/cameras/{name}/stream.mp4")))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "video/mp4");
    let mut data = Vec::new();
    while data.len() < bytes {
        let chunk = tokio::time::timeout(WAIT, res.chunk())
            .await
            .expect("video in time")
            .unwrap()
            .expect("the stream goes on");
        data.extend_from_slice(&chunk);
    }
    (data, res)
}

async fn encoded_frames(hub: &Hub, name: &str) -> f64 {
    let sample = format!("remotecam_recorder_encode_seconds_count{{camera=\"{name}\"}}");
    hub.metric(&sample).await.unwrap_or(0.0)
}

async fn video_of_a_jpeg_camera(hub: &Hub, name: &str, dir: &Path) {
    hub.wait_camera(name, |c| {
        c["state"] == "live" && c["seq"].as_u64() > Some(2)
    })
    .await;
    let status = hub.camera(name).await;
    assert_eq!(status["codec"], "jpeg");
    assert_eq!(status["encoding"], false, "nobody wants its video yet");

    let (first, a) = mp4_start(hub, name, 30_000).await;
    let file = dir.join(format!("{name}.mp4"));
    std::fs::write(&file, &first).unwrap();
    let probe = ffprobe(&file);
    assert_eq!(probe.codec, "h264");
    assert!(probe.frames >= 2, "{} frames", probe.frames);
    assert_eq!(hub.camera(name).await["encoding"], true);

    // A second viewer of its video: the same encoder, not a second one. Over a stretch
    // of the camera's frames, no more frames are encoded than the camera sent.
    let (_, b) = mp4_start(hub, name, 5_000).await;
    let (frames, encoded) = (
        hub.camera(name).await["seq"].as_u64().unwrap(),
        encoded_frames(hub, name).await,
    );
    hub.wait_camera(name, |c| c["seq"].as_u64() >= Some(frames + 30))
        .await;
    let frames = hub.camera(name).await["seq"].as_u64().unwrap() - frames;
    let encoded = encoded_frames(hub, name).await - encoded;
    assert!(
        encoded <= frames as f64 + 2.0,
        "{encoded} frames encoded of {frames} sent: more than one encoder"
    );

    // The last viewer gone, the encoder stops within seconds.
    drop((a, b));
    hub.wait_camera(name, |c| c["encoding"] == false).await;
}

#[tokio::test]
async fn a_test_pattern_and_an_mjpeg_camera_have_video_while_watched() {
    let dir = tempfile::tempdir().unwrap();
    let pattern = hub_with("[cameras.pattern]\nsource = \"test:?width=320&height=240&fps=15\"\n");
    video_of_a_jpeg_camera(&pattern, "pattern", dir.path()).await;

    let url = pattern.url("/api/cameras/pattern/stream.mjpg");
    let mjpeg = hub_with(&format!("[cameras.mjpeg]\nsource = \"{url}\"\n"));
    video_of_a_jpeg_camera(&mjpeg, "mjpeg", dir.path()).await;
}
