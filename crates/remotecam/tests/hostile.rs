//! The hub under attack from clients that break no protocol rule: a frame whose header
//! claims a giant picture, a publisher that pings and never reads, a flood of
//! connections that send nothing. Each attack runs while a healthy camera is watched:
//! every frame of it must still reach its viewer, and the hub's resident memory (read
//! from /proc) must stay under 200 MB.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;

fn assert_small(hub: &Hub, during: &str) {
    let rss = hub.rss_kib();
    assert!(
        rss < RSS_MAX_KIB,
        "the hub holds {} MB after {during}",
        rss / 1024
    );
}

#[tokio::test]
async fn a_frame_claiming_a_giant_picture_is_refused_at_ingest() {
    let hub = Hub::start(&[]);
    let mut others = Bystander::start(&hub).await;
    let huge = claiming(&test_jpeg(32, 32, "x", false), 65535, 65535);
    let (code, reason) = closed_with(&hub, "giant", Message::Binary(huge)).await;
    assert_eq!(code, 1009, "{reason}");
    assert!(
        reason.contains("65535x65535") && reason.contains("larger"),
        "{reason}"
    );
    // Nothing of it was kept: the camera has no frame, its no-signal picture the
    // default size.
    let status = hub.camera("giant").await;
    assert_eq!(status["seq"], 0, "{status}");
    others.served(30).await;
    assert_small(&hub, "a 65535x65535 claim");
}

#[tokio::test]
async fn the_no_signal_picture_is_bounded_whatever_the_frames_size() {
    // With the limit lifted, a giant claim gets in; the picture the hub then draws for
    // the camera (offline) stays small, and it is drawn off the async threads.
    let hub = Hub::start(&["--max-frame-pixels", "4294836225"]);
    let mut others = Bystander::start(&hub).await;
    let mut giant = Publisher::connect(&hub, "giant").await;
    giant
        .send(claiming(&test_jpeg(32, 32, "x", false), 65535, 65535))
        .await;
    drop(giant);
    hub.wait_camera("giant", |s| s["online"] == false).await;
    let snapshot = reqwest::get(hub.url("/api/cameras/giant/snapshot.jpg"))
        .await
        .unwrap();
    assert_eq!(snapshot.headers()["x-camera-online"], "false");
    let info = remotecam::jpeg::inspect(&snapshot.bytes().await.unwrap()).unwrap();
    assert!(
        info.pixels() <= remotecam::placeholder::MAX_PIXELS,
        "{}x{}",
        info.width,
        info.height
    );
    // Viewers of the offline camera get it over and over, at no cost to the others.
    let mut offline = MjpegReader::open(&hub.url("/api/cameras/giant/stream.mjpg")).await;
    offline.next_part().await;
    others.served(30).await;
    offline.next_part().await;
    assert_small(&hub, "the no-signal picture of a 65535x65535 camera");
}

/// A progressive JPEG (the general decoder's path) of `w` x `h`: a gradient with a
/// grid, the kind of picture a camera sends.
fn progressive(w: u16, h: u16) -> bytes::Bytes {
    let (wu, hu) = (usize::from(w), usize::from(h));
    let mut rgb = vec![0u8; wu * hu * 3];
    for y in 0..hu {
        for x in 0..wu {
            let v = ((x / 7 + y / 5) % 200) as u8 + if (x / 64 + y / 64) % 2 == 0 { 40 } else { 0 };
            rgb[(y * wu + x) * 3..][..3].copy_from_slice(&[v, v / 2, 255 - v]);
        }
    }
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, 80);
    encoder.set_progressive(true);
    encoder
        .encode(&rgb, w, h, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    out.into()
}

#[tokio::test]
async fn motion_on_large_progressive_frames_takes_bounded_memory() {
    let hub = Hub::start(&[]);
    let mut others = Bystander::start(&hub).await;
    let mut cam = Publisher::connect(&hub, "big").await;
    put_motion(&hub, "big", serde_json::json!({"enabled": true})).await;
    // 4K: scored, through the general decoder.
    let uhd = progressive(3840, 2160);
    for _ in 0..3 {
        let seq = cam.send(uhd.clone()).await;
        let status = wait_scored(&hub, "big", seq).await;
        assert!(status["error"].is_null(), "{status}");
        others.served(5).await;
    }
    assert_small(&hub, "scoring 3840x2160 progressive frames");
    // Larger: taken and served (encode once), not scored, and the status says why.
    let wide = progressive(5000, 3000);
    let seq = cam.send(wide.clone()).await;
    let status = wait_scored(&hub, "big", seq).await;
    assert!(
        status["error"]
            .as_str()
            .unwrap()
            .contains("too large to score"),
        "{status}"
    );
    let snapshot = reqwest::get(hub.url("/api/cameras/big/snapshot.jpg"))
        .await
        .unwrap();
    assert_eq!(snapshot.bytes().await.unwrap(), wide);
    others.served(10).await;
    assert_small(&hub, "a 5000x3000 progressive frame");
    // A giant beyond the frame limit never gets in.
    let giant = claiming(&progressive(64, 64), 16384, 16384);
    let (code, _) = closed_with(&hub, "giant", Message::Binary(giant)).await;
    assert_eq!(code, 1009);
    assert_small(&hub, "a 16384x16384 progressive frame");
}

/// A WebSocket handshake on `stream`, by hand, so that the connection can then be
/// written to and never read.
async fn upgrade(stream: &mut TcpStream, addr: SocketAddr, path: &str) {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        let n = tokio::time::timeout(WAIT, stream.read(&mut byte))
            .await
            .expect("the upgrade answer in time")
            .unwrap();
        assert_eq!(n, 1, "the hub closed during the handshake");
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
}

/// Many masked client pings with the largest payload a control frame may carry.
fn pings(count: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(count * 131);
    for _ in 0..count {
        out.extend_from_slice(&[0x89, 0x80 | 125, 1, 2, 3, 4]);
        out.extend((0..125u8).map(|i| i ^ [1, 2, 3, 4][usize::from(i) % 4]));
    }
    out
}

#[tokio::test]
async fn pings_from_a_publisher_that_never_reads_do_not_grow_the_hub() {
    let hub = Hub::start(&[]);
    let mut others = Bystander::start(&hub).await;
    let chunk = pings(8_000); // about 1 MB of pings, as many pongs owed
    let mut flooders = Vec::new();
    for i in 0..3 {
        let mut stream = TcpStream::connect(hub.http).await.unwrap();
        upgrade(
            &mut stream,
            hub.http,
            &format!("/api/cameras/flood{i}/publish"),
        )
        .await;
        let chunk = chunk.clone();
        // 100 MB of pings each, and never a byte read; the stream is given back open.
        flooders.push(tokio::spawn(async move {
            for _ in 0..100 {
                stream.write_all(&chunk).await.unwrap();
            }
            stream
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while !flooders.iter().all(|f| f.is_finished()) {
        others.served(5).await;
        assert_small(&hub, "pings that are never read");
        assert!(
            Instant::now() < deadline,
            "the hub stopped reading the pings"
        );
    }
    let mut held = Vec::new();
    for f in flooders {
        held.push(f.await.unwrap());
    }
    // The hub read all 300 MB of pings (the writes went through).
    others.served(10).await;
    assert_small(&hub, "300 MB of pings");
    drop(held);
}

/// Raises this process's open-file limit (the test holds over a thousand sockets).
fn raise_own_fd_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    limit.current = limit.maximum;
    let _ = setrlimit(Resource::Nofile, limit);
}

#[tokio::test]
async fn a_connection_flood_from_another_machine_starves_no_viewer_and_no_recording() {
    raise_own_fd_limit();
    let dir = tempfile::tempdir().unwrap();
    // The common soft limit of 1024 open files, as most machines give a service.
    let wrapper = ["sh", "-c", "ulimit -n 1024 && exec \"$@\"", "sh"];
    let hub = Hub::builder().dir(dir).args(&[]).wrapper(&wrapper).start();
    let mut publisher = Publisher::connect(&hub, "door").await;
    publisher.send(scene(None)).await;
    put_motion(
        &hub,
        "door",
        serde_json::json!({"enabled": true, "calm_frames": 4, "min_motion_frames": 3, "pre_roll_s": 0.0}),
    )
    .await;

    // 1,100 connections from 127.0.0.2 (another machine: no token, not trusted), to
    // both listeners, each with half a request header and then nothing.
    let mut attackers = Vec::new();
    for i in 0..1100 {
        let target = if i % 4 == 0 { hub.https } else { hub.http };
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        let mut stream = socket.connect(target).await.unwrap();
        if target == hub.http {
            let _ = stream
                .write_all(b"GET /api/cameras HTTP/1.1\r\nHost: x\r\n")
                .await;
        }
        attackers.push(stream);
    }
    let flood_started = Instant::now();

    // This machine's viewer still gets every frame, and a motion event is recorded.
    let mut viewer = MjpegReader::open(&hub.url("/api/cameras/door/stream.mjpg")).await;
    viewer.next_part().await; // the frame that was there
    let mut events = Events::open(&hub).await;
    let mut i = 0;
    let saved = loop {
        let square = (20..32)
            .contains(&(i % 40))
            .then(|| (20 + (i * 37) % 500, 60 + (i * 23) % 300));
        let frame = scene(square);
        let seq = publisher.send(frame.clone()).await;
        assert!(
            viewer.next_part().await.body == frame,
            "the viewer missed frame {i}"
        );
        wait_scored(&hub, "door", seq).await;
        i += 1;
        if i > 40 {
            break loop {
                let (name, data) = events.next().await;
                if name == "clip_saved" {
                    break data;
                }
            };
        }
    };
    assert_eq!(saved["clip"]["camera"], "door");
    assert!(saved["clip"]["frames"].as_u64().unwrap() > 3, "{saved}");

    // The flood's connections are closed by the hub within the header timeout (10 s)
    // of their opening, or at once when over the limits.
    let deadline = flood_started + remotecam::listen::HEADER_TIMEOUT + Duration::from_secs(5);
    for (n, stream) in attackers.iter_mut().enumerate() {
        let mut buf = [0u8; 512];
        loop {
            match tokio::time::timeout_at(deadline.into(), stream.read(&mut buf)).await {
                Ok(Ok(0) | Err(_)) => break,
                Ok(Ok(_)) => {}
                Err(_) => panic!("connection {n} of the flood is still open"),
            }
        }
    }
    assert_small(&hub, "a flood of 1,100 connections");
}

#[tokio::test]
async fn the_soft_open_file_limit_is_raised_to_the_hard_one() {
    let dir = tempfile::tempdir().unwrap();
    // A soft limit of 256 under a higher hard one, as a service manager may start it.
    let wrapper = ["sh", "-c", "ulimit -Sn 256 && exec \"$@\"", "sh"];
    let hub = Hub::builder().dir(dir).args(&[]).wrapper(&wrapper).start();
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", hub.pid())).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let numbers: Vec<&str> = line.split_whitespace().skip(3).take(2).collect();
    assert_eq!(numbers[0], numbers[1], "soft and hard limits: {line}");
    assert_ne!(numbers[0], "256", "{line}");
}

/// Names a publisher makes up, one after another, each camera pushing out the one
/// offline the longest: `/metrics` lists the cameras the hub has, no more, and the hub
/// does not grow with the names it has seen.
#[tokio::test]
async fn made_up_camera_names_leave_metrics_and_memory_bounded() {
    const NAMES: usize = 20_000;
    let hub = Hub::start(&["--max-cameras", "8"]);
    let jpeg = test_jpeg(32, 24, "n", false);
    let publish = |i: usize| {
        let (hub, jpeg) = (&hub, jpeg.clone());
        async move {
            let mut p = Publisher::connect(hub, &format!("made-up-{i}")).await;
            p.send(jpeg).await;
        }
    };
    // A first round sets the hub's own figures (its allocator, its tables).
    for i in 0..100 {
        publish(i).await;
    }
    let rss_before = hub.rss_kib();
    let metrics_before = hub.text("/metrics").await.len();
    for batch in (100..NAMES).collect::<Vec<_>>().chunks(2) {
        futures_util::future::join_all(batch.iter().map(|&i| publish(i))).await;
    }
    let metrics = hub.text("/metrics").await;
    let names: std::collections::BTreeSet<&str> = metrics
        .match_indices("camera=\"made-up-")
        .map(|(at, _)| metrics[at + 8..].split('"').next().unwrap())
        .collect();
    assert!(names.len() <= 8, "/metrics names {} cameras", names.len());
    assert!(
        metrics.len() < 2 * metrics_before,
        "/metrics grew from {metrics_before} to {} bytes",
        metrics.len()
    );
    let grown = hub.rss_kib().saturating_sub(rss_before);
    assert!(
        grown < 16 * 1024,
        "{NAMES} names grew the hub by {grown} KiB"
    );
}

/// Viewers that stop reading, each at another 7 MB frame, on MJPEG and on the
/// WebSocket: what they hold in all stays within the budget for stalled viewers (the
/// viewers stalled the longest are closed), and a viewer that reads goes on.
#[tokio::test]
async fn viewers_that_stop_reading_hold_a_bounded_amount_in_all() {
    let hub = Hub::start(&[]);
    let mut camera = Publisher::connect(&hub, "big").await;
    let mut frame = 0;
    let mut next_frame = async || {
        frame += 1;
        camera
            .send(padded_jpeg(8_000_000, &format!("f{frame}")))
            .await;
    };
    next_frame().await;
    let mut reader = MjpegReader::open(&hub.url("/api/cameras/big/stream.mjpg")).await;
    let mut stuck = Vec::new();
    // The camera at 10 frames a second (70 MB/s), a viewer more at each.
    let mut rate = tokio::time::interval(Duration::from_millis(100));
    for i in 0..60 {
        rate.tick().await;
        let mut stream = TcpStream::connect(hub.http).await.unwrap();
        if i % 2 == 0 {
            let request = format!(
                "GET /api/cameras/big/stream.mjpg HTTP/1.1\r\nHost: {}\r\n\r\n",
                hub.http
            );
            stream.write_all(request.as_bytes()).await.unwrap();
        } else {
            upgrade(&mut stream, hub.http, "/api/cameras/big/ws").await;
        }
        stuck.push(stream);
        // Each stuck at a frame of its own.
        next_frame().await;
        reader.next_part().await;
    }
    // Two more seconds: every stuck viewer is stalled by then, and checked.
    for _ in 0..20 {
        rate.tick().await;
        next_frame().await;
        reader.next_part().await;
    }
    let peak = hub.peak_rss_kib();
    assert!(
        peak < 300 << 10,
        "60 stuck viewers took the hub to {} MB",
        peak >> 10
    );
}

/// Viewers of an RTSP camera's `stream.mp4` that stop reading, each at another unit of
/// about 7 MB: what they hold in all stays within the budget for stalled viewers.
#[tokio::test]
async fn stream_mp4_viewers_that_stop_reading_hold_a_bounded_amount_in_all() {
    let dir = tempfile::tempdir().unwrap();
    let units = h264_noise(dir.path(), 2880, 1620, 4);
    let (url, _camera) = fake_rtsp_camera(Sends::Video(units)).await;
    let hub = Hub::with_config(&format!("[cameras.door]\nsource = \"{url}\"\n"), &[]);
    hub.wait_camera("door", |c| c["state"] == "live").await;
    let request = format!(
        "GET /api/cameras/door/stream.mp4 HTTP/1.1\r\nHost: {}\r\n\r\n",
        hub.http
    );
    let mut stuck = Vec::new();
    for _ in 0..60 {
        // Each stuck at a unit of its own.
        let seq = hub.camera("door").await["seq"].as_u64().unwrap();
        let mut stream = TcpStream::connect(hub.http).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        stuck.push(stream);
        hub.wait_camera("door", |c| c["seq"].as_u64() > Some(seq))
            .await;
    }
    let seq = hub.camera("door").await["seq"].as_u64().unwrap();
    hub.wait_camera("door", |c| c["seq"].as_u64() >= Some(seq + 10))
        .await;
    let peak = hub.peak_rss_kib();
    assert!(
        peak < 300 << 10,
        "60 stuck viewers took the hub to {} MB",
        peak >> 10
    );
}
