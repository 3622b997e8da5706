//! The RTSP listener (`--rtsp-port`, 8554 by default): every camera at
//! `rtsp://host:8554/<camera>`, for NVRs, Home Assistant's go2rtc, Frigate, VLC and
//! ffmpeg. This file is its thin shell (the accept loop, one task per connection);
//! what a request means is decided in `session.rs`, who the client is in `access.rs`,
//! the packets are made in `rtp.rs`, the description in `sdp.rs`, and the bytes are
//! read into requests by `remotecam_core::rtsp`.
//!
//! A client reads the camera's video bus as `stream.mp4` viewers do: from the newest
//! keyframe, every unit after it, skipping to the newest keyframe when it falls behind;
//! a JPEG camera's units come from its one encoder, whatever the number of clients.
//! Nothing queues per client: the next unit is taken once the last one is written.
//!
//! Every connection counts against the hub's connection limits (`listen.rs`); a
//! request head must arrive whole within [`crate::listen::HEADER_TIMEOUT`], a client
//! that is not playing must send a request every [`session::SESSION_TIMEOUT_SECS`], and
//! a unit's packets must be taken within [`STALL_TIMEOUT`]; a session of a scoped token
//! ends when the token is revoked or expires.

pub mod access;
pub mod rtp;
pub mod sdp;
pub mod session;

use std::future::Future;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use remotecam_core::rtsp::{Incoming, Method, Request, RequestReader, Response};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::auth::{Admitted, Auth, Ended, Grant, Refused};
use crate::camera::{Camera, ViewerGuard};
use crate::counts::ViewerKind;
use crate::hub::Hub;
use crate::listen::{Connections, HEADER_TIMEOUT, Place};
use crate::video::Codec;
use crate::video::gop::VideoReader;
use crate::web::metrics::{self, ViewerMetrics};
use crate::web::stalls::{self, Stalls};
use rtp::RtpStream;
use session::{Facts, Lookup, Next, Session};
use tokio::sync::Notify;

/// The most a unit's packets may take to be written: a client that stopped reading is
/// closed then.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The kernel's send buffer for one client (Linux doubles it): what a client that stops
/// reading holds there, and enough for 40 Mbit/s at 100 ms of round trip. Left to
/// itself the kernel grows it to megabytes per connection, and a client that stopped
/// reading would be seen stalled only seconds later.
pub const SEND_BUFFER: usize = 256 << 10;
/// The most a DESCRIBE waits for a camera's first video (a JPEG camera's encoder
/// starting, an on-demand camera connecting).
pub const FIRST_VIDEO_WAIT: Duration = Duration::from_secs(10);

/// What every connection of the listener shares.
#[derive(Debug, Clone)]
pub struct Context {
    pub hub: Arc<Hub>,
    pub auth: Arc<Auth>,
    pub connections: Arc<Connections>,
    /// What clients that stopped reading hold, with the HTTP viewers' (`web/stalls.rs`).
    pub stalls: Arc<Stalls>,
}

/// Serves RTSP on `listener` until `stop` becomes true.
pub async fn serve(listener: TcpListener, context: Context, mut stop: watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|s| *s) => return,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "RTSP accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(place) = context.connections.admit(peer.ip()) else {
            tracing::debug!(%peer, "RTSP connection refused: too many open");
            metrics::refused("too_many_connections");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let _ = rustix::net::sockopt::set_socket_send_buffer_size(&stream, SEND_BUFFER);
        let conn = Connection::new(context.clone(), peer, place);
        let stop = stop.clone();
        tokio::spawn(async move {
            if let Err(e) = conn.run(stream, stop).await {
                tracing::debug!(%peer, error = %e, "RTSP connection ended");
            }
        });
    }
}

/// Why a connection ended early.
#[derive(Debug, thiserror::Error)]
enum Closed {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("the client sent no request head in time, or stayed silent")]
    Silent,
    #[error("the client stopped reading")]
    Stalled,
    #[error("not RTSP: {0}")]
    NotRtsp(#[from] remotecam_core::rtsp::RequestError),
    #[error("{}", .0.message())]
    GrantEnded(Ended),
    #[error("the camera's video changed codec")]
    CodecChanged,
    #[error("the camera was removed")]
    CameraGone,
}

/// A camera a connection is about, and its demand for video (a JPEG camera's encoder
/// runs while it is held), from its DESCRIBE on.
struct Watching {
    camera: Arc<Camera>,
    _guard: ViewerGuard,
}

/// A playing stream.
struct Player {
    reader: VideoReader,
    /// The unit handed to the connection, until it is taken.
    pin: stalls::Pin,
    /// Told when the client holds too much for too long (`web/stalls.rs`).
    close: Arc<Notify>,
    rtp: RtpStream,
    codec: Codec,
    metrics: ViewerMetrics,
    /// Completes when the grant that let the client in ends.
    ended: Pin<Box<dyn Future<Output = Ended> + Send>>,
}

struct Connection {
    context: Context,
    peer: SocketAddr,
    session: Session,
    watching: Option<Watching>,
    player: Option<Player>,
    /// Who the client was when last let in on this connection.
    admitted: Option<Admitted>,
    _place: Place,
}

impl Connection {
    fn new(context: Context, peer: SocketAddr, place: Place) -> Connection {
        let random = random_u64();
        let ids = random_u64();
        let session = Session::new(
            format!("{ids:016x}"),
            format!("{:016x}", random_u64()),
            (random as u16, (random >> 16) as u32, (ids >> 32) as u32),
        );
        Connection {
            context,
            peer,
            session,
            watching: None,
            player: None,
            admitted: None,
            _place: place,
        }
    }

    async fn run(
        mut self,
        mut stream: TcpStream,
        mut stop: watch::Receiver<bool>,
    ) -> Result<(), Closed> {
        let (mut rd, mut wr) = stream.split();
        let mut buf = BytesMut::with_capacity(4096);
        let mut reader = RequestReader::default();
        let mut last_request = Instant::now();
        let mut head_started: Option<Instant> = None;
        loop {
            let deadline = match (head_started, self.player.is_some()) {
                (Some(at), _) => at + HEADER_TIMEOUT,
                (None, false) => last_request + Duration::from_secs(session::SESSION_TIMEOUT_SECS),
                (None, true) => Instant::now() + Duration::from_secs(3600),
            };
            tokio::select! {
                read = rd.read_buf(&mut buf) => {
                    if read? == 0 {
                        return Ok(());
                    }
                    loop {
                        let incoming = match reader.read(&mut buf) {
                            Ok(Some(incoming)) => incoming,
                            Ok(None) => break,
                            Err(e) => {
                                metrics::refused("rtsp_bad_request");
                                let answer = Response::new(e.status(), None)
                                    .body("text/plain; charset=utf-8", format!("{e}\n"));
                                let answer = answer.to_bytes();
                                let _ = tokio::time::timeout(STALL_TIMEOUT, wr.write_all(&answer)).await;
                                return Err(e.into());
                            }
                        };
                        let Incoming::Request(request) = incoming else { continue };
                        last_request = Instant::now();
                        let next = self.answer(&request, &mut wr).await?;
                        match next {
                            Next::Continue => {}
                            Next::Close => return Ok(()),
                            Next::Play { grant, channel, .. } => self.play(grant, channel)?,
                        }
                    }
                    head_started = if buf.is_empty() { None } else { head_started.or(Some(Instant::now())) };
                }
                event = playing(&mut self.player) => {
                    let player = self.player.as_mut().expect("a player");
                    let unit = match event {
                        Playing::Unit(Some(unit)) => unit,
                        Playing::Unit(None) => return Err(Closed::CameraGone),
                        Playing::Ended(ended) => return Err(Closed::GrantEnded(ended)),
                        Playing::Stalled => return Err(Closed::Stalled),
                    };
                    if unit.params.codec != player.codec {
                        return Err(Closed::CodecChanged);
                    }
                    let packets = player.rtp.unit(&unit);
                    let skipped = std::mem::take(&mut player.reader.skipped);
                    tokio::time::timeout(STALL_TIMEOUT, write_chunks(&mut wr, &packets.chunks))
                        .await
                        .map_err(|_| Closed::Stalled)??;
                    player.metrics.frame(skipped, packets.bytes);
                }
                () = tokio::time::sleep_until(deadline) => return Err(Closed::Silent),
                () = stopped(&mut stop) => return Ok(()),
            }
        }
    }

    /// Answers one request, having gathered what the hub knows of it.
    async fn answer<W: AsyncWrite + Unpin>(
        &mut self,
        request: &Request,
        wr: &mut W,
    ) -> Result<Next, Closed> {
        let mut access = access::check(
            &self.context.auth,
            self.peer.ip(),
            request,
            &self.session.nonce,
        );
        // A request without credentials on a connection let in before is that client
        // still (a URL's `?token=` is not in the aggregate URL a PLAY is sent to).
        match (&access, &self.admitted) {
            (Err(Refused::Missing), Some(before)) if !before.grant.is_over() => {
                access = Ok(before.clone());
            }
            (Ok(admitted), _) => self.admitted = Some(admitted.clone()),
            _ => {}
        }
        let named = match request.method {
            Method::Describe | Method::Setup | Method::Play => session::camera_of(request),
            _ => None,
        };
        let camera = match named {
            Some(name) if access.as_ref().is_ok_and(|a| a.grant.sees(name)) => {
                self.lookup(name).await
            }
            _ => Lookup::Unnamed,
        };
        if let Err(refused) = &access {
            metrics::refused(match refused {
                Refused::Missing => "token_missing",
                Refused::Wrong => "token_wrong",
                Refused::Expired => "token_expired",
            });
        }
        let (response, next) = self.session.answer(request, Facts { access, camera });
        tokio::time::timeout(STALL_TIMEOUT, wr.write_all(&response.to_bytes()))
            .await
            .map_err(|_| Closed::Stalled)??;
        Ok(next)
    }

    /// The camera `name` and its video's parameters, waiting for its first video; from
    /// here on the connection wants the camera's video.
    async fn lookup(&mut self, name: &str) -> Lookup {
        let Some(entry) = self.context.hub.entry(name) else {
            return Lookup::Missing;
        };
        let watching = match &self.watching {
            Some(w) if w.camera.name() == name => w,
            Some(_) => return Lookup::Unnamed,
            None => self.watching.insert(Watching {
                _guard: entry.camera.video_viewer(),
                camera: entry.camera,
            }),
        };
        let bus = watching.camera.video();
        if let Some(params) = bus.params() {
            return Lookup::Video(params);
        }
        let mut reader = bus.reader();
        match tokio::time::timeout(FIRST_VIDEO_WAIT, reader.next()).await {
            Ok(Some(unit)) => Lookup::Video(Arc::clone(&unit.params)),
            _ => Lookup::NoVideo,
        }
    }

    fn play(&mut self, grant: Grant, channel: u8) -> Result<(), Closed> {
        let Some(watching) = &self.watching else {
            return Err(Closed::CameraGone);
        };
        let camera = &watching.camera;
        let counts = self
            .context
            .hub
            .entry(camera.name())
            .ok_or(Closed::CameraGone)?
            .counts;
        let codec = camera.video().params().map_or(Codec::H264, |p| p.codec);
        let (seq, base, ssrc) = self.session.start;
        let cname = format!("remotecam {}", camera.name());
        let close = Arc::new(Notify::new());
        self.player = Some(Player {
            reader: camera.video().reader(),
            pin: self.context.stalls.viewer(Arc::clone(&close)),
            close,
            rtp: RtpStream::new(channel, ssrc, seq, base, cname),
            codec,
            metrics: ViewerMetrics::new(counts, ViewerKind::Rtsp),
            ended: Box::pin(async move { grant.ended().await }),
        });
        Ok(())
    }
}

/// Completes when the hub stops.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

enum Playing {
    /// The next unit (`None`: the camera is gone).
    Unit(Option<Arc<crate::video::AccessUnit>>),
    Ended(Ended),
    /// The client held a unit too long while others were held too.
    Stalled,
}

/// The playing stream's next unit, or the end of its grant; never, while nothing plays.
async fn playing(player: &mut Option<Player>) -> Playing {
    let Some(p) = player else {
        return std::future::pending().await;
    };
    p.pin.asked();
    tokio::select! {
        unit = p.reader.next() => {
            if let Some(unit) = &unit {
                p.pin.handed(&unit.data);
            }
            Playing::Unit(unit)
        }
        ended = p.ended.as_mut() => Playing::Ended(ended),
        () = p.close.notified() => Playing::Stalled,
    }
}

/// Writes `chunks` in order, as few writes as the socket takes.
async fn write_chunks<W: AsyncWrite + Unpin>(w: &mut W, chunks: &[Bytes]) -> io::Result<()> {
    let (mut i, mut offset) = (0, 0);
    while i < chunks.len() {
        let slices: Vec<IoSlice<'_>> = std::iter::once(&chunks[i][offset..])
            .chain(chunks[i + 1..].iter().map(|c| &c[..]))
            .take(256)
            .map(IoSlice::new)
            .collect();
        let mut written = w.write_vectored(&slices).await?;
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        while written > 0 {
            let left = chunks[i].len() - offset;
            if written >= left {
                written -= left;
                i += 1;
                offset = 0;
            } else {
                offset += written;
                written = 0;
            }
        }
    }
    Ok(())
}

/// A random number, for the session's ids and the Digest nonce. (Without system
/// randomness the hub could not have made its token: it would not be running.)
fn random_u64() -> u64 {
    let mut raw = [0u8; 8];
    let _ = getrandom::fill(&mut raw);
    u64::from_le_bytes(raw)
}
