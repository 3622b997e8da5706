//! JSON and snapshot endpoints.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use super::{AppState, no_store};
use serde::Serialize;

use crate::auth::Grant;
use crate::camera::CameraStatus;
use crate::error::{AppError, ErrorKind};
use crate::health::Health;
use crate::hub::Entry;
use crate::record::recorder::RecordingState;

/// A camera as `GET /api/cameras` lists it: its own status, and its motion detection's
/// beside it.
#[derive(Serialize)]
pub(super) struct CameraView {
    #[serde(flatten)]
    camera: CameraStatus,
    /// Motion detection is on.
    motion_enabled: bool,
    /// A motion event is going on.
    in_event: bool,
    /// What the camera's recorder is doing, as the motion endpoint says it.
    recording: RecordingState,
    /// A browser camera's phone, as its publisher page reports it.
    health: Option<Health>,
    /// The camera's RTSP address as this client reached the hub, with the token it sent
    /// as the password unless its address is trusted; `None` while RTSP is not served.
    rtsp_url: Option<String>,
}

/// What a camera's view needs of the request: how the client reached the hub, and
/// whether its addresses need the token it sent.
pub(super) struct Asker {
    host: String,
    token: Option<String>,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Asker {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Asker, Self::Rejection> {
        let authority = super::guard::authority(&parts.headers, &parts.uri).unwrap_or("");
        let host = match authority.strip_prefix('[') {
            Some(v6) => format!("[{}]", v6.split(']').next().unwrap_or("")),
            None => authority.split(':').next().unwrap_or("").to_owned(),
        };
        let trusted = parts
            .extensions
            .get::<super::guard::PeerTrusted>()
            .is_some_and(|t| t.0);
        let token = parts
            .extensions
            .get::<Grant>()
            .and_then(Grant::token)
            .filter(|_| !trusted)
            .map(str::to_owned);
        Ok(Asker { host, token })
    }
}

/// `GET /api/cameras`: every camera the grant sees, with its status, by name.
pub(super) async fn list_cameras(
    State(state): State<AppState>,
    Extension(grant): Extension<Grant>,
    asker: Asker,
) -> Json<Vec<CameraView>> {
    let seen = state.hub.list();
    let seen = seen.iter().filter(|e| grant.sees(e.camera.name()));
    Json(seen.map(|e| view(&state, e, &asker)).collect())
}

fn view(state: &AppState, entry: &Entry, asker: &Asker) -> CameraView {
    // Each borrow in its own statement (see `motion::view`).
    let motion_enabled = entry.motion.settings.borrow().enabled;
    let in_event = entry.motion.status.borrow().in_event;
    let rtsp_url = state.ports.rtsp.map(|port| {
        let password = match &asker.token {
            Some(token) => format!("remotecam:{token}@"),
            None => String::new(),
        };
        let name = entry.camera.name();
        format!("rtsp://{password}{}:{port}/{name}", asker.host)
    });
    CameraView {
        camera: entry.camera.status(),
        motion_enabled,
        in_event,
        recording: super::motion::recording(state, &entry.motion).state,
        health: entry.health.now(),
        rtsp_url,
    }
}

/// `GET /api/cameras/{name}`
pub(super) async fn camera_status(
    State(state): State<AppState>,
    Path(name): Path<String>,
    asker: Asker,
) -> Result<Json<CameraView>, AppError> {
    let entry = state.entry(&name)?;
    Ok(Json(view(&state, &entry, &asker)))
}

/// `DELETE /api/cameras/{name}`: forgets an offline camera.
pub(super) async fn delete_camera(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, AppError> {
    match state.hub.remove_offline(&name) {
        None => Err(AppError::no_camera(&name)),
        Some(Err(())) => Err(AppError::new(
            ErrorKind::Conflict,
            format!("camera '{name}' is online; stop its source first"),
        )),
        Some(Ok(())) => Ok(StatusCode::NO_CONTENT),
    }
}

/// `GET /api/cameras/{name}/snapshot.jpg`: the newest frame, or the "no signal" picture
/// while the camera is offline (header `X-Camera-Online` tells which).
pub(super) async fn snapshot(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    let cam = state.camera(&name)?;
    let (body, online, seq) = match cam.snapshot().await {
        Some(frame) => (frame.jpeg.clone(), true, Some(frame.seq)),
        None => (cam.placeholder().await, false, None),
    };
    let mut response = ([(header::CONTENT_TYPE, "image/jpeg")], body).into_response();
    no_store(&mut response);
    let headers = response.headers_mut();
    headers.insert(
        "x-camera-online",
        HeaderValue::from_static(if online { "true" } else { "false" }),
    );
    if let Some(seq) = seq {
        headers.insert("x-frame-seq", HeaderValue::from(seq));
    }
    Ok(response)
}

/// `GET /api/info`: what the pages need to show a camera's addresses and their
/// controls: the hub's version and ports, what the client may do, and the token it sent
/// (never to one let in without it, such as a trusted loopback address: the token would
/// let it in from elsewhere).
pub(super) async fn info(
    State(state): State<AppState>,
    Extension(grant): Extension<Grant>,
    Extension(super::guard::PeerTrusted(trusted)): Extension<super::guard::PeerTrusted>,
) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "trusted": trusted,
        "version": env!("CARGO_PKG_VERSION"),
        "http_port": state.ports.http,
        "https_port": state.ports.https,
        "rtsp_port": state.ports.rtsp,
        "token": grant.token(),
        "role": grant.role(),
        "cameras": grant.cameras(),
    }))
}

pub(super) async fn not_found() -> AppError {
    AppError::not_found("no such API endpoint (see docs/api.md)")
}
