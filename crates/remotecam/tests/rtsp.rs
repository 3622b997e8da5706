//! RTSP cameras against a real RTSP server (GStreamer's, `common/rtsp_server.py`):
//! SMPTE colour bars with the running time drawn over them, as H.264 or H.265.

mod common;

use common::*;

fn config(dir: &tempfile::TempDir, text: &str) -> String {
    let path = dir.path().join("rtsp.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

/// A hub with the RTSP camera `door` at `url` and a test pattern camera `ok` beside it.
fn hub_with(url: &str) -> Hub {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        &dir,
        &format!(
            "[cameras.door]\nsource = \"{url}\"\nread_timeout_s = 2\n\
             [cameras.ok]\nsource = \"test:?width=160&height=120&fps=30\"\n"
        ),
    );
    Hub::builder().dir(dir).args(&["--config", &cfg]).start()
}

/// The seven bars of the SMPTE pattern, left to right, at full intensity.
const BARS: [[u8; 3]; 7] = [
    [255, 255, 255],
    [255, 255, 0],
    [0, 255, 255],
    [0, 255, 0],
    [255, 0, 255],
    [255, 0, 0],
    [0, 0, 255],
];

/// Decodes `jpeg` and checks it is the pattern: its size, and each bar's colour in the
/// middle of the bar (within what H.264 and JPEG lose).
fn assert_shows_the_bars(jpeg: &[u8], width: usize, height: usize) {
    let mut decoder =
        zune_jpeg::JpegDecoder::new(zune_jpeg::zune_core::bytestream::ZCursor::new(jpeg));
    let rgb = decoder.decode().expect("a JPEG");
    assert_eq!(decoder.dimensions(), Some((width, height)));
    let y = height / 4;
    for (i, want) in BARS.iter().enumerate() {
        let x = (2 * i + 1) * width / 14;
        let got = &rgb[(y * width + x) * 3..][..3];
        let off = got
            .iter()
            .zip(want)
            .map(|(g, w)| (i32::from(*g) - i32::from(*w)).abs())
            .max()
            .unwrap();
        assert!(off <= 24, "bar {i} at x={x}: {got:?}, not {want:?}");
    }
}

async fn snapshot(hub: &Hub, name: &str) -> reqwest::Response {
    let res = reqwest::get(hub.url(&format!("/api/cameras/{name}/snapshot.jpg")))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res
}

#[tokio::test]
async fn an_h264_camera_is_live_as_mjpeg_and_snapshots_of_its_own_picture() {
    let camera = RtspCamera::start();
    let hub = hub_with(&camera.url_with_user());
    hub.wait_camera("door", |c| {
        c["state"] == "live" && c["keyframe_interval_ms"].as_u64().is_some()
    })
    .await;
    let status = hub.camera("door").await;
    assert_eq!(status["source"], "rtsp");
    assert_eq!(status["codec"], "h264");
    assert_eq!(
        (status["width"].as_u64(), status["height"].as_u64()),
        (Some(640), Some(360))
    );
    let interval = status["keyframe_interval_ms"].as_u64().unwrap();
    assert!(
        (900..=1100).contains(&interval),
        "a keyframe a second: {interval} ms"
    );
    assert!(status["fps"].as_f64().unwrap() > 20.0, "{status}");
    assert_eq!(hub.camera("ok").await["codec"], "jpeg");

    // Nobody wanted JPEG yet: the snapshot is made of the newest frame there and then,
    // not an old one and not after the next keyframe.
    let newest = hub.camera("door").await["seq"].as_u64().unwrap();
    let res = snapshot(&hub, "door").await;
    assert_eq!(res.headers()["x-camera-online"], "true");
    let seq: u64 = res.headers()["x-frame-seq"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        seq >= newest,
        "snapshot of frame {seq}, the camera was at {newest}"
    );
    assert_shows_the_bars(&res.bytes().await.unwrap(), 640, 360);

    // MJPEG: every part the pattern, the running time moving, sequence numbers rising.
    let mut mjpeg = MjpegReader::open(&hub.url("/api/cameras/door/stream.mjpg")).await;
    let mut parts = Vec::new();
    for _ in 0..10 {
        parts.push(mjpeg.next_part().await);
    }
    for part in &parts {
        assert_shows_the_bars(&part.body, 640, 360);
    }
    let seqs: Vec<u64> = parts
        .iter()
        .map(|p| p.header("x-frame-seq").unwrap().parse().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert_ne!(parts[0].body, parts[9].body, "the running time moves");

    // The decoder's own messages, if any, went into the hub's log.
    assert!(
        !hub.log().iter().any(|l| l.starts_with("[OpenH264]")),
        "{:?}",
        hub.log()
    );
}

#[tokio::test]
async fn a_wrong_password_is_reported_and_retried() {
    let camera = RtspCamera::start();
    let hub = hub_with(&camera.url.replacen("rtsp://", "rtsp://user:wrong@", 1));
    hub.wait_camera("door", |c| {
        c["state"] == "retrying"
            && c["error"]
                .as_str()
                .is_some_and(|e| e.contains("refused access (RTSP 401)"))
    })
    .await;
    assert_eq!(hub.camera("door").await["online"], false);
    let res = snapshot(&hub, "ok").await;
    assert_eq!(res.headers()["x-camera-online"], "true");
}

#[tokio::test]
async fn a_camera_that_goes_away_is_retried_and_comes_back_live() {
    let camera = RtspCamera::start();
    let hub = hub_with(&camera.url_with_user());
    hub.wait_camera("door", |c| c["state"] == "live").await;
    let mut mjpeg = MjpegReader::open(&hub.url("/api/cameras/door/stream.mjpg")).await;
    assert_shows_the_bars(&mjpeg.next_part().await.body, 640, 360);
    let mut other = MjpegReader::open(&hub.url("/api/cameras/ok/stream.mjpg")).await;

    let options = camera.kill();
    hub.wait_camera("door", |c| {
        c["state"] == "retrying" && c["error"].as_str().is_some_and(|e| !e.is_empty())
    })
    .await;
    // The viewer stays connected and is shown the no-signal picture.
    loop {
        if mjpeg.next_part().await.header("x-frame-seq").is_none() {
            break;
        }
    }
    // The other camera goes on.
    let a = other.next_part().await.body;
    let b = other.next_part().await.body;
    assert_ne!(a, b);

    let _back = RtspCamera::with(options);
    hub.wait_camera("door", |c| c["state"] == "live" && c["online"] == true)
        .await;
    // The same viewer sees the camera again.
    loop {
        let part = mjpeg.next_part().await;
        if part.header("x-frame-seq").is_some() {
            assert_shows_the_bars(&part.body, 640, 360);
            break;
        }
    }
}

#[tokio::test]
async fn an_h265_camera_says_what_it_is() {
    let camera = RtspCamera::with(RtspOptions {
        codec: "h265",
        ..RtspOptions::default()
    });
    let hub = hub_with(&camera.url_with_user());
    hub.wait_camera("door", |c| c["state"] == "live" && c["codec"] == "h265")
        .await;
    let status = hub.camera("door").await;
    assert_eq!(
        (status["width"].as_u64(), status["height"].as_u64()),
        (Some(640), Some(360))
    );
}
