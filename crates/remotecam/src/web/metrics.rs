//! `GET /metrics`: the hub in Prometheus's text format, for a trusted or token-holding
//! scraper (the same guard as every route).
//!
//! Counters of things that happen (refused requests and connections, events) are
//! counted where they happen, through the `metrics` crate's global recorder; the state
//! of each camera (frames, rate, viewers, source and recorder state, motion level) is
//! read from the hub at each scrape, so the hot paths carry no extra bookkeeping. A
//! camera the hub forgot is gone from the next scrape on.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use metrics_util::MetricKindMask;

use super::AppState;
use crate::counts::{Counts, ViewerKind};
use crate::hub::Hub;

/// The process's recorder, installed by the first caller (the server at its start).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        // A summary (the encode time) is the one series by camera kept here: it goes
        // once its camera has not recorded for a while, so that forgotten cameras'
        // go too. Every other series by camera is read from the hub at each scrape.
        let recorder = PrometheusBuilder::new()
            .idle_timeout(MetricKindMask::HISTOGRAM, Some(SUMMARY_IDLE))
            .build_recorder();
        let handle = recorder.handle();
        // Another recorder (a test's) may be there already: then ours only renders.
        let _ = metrics::set_global_recorder(recorder);
        metrics::describe_counter!(
            "remotecam_requests_refused_total",
            "Requests refused before reaching a camera, by reason"
        );
        metrics::describe_histogram!(
            "remotecam_recorder_encode_seconds",
            metrics::Unit::Seconds,
            "A JPEG camera's frame encoded to H.264 for its clip"
        );
        metrics::describe_counter!(
            "remotecam_uploaded_clips_total",
            "Clips uploaded to object storage"
        );
        metrics::describe_counter!(
            "remotecam_uploaded_bytes_total",
            metrics::Unit::Bytes,
            "Bytes of clips and thumbnails uploaded to object storage"
        );
        metrics::describe_counter!(
            "remotecam_upload_failures_total",
            "Uploads to object storage that failed (each is tried again)"
        );
        metrics::gauge!("remotecam_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
        handle
    })
}

/// How long a summary by camera stays without a new sample.
const SUMMARY_IDLE: Duration = Duration::from_secs(600);

/// One viewer's figures in its camera's counts (`crate::counts`), by its kind: counting
/// a frame is an atomic add.
pub struct ViewerMetrics {
    counts: Arc<Counts>,
    kind: ViewerKind,
}

impl ViewerMetrics {
    pub fn new(counts: Arc<Counts>, kind: ViewerKind) -> ViewerMetrics {
        counts.viewers(kind).open.fetch_add(1, Relaxed);
        ViewerMetrics { counts, kind }
    }

    /// A frame went out, `skipped` frames after the one before it.
    pub fn frame(&self, skipped: u64, bytes: usize) {
        let counts = self.counts.viewers(self.kind);
        counts.frames.fetch_add(1, Relaxed);
        counts.skipped.fetch_add(skipped, Relaxed);
        self.sent(bytes);
    }

    /// Bytes that are not a camera's frame (a placeholder, an init segment).
    pub fn sent(&self, bytes: usize) {
        let counts = self.counts.viewers(self.kind);
        counts.bytes.fetch_add(bytes as u64, Relaxed);
    }
}

impl Drop for ViewerMetrics {
    fn drop(&mut self) {
        self.counts.viewers(self.kind).open.fetch_sub(1, Relaxed);
    }
}

/// Frames between two a viewer sent (0 before the first).
pub fn skipped(last_seq: u64, seq: u64) -> u64 {
    if last_seq == 0 {
        0
    } else {
        seq.saturating_sub(last_seq + 1)
    }
}

/// A refusal of `reason` (`unknown_host`, `token_missing`, `token_wrong`,
/// `too_many_connections`).
pub fn refused(reason: &'static str) {
    metrics::counter!("remotecam_requests_refused_total", "reason" => reason).increment(1);
}

/// Counts the hub's events in their cameras' counts, for as long as the hub runs.
pub async fn count_events(hub: Arc<Hub>) {
    use tokio::sync::broadcast::error::RecvError;
    let mut events = hub.events();
    loop {
        match events.recv().await {
            Ok(e) => {
                if let Some(entry) = hub.entry(&e.camera) {
                    entry.counts.event(e.name());
                }
            }
            Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => return,
        }
    }
}

pub(super) async fn get(State(state): State<AppState>) -> impl IntoResponse {
    let mut text = handle().render();
    cameras(&state, &mut text);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}

/// The cameras' metrics: name, type, help; in the order `cameras` adds their samples.
const FAMILIES: [(&str, &str, &str); 16] = [
    (
        "remotecam_camera_frames_total",
        "counter",
        "Frames the camera's source delivered since the hub started",
    ),
    (
        "remotecam_camera_fps",
        "gauge",
        "Frames per second over the last second",
    ),
    (
        "remotecam_camera_online",
        "gauge",
        "1 while a source is attached",
    ),
    (
        "remotecam_camera_viewers",
        "gauge",
        "Open viewers (MJPEG, WebSocket, MP4)",
    ),
    (
        "remotecam_camera_source_state",
        "gauge",
        "1 for the source's state",
    ),
    (
        "remotecam_motion_enabled",
        "gauge",
        "1 while motion detection is on",
    ),
    (
        "remotecam_motion_level_percent",
        "gauge",
        "Changed share of the last scored frame",
    ),
    (
        "remotecam_motion_in_event",
        "gauge",
        "1 during a motion event",
    ),
    (
        "remotecam_recorder_state",
        "gauge",
        "1 for the recorder's state",
    ),
    (
        "remotecam_recorder_dropped_frames_total",
        "counter",
        "Frames the recorder dropped, behind",
    ),
    (
        "remotecam_viewers",
        "gauge",
        "Open viewers, by camera and kind",
    ),
    (
        "remotecam_viewer_frames_total",
        "counter",
        "Frames sent to viewers, by camera and kind",
    ),
    (
        "remotecam_viewer_skipped_frames_total",
        "counter",
        "Frames viewers skipped because they were behind (newest frame wins)",
    ),
    (
        "remotecam_sent_bytes_total",
        "counter",
        "Bytes sent to viewers, by camera and kind",
    ),
    (
        "remotecam_events_total",
        "counter",
        "Hub events (as on /api/events), by camera and event",
    ),
    (
        "remotecam_received_bytes_total",
        "counter",
        "Bytes of pictures and video a camera's publisher sent the hub, by camera",
    ),
];

/// One metric of the cameras' and its samples (labels as written, value).
struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    samples: Vec<(String, f64)>,
}

/// The cameras' state now, appended in the text format.
fn cameras(state: &AppState, out: &mut String) {
    use std::fmt::Write;
    let entries = state.hub.list();
    let mut families: Vec<Family> = FAMILIES
        .into_iter()
        .map(|(name, kind, help)| Family {
            name,
            kind,
            help,
            samples: Vec::new(),
        })
        .collect();
    for entry in &entries {
        let cam = &entry.camera;
        let name = label(cam.name());
        let status = cam.status();
        let motion = entry.motion.status.borrow().clone();
        let enabled = entry.motion.settings.borrow().enabled;
        let recording = super::motion::recording(state, &entry.motion);
        let one = |l: &str| format!("camera=\"{name}\"{l}");
        let mut add = |i: usize, labels: String, v: f64| families[i].samples.push((labels, v));
        add(0, one(""), status.seq as f64);
        add(1, one(""), status.fps);
        add(2, one(""), f64::from(u8::from(status.online)));
        add(3, one(""), status.viewers as f64);
        let source_state = word(&status.state);
        for s in ["connecting", "live", "retrying", "offline", "idle"] {
            add(
                4,
                one(&format!(",state=\"{s}\"")),
                f64::from(u8::from(s == source_state)),
            );
        }
        add(5, one(""), f64::from(u8::from(enabled)));
        add(6, one(""), f64::from(motion.level));
        add(7, one(""), f64::from(u8::from(motion.in_event)));
        let recorder_state = word(&recording.state);
        for s in ["off", "idle", "recording", "disk_full", "error"] {
            add(
                8,
                one(&format!(",state=\"{s}\"")),
                f64::from(u8::from(s == recorder_state)),
            );
        }
        add(9, one(""), recording.dropped_frames as f64);
        for kind in ViewerKind::ALL {
            let counts = entry.counts.viewers(kind);
            let labels = || one(&format!(",kind=\"{}\"", kind.label()));
            add(10, labels(), counts.open.load(Relaxed) as f64);
            add(11, labels(), counts.frames.load(Relaxed) as f64);
            add(12, labels(), counts.skipped.load(Relaxed) as f64);
            add(13, labels(), counts.bytes.load(Relaxed) as f64);
        }
        for (event, n) in entry.counts.events() {
            add(14, one(&format!(",event=\"{event}\"")), n as f64);
        }
        add(15, one(""), entry.counts.received_bytes() as f64);
    }
    for f in &families {
        let (name, kind, help) = (f.name, f.kind, f.help);
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, v) in &f.samples {
            let _ = writeln!(out, "{name}{{{labels}}} {v}");
        }
    }
    if let Some(recordings) = state.hub.recordings() {
        if let Ok(bytes) = recordings.total_bytes() {
            let _ = writeln!(
                out,
                "# HELP remotecam_recordings_bytes Bytes of the recorded clips\n\
                 # TYPE remotecam_recordings_bytes gauge\nremotecam_recordings_bytes {bytes}"
            );
        }
        if state.s3.is_some()
            && let Ok(queued) = recordings.index.not_uploaded_count()
        {
            let _ = writeln!(
                out,
                "# HELP remotecam_uploads_queued Finished clips waiting for their upload\n\
                 # TYPE remotecam_uploads_queued gauge\nremotecam_uploads_queued {queued}"
            );
        }
        if let Some(free) = recordings.free_bytes() {
            let _ = writeln!(
                out,
                "# HELP remotecam_recordings_disk_free_bytes Free bytes on the recordings' disk\n\
                 # TYPE remotecam_recordings_disk_free_bytes gauge\n\
                 remotecam_recordings_disk_free_bytes {free}"
            );
        }
    }
}

/// A state's name as the API spells it.
fn word(state: &impl serde::Serialize) -> String {
    serde_json::to_value(state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// A label value: camera names are `[a-z0-9_-]`, but the format's escapes cost nothing.
fn label(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
