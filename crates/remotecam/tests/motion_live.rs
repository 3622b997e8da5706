//! Motion detection on a live camera: the settings API, and the events a moving object
//! makes on `GET /api/events`.

mod common;

use bytes::Bytes;
use common::*;
use futures_util::StreamExt;
use remotecam::placeholder::Canvas;

/// A 640x480 scene: gradient and checks, with a white square at `square` if any.
fn scene(square: Option<(usize, usize)>) -> Bytes {
    let mut c = Canvas::new(640, 480, [0, 0, 0]);
    for y in 0..480 {
        for x in 0..640 {
            let v = (40 + x / 5 + if (x / 32 + y / 32) % 2 == 0 { 30 } else { 0 }) as u8;
            c.rgb[(y * 640 + x) * 3..][..3].copy_from_slice(&[v, v, v]);
        }
    }
    if let Some((sx, sy)) = square {
        for y in sy..sy + 96 {
            for x in sx..sx + 96 {
                c.rgb[(y * 640 + x) * 3..][..3].copy_from_slice(&[255, 255, 255]);
            }
        }
    }
    c.to_jpeg(85)
}

struct Events {
    body: std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<Bytes>> + Send>>,
    buf: String,
}

impl Events {
    async fn open(hub: &Hub) -> Events {
        let res = reqwest::get(hub.url("/api/events")).await.unwrap();
        assert_eq!(res.status(), 200);
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        Events {
            body: Box::pin(res.bytes_stream()),
            buf: String::new(),
        }
    }

    /// The next event as (name, data), skipping keep-alive comments.
    async fn next(&mut self) -> (String, serde_json::Value) {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut name = String::new();
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim());
                    }
                }
                if !name.is_empty() {
                    return (
                        name,
                        serde_json::from_str(&data).unwrap_or(serde_json::Value::Null),
                    );
                }
                continue;
            }
            let chunk = tokio::time::timeout(WAIT, self.body.next())
                .await
                .expect("an event in time")
                .expect("stream open")
                .unwrap();
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

async fn put_motion(hub: &Hub, camera: &str, body: serde_json::Value) -> reqwest::Response {
    reqwest::Client::new()
        .put(hub.url(&format!("/api/cameras/{camera}/motion")))
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_moving_object_makes_motion_events() {
    let hub = Hub::start(&[]);
    let mut events = Events::open(&hub).await;
    let mut publisher = Publisher::connect(&hub, "yard").await;
    assert_eq!(events.next().await.0, "camera_online");

    let res = put_motion(
        &hub,
        "yard",
        serde_json::json!({"enabled": true, "calm_frames": 5, "min_motion_frames": 3}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let settings: serde_json::Value = res.json().await.unwrap();
    for key in [
        "enabled",
        "threshold",
        "calm_frames",
        "min_motion_frames",
        "pre_roll_s",
    ] {
        assert!(settings.get(key).is_some(), "{key} in {settings}");
    }
    assert_eq!(settings["calm_frames"], 5);

    // Still, then a square crossing, then still again; each frame scored before the next.
    let mut frames: Vec<Option<(usize, usize)>> = vec![None; 15];
    frames.extend((0..10).map(|i| Some((40 + i * 50, 180))));
    frames.extend(vec![None; 10]);
    let mut peak = 0.0f64;
    for square in frames {
        let seq = publisher.send(scene(square)).await;
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let m: serde_json::Value = reqwest::get(hub.url("/api/cameras/yard/motion"))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if m["scored_seq"].as_u64() >= Some(seq) {
                peak = peak.max(m["level"].as_f64().unwrap());
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "frame {seq} never scored: {m}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }
    assert!(peak > 3.0, "the square is seen (peak level {peak}%)");
    let (name, start) = events.next().await;
    assert_eq!(name, "motion_start", "{start}");
    assert_eq!(start["camera"], "yard");
    let (name, end) = events.next().await;
    assert_eq!(name, "motion_end", "{end}");
    assert_eq!(end["kept"], true);
    assert!(end["motion_frames"].as_u64() >= Some(3), "{end}");

    // The publisher leaves: the camera goes offline, and listeners hear it.
    drop(publisher);
    assert_eq!(events.next().await.0, "camera_offline");
}

#[tokio::test]
async fn motion_settings_are_checked() {
    let hub = Hub::start(&[]);
    let mut publisher = Publisher::connect(&hub, "cam").await;
    publisher.send(scene(None)).await;
    let res = put_motion(&hub, "cam", serde_json::json!({"threshold": 0})).await;
    assert_eq!(res.status(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("threshold"),
        "{body}"
    );
    let res = put_motion(&hub, "cam", serde_json::json!({"treshold": 2})).await;
    assert_eq!(res.status(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("treshold"),
        "{body}"
    );
    let res = put_motion(
        &hub,
        "cam",
        serde_json::json!({"mask": [[[0.1, 0.1], [0.5, 0.1]]]}),
    )
    .await;
    assert_eq!(res.status(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("3 to 64 points"),
        "{body}"
    );
    let res = put_motion(
        &hub,
        "cam",
        serde_json::json!({"mask": [[[0.1, 0.1], [0.5, 0.1], [0.5, 1.5]]]}),
    )
    .await;
    assert_eq!(res.status(), 400);
    let res = put_motion(
        &hub,
        "cam",
        serde_json::json!({"mask": [[[0.0, 0.0], [0.5, 0.0], [0.5, 0.5]]]}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let res = put_motion(&hub, "nope", serde_json::json!({"enabled": true})).await;
    assert_eq!(res.status(), 404);
    // Nothing changed by the refused requests.
    let m: serde_json::Value = reqwest::get(hub.url("/api/cameras/cam/motion"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(m["enabled"], false);
    assert_eq!(m["threshold"], 1.0);
    assert_eq!(
        m["mask"],
        serde_json::json!([[[0.0, 0.0], [0.5, 0.0], [0.5, 0.5]]])
    );
}

#[tokio::test]
async fn motion_settings_survive_a_restart() {
    let hub = Hub::start(&[]);
    let mut publisher = Publisher::connect(&hub, "kept").await;
    publisher.send(scene(None)).await;
    let res = put_motion(
        &hub,
        "kept",
        serde_json::json!({"enabled": true, "threshold": 2.5}),
    )
    .await;
    assert_eq!(res.status(), 200);
    drop(publisher);
    let hub = hub.restart(&[]);
    let mut publisher = Publisher::connect(&hub, "kept").await;
    publisher.send(scene(None)).await;
    let m: serde_json::Value = reqwest::get(hub.url("/api/cameras/kept/motion"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(m["enabled"], true);
    assert_eq!(m["threshold"], 2.5);
}
