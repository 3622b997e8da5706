//! Hub events: what `GET /api/events` (server-sent events) tells its listeners.
//!
//! Events go out on a broadcast channel; a listener that falls behind skips what it
//! missed (and is told how many), it never holds anyone up.

use std::time::SystemTime;

use serde::Serialize;

use crate::frame::epoch_ms;

/// One event. Its `kind` is the SSE event name; the rest is its JSON data.
#[derive(Debug, Clone, Serialize)]
pub struct HubEvent {
    #[serde(skip)]
    pub kind: &'static str,
    pub camera: String,
    /// Unix milliseconds, hub clock.
    pub at_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub motion_frames: Option<u32>,
    /// For `motion_end`: whether the event had enough motion frames to keep a clip.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept: Option<bool>,
    /// For `clip_saved` and `clip_discarded`: the clip (as `GET /api/recordings` lists
    /// it, for a saved clip).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clip: Option<serde_json::Value>,
    /// For `recording_stopped`: `disk_full` or `error`; `error` says more.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl HubEvent {
    fn new(kind: &'static str, camera: &str) -> HubEvent {
        HubEvent {
            kind,
            camera: camera.to_owned(),
            at_ms: epoch_ms(SystemTime::now()),
            motion_frames: None,
            kept: None,
            clip: None,
            reason: None,
            error: None,
        }
    }

    pub fn camera_online(camera: &str) -> HubEvent {
        HubEvent::new("camera_online", camera)
    }

    pub fn camera_offline(camera: &str) -> HubEvent {
        HubEvent::new("camera_offline", camera)
    }

    pub fn motion_start(camera: &str) -> HubEvent {
        HubEvent::new("motion_start", camera)
    }

    pub fn motion_end(camera: &str, motion_frames: u32, kept: bool) -> HubEvent {
        HubEvent {
            motion_frames: Some(motion_frames),
            kept: Some(kept),
            ..HubEvent::new("motion_end", camera)
        }
    }

    pub fn clip_saved(camera: &str, clip: serde_json::Value) -> HubEvent {
        HubEvent {
            clip: Some(clip),
            ..HubEvent::new("clip_saved", camera)
        }
    }

    pub fn clip_discarded(camera: &str, motion_frames: u32) -> HubEvent {
        HubEvent {
            motion_frames: Some(motion_frames),
            ..HubEvent::new("clip_discarded", camera)
        }
    }

    /// Recording stopped on this camera (live view goes on): a full disk, or a write
    /// error.
    pub fn recording_stopped(camera: &str, reason: &'static str, error: String) -> HubEvent {
        HubEvent {
            reason: Some(reason),
            error: Some(error),
            ..HubEvent::new("recording_stopped", camera)
        }
    }

    /// Recording works again after `recording_stopped`.
    pub fn recording_resumed(camera: &str) -> HubEvent {
        HubEvent::new("recording_resumed", camera)
    }
}

/// Posts every event to `url` as JSON (`{"event": kind, ...data}`), one at a time, 5 s
/// each at most. A slow or dead receiver loses events (counted in the log), it never
/// holds up the hub.
pub async fn webhook(mut events: tokio::sync::broadcast::Receiver<HubEvent>, url: String) {
    use tokio::sync::broadcast::error::RecvError;
    let client = match reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhook disabled");
            return;
        }
    };
    loop {
        let event = match events.recv().await {
            Ok(e) => e,
            Err(RecvError::Lagged(n)) => {
                tracing::warn!(missed = n, "webhook fell behind; events skipped");
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        let mut body = serde_json::to_value(&event).unwrap_or_default();
        if let Some(map) = body.as_object_mut() {
            map.insert("event".into(), event.kind.into());
        }
        let request = client
            .post(&url)
            .header("content-type", "application/json")
            .body(body.to_string());
        match request.send().await {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => {
                tracing::warn!(status = %r.status(), kind = event.kind, "webhook refused an event")
            }
            Err(e) => tracing::warn!(error = %e, kind = event.kind, "webhook failed"),
        }
    }
}
