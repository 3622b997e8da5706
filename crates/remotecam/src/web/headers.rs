//! The headers every answer of the hub carries, refusals included: what a browser may
//! load and run on the hub's origin. Pages build their elements from text (never HTML
//! from an answer); the policy is the second wall, should one ever slip: scripts come
//! only from the hub's own `/assets`, never inline, and nothing the hub serves is read
//! as anything but the type it says.

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// The pages' policy. Styles may be inline (the pages' `style` attributes); pictures
/// and video may be `blob:` (the MSE player) and `data:`; connections (fetch,
/// WebSocket, server-sent events) go to the hub only.
pub(super) const PAGES: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; media-src 'self' blob:; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'";

/// An answer made elsewhere (a peer hub's, passed through): opened on its own, it is a
/// document of no origin that runs nothing and loads nothing.
pub(super) const FOREIGN: &str = "sandbox; default-src 'none'; frame-ancestors 'none'";

pub(super) async fn secure(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(PAGES));
    // No other site may show the hub's pages in a frame (clickjacking).
    headers.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}
