//! Access control for every request: the hub's own names first (see [`crate::hosts`]),
//! then the tokens (see [`crate::auth`]) and what the request needs of its grant
//! ([`need`]), plus the same-origin rule for requests that change state. The grant goes
//! on in the request's extensions, for handlers that list what it sees, and a response
//! to a scoped token ends when the token does (revoked or expired): open streams close.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use futures_util::StreamExt;

use super::{AppState, metrics};
use crate::auth::{self, Action, Cameras, Grant, Need, Refused, Via};
use crate::error::{AppError, ErrorKind};

/// Whether the client's address is let in without a token (`/api/info`'s `trusted`: the
/// camera page leaves the token out of the addresses it shows only then).
#[derive(Debug, Clone, Copy)]
pub(super) struct PeerTrusted(pub bool);

pub(super) async fn guard(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
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
    let admitted = match state
        .auth
        .check(peer, request.headers(), request.uri().query())
    {
        Ok(admitted) => admitted,
        Err(refused) => return refuse(&request, refused),
    };
    let grant = admitted.grant;
    if let Err(denied) = grant.allows(need(request.method(), request.uri().path())) {
        metrics::refused("forbidden");
        return AppError::new(ErrorKind::Forbidden, denied.to_string()).into_response();
    }
    if request.method() != Method::GET
        && request.method() != Method::HEAD
        && let Err(e) = check_origin(request.headers(), request.uri())
    {
        return e.into_response();
    }
    let path = request.uri().path();
    if admitted.via == Via::Query && request.method() == Method::GET && !path.starts_with("/api/") {
        return set_cookie(&request, &grant);
    }
    request.extensions_mut().insert(grant.clone());
    request
        .extensions_mut()
        .insert(PeerTrusted(state.auth.trusts(peer)));
    let response = next.run(request).await;
    if grant.can_end() {
        ending_with(response, grant)
    } else {
        response
    }
}

/// What a request needs of its grant, by its method and path (the router's routes, see
/// `app()`). Anything not named here needs everything: a route added later is closed to
/// scoped tokens until it is named.
pub(super) fn need<'a>(method: &Method, path: &'a str) -> Need<'a> {
    use Action::*;
    use Cameras::*;
    let read = method == Method::GET || method == Method::HEAD;
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (action, cameras) = match (read, segments.as_slice()) {
        (true, ["assets", ..]) => (View, Seen),
        (true, ["api", "cameras"]) => (View, Seen),
        (true, ["api", "cameras", name, "publish"]) => (Publish, One(name)),
        (true, ["api", "cameras", name, ..]) => (View, One(name)),
        (true, ["api", "info" | "events" | "recordings"] | ["api", "recordings", _]) => {
            (View, Seen)
        }
        (true, [""] | ["recordings"]) => (View, Seen),
        (true, ["cameras", name]) => (View, One(name)),
        (true, ["publish"]) => (Publish, Seen),
        // Every camera's figures; the other hubs' cameras.
        (true, ["metrics"] | ["api", "peers", ..]) => (View, Every),
        _ if method == Method::PUT && matches!(segments[..], ["api", "cameras", _, "motion"]) => {
            (Change, One(segments[2]))
        }
        _ if method == Method::DELETE && matches!(segments[..], ["api", "cameras", _]) => {
            (Change, One(segments[2]))
        }
        // The handler checks the clip's camera.
        _ if method == Method::DELETE && matches!(segments[..], ["api", "recordings", _]) => {
            (Change, Seen)
        }
        _ => (Manage, Every),
    };
    Need { action, cameras }
}

/// The 401 of a request no token let in: a page for a person, JSON for programs.
fn refuse(request: &Request, refused: Refused) -> Response {
    let (reason, message) = match refused {
        Refused::Missing => (
            "token_missing",
            "access token required: open the address the hub printed (it ends in \
             ?token=...), or send 'Authorization: Bearer <token>'",
        ),
        Refused::Wrong => (
            "token_wrong",
            "wrong access token: use the token the hub printed at start (also in the \
             file 'token' in its data directory), or one it made that was not revoked",
        ),
        Refused::Expired => (
            "token_expired",
            "the access token expired: ask whoever gave it to you for a new one",
        ),
    };
    metrics::refused(reason);
    if wants_html(request) {
        refused_page(message)
    } else {
        AppError::new(ErrorKind::Unauthorized, message).into_response()
    }
}

/// A page opened with ?token= gets the cookie and a clean address: the token then
/// travels in the cookie for the page's assets and WebSockets, and is not left in the
/// address bar or the browser history. The cookie holds the token that was sent, so a
/// scoped token stays scoped.
fn set_cookie(request: &Request, grant: &Grant) -> Response {
    let rest = auth::query_without_token(request.uri().query().unwrap_or(""));
    // `//evil.example/` (or `/\evil.example/`) as a redirect target is another
    // site's address: the target is always a path of this hub.
    let path = format!("/{}", request.uri().path().trim_start_matches(['/', '\\']));
    let target = if rest.is_empty() {
        path
    } else {
        format!("{path}?{rest}")
    };
    let cookie = format!(
        "{}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age=31536000{}",
        auth::COOKIE,
        grant.token().unwrap_or_default(),
        if is_tls(request) { "; Secure" } else { "" }
    );
    let mut response = Redirect::to(&target).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

/// The response's body, ended when the grant ends: an MJPEG or MP4 stream, the events
/// or a download of a token that is revoked (or expires) stops there.
fn ending_with(response: Response, grant: Grant) -> Response {
    let (parts, body) = response.into_parts();
    let end = Box::pin(async move { grant.ended().await });
    let body = Body::from_stream(body.into_data_stream().take_until(end));
    Response::from_parts(parts, body)
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
pub(super) fn authority<'a>(headers: &'a HeaderMap, uri: &'a Uri) -> Option<&'a str> {
    match headers.get(header::HOST) {
        // A Host that is not text names nothing of the hub's.
        Some(h) => Some(h.to_str().unwrap_or("\u{fffd}")),
        None => uri.authority().map(|a| a.as_str()),
    }
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

    #[test]
    fn every_route_needs_what_its_role_may() {
        use Action::*;
        use Cameras::*;
        let get = |path| need(&Method::GET, path);
        let put = |path| need(&Method::PUT, path);
        let delete = |path| need(&Method::DELETE, path);
        let n = |action, cameras| Need { action, cameras };
        assert_eq!(get("/api/cameras"), n(View, Seen));
        for tail in [
            "",
            "/",
            "/snapshot.jpg",
            "/stream.mjpg",
            "/stream.mp4",
            "/ws",
            "/motion",
        ] {
            let path = format!("/api/cameras/door{tail}");
            assert_eq!(need(&Method::GET, &path), n(View, One("door")));
        }
        assert_eq!(get("/api/cameras/door/publish"), n(Publish, One("door")));
        assert_eq!(put("/api/cameras/door/motion"), n(Change, One("door")));
        assert_eq!(delete("/api/cameras/door"), n(Change, One("door")));
        assert_eq!(delete("/api/recordings/7"), n(Change, Seen));
        assert_eq!(get("/api/recordings/7.mp4"), n(View, Seen));
        assert_eq!(get("/cameras/door"), n(View, One("door")));
        assert_eq!(get("/publish"), n(Publish, Seen));
        assert_eq!(get("/metrics"), n(View, Every));
        assert_eq!(get("/api/peers/cabin/cameras"), n(View, Every));
        // Tokens, and whatever is not named, need everything.
        for (method, path) in [
            (Method::GET, "/api/tokens"),
            (Method::POST, "/api/tokens"),
            (Method::DELETE, "/api/tokens/ab12cd34"),
            (Method::POST, "/api/cameras/door/motion"),
            (Method::GET, "/api/something-new"),
        ] {
            assert_eq!(need(&method, path), n(Manage, Every), "{method} {path}");
        }
    }
}
