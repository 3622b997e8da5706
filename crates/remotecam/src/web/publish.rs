//! The browser's and programs' way in: frames published over a WebSocket
//! (`/api/cameras/{name}/publish`), a source like the configured ones.
//!
//! Protocol:
//! - binary message: one complete JPEG frame;
//! - text message (optional, before a frame): JSON `{"capture_ms": <epoch ms>, "t": <any
//!   number>}`; `capture_ms` is stored as the frame's capture time, `t` is echoed in the ack;
//! - the hub answers each accepted frame with `{"type":"ack","seq":N,"t":T}` (so the page
//!   can measure latency and keep at most a frame or two in flight);
//! - bad input closes the connection with a code and a reason: 1003 not a JPEG or not a
//!   metadata object, 1007 a broken JPEG or JSON, 1009 too large (bytes, or pixels in the JPEG header), 4000 replaced by a newer
//!   publisher, 1001 silent for too long or the hub stopping, 1008 the access token
//!   revoked or expired.
//!

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Extension;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::IntoResponse;
use axum::response::Response;
use remotecam_core::wire::{PublishMeta, PublisherText};
use tokio::sync::watch;
use tokio::time::Instant;

use super::{AppState, check_origin};
use crate::auth::Grant;
use crate::camera::{Camera, SourceKind};
use crate::error::{AppError, ErrorKind};
use crate::frame::FrameLimits;
use crate::hub::camera_name;
use crate::jpeg::JpegError;

use super::ws::{
    PING_EVERY, STOPPING, WRITE_SLACK, access_ended, close, close_with, hub_stopped, text,
};

/// A publisher that sends nothing (frames, pongs) for this long is dropped.
const PUBLISHER_SILENCE: Duration = Duration::from_secs(20);

/// `GET /api/cameras/{name}/publish` (WebSocket upgrade).
pub(super) async fn publish(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    axum::extract::Query(query): axum::extract::Query<PublishQuery>,
    Extension(grant): Extension<Grant>,
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
    if let Some(token) = grant.scoped_id() {
        state
            .hub
            .made_by(token, &name)
            .map_err(|e| AppError::new(ErrorKind::Forbidden, e.to_string()))?;
    }
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
        .on_upgrade(move |socket| publisher_session(socket, camera, limits, stopped, grant)))
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
    grant: Grant,
) {
    let mut ended = std::pin::pin!(access_ended(grant));
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
            reason = &mut ended => break Some(reason),
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
                            let frame = lease.publish(data, info, captured);
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

#[cfg(test)]
mod tests {
    use super::*;

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
