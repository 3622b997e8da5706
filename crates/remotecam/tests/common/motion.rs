//! Motion settings, the event stream, and waiting for a frame to be scored.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;

use super::{Hub, WAIT};

pub struct Events {
    body: std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<Bytes>> + Send>>,
    buf: String,
}

impl Events {
    pub async fn open(hub: &Hub) -> Events {
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
    pub async fn next(&mut self) -> (String, serde_json::Value) {
        let deadline = tokio::time::Instant::now() + WAIT;
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
            let chunk = tokio::time::timeout_at(deadline, self.body.next())
                .await
                .expect("an event in time")
                .expect("stream open")
                .unwrap();
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

pub async fn put_motion(hub: &Hub, camera: &str, body: serde_json::Value) -> reqwest::Response {
    reqwest::Client::new()
        .put(hub.url(&format!("/api/cameras/{camera}/motion")))
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Waits until the frame `seq` is scored; returns the motion status.
pub async fn wait_scored(hub: &Hub, camera: &str, seq: u64) -> serde_json::Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let m = hub.motion(camera).await;
        if m["scored_seq"].as_u64() >= Some(seq) {
            return m;
        }
        assert!(Instant::now() < deadline, "frame {seq} never scored: {m}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
