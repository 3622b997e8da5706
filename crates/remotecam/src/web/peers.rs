//! `GET /api/peers` and `GET /api/peers/{peer}/{path}`: the other hubs of `[[peers]]`
//! and their API (cameras and recordings, read only), passed through with this hub's
//! token for each (`crate::peers`). A stream is passed on as the peer sends it, at the
//! pace of the viewer here; nothing is kept.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
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
    let mut response = Response::builder()
        .status(StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY));
    for name in &PASSED {
        if let Some(value) = answer.headers().get(name.as_str()) {
            response = response.header(name, value.as_bytes());
        }
    }
    response
        .body(Body::from_stream(answer.bytes_stream()))
        .map_err(|e| AppError::new(ErrorKind::BadGateway, e.to_string()))
        .map(IntoResponse::into_response)
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
