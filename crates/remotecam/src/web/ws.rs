//! WebSockets: publishing frames into a camera, and viewing a camera's frames.
//!
//! Publisher protocol (`/api/cameras/{name}/publish`):
//! - binary message: one complete JPEG frame;
//! - text message (optional, before a frame): JSON `{"capture_ms": <epoch ms>, "t": <any
//!   number>}`; `capture_ms` is stored as the frame's capture time, `t` is echoed in the ack;
//! - the hub answers each accepted frame with `{"type":"ack","seq":N,"t":T}` (so the page
//!   can measure latency and keep at most a frame or two in flight);
//! - bad input closes the connection with a code and a reason: 1003 not a JPEG or not a
//!   metadata object, 1007 a broken JPEG or JSON, 1009 too large (bytes, or pixels in the JPEG header), 4000 replaced by a newer
//!   publisher, 1001 silent for too long or the hub stopping.
//!
//! Viewer protocol (`/api/cameras/{name}/ws`): text messages are JSON status
//! (`{"type":"hello",...}`, `{"type":"status","online":bool}`); binary messages are frames
//! as described in [`crate::frame::Frame::ws_message`].

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::IntoResponse;
use axum::response::Response;
use remotecam_core::wire::{PublishMeta, PublisherText, ViewerText};
use tokio::sync::watch;
use tokio::time::Instant;

use super::{AppState, check_origin};
use crate::camera::{Camera, SourceKind};
use crate::error::{AppError, ErrorKind};
use crate::frame::FrameLimits;
use crate::hub::camera_name;
use crate::jpeg::JpegError;

/// A viewer whose socket has not taken a frame for this long is dropped: it holds only
/// old frames, and its client is gone or stuck.
const VIEWER_STALL: Duration = Duration::from_secs(30);

/// The close reason when the hub stops (code 1001): clients may come back.
const STOPPING: &str = "the hub is stopping";

/// Completes once the hub has stopped (its clips finished): sessions then close.
async fn hub_stopped(stopped: &mut watch::Receiver<bool>) {
    if stopped.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// A viewer that answers nothing (not even the pings) for this long is dropped.
const VIEWER_SILENCE: Duration = Duration::from_secs(60);

/// A publisher that sends nothing (frames, pongs) for this long is dropped.
const PUBLISHER_SILENCE: Duration = Duration::from_secs(20);
const PING_EVERY: Duration = Duration::from_secs(5);

/// The most a connection's outgoing buffer holds beyond what it is sending now.
///
/// The WebSocket layer answers every ping with a pong by itself. A client that sends
/// pings and never reads would otherwise have its pongs queued without end (hundreds of
/// megabytes in seconds); with a bound, pongs that do not fit replace each other (one
/// waits), as the protocol allows. Publishers get only small acks back; viewers get whole
/// frames, so theirs is one frame plus this.
const WRITE_SLACK: usize = 512 << 10;

pub(crate) mod close {
    pub(crate) const GOING_AWAY: u16 = 1001;
    pub(crate) const UNSUPPORTED: u16 = 1003;
    pub(crate) const INVALID_DATA: u16 = 1007;
    pub(crate) const TOO_BIG: u16 = 1009;
    pub(crate) const REPLACED: u16 = 4000;
}

/// `GET /api/cameras/{name}/publish` (WebSocket upgrade).
pub(super) async fn publish(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    axum::extract::Query(query): axum::extract::Query<PublishQuery>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, AppError> {
    check_origin(&headers, &uri)?;
    let name =
        camera_name(&raw).map_err(|e| AppError::new(ErrorKind::BadRequest, e.to_string()))?;
    let limits = state.limits;
    // Refusals that do not need the upgrade come first, so that a plain GET of this URL
    // (the publisher page does one when its WebSocket is refused) tells why.
    if let Some(existing) = state.hub.get(&name)
        && !existing.source().publishes_itself()
    {
        return Err(AppError::new(
            ErrorKind::Conflict,
            format!(
                "camera '{name}' takes its frames from its configured source; publish under another name"
            ),
        ));
    }
    state
        .hub
        .has_room_for(&name)
        .map_err(|e| AppError::new(ErrorKind::Unavailable, e.to_string()))?;
    let upgrade = match upgrade {
        Ok(u) => u,
        Err(rejection) => return Ok(rejection.into_response()),
    };
    let camera = state
        .hub
        .get_or_create(&name, query.kind())
        .map_err(|e| AppError::new(ErrorKind::Unavailable, e.to_string()))?;
    let stopped = state.hub.stopped();
    Ok(upgrade
        .max_message_size(limits.max_bytes)
        .max_frame_size(limits.max_bytes)
        .max_write_buffer_size(WRITE_SLACK)
        .on_upgrade(move |socket| publisher_session(socket, camera, limits, stopped)))
}

/// The publish URL's query: a program's `Publisher` says who it is (`client=publisher`);
/// anyone else is taken for a browser. Other keys (`token`) are the guard's.
#[derive(serde::Deserialize)]
pub(super) struct PublishQuery {
    client: Option<String>,
}

impl PublishQuery {
    fn kind(&self) -> SourceKind {
        match self.client.as_deref() {
            Some("publisher") => SourceKind::Publisher,
            _ => SourceKind::Browser,
        }
    }
}

async fn publisher_session(
    mut socket: WebSocket,
    camera: Arc<Camera>,
    limits: FrameLimits,
    mut stopped: watch::Receiver<bool>,
) {
    let limit = limits.max_bytes;
    let mut lease = camera.claim_publisher();
    let mut replaced = lease.replaced.take().expect("fresh lease has its channel");
    tracing::info!(camera = camera.name(), "publisher connected");
    let hello = PublisherText::Hello {
        camera: camera.name().to_owned(),
        max_message_bytes: limit,
    };
    let _ = socket.send(text(&hello)).await;
    let mut pending: Option<PublishMeta> = None;
    let mut ping = tokio::time::interval(PING_EVERY);
    let mut last_heard = Instant::now();
    let reason: Option<(u16, String)> = loop {
        tokio::select! {
            () = hub_stopped(&mut stopped) => break Some((close::GOING_AWAY, STOPPING.into())),
            _ = &mut replaced => {
                break Some((close::REPLACED, format!(
                    "replaced: another publisher took camera '{}'", camera.name()
                )));
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > PUBLISHER_SILENCE {
                    let silence = PUBLISHER_SILENCE.as_secs();
                    break Some((close::GOING_AWAY, format!("nothing received for {silence} s")));
                }
                if socket.send(Message::Ping(Default::default())).await.is_err() {
                    break None;
                }
            }
            message = socket.recv() => {
                last_heard = Instant::now();
                match message {
                    None | Some(Ok(Message::Close(_))) => break None,
                    Some(Err(e)) => break read_error(&e, limit),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    Some(Ok(Message::Text(text))) => match parse_meta(&text) {
                        Ok(meta) => pending = Some(meta),
                        Err(reason) => break Some(reason),
                    },
                    Some(Ok(Message::Binary(data))) => match limits.check(&data) {
                        Ok(info) => {
                            let meta = pending.take();
                            let captured = meta.as_ref().and_then(|m| m.capture_ms).and_then(epoch_ms_to_time);
                            let frame = camera.publish(data, info, captured);
                            let ack = PublisherText::Ack {
                                seq: frame.seq,
                                t: meta.and_then(|m| m.t),
                            };
                            if socket.send(text(&ack)).await.is_err() {
                                break None;
                            }
                        }
                        Err(e) => {
                            let code = match e {
                                JpegError::NoStart => close::UNSUPPORTED,
                                JpegError::TooLarge { .. } => close::TOO_BIG,
                                _ => close::INVALID_DATA,
                            };
                            break Some((code, format!("frame rejected: {e}")));
                        }
                    },
                }
            }
        }
    };
    // Offline as soon as the session ends, not after the closing handshake.
    drop(lease);
    if let Some((code, text)) = reason {
        tracing::info!(camera = camera.name(), code, reason = %text, "closing publisher");
        close_with(socket, code, text).await;
    }
    tracing::info!(camera = camera.name(), "publisher left");
}

/// How long a refused client is given to read the close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Sends a close frame and lets the client read it before the socket goes.
///
/// Dropping a TCP socket that still has unread input (the rest of an oversized frame,
/// frames the client sent after the bad one) makes the kernel send a reset, and the
/// client then loses the close frame with its reason. So the session keeps reading and
/// discarding until the client answers the close, or for [`CLOSE_GRACE`] at most.
async fn close_with(mut socket: WebSocket, code: u16, reason: String) {
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from(truncate_reason(reason)),
    };
    if let Err(e) = socket.send(Message::Close(Some(frame))).await {
        tracing::debug!(error = %e, "could not send the close frame");
        return;
    }
    let deadline = Instant::now() + CLOSE_GRACE;
    loop {
        match tokio::time::timeout_at(deadline, socket.recv()).await {
            Err(_) | Ok(Some(Ok(Message::Close(_)))) => return,
            Ok(Some(Ok(_))) => {}
            // The stream cannot be read any further (e.g. mid-way through an oversized
            // frame): just hold the connection open until the grace period ends.
            Ok(None | Some(Err(_))) => {
                tokio::time::sleep_until(deadline).await;
                return;
            }
        }
    }
}

fn text(message: &impl serde::Serialize) -> Message {
    Message::Text(
        serde_json::to_string(message)
            .expect("messages serialize")
            .into(),
    )
}

fn parse_meta(text: &str) -> Result<PublishMeta, (u16, String)> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        (
            close::INVALID_DATA,
            format!("text messages must be JSON frame metadata: {e}"),
        )
    })?;
    if !value.is_object() {
        return Err((
            close::UNSUPPORTED,
            "text messages must be a JSON object of frame metadata".into(),
        ));
    }
    serde_json::from_value(value)
        .map_err(|e| (close::INVALID_DATA, format!("bad frame metadata: {e}")))
}

/// A read that failed: a message over the size limit is closed with 1009 and the limit;
/// anything else (the connection dropped) ends the session silently.
fn read_error(e: &axum::Error, limit: usize) -> Option<(u16, String)> {
    use std::error::Error as _;
    let cause = e
        .source()
        .and_then(|s| s.downcast_ref::<tungstenite::Error>());
    if let Some(tungstenite::Error::Capacity(_)) = cause {
        Some((
            close::TOO_BIG,
            format!("message larger than the {limit}-byte limit"),
        ))
    } else {
        tracing::debug!(error = %e, "publisher read error");
        None
    }
}

fn epoch_ms_to_time(ms: f64) -> Option<SystemTime> {
    (ms.is_finite() && ms > 0.0 && ms < 1e14)
        .then(|| UNIX_EPOCH + Duration::from_micros((ms * 1000.0) as u64))
}

/// Close reasons are limited to 123 bytes by the protocol.
fn truncate_reason(mut text: String) -> String {
    if text.len() > 123 {
        let mut cut = 120;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("...");
    }
    text
}

/// `GET /api/cameras/{name}/ws` (WebSocket upgrade).
pub(super) async fn view(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, AppError> {
    check_origin(&headers, &uri)?;
    let camera = state.camera(&name)?;
    let stopped = state.hub.stopped();
    let upgrade = match upgrade {
        Ok(u) => u,
        Err(rejection) => return Ok(rejection.into_response()),
    };
    // Viewers send nothing but control frames; keep their messages small.
    Ok(upgrade
        .max_message_size(64 * 1024)
        .max_write_buffer_size(state.limits.max_bytes + WRITE_SLACK)
        .on_upgrade(move |socket| viewer_session(socket, camera, stopped)))
}

async fn viewer_session(
    mut socket: WebSocket,
    camera: Arc<Camera>,
    mut stopped: watch::Receiver<bool>,
) {
    let _guard = camera.viewer();
    let mut rx = camera.subscribe();
    let hello = ViewerText::Hello {
        camera: camera.name().to_owned(),
    };
    if socket.send(text(&hello)).await.is_err() {
        return;
    }
    let mut last_seq = 0;
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
        {
            last_seq = frame.seq;
            let send = socket.send(Message::Binary(frame.ws_message()));
            match tokio::time::timeout(VIEWER_STALL, send).await {
                Ok(Ok(())) => {}
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
        let mut stopping = false;
        tokio::select! {
            () = hub_stopped(&mut stopped) => stopping = true,
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
        if stopping {
            return close_with(socket, close::GOING_AWAY, STOPPING.into()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_fit_the_protocol_limit() {
        assert_eq!(truncate_reason("short".into()), "short");
        let long = truncate_reason("é".repeat(100));
        assert!(long.len() <= 123);
        assert!(long.ends_with("..."));
    }

    #[test]
    fn metadata_parsing() {
        let m = parse_meta(r#"{"capture_ms": 1700000000000.5, "t": 3}"#).unwrap();
        assert_eq!(m.t, Some(3.0));
        assert_eq!(parse_meta("[1]").unwrap_err().0, close::UNSUPPORTED);
        assert_eq!(parse_meta("garbage").unwrap_err().0, close::INVALID_DATA);
        assert_eq!(
            parse_meta(r#"{"t": "x"}"#).unwrap_err().0,
            close::INVALID_DATA
        );
        assert!(epoch_ms_to_time(f64::NAN).is_none());
    }
}
