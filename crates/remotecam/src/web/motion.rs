//! `GET/PUT /api/cameras/{name}/motion` and `GET /api/events`.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;

use super::AppState;
use crate::error::{AppError, ErrorKind};
use crate::motion::{Motion, MotionSettings, MotionStatus, MotionUpdate};
use crate::record::recorder::{RecordingState, RecordingStatus};

#[derive(Serialize)]
pub(super) struct MotionView {
    #[serde(flatten)]
    settings: MotionSettings,
    #[serde(flatten)]
    status: MotionStatus,
    /// What the recorder is doing (`state` is `off` while detection or recording is
    /// off, or when the hub keeps no recordings; `error` while the hub's recordings
    /// could not be opened, with the reason).
    recording: RecordingStatus,
}

fn view(state: &AppState, motion: &Motion) -> MotionView {
    MotionView {
        settings: motion.settings.borrow().clone(),
        status: motion.status.borrow().clone(),
        recording: recording(state, motion),
    }
}

/// What the camera's recorder does, as the API says it: `off` unless detection and
/// recording are on and the hub keeps recordings, `error` while they cannot be opened.
pub(super) fn recording(state: &AppState, motion: &Motion) -> RecordingStatus {
    let asked = {
        let settings = motion.settings.borrow();
        settings.enabled && settings.record
    };
    let mut recording = motion.recording.borrow().clone();
    if let Some(e) = state.hub.recordings_error() {
        recording = RecordingStatus {
            state: if asked {
                RecordingState::Error
            } else {
                RecordingState::Off
            },
            error: Some(format!("recordings unavailable: {e}")),
            ..RecordingStatus::default()
        };
    } else if !asked || state.hub.recordings().is_none() {
        recording.state = RecordingState::Off;
        recording.clip = None;
    } else if recording.state == RecordingState::Off {
        recording.state = RecordingState::Idle;
    }
    recording
}

pub(super) async fn get(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<MotionView>, AppError> {
    let entry = state.entry(&name)?;
    Ok(Json(view(&state, &entry.motion)))
}

#[derive(serde::Deserialize)]
pub(super) struct HistoryQuery {
    /// Only samples after this (Unix ms); all without it.
    since: Option<u64>,
}

/// `GET /api/cameras/{name}/motion/history?since=MS`: the last minutes of the level.
pub(super) async fn history(
    State(state): State<AppState>,
    Path(name): Path<String>,
    axum::extract::Query(query): axum::extract::Query<HistoryQuery>,
) -> Result<Json<serde_json::Value>, AppError> {
    use crate::motion::history::{KEEP_MS, STEP_MS};
    let entry = state.entry(&name)?;
    let samples = entry.motion.history.since(query.since.unwrap_or(0));
    Ok(Json(serde_json::json!({
        "step_ms": STEP_MS,
        "keep_ms": KEEP_MS,
        "samples": samples,
    })))
}

pub(super) async fn put(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Result<Json<MotionUpdate>, JsonRejection>,
) -> Result<Json<MotionView>, AppError> {
    let entry = state.entry(&name)?;
    let Json(update) = body.map_err(|e| AppError::new(ErrorKind::BadRequest, e.body_text()))?;
    let current = entry.motion.settings.borrow().clone();
    let next = current
        .apply(update)
        .map_err(|e| AppError::new(ErrorKind::BadRequest, e.message))?;
    state.hub.motion_store.put(&name, &next).map_err(|e| {
        tracing::error!(error = %e, "cannot save motion settings");
        AppError::new(
            ErrorKind::Unavailable,
            "cannot save the settings in the data directory",
        )
    })?;
    entry.motion.settings.send_replace(next);
    Ok(Json(view(&state, &entry.motion)))
}

/// Server-sent events: every [`crate::events::What`] (`camera_online` to
/// `recording_resumed`), each with its JSON data; `lagged` when this listener missed
/// events. The stream ends when
/// the hub has stopped, after the events of the stop (the last clips saved).
pub(super) async fn events(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let listening = (state.hub.events(), state.hub.stopped());
    let stream = futures_util::stream::unfold(listening, |(mut rx, mut stopped)| async move {
        // Events already queued come first (`biased`), then the end.
        let next = tokio::select! {
            biased;
            next = rx.recv() => next,
            _ = stopped.wait_for(|s| *s) => return None,
        };
        let event = match next {
            Ok(e) => Event::default()
                .event(e.name())
                .json_data(&e)
                .unwrap_or_else(|_| Event::default().event("error")),
            Err(RecvError::Lagged(n)) => Event::default().event("lagged").data(n.to_string()),
            Err(RecvError::Closed) => return None,
        };
        Some((Ok(event), (rx, stopped)))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
