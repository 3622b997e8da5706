use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use remotecam_core::wire::{FrameMeta, ViewerText, decode_frame};
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Message;

use crate::{Error, Image, Target, decode_bgr};

pub(crate) type WsStream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const FIRST_RETRY: Duration = Duration::from_millis(100);
const LAST_RETRY: Duration = Duration::from_secs(2);

/// A frame taken from a [`Receiver`]: the JPEG as the camera's source sent it, plus
/// what is known about it. Decode it with [`Frame::decode`].
#[derive(Debug, Clone)]
pub struct Frame {
    pub meta: FrameMeta,
    pub jpeg: Bytes,
    /// When this client received it.
    pub received: Instant,
    /// Frames of this camera that came after the previously taken frame and before this
    /// one, so were never taken (counted by the hub's sequence numbers while connected).
    pub skipped: u64,
}

impl Frame {
    pub fn decode(&self) -> Result<Image, Error> {
        decode_bgr(&self.jpeg)
    }
}

struct Slot {
    id: u64,
    connection: u64,
    meta: FrameMeta,
    jpeg: Bytes,
    received: Instant,
}

#[derive(Default)]
struct State {
    latest: Option<Slot>,
    next_id: u64,
    taken_id: u64,
    /// (connection, seq) of the last taken frame.
    taken: Option<(u64, u64)>,
    received_since_take: u64,
    connected: bool,
    online: Option<bool>,
    last_error: Option<Error>,
    /// An error that retrying cannot fix (the token): every call returns it.
    fatal: Option<Error>,
    closed: bool,
}

impl State {
    fn why(&self) -> Option<String> {
        if !self.connected {
            Some(match &self.last_error {
                Some(e) => format!("{e}; retrying"),
                None => "reconnecting".into(),
            })
        } else if self.online == Some(false) {
            Some("camera offline".into())
        } else {
            None
        }
    }

    /// Takes the newest frame if it was not taken before.
    fn take(&mut self) -> Option<Frame> {
        let slot = self.latest.as_ref()?;
        if slot.id <= self.taken_id {
            return None;
        }
        let skipped = match self.taken {
            Some((conn, seq)) if conn == slot.connection => slot.meta.seq.saturating_sub(seq + 1),
            _ => self.received_since_take.saturating_sub(1),
        };
        self.taken_id = slot.id;
        self.taken = Some((slot.connection, slot.meta.seq));
        self.received_since_take = 0;
        Some(Frame {
            meta: slot.meta.clone(),
            jpeg: slot.jpeg.clone(),
            received: slot.received,
            skipped,
        })
    }

    fn check(&mut self) -> Result<Option<Frame>, Error> {
        if self.closed {
            return Err(Error::Closed("the receiver was closed".into()));
        }
        if let Some(e) = &self.fatal {
            return Err(e.clone());
        }
        Ok(self.take())
    }
}

struct Shared {
    state: Mutex<State>,
    cond: Condvar,
    notify: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn update(&self, f: impl FnOnce(&mut State)) {
        f(&mut self.lock());
        self.cond.notify_all();
        self.notify.notify_waiters();
    }
}

/// The newest frame of one camera, kept up to date in the background.
pub struct Receiver {
    target: Target,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("target", &self.target.url)
            .field("camera", &self.target.camera)
            .finish()
    }
}

impl Receiver {
    /// Connects to the camera. Fails at once if the hub cannot be reached, does not
    /// know the camera or refuses the token; after that, it reconnects by itself.
    /// Must be called within a tokio runtime, which then runs the background receiver.
    pub async fn connect(target: Target) -> Result<Receiver, Error> {
        let ws = open(&target, "ws").await?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                connected: true,
                ..State::default()
            }),
            cond: Condvar::new(),
            notify: Notify::new(),
        });
        let task = tokio::spawn(run(target.clone(), ws, Arc::clone(&shared)));
        Ok(Receiver {
            target,
            shared,
            task,
        })
    }

    pub fn camera(&self) -> &str {
        &self.target.camera
    }

    fn timeout(&self, state: &State, waited: Duration) -> Error {
        Error::Timeout {
            camera: self.target.camera.clone(),
            waited,
            why: state.why(),
        }
    }

    /// The newest frame not taken before, waiting up to `timeout` for one.
    pub async fn next_frame(&self, timeout: Duration) -> Result<Frame, Error> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut state = self.shared.lock();
                if let Some(frame) = state.check()? {
                    return Ok(frame);
                }
                if tokio::time::Instant::now() >= deadline {
                    return Err(self.timeout(&state, timeout));
                }
            }
            let _ = tokio::time::timeout_at(deadline, notified).await;
        }
    }

    /// [`Receiver::next_frame`] for threads outside the runtime: waits on a condition
    /// variable, so it needs no runtime and blocks only the calling thread.
    pub fn next_frame_blocking(&self, timeout: Duration) -> Result<Frame, Error> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        loop {
            if let Some(frame) = state.check()? {
                return Ok(frame);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(self.timeout(&state, timeout));
            }
            state = self
                .shared
                .cond
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Stops the background receiver; waiting calls return [`Error::Closed`].
    pub fn close(&self) {
        self.task.abort();
        self.shared.update(|s| s.closed = true);
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Opens one of the camera's WebSockets, telling apart the errors a user can act on.
pub(crate) async fn open(target: &Target, endpoint: &str) -> Result<WsStream, Error> {
    use tokio_tungstenite::tungstenite::Error as WsError;
    let request = target.request(endpoint)?;
    match tokio_tungstenite::connect_async(request).await {
        Ok((ws, _)) => Ok(ws),
        Err(WsError::Http(response)) => {
            let message = response
                .body()
                .as_deref()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
                .and_then(|v| v["error"].as_str().map(str::to_owned))
                .unwrap_or_else(|| format!("HTTP {}", response.status()));
            Err(match response.status().as_u16() {
                404 => Error::CameraNotFound {
                    camera: target.camera.clone(),
                    url: target.url.clone(),
                },
                401 | 403 => Error::Unauthorized {
                    url: target.url.clone(),
                    message,
                },
                _ => Error::Protocol(message),
            })
        }
        Err(WsError::Io(e)) => Err(Error::Unreachable {
            url: target.url.clone(),
            reason: e.to_string(),
        }),
        Err(e) => Err(Error::Unreachable {
            url: target.url.clone(),
            reason: e.to_string(),
        }),
    }
}

async fn run(target: Target, mut ws: WsStream, shared: Arc<Shared>) {
    let mut connection = 1;
    loop {
        while let Some(message) = ws.next().await {
            match message {
                Ok(Message::Binary(data)) => match decode_frame(&data) {
                    Ok((meta, jpeg)) => shared.update(|s| {
                        s.next_id += 1;
                        s.received_since_take += 1;
                        s.latest = Some(Slot {
                            id: s.next_id,
                            connection,
                            meta,
                            jpeg,
                            received: Instant::now(),
                        });
                    }),
                    Err(e) => {
                        shared.update(|s| s.last_error = Some(Error::Protocol(e.to_string())))
                    }
                },
                Ok(Message::Text(text)) => {
                    if let Ok(ViewerText::Status { online }) = serde_json::from_str(&text) {
                        shared.update(|s| s.online = Some(online));
                    }
                }
                Ok(Message::Close(frame)) => {
                    let reason = frame.map(|f| f.reason.to_string()).unwrap_or_default();
                    shared.update(|s| s.last_error = Some(Error::Closed(reason)));
                    break;
                }
                Ok(_) => {}
                Err(e) => {
                    shared.update(|s| s.last_error = Some(Error::Closed(e.to_string())));
                    break;
                }
            }
        }
        shared.update(|s| {
            s.connected = false;
            s.online = None;
        });
        // Reconnect with backoff, forever (the hub may be restarting).
        let mut wait = FIRST_RETRY;
        ws = loop {
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(LAST_RETRY);
            match open(&target, "ws").await {
                Ok(ws) => break ws,
                Err(e @ Error::Unauthorized { .. }) => {
                    shared.update(|s| s.fatal = Some(e));
                    return;
                }
                Err(e) => shared.update(|s| s.last_error = Some(e)),
            }
        };
        connection += 1;
        shared.update(|s| {
            s.connected = true;
            s.last_error = None;
        });
    }
}
