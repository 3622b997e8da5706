//! `GET /api/recordings`, `GET /api/recordings/{id}.mp4|.jpg|` and
//! `DELETE /api/recordings/{id}`.

use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use tower::ServiceExt;
use tower_http::services::ServeFile;

use super::AppState;
use crate::auth::{Action, Cameras, Grant, Need};
use crate::error::{AppError, ErrorKind};
use crate::record::error::RecordError;
use crate::record::index::{self, ClipRow, ClipView};
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
            match state.hub.recordings_error() {
                Some(e) => format!("recordings are unavailable on this hub: {e}"),
                None => "recordings are unavailable on this hub".to_owned(),
            },
        )
    })
}

/// An RFC 3339 time as Unix milliseconds. Times past the ends of the range the hub
/// computes with (years -9999 to 9999, a few hours short of each end) are taken as
/// those ends: `since=9999-12-31T23:59:59Z` is a valid, if empty, question.
fn time_ms(key: &str, value: &Option<String>) -> Result<Option<i64>, AppError> {
    let Some(v) = value.as_deref() else {
        return Ok(None);
    };
    if let Ok(t) = v.parse::<jiff::Timestamp>() {
        return Ok(Some(t.as_millisecond()));
    }
    match jiff::fmt::temporal::Pieces::parse(v) {
        Ok(pieces) if pieces.offset().is_some() && pieces.time().is_some() => {
            Ok(Some(if pieces.date().year() > 0 {
                jiff::Timestamp::MAX.as_millisecond()
            } else {
                jiff::Timestamp::MIN.as_millisecond()
            }))
        }
        _ => Err(AppError::new(
            ErrorKind::BadRequest,
            format!("{key} must be an RFC 3339 time such as 2026-11-22T08:00:00Z (got {v})"),
        )),
    }
}

/// A failure the client is told only in general (what failed is logged, not sent).
fn unavailable(what: &'static str, e: impl std::fmt::Display) -> AppError {
    tracing::error!(error = %e, "{what}");
    AppError::new(ErrorKind::Unavailable, what)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, RecordError> + Send + 'static,
) -> Result<T, AppError> {
    const WHAT: &str = "the recordings index is unavailable";
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(unavailable(WHAT, e)),
        Err(e) => Err(unavailable(WHAT, e)),
    }
}

/// Clips of the cameras the grant sees, newest first.
pub(super) async fn list(
    State(state): State<AppState>,
    Extension(grant): Extension<Grant>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<ClipView>>, AppError> {
    let Query(q) = query.map_err(|e| AppError::new(ErrorKind::BadRequest, e.body_text()))?;
    let cameras = match (q.camera, grant.cameras()) {
        (Some(camera), _) => {
            let need = Need {
                action: Action::View,
                cameras: Cameras::One(&camera),
            };
            grant
                .allows(need)
                .map_err(|e| AppError::new(ErrorKind::Forbidden, e.to_string()))?;
            Some(vec![camera])
        }
        (None, seen) => seen.map(<[String]>::to_vec),
    };
    let recordings = recordings(&state)?;
    let query = index::Query {
        cameras,
        since_ms: time_ms("since", &q.since)?,
        until_ms: time_ms("until", &q.until)?,
        limit: q.limit.unwrap_or(1000).clamp(1, 10_000),
    };
    let rows = blocking(move || recordings.list(&query)).await?;
    Ok(Json(rows.iter().map(ClipView::of).collect()))
}

/// `{id}.mp4` (the video, with byte ranges for seeking), `{id}.jpg` (the thumbnail) or
/// `{id}` (the clip as JSON).
pub(super) async fn get(
    State(state): State<AppState>,
    Extension(grant): Extension<Grant>,
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
    let clip = seen_clip(&grant, blocking(move || r.get(id)).await?, id)?;
    let (path, mime) = match ext {
        None => return Ok(Json(ClipView::of(&clip)).into_response()),
        Some("mp4") => (recordings.mp4_path(&clip), "video/mp4"),
        Some("jpg") => (recordings.jpg_path(&clip), "image/jpeg"),
        Some(_) => return Err(AppError::not_found(format!("no recording '{file}'"))),
    };
    if !clip.local {
        return from_store(&state, &clip, ext.unwrap_or("mp4"), mime, request.headers()).await;
    }
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
    let mut request = request;
    if let (Some(range), Ok(meta)) = (
        request.headers().get(header::RANGE).cloned(),
        tokio::fs::metadata(&path).await,
    ) {
        match single_range(range.to_str().unwrap_or(""), meta.len()) {
            RangeFix::Keep => {}
            RangeFix::Ignore => {
                request.headers_mut().remove(header::RANGE);
            }
            RangeFix::Clamp(v) => {
                if let Ok(v) = HeaderValue::from_str(&v) {
                    request.headers_mut().insert(header::RANGE, v);
                }
            }
        }
    }
    let mut response = ServeFile::new_with_mime(&path, &mime.parse().expect("mime"))
        .oneshot(request)
        .await
        .map_err(|e| unavailable("the recording cannot be read", e))?
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
            crate::record::index::rfc3339(clip.start_ms).replace(':', "-"),
            ext.unwrap_or("mp4")
        );
        if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
            headers.insert(header::CONTENT_DISPOSITION, v);
        }
    }
    Ok(response)
}

/// The clip, if there is one of a camera the grant sees: the clips of other cameras are
/// not there for it (their ids tell nothing).
fn seen_clip(grant: &Grant, clip: Option<ClipRow>, id: i64) -> Result<ClipRow, AppError> {
    clip.filter(|c| grant.sees(&c.camera))
        .ok_or_else(|| AppError::not_found(format!("no recording {id}")))
}

/// A clip whose files left the disk after its upload, from the object store, with a
/// byte range if one was asked for (players seek that way).
async fn from_store(
    state: &AppState,
    clip: &ClipRow,
    ext: &str,
    mime: &'static str,
    headers: &axum::http::HeaderMap,
) -> Result<Response, AppError> {
    let (Some(s3), Some(remote)) = (&state.s3, &clip.remote) else {
        return Err(AppError::not_found(format!(
            "recording {} is only in object storage ({}), which this hub is not set up for",
            clip.id,
            clip.remote.as_deref().unwrap_or("")
        )));
    };
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(store_range);
    let ranged = range.is_some();
    let got = s3.get(remote, ext, range).await.map_err(|e| {
        tracing::warn!(clip = clip.id, error = %e, "cannot read a clip from the object store");
        AppError::new(
            ErrorKind::BadGateway,
            "the object store does not give the recording",
        )
    })?;
    let (span, size) = (got.range.clone(), got.meta.size);
    let body = axum::body::Body::from_stream(got.into_stream());
    let mut response = Response::builder()
        .header(header::CONTENT_TYPE, mime)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CONTENT_LENGTH, span.end - span.start)
        .header(header::CACHE_CONTROL, "private, max-age=86400");
    if ranged {
        response = response.status(StatusCode::PARTIAL_CONTENT).header(
            header::CONTENT_RANGE,
            format!("bytes {}-{}/{size}", span.start, span.end.saturating_sub(1)),
        );
    }
    response
        .body(body)
        .map_err(|e| AppError::new(ErrorKind::BadGateway, e.to_string()))
}

/// A `Range` header as the store takes it: one range, or none (the whole file).
fn store_range(value: &str) -> Option<object_store::GetRange> {
    use object_store::GetRange;
    let (first, last) = value.trim().strip_prefix("bytes=")?.split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    match (first.parse::<u64>(), last.parse::<u64>()) {
        (Ok(a), Ok(b)) if a <= b => Some(GetRange::Bounded(a..b.saturating_add(1))),
        (Ok(a), Err(_)) if last.is_empty() => Some(GetRange::Offset(a)),
        (Err(_), Ok(n)) if first.is_empty() && n > 0 => Some(GetRange::Suffix(n)),
        _ => None,
    }
}

/// What to do with a request's `Range` before the file server reads it.
#[derive(Debug, PartialEq, Eq)]
enum RangeFix {
    Keep,
    /// Not one well-formed byte range: serve the whole file (RFC 9110 lets a server
    /// ignore `Range`; browsers and players then take the 200).
    Ignore,
    /// A range past the end is satisfied up to the end (RFC 9110 14.1.2).
    Clamp(String),
}

/// The file server answers 416 to ranges RFC 9110 says to serve: a last position past
/// the end (`bytes=0-<huge>`) gets the file up to its end; a malformed header
/// (`bytes=abc`) or several ranges (`bytes=0-0,5-5`) get the whole file. A range
/// that starts past the end is still 416.
fn single_range(value: &str, len: u64) -> RangeFix {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeFix::Ignore;
    };
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeFix::Ignore;
    };
    let number = |s: &str| -> Option<Option<u64>> {
        let s = s.trim();
        if s.is_empty() {
            Some(None)
        } else if s.bytes().all(|b| b.is_ascii_digit()) {
            Some(Some(s.parse().unwrap_or(u64::MAX)))
        } else {
            None
        }
    };
    match (number(first), number(last)) {
        (Some(Some(a)), Some(Some(b))) if a > b => RangeFix::Ignore,
        (Some(Some(a)), Some(Some(b))) if a < len && b >= len => {
            RangeFix::Clamp(format!("bytes={a}-{}", len - 1))
        }
        (Some(Some(_)), Some(_)) | (Some(None), Some(Some(_))) => RangeFix::Keep,
        _ => RangeFix::Ignore,
    }
}

pub(super) async fn delete(
    State(state): State<AppState>,
    Extension(grant): Extension<Grant>,
    Path(file): Path<String>,
) -> Result<Json<serde_json::Value>, AppError> {
    let id: i64 = file
        .parse()
        .map_err(|_| AppError::not_found(format!("no recording '{file}'")))?;
    let recordings = recordings(&state)?;
    if grant.cameras().is_some() {
        let r = Arc::clone(&recordings);
        seen_clip(&grant, blocking(move || r.get(id)).await?, id)?;
    }
    const FAILED: &str = "the recording could not be deleted";
    let result = tokio::task::spawn_blocking(move || recordings.delete(id))
        .await
        .map_err(|e| unavailable(FAILED, e))?;
    match result {
        Ok(clip) => Ok(Json(serde_json::json!({ "deleted": clip.id }))),
        Err(e @ DeleteError::NotFound(_)) => Err(AppError::not_found(e.to_string())),
        Err(e @ DeleteError::InProgress(_)) => {
            Err(AppError::new(ErrorKind::Conflict, e.to_string()))
        }
        Err(DeleteError::Record(e)) => Err(unavailable(FAILED, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_at_the_ends_of_the_calendar_are_taken() {
        let t = |v: &str| time_ms("since", &Some(v.to_owned()));
        assert_eq!(t("1970-01-01T00:00:01Z").unwrap(), Some(1000));
        let far = t("9999-12-31T23:59:59Z").unwrap().unwrap();
        assert!(far >= t("9999-01-01T00:00:00Z").unwrap().unwrap());
        assert!(t("-009999-01-01T00:00:00Z").unwrap().unwrap() < 0);
        assert!(t("yesterday").is_err());
        assert!(t("2026-11-22").is_err(), "a date alone is not a time");
    }

    #[test]
    fn ranges_asked_of_the_store() {
        use object_store::GetRange::*;
        assert_eq!(store_range("bytes=0-7"), Some(Bounded(0..8)));
        assert_eq!(store_range("bytes=100-"), Some(Offset(100)));
        assert_eq!(store_range("bytes=-500"), Some(Suffix(500)));
        for whole in [
            "bytes=9-3",
            "bytes=abc",
            "bytes=-0",
            "bytes=-",
            "items=0-5",
            "",
        ] {
            assert_eq!(store_range(whole), None, "{whole}");
        }
    }

    #[test]
    fn ranges_are_served_as_rfc_9110_says() {
        use RangeFix::*;
        assert_eq!(single_range("bytes=100-199", 1000), Keep);
        assert_eq!(single_range("bytes=100-", 1000), Keep);
        assert_eq!(single_range("bytes=-500", 1000), Keep);
        assert_eq!(single_range("bytes=2000-", 1000), Keep, "416 stays");
        assert_eq!(
            single_range("bytes=0-18446744073709551615", 1000),
            Clamp("bytes=0-999".into())
        );
        assert_eq!(
            single_range("bytes=0-99999999999999999999999", 1000),
            Clamp("bytes=0-999".into())
        );
        assert_eq!(
            single_range("bytes=5-1000", 1000),
            Clamp("bytes=5-999".into())
        );
        for ignored in [
            "bytes=abc",
            "bytes=0-0,5-5",
            "bytes=9-3",
            "items=0-5",
            "bytes=-",
            "",
        ] {
            assert_eq!(single_range(ignored, 1000), Ignore, "{ignored}");
        }
    }
}
