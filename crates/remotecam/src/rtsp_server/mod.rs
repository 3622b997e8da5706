//! The RTSP listener (`--rtsp-port`, 8554 by default): every camera at
//! `rtsp://host:8554/<camera>`, for NVRs, Home Assistant's go2rtc, Frigate, VLC and
//! ffmpeg. This file is its thin shell (the accept loop, one task per connection);
//! what a request means is decided in `session.rs`, who the client is in `access.rs`,
//! the packets are made in `rtp.rs`, the description in `sdp.rs`, and the bytes are
//! read into requests by `remotecam_core::rtsp`.
//!
//! A client reads the camera's packets (`shared.rs`: made once for all its clients) as
//! `stream.mp4` viewers read the video bus: from the newest keyframe, every unit after
//! it, skipping to the newest keyframe when it falls behind; a JPEG camera's units come
//! from its one encoder, whatever the number of clients. Nothing queues per client: the
//! next unit is taken once the last one is written.
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
pub mod shared;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use remotecam_core::rtsp::{Incoming, Method, Request, RequestReader, Response};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::auth::{Admitted, Auth, Ended, Grant, Refused};
use crate::camera::{Camera, ViewerGuard};
use crate::counts::ViewerKind;
use crate::hub::Hub;
use crate::listen::{self, Connections, HEADER_TIMEOUT, Place};
use crate::video::Codec;
use crate::web::metrics::{self, ViewerMetrics};
use crate::web::stalls::{self, Stalls};
use session::{Facts, Lookup, Next, Session, Stream};
use shared::{Cursor, Packetized, Stamped, Streams};
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
    /// The cameras' packets, made once for all their clients.
    pub streams: Arc<Streams>,
}

/// Serves RTSP on `listener` until `stop` becomes true.
pub async fn serve(listener: TcpListener, context: Context, mut stop: watch::Receiver<bool>) {
    let connections = Arc::clone(&context.connections);
    while let Some((stream, peer, place)) = listen::accept(&listener, &connections, &mut stop).await
    {
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
    stream: Arc<Packetized>,
    /// The place a PLAY's `RTP-Info` was told of, for the stream it starts.
    cursor: Option<Cursor>,
    _guard: ViewerGuard,
}

/// A playing stream.
struct Player {
    stream: Arc<Packetized>,
    cursor: Cursor,
    /// The interleaved channel the client asked for (its RTCP on the next).
    channel: u8,
    /// The unit handed to the connection, until it is taken.
    pin: stalls::Pin,
    codec: Codec,
    metrics: ViewerMetrics,
    /// Completes when the client must stop: the grant that let it in ended, or it held
    /// too much for too long (`web/stalls.rs`). Made once, polled with every unit.
    stop: Pin<Box<dyn Future<Output = Closed> + Send>>,
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
        let session = Session::new(
            format!("{:016x}", random_u64()),
            format!("{:016x}", random_u64()),
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
            // A playing client has no deadline but its writes'.
            let deadline = match (head_started, self.player.is_some()) {
                (Some(at), _) => Some(at + HEADER_TIMEOUT),
                (None, false) => {
                    Some(last_request + Duration::from_secs(session::SESSION_TIMEOUT_SECS))
                }
                (None, true) => None,
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
                    let stamped = match event {
                        Playing::Unit(Some(stamped)) => stamped,
                        Playing::Unit(None) => return Err(Closed::CameraGone),
                        Playing::Stop(why) => return Err(why),
                    };
                    if stamped.unit.params.codec != player.codec {
                        return Err(Closed::CodecChanged);
                    }
                    let packets = shared::on_channel(&stamped.packets, player.channel);
                    let skipped = std::mem::take(&mut player.cursor.skipped);
                    // The stall timer starts only if the socket does not take them at once.
                    tokio::select! {
                        biased;
                        written = wr.write_all(&packets) => written?,
                        () = tokio::time::sleep(STALL_TIMEOUT) => return Err(Closed::Stalled),
                    }
                    player.metrics.frame(skipped, packets.len());
                }
                () = until(deadline) => return Err(Closed::Silent),
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
                self.lookup(name, request.method).await
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
    /// here on the connection wants the camera's video. For a PLAY, where the stream
    /// will start.
    async fn lookup(&mut self, name: &str, method: Method) -> Lookup {
        let Some(entry) = self.context.hub.entry(name) else {
            return Lookup::Missing;
        };
        let watching = match &mut self.watching {
            Some(w) if w.camera.name() == name => w,
            Some(_) => return Lookup::Unnamed,
            None => self.watching.insert(Watching {
                _guard: entry.camera.video_viewer(),
                stream: self.context.streams.of(&entry.camera),
                camera: entry.camera,
                cursor: None,
            }),
        };
        let bus = watching.camera.video();
        let params = match bus.params() {
            Some(params) => params,
            None => {
                let mut reader = bus.reader();
                match tokio::time::timeout(FIRST_VIDEO_WAIT, reader.next()).await {
                    Ok(Some(unit)) => Arc::clone(&unit.params),
                    _ => return Lookup::NoVideo,
                }
            }
        };
        let mut first = None;
        if method == Method::Play && watching.cursor.is_none() {
            let cursor = watching.stream.cursor();
            first = watching
                .stream
                .peek(&cursor)
                .map(|s| (s.first_seq, s.timestamp));
            watching.cursor = Some(cursor);
        }
        Lookup::Video(Stream {
            params,
            ssrc: watching.stream.ssrc(),
            first,
        })
    }

    fn play(&mut self, grant: Grant, channel: u8) -> Result<(), Closed> {
        let Some(watching) = &mut self.watching else {
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
        let stream = Arc::clone(&watching.stream);
        let cursor = watching.cursor.take().unwrap_or_else(|| stream.cursor());
        let close = Arc::new(Notify::new());
        self.player = Some(Player {
            stream,
            cursor,
            channel,
            pin: self.context.stalls.viewer(Arc::clone(&close)),
            codec,
            metrics: ViewerMetrics::new(counts, ViewerKind::Rtsp),
            stop: Box::pin(async move {
                tokio::select! {
                    ended = grant.ended() => Closed::GrantEnded(ended),
                    () = close.notified() => Closed::Stalled,
                }
            }),
        });
        Ok(())
    }
}

/// Completes at `deadline`; never without one.
async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Completes when the hub stops.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

enum Playing {
    /// The next unit (`None`: the camera is gone).
    Unit(Option<Arc<Stamped>>),
    /// The client must stop.
    Stop(Closed),
}

/// The playing stream's next unit, or why the client must stop; never, while nothing
/// plays.
async fn playing(player: &mut Option<Player>) -> Playing {
    let Some(p) = player else {
        return std::future::pending().await;
    };
    p.pin.asked();
    tokio::select! {
        stamped = p.stream.next(&mut p.cursor) => {
            if let Some(stamped) = &stamped {
                p.pin.handed(&stamped.packets);
            }
            Playing::Unit(stamped)
        }
        why = p.stop.as_mut() => Playing::Stop(why),
    }
}

/// A random number, for the session's ids, the Digest nonce and a stream's numbers. (Without system
/// randomness the hub could not have made its token: it would not be running.)
pub(super) fn random_u64() -> u64 {
    let mut raw = [0u8; 8];
    let _ = getrandom::fill(&mut raw);
    u64::from_le_bytes(raw)
}
