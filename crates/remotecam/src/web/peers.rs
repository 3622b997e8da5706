//! `GET /api/peers` and `GET /api/peers/{peer}/{path}`: the other hubs of `[[peers]]`
//! and their API (cameras and recordings, read only), passed through with this hub's
//! token for each (`crate::peers`). A stream is passed on as the peer sends it, at the
//! pace of the viewer here; nothing is kept.

use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Serialize;

use super::AppState;
use crate::auth::query_without_token;
use crate::error::{AppError, ErrorKind};

#[derive(Serialize)]
pub(super) struct PeerView {
    name: String,
    url: String,
}

pub(super) async fn list(State(state): State<AppState>) -> Json<Vec<PeerView>> {
    Json(
        state
            .peers
            .iter()
            .map(|p| PeerView {
                name: p.name.clone(),
                url: p.url.clone(),
            })
            .collect(),
    )
}

/// The headers of a peer's answer that a player or page needs.
const PASSED: [HeaderName; 8] = [
    header::CONTENT_TYPE,
    header::CONTENT_LENGTH,
    header::CONTENT_RANGE,
    header::ACCEPT_RANGES,
    header::CACHE_CONTROL,
    header::CONTENT_DISPOSITION,
    HeaderName::from_static("x-camera-online"),
    HeaderName::from_static("x-frame-seq"),
];

pub(super) async fn proxy(
    State(state): State<AppState>,
    Path((name, path)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let peer = state
        .peers
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| AppError::not_found(format!("no peer named '{name}'")))?;
    if !readable(&path) {
        return Err(AppError::not_found(
            "a peer's cameras/... and recordings/... only (see docs/api.md)",
        ));
    }
    let query = query_without_token(uri.query().unwrap_or(""));
    let answer = peer.get(&path, &query, &headers).await.map_err(|e| {
        AppError::new(
            ErrorKind::BadGateway,
            format!("hub '{name}' ({}): {e}", peer.url),
        )
    })?;
    let status = answer.status();
    if matches!(status.as_u16(), 401 | 403) {
        return Err(AppError::new(
            ErrorKind::BadGateway,
            format!(
                "hub '{name}' refused this hub's token for it ({status}): check the peer's \
                 token in the config file"
            ),
        ));
    }
    let kind = answer.headers().get(header::CONTENT_TYPE);
    if !served_type(kind.map(|v| v.as_bytes()), answer.content_length()) {
        let kind = kind.map_or(String::from("none"), |v| {
            crate::excerpt::of_bytes(v.as_bytes())
        });
        return Err(AppError::new(
            ErrorKind::BadGateway,
            format!(
                "hub '{name}' answered with content of type {kind}, which is not one this \
                 hub's API serves (JSON, JPEG, MP4, MJPEG): refused"
            ),
        ));
    }
    let mut response = Response::builder()
        .status(StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY))
        .header(header::CONTENT_SECURITY_POLICY, super::headers::FOREIGN);
    for name in &PASSED {
        if let Some(value) = answer.headers().get(name.as_str()) {
            response = response.header(name, value.as_bytes());
        }
    }
    let deadline = (!is_stream(&path, kind)).then(|| {
        let length = answer.content_length().unwrap_or(0);
        tokio::time::Instant::now() + ANSWER_WITHIN + Duration::from_secs(length / ANSWER_RATE)
    });
    let body = answer.bytes_stream();
    let body = match deadline {
        // Past its deadline the answer is cut: the client sees it end short.
        Some(at) => Body::from_stream(body.take_until(tokio::time::sleep_until(at))),
        None => Body::from_stream(body),
    };
    response
        .body(body)
        .map_err(|e| AppError::new(ErrorKind::BadGateway, e.to_string()))
        .map(IntoResponse::into_response)
}

/// A peer's answer that is not a stream comes whole within this, plus a second for each
/// [`ANSWER_RATE`] bytes it claims: a peer that trickles it is cut.
const ANSWER_WITHIN: Duration = Duration::from_secs(30);
/// Bytes a second a long answer (a clip) is given at least.
const ANSWER_RATE: u64 = 256 << 10;

/// Whether a peer's answer is a live stream (MJPEG, a camera's MP4), which has no end:
/// its pace is the camera's.
fn is_stream(path: &str, kind: Option<&HeaderValue>) -> bool {
    path.ends_with("/stream.mp4")
        || kind.is_some_and(|k| {
            k.as_bytes()
                .get(..25)
                .is_some_and(|k| k.eq_ignore_ascii_case(b"multipart/x-mixed-replace"))
        })
}

/// The types of content the API serves, the only ones passed on from a peer: anything
/// else (a page, a script, a picture of another kind) would be served from this hub's
/// origin. An answer without a type only when it has no body.
fn served_type(kind: Option<&[u8]>, length: Option<u64>) -> bool {
    let Some(kind) = kind else {
        return length == Some(0);
    };
    let essence = kind.split(|&b| b == b';').next().unwrap_or_default();
    let essence = essence.trim_ascii();
    [
        "application/json",
        "image/jpeg",
        "video/mp4",
        "multipart/x-mixed-replace",
    ]
    .iter()
    .any(|t| essence.eq_ignore_ascii_case(t.as_bytes()))
}

/// A path of a peer's API this hub passes on: under `cameras` or `recordings`, each
/// segment a plain name (no `..`, no encoded slashes: the path cannot leave them).
fn readable(path: &str) -> bool {
    let segments: Vec<&str> = path.split('/').collect();
    matches!(segments.first(), Some(&("cameras" | "recordings")))
        && segments.len() <= 4
        && segments.iter().all(|s| {
            !s.is_empty()
                && !s.starts_with('.')
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        })
        && !matches!(segments.get(2), Some(&"publish"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_types_the_api_serves_are_passed_on() {
        for ok in [
            "application/json",
            "image/jpeg",
            "video/mp4",
            "multipart/x-mixed-replace; boundary=frame",
            "Application/JSON; charset=utf-8",
        ] {
            assert!(served_type(Some(ok.as_bytes()), None), "{ok}");
        }
        for refused in [
            "text/html",
            "text/html; charset=utf-8",
            "image/svg+xml",
            "application/javascript",
            "text/plain",
            "application/json-seq",
            "",
        ] {
            assert!(!served_type(Some(refused.as_bytes()), None), "{refused}");
        }
        assert!(served_type(None, Some(0)), "no body, no type");
        assert!(!served_type(None, None), "a body of no type");
        assert!(!served_type(None, Some(10)), "a body of no type");
    }

    #[test]
    fn only_cameras_and_recordings_are_passed_on() {
        for ok in [
            "cameras",
            "cameras/door",
            "cameras/door/stream.mjpg",
            "cameras/door/snapshot.jpg",
            "recordings",
            "recordings/12.mp4",
        ] {
            assert!(readable(ok), "{ok}");
        }
        for refused in [
            "tokens",
            "info",
            "cameras/../tokens",
            "cameras/door/../../tokens",
            "cameras/door/publish",
            "cameras/.hidden",
            "cameras//door",
            "cameras/door%2F..",
            "recordings/a/b/c/d",
            "",
        ] {
            assert!(!readable(refused), "{refused}");
        }
    }
}
