//! `GET/PUT /api/cameras/{name}/motion` and the motion level's history.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use serde::Serialize;

use super::AppState;
use crate::error::{AppError, ErrorKind};
use crate::motion::{ChangeError, Motion, MotionSettings, MotionStatus, MotionUpdate};
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
    // Each borrow ends in its own statement: one held (a temporary of the struct literal
    // lives to its end) while `recording` borrows the settings again would wait forever
    // once a change waits to write between the two.
    let settings = motion.settings.borrow().clone();
    let status = motion.status.borrow().clone();
    MotionView {
        settings,
        status,
        recording: recording(state, motion),
    }
}

/// What the camera's recorder does, as the API says it: `off` unless recording is on
/// with detection or all the time and the hub keeps recordings, `error` while they
/// cannot be opened.
pub(super) fn recording(state: &AppState, motion: &Motion) -> RecordingStatus {
    let asked = {
        let settings = motion.settings.borrow();
        settings.record && (settings.enabled || settings.continuous)
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
    state
        .hub
        .change_motion(&name, &entry.motion, update)
        .await
        .map_err(|e| match e {
            ChangeError::Refused(e) => AppError::new(ErrorKind::BadRequest, e.message),
            ChangeError::Unsaved(e) => {
                tracing::error!(error = %e, "cannot save motion settings");
                AppError::new(
                    ErrorKind::Unavailable,
                    "cannot save the settings in the data directory",
                )
            }
        })?;
    Ok(Json(view(&state, &entry.motion)))
}
