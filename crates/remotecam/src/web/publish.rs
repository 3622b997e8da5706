//! The browser's and programs' way in: frames published over a WebSocket
//! (`/api/cameras/{name}/publish`), a source like the configured ones.
//!
//! Protocol:
//! - binary message: one complete JPEG frame;
//! - text message (optional, before a frame): JSON `{"capture_ms": <epoch ms>, "t": <any
//!   number>}`; `capture_ms` is stored as the frame's capture time, `t` is echoed in the ack;
//! - the hub answers each accepted frame with `{"type":"ack","seq":N,"t":T}` (so the page
//!   can measure latency and keep at most a frame or two in flight);

//!   metadata object, 1007 a broken JPEG or JSON, 1009 too large (bytes, or pixels in the JPEG header), 4000 replaced by a newer
//!   publisher, 1001 silent for too long or the hub stopping, 1008 the access token
//!   revoked or expired.
//!

use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::IntoResponse;
use axum::response::Response;
use remotecam_core::wire::PublisherText;
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

use super::publish_input::{Input, Refusal};
use super::{AppState, check_origin};
use crate::auth::Grant;
use crate::camera::{Camera, PublisherLease, SourceKind};
use crate::counts::Counts;
use crate::error::{AppError, ErrorKind};
use crate::frame::FrameLimits;
use crate::health::HealthReport;
use crate::hub::camera_name;

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
    let entry = state.hub.entry(&name);
    let counts = entry
        .as_ref()
        .map(|e| Arc::clone(&e.counts))
        .unwrap_or_default();
    let health = entry.map(|e| e.health).unwrap_or_default();
    let stopped = state.hub.stopped();
    Ok(upgrade
        .max_message_size(limits.max_bytes)
        .max_frame_size(limits.max_bytes)
        .max_write_buffer_size(WRITE_SLACK)
        .on_upgrade(move |socket| {
            publisher_session(socket, camera, limits, stopped, (grant, counts, health))
        }))
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
    socket: WebSocket,
    camera: Arc<Camera>,
    limits: FrameLimits,
    stopped: watch::Receiver<bool>,
    (grant, counts, health): (Grant, Arc<Counts>, Arc<HealthReport>),
) {
    let mut lease = camera.claim_publisher();
    let replaced = lease.replaced.take().expect("fresh lease has its channel");
    tracing::info!(camera = camera.name(), "publisher connected");
    let mut session = Session {
        socket,
        input: Input::new(limits, counts, Arc::clone(&health)),
        stopped,
        limit: limits.max_bytes,
    };
    let reason = session.run(&lease, grant, replaced).await;
    // Offline as soon as the session ends, not after the closing handshake.
    drop(lease);
    health.clear();
    if let Some(Refusal { code, reason }) = reason {
        tracing::info!(camera = camera.name(), code, %reason, "closing publisher");
        close_with(session.socket, code, reason).await;
    }
    tracing::info!(camera = camera.name(), "publisher left");
}

/// One publisher's connection.
struct Session {
    socket: WebSocket,
    input: Input,
    stopped: watch::Receiver<bool>,
    limit: usize,
}

impl Session {
    /// Takes the publisher's messages until it leaves (`None`) or is closed.
    async fn run(
        &mut self,
        lease: &PublisherLease,
        grant: Grant,
        mut replaced: oneshot::Receiver<()>,
    ) -> Option<Refusal> {
        let camera = lease.camera();
        let mut ended = std::pin::pin!(access_ended(grant));
        let mut keyframe_asks = camera.video().watch_keyframe_asks();
        keyframe_asks.borrow_and_update();
        let hello = PublisherText::Hello {
            camera: camera.name().to_owned(),
            max_message_bytes: self.limit,
        };
        let _ = self.socket.send(text(&hello)).await;
        let mut ping = tokio::time::interval(PING_EVERY);
        let mut last_heard = Instant::now();
        let refusal = |code, reason: String| Some(Refusal { code, reason });
        loop {
            tokio::select! {
                () = hub_stopped(&mut self.stopped) => return refusal(close::GOING_AWAY, STOPPING.into()),
                (code, reason) = &mut ended => return refusal(code, reason),
                _ = &mut replaced => {
                    return refusal(close::REPLACED, format!(
                        "replaced: another publisher took camera '{}'", camera.name()
                    ));
                }
                _ = ping.tick() => {
                    if last_heard.elapsed() > PUBLISHER_SILENCE {
                        let silence = PUBLISHER_SILENCE.as_secs();
                        return refusal(close::GOING_AWAY, format!("nothing received for {silence} s"));
                    }
                    if self.socket.send(Message::Ping(Default::default())).await.is_err() {
                        return None;
                    }
                }
                Ok(()) = keyframe_asks.changed(), if camera.sends_video() => {
                    keyframe_asks.borrow_and_update();
                    if self.socket.send(text(&PublisherText::Keyframe)).await.is_err() {
                        return None;
                    }
                }
                message = self.socket.recv() => {
                    last_heard = Instant::now();
                    let answer = match message {
                        None | Some(Ok(Message::Close(_))) => return None,
                        Some(Err(e)) => return read_error(&e, self.limit),
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => None,
                        Some(Ok(Message::Text(text))) => match self.input.text(&text) {
                            Ok(()) => None,
                            Err(refused) => return Some(refused),
                        },
                        Some(Ok(Message::Binary(data))) => match self.input.binary(data, lease) {
                            Ok(answer) => answer,
                            Err(refused) => return Some(refused),
                        },
                    };
                    if let Some(answer) = answer
                        && self.socket.send(text(&answer)).await.is_err()
                    {
                        return None;
                    }
                }
            }
        }
    }
}

/// A read that failed: a message over the size limit is closed with 1009 and the limit;
/// anything else (the connection dropped) ends the session silently.
fn read_error(e: &axum::Error, limit: usize) -> Option<Refusal> {
    use std::error::Error as _;
    let cause = e
        .source()
        .and_then(|s| s.downcast_ref::<tungstenite::Error>());
    if let Some(tungstenite::Error::Capacity(_)) = cause {
        Some(Refusal {
            code: close::TOO_BIG,
            reason: format!("message larger than the {limit}-byte limit"),
        })
    } else {
        tracing::debug!(error = %e, "publisher read error");
        None
    }
}
