//! Frames in, frames out: the hub as MJPEG, snapshot and WebSocket viewers see it.

mod common;

use common::*;
use futures_util::SinkExt;
use tokio::io::AsyncWriteExt;

#[tokio::test]
async fn frames_come_out_identical_and_in_order_on_every_sink() {
    let hub = Hub::start(&[]);
    let mut publisher = Publisher::connect(&hub, "Desk").await;
    let first = test_jpeg(320, 240, "frame 0", false);
    assert_eq!(publisher.send(first.clone()).await, 1);

    let mut mjpeg = MjpegReader::open(&hub.url("/api/cameras/desk/stream.mjpg")).await;
    let mut ws = connect_ws(&hub.ws_url("/api/cameras/desk/ws")).await;
    // A new viewer starts with the newest frame.
    assert_eq!(mjpeg.next_part().await.body, first);
    assert_eq!(next_ws_frame(&mut ws).await.1, first);

    for i in 1..40u64 {
        let jpeg = test_jpeg(320, 240, &format!("frame {i}"), false);
        let seq = publisher.send(jpeg.clone()).await;
        assert_eq!(seq, i + 1);
        let part = mjpeg.next_part().await;
        assert_eq!(
            part.body, jpeg,
            "MJPEG part {i} is the published JPEG, byte for byte"
        );
        assert_eq!(part.header("Content-Type"), Some("image/jpeg"));
        assert_eq!(part.header("X-Frame-Seq"), Some(seq.to_string().as_str()));
        let (meta, body) = next_ws_frame(&mut ws).await;
        assert_eq!(body, jpeg, "WebSocket frame {i} is the published JPEG");
        assert_eq!(meta["seq"], seq);
        assert_eq!(meta["width"], 320);
        assert_eq!(meta["height"], 240);
        let snap = reqwest::get(hub.url("/api/cameras/desk/snapshot.jpg"))
            .await
            .unwrap();
        assert_eq!(snap.headers()["content-type"], "image/jpeg");
        assert_eq!(snap.headers()["x-camera-online"], "true");
        assert_eq!(
            snap.bytes().await.unwrap(),
            jpeg,
            "snapshot {i} is the newest frame"
        );
    }

    let cams = hub.cameras().await;
    let cam = &cams.as_array().unwrap()[0];
    for key in [
        "name",
        "source",
        "online",
        "width",
        "height",
        "fps",
        "viewers",
        "last_frame_age_ms",
    ] {
        assert!(cam.get(key).is_some(), "key {key} in {cam}");
    }
    assert_eq!(cam["name"], "desk");
    assert_eq!(cam["source"], "browser");
    assert_eq!(cam["online"], true);
    assert_eq!(
        (cam["width"].as_u64(), cam["height"].as_u64()),
        (Some(320), Some(240))
    );
    assert_eq!(cam["viewers"], 2);
    assert!(cam["fps"].as_f64().unwrap() > 0.0);
}

#[tokio::test]
async fn capture_time_from_metadata_reaches_viewers() {
    let hub = Hub::start(&[]);
    let mut publisher = Publisher::connect(&hub, "meta").await;
    publisher.send(test_jpeg(64, 48, "a", false)).await;
    let mut ws = connect_ws(&hub.ws_url("/api/cameras/meta/ws")).await;
    next_ws_frame(&mut ws).await;
    publisher
        .ws
        .send(tokio_tungstenite::tungstenite::Message::Text(
            r#"{"capture_ms": 1700000000123.0, "t": 42}"#.into(),
        ))
        .await
        .unwrap();
    publisher
        .ws
        .send(tokio_tungstenite::tungstenite::Message::Binary(test_jpeg(
            64, 48, "b", false,
        )))
        .await
        .unwrap();
    let ack = next_text(&mut publisher.ws).await;
    assert_eq!(
        ack["t"], 42.0,
        "the ack echoes t so the page can measure latency"
    );
    let (meta, _) = next_ws_frame(&mut ws).await;
    assert_eq!(meta["captured_ms"], 1700000000123.0);
}

#[tokio::test]
async fn unknown_camera_is_404_with_json_error() {
    let hub = Hub::start(&[]);
    for path in [
        "/api/cameras/nope",
        "/api/cameras/nope/stream.mjpg",
        "/api/cameras/nope/snapshot.jpg",
        "/api/cameras/nope/ws",
    ] {
        let res = reqwest::get(hub.url(path)).await.unwrap();
        assert_eq!(res.status(), 404, "{path}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert!(
            body["error"].as_str().unwrap().contains("nope"),
            "{path}: {body}"
        );
    }
}

#[tokio::test]
async fn stalled_viewers_do_not_slow_a_fast_viewer_or_grow_memory() {
    let hub = Hub::start(&[]);
    let mut publisher = Publisher::connect(&hub, "busy").await;
    // Large frames (about 200 kB each), so that queuing them per viewer would show.
    let frames: Vec<_> = (0..8)
        .map(|i| test_jpeg(640, 480, &format!("f{i}"), true))
        .collect();
    assert!(
        frames[0].len() > 150_000,
        "frame is {} bytes",
        frames[0].len()
    );
    publisher.send(frames[0].clone()).await;

    // Viewers that ask for the stream (MJPEG or WebSocket) and never read a byte.
    let mut stalled = Vec::new();
    for i in 0..8 {
        let mut s = tokio::net::TcpStream::connect(hub.http).await.unwrap();
        let request = if i % 2 == 0 {
            "GET /api/cameras/busy/stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        } else {
            "GET /api/cameras/busy/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n\
             Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        };
        s.write_all(request.as_bytes()).await.unwrap();
        stalled.push(s);
    }
    let mut fast = MjpegReader::open(&hub.url("/api/cameras/busy/stream.mjpg")).await;
    fast.next_part().await;
    hub.wait_camera("busy", |c| c["viewers"] == 9).await;

    // Lockstep: each frame must reach the fast viewer before the next is sent, so a
    // fast viewer held up by the stalled ones would fail here rather than just be slow.
    let mut baseline = 0;
    for i in 1..=400usize {
        let jpeg = frames[i % frames.len()].clone();
        let seq = publisher.send(jpeg.clone()).await;
        let part = fast.next_part().await;
        assert_eq!(
            part.header("X-Frame-Seq"),
            Some(seq.to_string().as_str()),
            "fast viewer skipped nothing"
        );
        assert_eq!(part.body, jpeg);
        if i == 100 {
            baseline = hub.rss_kib();
        }
    }
    let end = hub.rss_kib();
    eprintln!("hub RSS after 100 frames: {baseline} KiB, after 400: {end} KiB");
    // 300 frames of ~200 kB went by after the baseline: 60 MB per viewer if queued.
    assert!(
        end < baseline + 16 * 1024,
        "hub RSS grew from {baseline} KiB to {end} KiB with stalled viewers"
    );
    drop(stalled);
}

#[tokio::test]
async fn offline_camera_shows_no_signal_picture() {
    let hub = Hub::start(&[]);
    let mut publisher = Publisher::connect(&hub, "porch").await;
    let last = test_jpeg(480, 360, "last", false);
    publisher.send(last.clone()).await;
    let mut mjpeg = MjpegReader::open(&hub.url("/api/cameras/porch/stream.mjpg")).await;
    assert_eq!(mjpeg.next_part().await.body, last);

    publisher.ws.close(None).await.unwrap();
    let part = mjpeg.next_part().await;
    assert_ne!(part.body, last);
    assert!(part.header("X-Frame-Seq").is_none());
    let mut decoder = zune_jpeg::JpegDecoder::new(std::io::Cursor::new(part.body.to_vec()));
    let pixels = decoder.decode().unwrap();
    let (w, h) = decoder.dimensions().unwrap();
    assert_eq!((w, h), (480, 360), "placeholder keeps the camera's size");
    // A dark picture with bright text on it.
    let bright = pixels
        .chunks(3)
        .filter(|p| p.iter().all(|&c| c > 200))
        .count();
    let dark = pixels
        .chunks(3)
        .filter(|p| p.iter().all(|&c| c < 60))
        .count();
    assert!(dark > w * h / 2, "mostly dark background");
    assert!(bright > 500, "text drawn ({bright} bright pixels)");
    // And again while the camera stays offline, so clients with read timeouts stay.
    let again = mjpeg.next_part().await;
    assert_eq!(again.body, part.body);

    let status = hub.camera("porch").await;
    assert_eq!(status["online"], false);
    let snap = reqwest::get(hub.url("/api/cameras/porch/snapshot.jpg"))
        .await
        .unwrap();
    assert_eq!(snap.headers()["x-camera-online"], "false");
    assert_eq!(snap.bytes().await.unwrap(), part.body);

    // The camera comes back: viewers get its frames again.
    let mut publisher = Publisher::connect(&hub, "porch").await;
    let back = test_jpeg(480, 360, "back", false);
    publisher.send(back.clone()).await;
    loop {
        let part = mjpeg.next_part().await;
        if part.body == back {
            break;
        }
        assert!(
            part.header("X-Frame-Seq").is_none(),
            "only placeholders before the new frame"
        );
    }
}

#[tokio::test]
async fn https_serves_the_same_api_with_a_certificate_for_localhost() {
    let hub = Hub::start(&[]);
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let res = client
        .get(format!(
            "https://localhost:{}/api/cameras",
            hub.https.port()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let cert = std::fs::read_to_string(hub.dir.path().join("tls/cert.pem")).unwrap();
    assert!(cert.contains("BEGIN CERTIFICATE"));
    // The same certificate is used again on the next start.
    let dir = hub.stop();
    let hub = Hub::builder().dir(dir).args(&[]).start();
    let again = std::fs::read_to_string(hub.dir.path().join("tls/cert.pem")).unwrap();
    assert_eq!(cert, again);
    // And the token too.
    let token = std::fs::read_to_string(hub.dir.path().join("token")).unwrap();
    assert_eq!(token.trim(), hub.token);
}

#[tokio::test]
async fn own_certificate_is_used_when_given() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = remotecam::tls::generate(&["localhost".to_owned()]).unwrap();
    let cert_path = dir.path().join("mine.pem");
    let key_path = dir.path().join("mine.key");
    std::fs::write(&cert_path, &cert).unwrap();
    std::fs::write(&key_path, &key).unwrap();
    let hub = Hub::start(&[
        "--tls-cert",
        cert_path.to_str().unwrap(),
        "--tls-key",
        key_path.to_str().unwrap(),
    ]);
    assert!(
        !hub.dir.path().join("tls").exists(),
        "no certificate generated"
    );
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.as_bytes()).unwrap())
        .build()
        .unwrap();
    let res = client
        .get(format!(
            "https://localhost:{}/api/cameras",
            hub.https.port()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the hub presents the given certificate");
}

#[tokio::test]
async fn offline_cameras_can_be_deleted_online_ones_cannot() {
    let hub = Hub::start(&[]);
    let mut publisher = Publisher::connect(&hub, "gone").await;
    publisher.send(test_jpeg(64, 48, "x", false)).await;
    let client = reqwest::Client::new();
    let res = client
        .delete(hub.url("/api/cameras/gone"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    publisher.ws.close(None).await.unwrap();
    hub.wait_camera("gone", |c| c["online"] == false).await;
    let res = client
        .delete(hub.url("/api/cameras/gone"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(hub.cameras().await, serde_json::json!([]));
}
