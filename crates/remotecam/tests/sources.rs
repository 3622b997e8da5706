//! Configured sources against real peers: the test pattern, another hub over HTTP, and
//! an MJPEG server that misbehaves on purpose.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn config(hub_dir: &tempfile::TempDir, text: &str) -> String {
    let path = hub_dir.path().join("test.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

async fn status(hub: &Hub, name: &str) -> serde_json::Value {
    hub.camera(name).await
}

#[tokio::test]
async fn demo_camera_shows_a_moving_test_pattern() {
    let hub = Hub::start(&["--demo"]);
    hub.wait_camera("demo", |c| {
        c["state"] == "live" && c["seq"].as_u64() > Some(1)
    })
    .await;
    let cam = status(&hub, "demo").await;
    assert_eq!(cam["source"], "test");
    assert_eq!(
        (cam["width"].as_u64(), cam["height"].as_u64()),
        (Some(640), Some(480))
    );
    let mut mjpeg = MjpegReader::open(&hub.url("/api/cameras/demo/stream.mjpg")).await;
    let a = mjpeg.next_part().await.body;
    let b = mjpeg.next_part().await.body;
    assert_ne!(a, b, "the pattern moves");
    // A configured camera cannot be taken over by a browser.
    let err = tokio_tungstenite::connect_async(hub.ws_url("/api/cameras/demo/publish"))
        .await
        .unwrap_err();
    let tokio_tungstenite::tungstenite::Error::Http(response) = err else {
        panic!("{err}")
    };
    assert_eq!(response.status(), 409);
}

#[tokio::test]
async fn a_hub_pulls_another_hubs_camera_over_http() {
    let dir_a = tempfile::tempdir().unwrap();
    let cfg_a = config(
        &dir_a,
        "[cameras.a]\nsource = \"test:?width=320&height=240&fps=20\"\n",
    );
    let hub_a = Hub::builder()
        .dir(dir_a)
        .args(&["--config", &cfg_a])
        .start();
    hub_a.wait_camera("a", |c| c["state"] == "live").await;

    let dir_b = tempfile::tempdir().unwrap();
    let url = hub_a.url("/api/cameras/a/stream.mjpg");
    let cfg_b = config(&dir_b, &format!("[cameras.b]\nsource = \"{url}\"\n"));
    let hub_b = Hub::builder()
        .dir(dir_b)
        .args(&["--config", &cfg_b])
        .start();
    hub_b
        .wait_camera("b", |c| c["state"] == "live" && c["seq"].as_u64() > Some(3))
        .await;
    let cam = status(&hub_b, "b").await;
    assert_eq!(cam["source"], "http");
    assert_eq!(
        (cam["width"].as_u64(), cam["height"].as_u64()),
        (Some(320), Some(240))
    );

    // Every frame B serves is one of A's frames, byte for byte (no re-encoding).
    let mut from_a = connect_ws(&hub_a.ws_url("/api/cameras/a/ws")).await;
    let mut from_b = MjpegReader::open(&hub_b.url("/api/cameras/b/stream.mjpg")).await;
    let mut seen_a: HashSet<Bytes> = HashSet::new();
    for _ in 0..10 {
        seen_a.insert(next_ws_frame(&mut from_a).await.1);
    }
    let mut matched = 0;
    for _ in 0..5 {
        let part = from_b.next_part().await;
        while seen_a.len() < 40 && !seen_a.contains(&part.body) {
            seen_a.insert(next_ws_frame(&mut from_a).await.1);
        }
        if seen_a.contains(&part.body) {
            matched += 1;
        }
    }
    assert!(matched >= 4, "only {matched} of B's frames were A's");
}

/// What the misbehaving server does on each connection.
#[derive(Clone, Copy, Debug)]
enum Misbehaviour {
    Unauthorized,
    Stall,
    Drop,
    /// Good frames with garbage, a lying Content-Length and a non-JPEG part between.
    Mangled,
    /// Good frames, but only with basic auth `user:pw` (else 401).
    NeedsAuth,
    /// Good frames and, between them, one whose header claims 65535x65535.
    Giant,
}

async fn misbehaving_server(how: Misbehaviour) -> (String, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/video", listener.local_addr().unwrap());
    let good = test_jpeg(160, 120, "good", false);
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let good = good.clone();
            tokio::spawn(async move {
                let mut req = [0u8; 2048];
                let n = s.read(&mut req).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&req[..n]).to_ascii_lowercase();
                // base64("user:pw")
                let authorized = request.contains("authorization: basic dxnlcjpwdw==");
                let how = match how {
                    Misbehaviour::NeedsAuth if authorized => Misbehaviour::Mangled,
                    Misbehaviour::NeedsAuth => Misbehaviour::Unauthorized,
                    other => other,
                };
                let ok_head = b"HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=xx\r\n\r\n";
                match how {
                    Misbehaviour::Unauthorized => {
                        let _ = s
                            .write_all(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
                            .await;
                    }
                    Misbehaviour::Stall => {
                        let _ = s.write_all(ok_head).await;
                        let part = [
                            format!(
                                "--xx\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
                                good.len()
                            )
                            .as_bytes(),
                            &good,
                            b"\r\n",
                        ]
                        .concat();
                        let _ = s.write_all(&part).await;
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    }
                    Misbehaviour::Drop => {
                        let _ = s.write_all(ok_head).await;
                        let _ = s
                            .write_all(b"--xx\r\nContent-Length: 100\r\n\r\nonly a bit")
                            .await;
                    }
                    Misbehaviour::NeedsAuth => unreachable!("resolved above"),
                    Misbehaviour::Giant => {
                        let _ = s.write_all(ok_head).await;
                        let giant = claiming(&good, 65535, 65535);
                        for i in 0..500u32 {
                            let jpeg = if i == 3 { &giant } else { &good };
                            let part = [
                                format!("--xx\r\nContent-Length: {}\r\n\r\n", jpeg.len())
                                    .as_bytes(),
                                jpeg,
                                b"\r\n",
                            ]
                            .concat();
                            if s.write_all(&part).await.is_err() {
                                return;
                            }
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                    Misbehaviour::Mangled => {
                        let _ = s.write_all(ok_head).await;
                        for i in 0..200u32 {
                            let mut out = Vec::new();
                            out.extend_from_slice(b"\r\n#garbage between parts#\r\n");
                            out.extend_from_slice(
                                format!("--xx\r\nContent-Length: {}\r\n\r\n", good.len())
                                    .as_bytes(),
                            );
                            out.extend_from_slice(&good);
                            out.extend_from_slice(b"\r\n");
                            if i % 3 == 0 {
                                // Not a JPEG at all.
                                out.extend_from_slice(
                                    b"--xx\r\nContent-Length: 5\r\n\r\nhello\r\n",
                                );
                            }
                            if i % 5 == 0 {
                                // Truncated: the JPEG is cut but the length says it is whole.
                                let cut = &good[..good.len() / 2];
                                out.extend_from_slice(
                                    format!("--xx\r\nContent-Length: {}\r\n\r\n", cut.len())
                                        .as_bytes(),
                                );
                                out.extend_from_slice(cut);
                                out.extend_from_slice(b"\r\n");
                            }
                            if s.write_all(&out).await.is_err() {
                                return;
                            }
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
            });
        }
    });
    (url, task)
}

/// A hub with a healthy test camera and an HTTP camera pointed at `url`.
fn hub_with(url: &str) -> Hub {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        &dir,
        &format!(
            "[cameras.ok]\nsource = \"test:?width=160&height=120&fps=30\"\n\
             [cameras.bad]\nsource = \"{url}\"\nread_timeout_s = 1\nconnect_timeout_s = 1\n"
        ),
    );
    Hub::builder().dir(dir).args(&["--config", &cfg]).start()
}

async fn healthy_camera_still_serves(hub: &Hub) {
    let mut mjpeg = MjpegReader::open(&hub.url("/api/cameras/ok/stream.mjpg")).await;
    let a = mjpeg.next_part().await.body;
    let b = mjpeg.next_part().await.body;
    assert_ne!(a, b);
}

#[tokio::test]
async fn a_401_is_reported_and_retried() {
    let (url, _server) = misbehaving_server(Misbehaviour::Unauthorized).await;
    let hub = hub_with(&url);
    hub.wait_camera("bad", |c| {
        c["state"] == "retrying" && c["error"].as_str().is_some_and(|e| e.contains("HTTP 401"))
    })
    .await;
    assert_eq!(status(&hub, "bad").await["online"], false);
    healthy_camera_still_serves(&hub).await;
}

#[tokio::test]
async fn a_stalled_stream_is_noticed_and_retried() {
    let (url, _server) = misbehaving_server(Misbehaviour::Stall).await;
    let hub = hub_with(&url);
    hub.wait_camera("bad", |c| c["seq"].as_u64() >= Some(1))
        .await;
    hub.wait_camera("bad", |c| {
        c["state"] == "retrying" && c["error"].as_str().is_some_and(|e| e.contains("stalled"))
    })
    .await;
    // While it is down, viewers get the no-signal picture.
    let snap = reqwest::get(hub.url("/api/cameras/bad/snapshot.jpg"))
        .await
        .unwrap();
    assert_eq!(snap.headers()["x-camera-online"], "false");
    healthy_camera_still_serves(&hub).await;
}

#[tokio::test]
async fn a_dropped_connection_is_reported_and_retried() {
    let (url, _server) = misbehaving_server(Misbehaviour::Drop).await;
    let hub = hub_with(&url);
    hub.wait_camera("bad", |c| {
        c["state"] == "retrying"
            && c["error"]
                .as_str()
                .is_some_and(|e| e.contains("closed the stream"))
    })
    .await;
    healthy_camera_still_serves(&hub).await;
}

#[tokio::test]
async fn mangled_parts_are_skipped_good_frames_pass_and_memory_stays_flat() {
    let (url, _server) = misbehaving_server(Misbehaviour::Mangled).await;
    let hub = hub_with(&url);
    hub.wait_camera("bad", |c| c["seq"].as_u64() >= Some(20))
        .await;
    let baseline = hub.rss_kib();
    hub.wait_camera("bad", |c| {
        c["seq"].as_u64() >= Some(150)
            && c["error"].as_str().is_some_and(|e| e.contains("bad frame"))
    })
    .await;
    let cam = status(&hub, "bad").await;
    assert_eq!(cam["state"], "live");
    let snap = reqwest::get(hub.url("/api/cameras/bad/snapshot.jpg"))
        .await
        .unwrap();
    assert_eq!(
        snap.bytes().await.unwrap(),
        test_jpeg(160, 120, "good", false),
        "only good frames reach viewers"
    );
    let end = hub.rss_kib();
    assert!(
        end < baseline + 8 * 1024,
        "RSS grew from {baseline} to {end} KiB"
    );
    healthy_camera_still_serves(&hub).await;
}

#[tokio::test]
async fn a_camera_frame_claiming_a_giant_picture_is_skipped() {
    let (url, _server) = misbehaving_server(Misbehaviour::Giant).await;
    let hub = hub_with(&url);
    hub.wait_camera("bad", |c| {
        c["seq"].as_u64() >= Some(10)
            && c["error"]
                .as_str()
                .is_some_and(|e| e.contains("65535x65535 is larger than this hub takes"))
    })
    .await;
    assert_eq!(status(&hub, "bad").await["state"], "live");
    let snap = reqwest::get(hub.url("/api/cameras/bad/snapshot.jpg"))
        .await
        .unwrap();
    assert_eq!(
        snap.bytes().await.unwrap(),
        test_jpeg(160, 120, "good", false)
    );
    healthy_camera_still_serves(&hub).await;
    assert!(hub.rss_kib() < RSS_MAX_KIB, "{} KiB", hub.rss_kib());
}

#[tokio::test]
async fn on_demand_source_runs_only_while_watched() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        &dir,
        "[cameras.lazy]\nsource = \"test:?width=160&height=120&fps=30\"\non_demand = true\nidle_after_s = 0.3\n",
    );
    let hub = Hub::builder().dir(dir).args(&["--config", &cfg]).start();
    hub.wait_camera("lazy", |c| c["state"] == "idle").await;
    assert_eq!(
        status(&hub, "lazy").await["seq"],
        0,
        "nothing made while nobody watches"
    );

    // The first viewer starts it.
    let mut mjpeg = MjpegReader::open(&hub.url("/api/cameras/lazy/stream.mjpg")).await;
    let part = loop {
        let part = mjpeg.next_part().await;
        if part.header("X-Frame-Seq").is_some() {
            break part;
        }
    };
    assert!(!part.body.is_empty());
    hub.wait_camera("lazy", |c| c["state"] == "live").await;

    // The last viewer leaves: it stops, and stays stopped.
    drop(mjpeg);
    hub.wait_camera("lazy", |c| c["state"] == "idle" && c["viewers"] == 0)
        .await;
    let stopped_at = status(&hub, "lazy").await["seq"].as_u64().unwrap();
    // At 30 fps a running source would have made 15 frames in 500 ms.
    hub.wait_camera("lazy", |c| c["last_frame_age_ms"].as_u64() > Some(500))
        .await;
    assert_eq!(
        status(&hub, "lazy").await["seq"].as_u64().unwrap(),
        stopped_at
    );

    // A snapshot wakes it and gets a fresh frame, not the old one.
    let snap = reqwest::get(hub.url("/api/cameras/lazy/snapshot.jpg"))
        .await
        .unwrap();
    assert_eq!(snap.headers()["x-camera-online"], "true");
    let seq: u64 = snap.headers()["x-frame-seq"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        seq > stopped_at,
        "snapshot frame {seq} is newer than {stopped_at}"
    );
}

#[tokio::test]
async fn a_missing_webcam_is_reported_and_retried() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        &dir,
        "[cameras.usb]\nsource = \"v4l2:///dev/remotecam-test-no-such-video?width=640&height=480\"\n",
    );
    let hub = Hub::builder().dir(dir).args(&["--config", &cfg]).start();
    hub.wait_camera("usb", |c| {
        c["state"] == "retrying"
            && c["error"]
                .as_str()
                .is_some_and(|e| e.contains("cannot open /dev/remotecam-test-no-such-video"))
    })
    .await;
    assert_eq!(status(&hub, "usb").await["source"], "v4l2");
}

#[test]
fn check_config_explains_or_lists() {
    let dir = tempfile::tempdir().unwrap();
    let good = config(
        &dir,
        "[cameras.door]\nsource = \"http://admin:secret@10.0.0.7/video\"\non_demand = true\n",
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_remotecam"))
        .args(["check-config", &good])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("ok, 1 camera(s)")
            && text.contains("door: HTTP http://admin:***@10.0.0.7/video"),
        "{text}"
    );
    assert!(!text.contains("secret"));
    let bad = config(&dir, "port = 8100\nbind = \"everywhere\"\n");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_remotecam"))
        .args(["check-config", &bad])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stderr).unwrap();
    assert!(
        text.contains("test.toml:2:8:") && text.contains("IP address"),
        "{text}"
    );
    // The hub itself refuses to start on a bad file, with the same message.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_remotecam"))
        .args(["--config", &bad, "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("test.toml:2:8:")
    );
}

#[tokio::test]
async fn basic_auth_comes_from_the_url() {
    let (url, _server) = misbehaving_server(Misbehaviour::NeedsAuth).await;
    let with_auth = url.replace("http://", "http://user:pw@");
    let hub = hub_with(&with_auth);
    hub.wait_camera("bad", |c| c["seq"].as_u64() >= Some(3))
        .await;
    // And without it, the 401 is what the camera shows.
    let hub = hub_with(&url);
    hub.wait_camera("bad", |c| {
        c["state"] == "retrying" && c["error"].as_str().is_some_and(|e| e.contains("HTTP 401"))
    })
    .await;
}

#[tokio::test]
async fn a_snapshot_url_is_polled() {
    let dir_a = tempfile::tempdir().unwrap();
    let cfg_a = config(
        &dir_a,
        "[cameras.a]\nsource = \"test:?width=320&height=240&fps=30\"\n",
    );
    let hub_a = Hub::builder()
        .dir(dir_a)
        .args(&["--config", &cfg_a])
        .start();
    hub_a.wait_camera("a", |c| c["state"] == "live").await;
    let dir_b = tempfile::tempdir().unwrap();
    let url = hub_a.url("/api/cameras/a/snapshot.jpg");
    let cfg_b = config(
        &dir_b,
        &format!("[cameras.b]\nsource = \"{url}\"\npoll_fps = 20\n"),
    );
    let hub_b = Hub::builder()
        .dir(dir_b)
        .args(&["--config", &cfg_b])
        .start();
    hub_b
        .wait_camera("b", |c| {
            c["state"] == "live" && c["seq"].as_u64() >= Some(5)
        })
        .await;
    let cam = status(&hub_b, "b").await;
    assert_eq!(
        (cam["width"].as_u64(), cam["height"].as_u64()),
        (Some(320), Some(240))
    );
    assert!(
        cam["fps"].as_f64().unwrap() <= 21.0,
        "polled at most at poll_fps: {cam}"
    );
}
