//! `GET /api/recordings`, `GET /api/recordings/{id}.mp4|.jpg|` and
//! `DELETE /api/recordings/{id}`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tower::ServiceExt;
use tower_http::services::ServeFile;

use super::AppState;
use crate::error::{AppError, ErrorKind};
use crate::record::index;
use crate::record::store::{DeleteError, Recordings};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    camera: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<u32>,
    /// Only for `?token=` access; the guard has read it.
    #[allow(dead_code)]
    token: Option<String>,
}

fn recordings(state: &AppState) -> Result<Arc<Recordings>, AppError> {
    state.hub.recordings().cloned().ok_or_else(|| {
        AppError::new(
            ErrorKind::Unavailable,
            "recordings are unavailable on this hub (see its log)",
        )
    })
}

fn time_ms(key: &str, value: &Option<String>) -> Result<Option<i64>, AppError> {
    value
        .as_deref()
        .map(|v| {
            v.parse::<jiff::Timestamp>()
                .map(|t| t.as_millisecond())
                .map_err(|_| {
                    AppError::new(
                        ErrorKind::BadRequest,
                        format!(
                            "{key} must be an RFC 3339 time such as 2026-11-22T08:00:00Z (got {v})"
                        ),
                    )
                })
        })
        .transpose()
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r)
        .map_err(|e| {
            tracing::error!(error = %e, "recordings");
            AppError::new(
                ErrorKind::Unavailable,
                "the recordings index is unavailable",
            )
        })
}

/// Clips, newest first.
pub(super) async fn list(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<serde_json::Value>>, AppError> {
    let Query(q) = query.map_err(|e| AppError::new(ErrorKind::BadRequest, e.body_text()))?;
    let recordings = recordings(&state)?;
    let query = index::Query {
        camera: q.camera,
        since_ms: time_ms("since", &q.since)?,
        until_ms: time_ms("until", &q.until)?,
        limit: q.limit.unwrap_or(1000).clamp(1, 10_000),
    };
    let rows = blocking(move || recordings.list(&query)).await?;
    Ok(Json(rows.iter().map(Recordings::clip_json).collect()))
}

/// `{id}.mp4` (the video, with byte ranges for seeking), `{id}.jpg` (the thumbnail) or
/// `{id}` (the clip as JSON).
pub(super) async fn get(
    State(state): State<AppState>,
    Path(file): Path<String>,
    request: Request,
) -> Result<Response, AppError> {
    let (id, ext) = match file.rsplit_once('.') {
        Some((id, ext)) => (id, Some(ext)),
        None => (file.as_str(), None),
    };
    let id: i64 = id
        .parse()
        .map_err(|_| AppError::not_found(format!("no recording '{file}'")))?;
    let recordings = recordings(&state)?;
    let r = Arc::clone(&recordings);
    let clip = blocking(move || r.get(id))
        .await?
        .ok_or_else(|| AppError::not_found(format!("no recording {id}")))?;
    let (path, mime) = match ext {
        None => return Ok(Json(Recordings::clip_json(&clip)).into_response()),
        Some("mp4") => (recordings.mp4_path(&clip), "video/mp4"),
        Some("jpg") => (recordings.jpg_path(&clip), "image/jpeg"),
        Some(_) => return Err(AppError::not_found(format!("no recording '{file}'"))),
    };
    if !path.exists() {
        return Err(AppError::not_found(format!(
            "recording {id} has no {}",
            ext.unwrap_or("")
        )));
    }
    let download = request
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|kv| kv == "download=1"));
    let mut response = ServeFile::new_with_mime(&path, &mime.parse().expect("mime"))
        .oneshot(request)
        .await
        .map_err(|e| AppError::new(ErrorKind::Unavailable, e.to_string()))?
        .into_response();
    let headers = response.headers_mut();
    // A clip in progress grows; a finished one never changes.
    let cache = if clip.in_progress {
        "no-store"
    } else {
        "private, max-age=86400"
    };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if download {
        let name = format!(
            "{}-{}.{}",
            clip.camera,
            crate::record::store::rfc3339(clip.start_ms).replace(':', "-"),
            ext.unwrap_or("mp4")
        );
        if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
            headers.insert(header::CONTENT_DISPOSITION, v);
        }
    }
    Ok(response)
}

pub(super) async fn delete(
    State(state): State<AppState>,
    Path(file): Path<String>,
) -> Result<Json<serde_json::Value>, AppError> {
    let id: i64 = file
        .parse()
        .map_err(|_| AppError::not_found(format!("no recording '{file}'")))?;
    let recordings = recordings(&state)?;
    let result = tokio::task::spawn_blocking(move || recordings.delete(id))
        .await
        .map_err(|e| AppError::new(ErrorKind::Unavailable, e.to_string()))?;
    match result {
        Ok(clip) => Ok(Json(serde_json::json!({ "deleted": clip.id }))),
        Err(e @ DeleteError::NotFound(_)) => Err(AppError::not_found(e.to_string())),
        Err(e @ DeleteError::InProgress(_)) => {
            Err(AppError::new(ErrorKind::Conflict, e.to_string()))
        }
        Err(DeleteError::Io(e)) => {
            tracing::error!(error = %e, "delete failed");
            Err(AppError::new(
                ErrorKind::Unavailable,
                "the recording could not be deleted",
            ))
        }
    }
}
