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
    pub at_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub motion_frames: Option<u32>,
    /// For `motion_end`: whether the event had enough motion frames to keep a clip.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept: Option<bool>,
}

impl HubEvent {
    fn new(kind: &'static str, camera: &str) -> HubEvent {
        HubEvent {
            kind,
            camera: camera.to_owned(),
            at_ms: epoch_ms(SystemTime::now()),
            motion_frames: None,
            kept: None,
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
}
