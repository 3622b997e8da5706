//! Watching a camera over a WebSocket, a sink like the MJPEG stream.
//!
//! Protocol (`/api/cameras/{name}/ws`): text messages are JSON status
//! (`{"type":"hello",...}`, `{"type":"status","online":bool}`); binary messages are frames
//! as described in [`crate::frame::Frame::ws_message`].

use std::time::Duration;

use axum::Extension;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::IntoResponse;
use axum::response::Response;
use remotecam_core::wire::ViewerText;
use tokio::sync::watch;
use tokio::time::Instant;

use super::{AppState, check_origin};
use crate::auth::Grant;
use crate::counts::ViewerKind;
use crate::error::AppError;

use super::ws::{
    PING_EVERY, STOPPING, WRITE_SLACK, access_ended, close, close_with, hub_stopped, text,
};

/// A viewer whose socket has not taken a frame for this long is dropped: it holds only
/// old frames, and its client is gone or stuck.
const VIEWER_STALL: Duration = Duration::from_secs(30);

/// A viewer that answers nothing (not even the pings) for this long is dropped.
const VIEWER_SILENCE: Duration = Duration::from_secs(60);

/// `GET /api/cameras/{name}/ws` (WebSocket upgrade).
pub(super) async fn view(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    Extension(grant): Extension<Grant>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, AppError> {
    check_origin(&headers, &uri)?;
    let entry = state.entry(&name)?;
    let stopped = state.hub.stopped();
    let upgrade = match upgrade {
        Ok(u) => u,
        Err(rejection) => return Ok(rejection.into_response()),
    };
    // Viewers send nothing but control frames; keep their messages small.
    Ok(upgrade
        .max_message_size(64 * 1024)
        .max_write_buffer_size(state.limits.max_bytes + WRITE_SLACK)
        .on_upgrade(move |socket| viewer_session(socket, entry, stopped, grant, state.stalls)))
}

async fn viewer_session(
    mut socket: WebSocket,
    entry: crate::hub::Entry,
    mut stopped: watch::Receiver<bool>,
    grant: Grant,
    stalls: std::sync::Arc<super::stalls::Stalls>,
) {
    let mut ended = std::pin::pin!(access_ended(grant));
    // Closes this viewer when stalled viewers hold too much (`stalls.rs`).
    let close = std::sync::Arc::new(tokio::sync::Notify::new());
    let pin = stalls.viewer(std::sync::Arc::clone(&close));
    let camera = entry.camera;
    let _guard = camera.viewer();
    let metrics = super::metrics::ViewerMetrics::new(entry.counts, ViewerKind::Ws);
    let mut rx = camera.subscribe();
    let hello = ViewerText::Hello {
        camera: camera.name().to_owned(),
    };
    if socket.send(text(&hello)).await.is_err() {
        return;
    }
    let mut last_seq = 0;
    // Frames before it are stale (see `Camera::fresh_from`): not sent.
    let fresh_from = camera.fresh_from();
    let mut was_online = None;
    // Pings find viewers that went away while nothing was sent (an offline camera).
    let mut ping = tokio::time::interval(PING_EVERY);
    let mut last_heard = Instant::now();
    loop {
        let latest = rx.borrow_and_update().clone();
        if was_online != Some(latest.online) {
            was_online = Some(latest.online);
            let status = ViewerText::Status {
                online: latest.online,
            };
            if socket.send(text(&status)).await.is_err() {
                return;
            }
        }
        if latest.online
            && let Some(frame) = latest.frame
            && frame.seq != last_seq
            && frame.seq >= fresh_from
        {
            let skipped = super::metrics::skipped(last_seq, frame.seq);
            last_seq = frame.seq;
            let message = frame.ws_message();
            // Only the message is held while it goes (not the frame's JPEG beside it).
            drop(frame);
            let bytes = message.len();
            // The message, and the socket's copy of it in its output buffer.
            pin.handed_copy(2 * bytes);
            let send = socket.send(Message::Binary(message));
            let sent = tokio::select! {
                sent = tokio::time::timeout(VIEWER_STALL, send) => sent,
                () = close.notified() => return,
            };
            pin.asked();
            match sent {
                Ok(Ok(())) => metrics.frame(skipped, bytes),
                Ok(Err(_)) => return,
                Err(_) => {
                    tracing::info!(
                        camera = camera.name(),
                        "dropping a WebSocket viewer stalled for 30 s"
                    );
                    return;
                }
            }
        }
        let mut closing = None;
        tokio::select! {
            () = hub_stopped(&mut stopped) => closing = Some((close::GOING_AWAY, STOPPING.into())),
            reason = &mut ended => closing = Some(reason),
            changed = rx.changed() => if changed.is_err() { return },
            message = socket.recv() => match message {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => last_heard = Instant::now(),
            },
            _ = ping.tick() => {
                if last_heard.elapsed() > VIEWER_SILENCE {
                    tracing::info!(camera = camera.name(), "dropping a WebSocket viewer silent for 60 s");
                    return;
                }
                let ping = socket.send(Message::Ping(Default::default()));
                if !matches!(tokio::time::timeout(VIEWER_STALL, ping).await, Ok(Ok(()))) {
                    return;
                }
            }
        }
        if let Some((code, reason)) = closing {
            return close_with(socket, code, reason).await;
        }
    }
}
