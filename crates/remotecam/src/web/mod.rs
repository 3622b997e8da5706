//! The HTTP edge: one router for both listeners (HTTP and HTTPS).
//!
//! **API boundary:** every path under `/api` and the page paths are a contract used by
//! tools outside this repository (see `docs/api.md`); add, never rename.

mod aliases;
mod api;
mod events;
mod guard;
mod headers;
pub mod metrics;
mod mjpeg;
mod motion;
mod mp4;
mod pages;
mod peers;
mod publish;
mod publish_input;
mod recordings;
pub mod stalls;
mod tokens;
mod view;
mod ws;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::middleware;
use axum::response::Response;
use axum::routing::{delete, get};

use crate::auth::Auth;
use crate::error::AppError;
use crate::frame::FrameLimits;
use crate::hosts::HostNames;
use crate::hub::Hub;
use crate::peers::Peer;

pub use guard::Tls;
pub(crate) use guard::check_origin;
pub use stalls::Closer;

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    pub hub: Arc<Hub>,
    pub auth: Arc<Auth>,
    /// What a publisher's frames may be.
    pub limits: FrameLimits,
    /// Other hubs whose cameras and clips the pages show.
    pub peers: Arc<[Peer]>,
    /// The object store clips are uploaded to: clips whose local copy is gone are
    /// served from it.
    pub s3: Option<crate::record::upload::S3Config>,
    /// The names the hub answers to.
    pub hosts: Arc<HostNames>,
    /// The ports the hub listens on (the pages show a camera's addresses on both).
    pub ports: Ports,
    /// What stalled viewers hold, kept within its budget.
    pub stalls: Arc<stalls::Stalls>,
}

/// The hub's two ports.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ports {
    pub http: u16,
    pub https: u16,
    /// `None`: RTSP is not served (its default port was taken).
    pub rtsp: Option<u16>,
}

impl AppState {
    /// The camera of that name, or the API's 404.
    pub(crate) fn camera(&self, name: &str) -> Result<Arc<crate::camera::Camera>, AppError> {
        self.hub.get(name).ok_or_else(|| AppError::no_camera(name))
    }

    /// The camera with what the hub keeps beside it (its motion detection).
    pub(crate) fn entry(&self, name: &str) -> Result<crate::hub::Entry, AppError> {
        self.hub
            .entry(name)
            .ok_or_else(|| AppError::no_camera(name))
    }
}

/// The whole router; `main` serves it on both listeners and tests may drive it directly.
pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .route("/cameras", get(api::list_cameras))
        .route(
            "/cameras/{name}",
            get(api::camera_status).delete(api::delete_camera),
        )
        .route("/cameras/{name}/snapshot.jpg", get(api::snapshot))
        .route("/cameras/{name}/stream.mjpg", get(mjpeg::stream))
        .route("/cameras/{name}/stream.mp4", get(mp4::stream))
        .route("/cameras/{name}/ws", get(view::view))
        .route("/cameras/{name}/publish", get(publish::publish))
        .route("/cameras/{name}/motion", get(motion::get).put(motion::put))
        .route("/cameras/{name}/motion/history", get(motion::history))
        .route("/info", get(api::info))
        .route("/events", get(events::events))
        .route("/recordings", get(recordings::list))
        .route(
            "/recordings/{file}",
            get(recordings::get).delete(recordings::delete),
        )
        .route("/peers", get(peers::list))
        .route("/peers/{peer}/{*path}", get(peers::proxy))
        .route("/tokens", get(tokens::list).post(tokens::add))
        .route("/tokens/{id}", delete(tokens::revoke))
        .fallback(api::not_found);
    let own = Router::new()
        .nest("/api", api)
        .route("/", get(pages::dashboard))
        .route("/publish", get(pages::publish))
        .route("/cameras/{name}", get(pages::camera))
        .route("/recordings", get(pages::recordings))
        .route("/metrics", get(metrics::get))
        .route("/assets/{*path}", get(pages::asset))
        .fallback(pages::not_found)
        .layer(middleware::from_fn_with_state(state.clone(), guard::guard))
        .with_state(state.clone());
    // The drop-in URLs are rewritten before the hub's own routes are chosen.
    Router::new()
        .fallback_service(own)
        .layer(middleware::from_fn_with_state(state, aliases::rewrite))
        .layer(middleware::from_fn(headers::secure))
}

pub(crate) fn no_store(response: &mut Response) {
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
}
