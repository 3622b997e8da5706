//! The first picture a new viewer of an RTSP camera gets is of now. The camera's decoder
//! stops 10 s after the last viewer of JPEG left, and the picture it made last stays in
//! the frame bus: a viewer that comes later is given a picture of the camera's newest
//! unit, never that one.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;

/// How old a new viewer's first picture may be: the decoder's restart (from the newest
/// keyframe to the newest unit) and a JPEG.
const FRESH: Duration = Duration::from_secs(1);

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Someone watches `door` a moment and leaves; the camera's decoder stops 10 s later.
/// Returns the newest unit's number once it has.
async fn watched_then_left(hub: &Hub) -> u64 {
    let mut mjpeg = MjpegReader::open(&hub.url("/api/cameras/door/stream.mjpg")).await;
    while mjpeg.next_part().await.header("x-frame-seq").is_none() {}
    drop(mjpeg);
    hub.wait_camera("door", |c| c["decoding"] == false).await;
    hub.camera("door").await["seq"].as_u64().unwrap()
}

#[tokio::test]
async fn a_new_viewers_first_picture_is_of_now_on_mjpeg_and_the_websocket() {
    let camera = RtspCamera::start();
    let hub = Hub::with_config(
        &format!(
            "[cameras.door]\nsource = \"{}\"\nread_timeout_s = 2\n",
            camera.url_with_user()
        ),
        &[],
    );
    hub.wait_camera("door", |c| c["state"] == "live").await;

    let newest = watched_then_left(&hub).await;
    let mut mjpeg = MjpegReader::open(&hub.url("/api/cameras/door/stream.mjpg")).await;
    let first = loop {
        let part = mjpeg.next_part().await;
        if part.header("x-frame-seq").is_some() {
            break part;
        }
    };
    let seq: u64 = first.header("x-frame-seq").unwrap().parse().unwrap();
    assert!(
        seq >= newest,
        "MJPEG: frame {seq}, the camera was at {newest}"
    );
    let made: f64 = first.header("x-timestamp").unwrap().parse().unwrap();
    let age = now_ms().saturating_sub((made * 1000.0) as u64);
    assert!(
        age < FRESH.as_millis() as u64,
        "MJPEG: the first picture is {age} ms old"
    );
    drop(mjpeg);

    let newest = watched_then_left(&hub).await;
    let mut ws = connect_ws(&hub.ws_url("/api/cameras/door/ws")).await;
    let (meta, _) = next_ws_frame(&mut ws).await;
    let seq = meta["seq"].as_u64().unwrap();
    assert!(
        seq >= newest,
        "WebSocket: frame {seq}, the camera was at {newest}"
    );
    let age = now_ms().saturating_sub(meta["received_ms"].as_u64().unwrap());
    assert!(
        age < FRESH.as_millis() as u64,
        "WebSocket: the first picture is {age} ms old"
    );
}
