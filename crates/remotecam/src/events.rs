//! Hub events: what `GET /api/events` (server-sent events) tells its listeners.
//!
//! Events go out on a broadcast channel; a listener that falls behind skips what it
//! missed (and is told how many), it never holds anyone up.

use std::time::SystemTime;

use serde::Serialize;

use crate::frame::epoch_ms;

/// One event: the camera it is about, when, and what happened. Serialized as the
/// documented JSON: `camera`, `at_ms`, `event` (its name, also the SSE event name) and
/// the fields of what happened.
#[derive(Debug, Clone, Serialize)]
pub struct HubEvent {
    pub camera: String,
    /// Unix milliseconds, hub clock.
    pub at_ms: u64,
    #[serde(flatten)]
    pub what: What,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum What {
    CameraOnline,
    CameraOffline,
    MotionStart,
    MotionEnd {
        motion_frames: u32,
        /// Whether the event had enough motion frames to keep a clip.
        kept: bool,
    },
    ClipSaved {
        /// The clip as `GET /api/recordings` lists it.
        clip: serde_json::Value,
    },
    ClipDiscarded {
        motion_frames: u32,
    },
    /// Recording stopped on this camera (live view goes on).
    RecordingStopped {
        reason: StopReason,
        error: String,
    },
    /// Recording works again after `recording_stopped`.
    RecordingResumed,
}

/// Why recording stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The disk (or the free-space floor) is full; a new clip resumes when there is room.
    DiskFull,
    /// Another write error; `error` says which.
    Error,
}

impl What {
    /// The event's name: the SSE event name, and `event` in its JSON.
    pub fn name(&self) -> &'static str {
        match self {
            What::CameraOnline => "camera_online",
            What::CameraOffline => "camera_offline",
            What::MotionStart => "motion_start",
            What::MotionEnd { .. } => "motion_end",
            What::ClipSaved { .. } => "clip_saved",
            What::ClipDiscarded { .. } => "clip_discarded",
            What::RecordingStopped { .. } => "recording_stopped",
            What::RecordingResumed => "recording_resumed",
        }
    }
}

impl HubEvent {
    /// `what` happened to `camera` now.
    pub fn new(camera: &str, what: What) -> HubEvent {
        HubEvent {
            camera: camera.to_owned(),
            at_ms: epoch_ms(SystemTime::now()),
            what,
        }
    }

    pub fn name(&self) -> &'static str {
        self.what.name()
    }
}

/// Posts every event to `url` as its JSON (`{"event": name, ...}`), one at a time, 5 s
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
        let body = serde_json::to_string(&event).unwrap_or_default();
        let request = client
            .post(&url)
            .header("content-type", "application/json")
            .body(body);
        match request.send().await {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => {
                tracing::warn!(status = %r.status(), event = event.name(), "webhook refused an event")
            }
            Err(e) => tracing::warn!(error = %e, event = event.name(), "webhook failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The JSON is the documented one, and `event` in it is the SSE event's name.
    #[test]
    fn events_serialize_as_documented() {
        let cases = [
            (What::CameraOnline, serde_json::json!({})),
            (What::CameraOffline, serde_json::json!({})),
            (What::MotionStart, serde_json::json!({})),
            (
                What::MotionEnd {
                    motion_frames: 7,
                    kept: true,
                },
                serde_json::json!({"motion_frames": 7, "kept": true}),
            ),
            (
                What::ClipSaved {
                    clip: serde_json::json!({"id": 3}),
                },
                serde_json::json!({"clip": {"id": 3}}),
            ),
            (
                What::ClipDiscarded { motion_frames: 2 },
                serde_json::json!({"motion_frames": 2}),
            ),
            (
                What::RecordingStopped {
                    reason: StopReason::DiskFull,
                    error: "no room".into(),
                },
                serde_json::json!({"reason": "disk_full", "error": "no room"}),
            ),
            (What::RecordingResumed, serde_json::json!({})),
        ];
        for (what, fields) in cases {
            let name = what.name();
            let event = HubEvent {
                camera: "yard".into(),
                at_ms: 5,
                what,
            };
            let mut expected = serde_json::json!({"camera": "yard", "at_ms": 5, "event": name});
            for (k, v) in fields.as_object().unwrap() {
                expected[k] = v.clone();
            }
            assert_eq!(serde_json::to_value(&event).unwrap(), expected, "{name}");
        }
    }
}
