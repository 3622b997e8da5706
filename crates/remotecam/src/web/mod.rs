//! The HTTP edge: one router for both listeners (HTTP and HTTPS).
//!
//! **API boundary:** every path under `/api` and the page paths are a contract used by
//! tools outside this repository (see `docs/api.md`); add, never rename.

mod api;
mod events;
pub mod metrics;
mod mjpeg;
mod motion;
mod mp4;
mod pages;
mod publish;
mod recordings;
mod view;
mod ws;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::auth::{self, Access, Auth};
use crate::error::{AppError, ErrorKind};
use crate::frame::FrameLimits;
use crate::hosts::HostNames;
use crate::hub::Hub;

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    pub hub: Arc<Hub>,
    pub auth: Arc<Auth>,
    /// What a publisher's frames may be.
    pub limits: FrameLimits,
    /// The names the hub answers to.
    pub hosts: Arc<HostNames>,
    /// The ports the hub listens on (the pages show a camera's addresses on both).
    pub ports: Ports,
}

/// The hub's two ports.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ports {
    pub http: u16,
    pub https: u16,
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
        .fallback(api::not_found);
    Router::new()
        .nest("/api", api)
        .route("/", get(pages::dashboard))
        .route("/publish", get(pages::publish))
        .route("/cameras/{name}", get(pages::camera))
        .route("/recordings", get(pages::recordings))
        .route("/metrics", get(metrics::get))
        .route("/assets/{*path}", get(pages::asset))
        .fallback(pages::not_found)
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

/// Access control for every request: the hub's own names first (see [`crate::hosts`]),
/// then the token rules (see [`crate::auth`]), plus the same-origin rule for requests
/// that change state.
async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Some(host) = authority(request.headers(), request.uri())
        && !state.hosts.accepts(host)
    {
        metrics::refused("unknown_host");
        return AppError::new(
            ErrorKind::Misdirected,
            format!(
                "this hub does not answer to the name '{host}': open it by one of its own \
                 names or addresses, or add the name to allowed_hosts"
            ),
        )
        .into_response();
    }
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ci| ci.0.ip());
    let access = state
        .auth
        .check(peer, request.headers(), request.uri().query());
    let refusal = match access {
        Access::Missing => Some(
            "access token required: open the address the hub printed (it ends in \
             ?token=...), or send 'Authorization: Bearer <token>'",
        ),
        Access::Wrong => Some(
            "wrong access token: use the token the hub printed at start (also in the \
             file 'token' in its data directory)",
        ),
        Access::Trusted | Access::Token | Access::QueryToken => None,
    };
    if let Some(message) = refusal {
        metrics::refused(if access == Access::Missing {
            "token_missing"
        } else {
            "token_wrong"
        });
        return if wants_html(&request) {
            refused_page(message)
        } else {
            AppError::new(ErrorKind::Unauthorized, message).into_response()
        };
    }
    if request.method() != Method::GET
        && request.method() != Method::HEAD
        && let Err(e) = check_origin(request.headers(), request.uri())
    {
        return e.into_response();
    }
    // A page opened with ?token= gets the cookie and a clean address: the token then
    // travels in the cookie for the page's assets and WebSockets, and is not left in the
    // address bar or the browser history.
    let path = request.uri().path();
    if access == Access::QueryToken && request.method() == Method::GET && !path.starts_with("/api/")
    {
        let rest = auth::query_without_token(request.uri().query().unwrap_or(""));
        // `//evil.example/` (or `/\evil.example/`) as a redirect target is another
        // site's address: the target is always a path of this hub.
        let path = format!("/{}", path.trim_start_matches(['/', '\\']));
        let target = if rest.is_empty() {
            path
        } else {
            format!("{path}?{rest}")
        };
        let cookie = format!(
            "{}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age=31536000{}",
            auth::COOKIE,
            state.auth.token(),
            if is_tls(&request) { "; Secure" } else { "" }
        );
        let mut response = Redirect::to(&target).into_response();
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            response.headers_mut().insert(header::SET_COOKIE, v);
        }
        return response;
    }
    let mut response = next.run(request).await;
    // No other site may show the hub's pages in a frame (clickjacking).
    let headers = response.headers_mut();
    headers.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static("frame-ancestors 'self'"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// A person opening a page in a browser gets the refusal as a page, programs get JSON.
fn wants_html(request: &Request) -> bool {
    !request.uri().path().starts_with("/api/")
        && request
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"))
}

fn refused_page(message: &str) -> Response {
    let body = format!(
        "<!doctype html><meta charset=utf-8><meta name=viewport content=\"width=device-width\">\
         <title>remotecam: access token needed</title>\
         <body style=\"font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem\">\
         <h1>remotecam</h1><p>This camera hub is private: {message}.</p>\
         <p>Scan the QR code the hub printed when it started, or copy the address below it.</p>"
    );
    let mut response = (
        axum::http::StatusCode::UNAUTHORIZED,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"remotecam\""),
    );
    response
}

/// Marker put in request extensions by the HTTPS listener.
#[derive(Debug, Clone, Copy)]
pub struct Tls;

fn is_tls(request: &Request) -> bool {
    request.extensions().get::<Tls>().is_some()
}

/// Browsers send `Origin` on WebSocket upgrades, on cross-site requests and on every
/// request other than GET; a page on another site must not reach the cameras with the
/// user's cookie. Requests without
/// `Origin` come from tools (curl, OpenCV, VLC), which the token rules cover.
///
/// The hub's own address is the `Host` header in HTTP/1.1 and the request's authority
/// in HTTP/2 (which browsers speak over HTTPS, and which has no `Host` header).
pub(crate) fn check_origin(headers: &HeaderMap, uri: &Uri) -> Result<(), AppError> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let host = authority(headers, uri).unwrap_or("");
    let origin = origin.to_str().unwrap_or("");
    let authority = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    match authority {
        Some(a) if !host.is_empty() && a.eq_ignore_ascii_case(host) => Ok(()),
        _ => Err(AppError::new(
            ErrorKind::Forbidden,
            format!("requests from origin '{origin}' are not allowed (only pages of this hub)"),
        )),
    }
}

/// The name and port the request was sent to: the `Host` header in HTTP/1.1, the
/// request's authority in HTTP/2 (which has no `Host` header).
fn authority<'a>(headers: &'a HeaderMap, uri: &'a Uri) -> Option<&'a str> {
    match headers.get(header::HOST) {
        // A Host that is not text names nothing of the hub's.
        Some(h) => Some(h.to_str().unwrap_or("\u{fffd}")),
        None => uri.authority().map(|a| a.as_str()),
    }
}

pub(crate) fn no_store(response: &mut Response) {
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (k.clone(), HeaderValue::from_str(v).unwrap()))
            .collect()
    }

    #[test]
    fn own_pages_pass_the_origin_check_in_http1_and_http2() {
        let path: Uri = "/api/cameras/door/motion".parse().unwrap();
        // HTTP/1.1: the hub's address is the Host header.
        let own = headers(&[
            (header::HOST, "192.168.1.5:8443"),
            (header::ORIGIN, "https://192.168.1.5:8443"),
        ]);
        assert!(check_origin(&own, &path).is_ok());
        // HTTP/2: no Host header; the address is the request's authority.
        let h2: Uri = "https://192.168.1.5:8443/api/cameras/door/motion"
            .parse()
            .unwrap();
        let origin_only = headers(&[(header::ORIGIN, "https://192.168.1.5:8443")]);
        assert!(check_origin(&origin_only, &h2).is_ok());
        // Other sites are refused either way, and so is an origin with nothing to
        // compare it with.
        let foreign = headers(&[(header::ORIGIN, "https://evil.example")]);
        assert!(check_origin(&foreign, &h2).is_err());
        let foreign_h1 = headers(&[
            (header::HOST, "192.168.1.5:8443"),
            (header::ORIGIN, "https://evil.example"),
        ]);
        assert!(check_origin(&foreign_h1, &path).is_err());
        assert!(check_origin(&origin_only, &path).is_err());
        // Tools send no Origin: the token rules cover them.
        assert!(check_origin(&HeaderMap::new(), &path).is_ok());
    }
}
