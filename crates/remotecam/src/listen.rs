//! The two HTTP listeners (HTTP and HTTPS) and what every connection is held to (the
//! RTSP listener's connections too: `rtsp_server`).
//!
//! A client that opens connections and sends nothing, or a header a byte at a time,
//! must not be able to use up the hub's file descriptors: then no viewer could connect
//! and no clip file could be opened. So, for every connection:
//!
//! - it is counted: at most [`ConnectionLimits::per_address`] from one untrusted address,
//!   at most [`ConnectionLimits::total`] in all, of which untrusted clients may take all
//!   but [`TRUSTED_SHARE`]; the total leaves [`FD_RESERVE`] descriptors of the process's
//!   limit for recordings, sources and the index. A connection over a limit is closed
//!   as soon as it is accepted.
//! - the TLS handshake must finish within [`HANDSHAKE_TIMEOUT`], a request's header
//!   within [`HEADER_TIMEOUT`] (also the most an HTTP/1.1 connection may wait idle
//!   between requests), and a connection on which no byte has moved either way for
//!   [`IDLE_TIMEOUT`] is closed. WebSockets, once upgraded, keep their own rules
//!   (`web/ws.rs`: pings, silence and stall limits) and their place in the count.
//!
//! At start the soft limit on open files is raised to the hard limit ([`raise_fd_limit`]).

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;
use tower::ServiceExt;

use crate::auth::is_trusted_loopback;
use crate::web::{Closer, Tls};

/// The TLS handshake's time limit.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A request header's time limit, from when the connection is ready for a request.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection on which nothing was read or written for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// File descriptors kept from clients: recordings, sources, the index, the listeners.
pub const FD_RESERVE: u64 = 128;
/// Connections only trusted clients (this machine, with `trust_loopback`) may use.
pub const TRUSTED_SHARE: usize = 32;

/// How many connections the hub takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// In all, both listeners together.
    pub total: usize,
    /// From one untrusted address (another machine, or this one without
    /// `trust_loopback`).
    pub per_address: usize,
}

impl ConnectionLimits {
    /// `max_connections` (or the default, 4096), within what the open-file limit
    /// `fd_limit` leaves after [`FD_RESERVE`].
    pub fn new(max_connections: Option<usize>, per_address: usize, fd_limit: u64) -> Self {
        let by_fds = usize::try_from(fd_limit.saturating_sub(FD_RESERVE)).unwrap_or(usize::MAX);
        ConnectionLimits {
            total: max_connections.unwrap_or(4096).min(by_fds).max(1),
            per_address: per_address.max(1),
        }
    }
}

/// The open connections, counted by address.
#[derive(Debug)]
pub struct Connections {
    limits: ConnectionLimits,
    trust_loopback: bool,
    counts: Mutex<Counts>,
    /// Told when a connection closes (for [`Connections::closed`]).
    closing: tokio::sync::Notify,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    untrusted: usize,
    by_address: HashMap<IpAddr, usize>,
}

impl Connections {
    pub fn new(limits: ConnectionLimits, trust_loopback: bool) -> Arc<Connections> {
        Arc::new(Connections {
            limits,
            trust_loopback,
            counts: Mutex::new(Counts::default()),
            closing: tokio::sync::Notify::new(),
        })
    }

    /// A place for a connection from `ip`, or `None` when a limit is reached.
    pub(crate) fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Place> {
        let trusted = self.trust_loopback && is_trusted_loopback(ip);
        let mut counts = self.counts.lock().expect("connections lock");
        if counts.total >= self.limits.total {
            return None;
        }
        if !trusted {
            let share = self.limits.total.saturating_sub(TRUSTED_SHARE).max(1);
            let from_here = counts.by_address.get(&ip).copied().unwrap_or(0);
            if counts.untrusted >= share || from_here >= self.limits.per_address {
                return None;
            }
            counts.untrusted += 1;
            *counts.by_address.entry(ip).or_default() += 1;
        }
        counts.total += 1;
        metrics::gauge!("remotecam_connections_open").increment(1.0);
        Some(Place {
            connections: Arc::clone(self),
            ip,
            trusted,
        })
    }

    /// Open connections in all.
    pub fn open(&self) -> usize {
        self.counts.lock().expect("connections lock").total
    }

    /// Waits until every connection has closed, for `within` at most.
    pub async fn closed(&self, within: Duration) {
        let _ = tokio::time::timeout(within, async {
            loop {
                let closing = self.closing.notified();
                if self.open() == 0 {
                    return;
                }
                closing.await;
            }
        })
        .await;
    }
}

/// A connection's place in the count, given back when the connection closes (after a
/// WebSocket upgrade too: it travels with the socket).
#[derive(Debug)]
pub(crate) struct Place {
    connections: Arc<Connections>,
    ip: IpAddr,
    trusted: bool,
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut counts = self.connections.counts.lock().expect("connections lock");
        counts.total -= 1;
        metrics::gauge!("remotecam_connections_open").decrement(1.0);
        self.connections.closing.notify_waiters();
        if !self.trusted {
            counts.untrusted -= 1;
            if let Some(n) = counts.by_address.get_mut(&self.ip) {
                *n -= 1;
                if *n == 0 {
                    counts.by_address.remove(&self.ip);
                }
            }
        }
    }
}

/// Raises the soft limit on open files to the hard limit; returns the limit in force.
pub fn raise_fd_limit() -> u64 {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let wanted = rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if setrlimit(Resource::Nofile, wanted).is_ok() {
            limit = wanted;
        }
    }
    limit.current.unwrap_or(u64::MAX)
}

/// Serves `router` on `listener` (over TLS when `tls` is given), within `connections`'
/// limits, until `stop` becomes true: then no connection is taken any more, and each
/// one is asked to close once its response in flight is sent.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    connections: Arc<Connections>,
    mut stop: watch::Receiver<bool>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    while let Some((stream, peer, place)) = accept(&listener, &connections, &mut stop).await {
        let io = Watched::new(stream, place);
        tokio::spawn(connection(
            io,
            peer,
            router.clone(),
            tls.clone(),
            Arc::clone(&builder),
            stop.clone(),
        ));
    }
}

/// The next connection within `connections`' limits (over them, one is closed as soon
/// as it is accepted), with its place in the count; `None` once the hub stops. Both the
/// HTTP listeners and the RTSP listener take their connections here.
pub(crate) async fn accept(
    listener: &TcpListener,
    connections: &Arc<Connections>,
    stop: &mut watch::Receiver<bool>,
) -> Option<(TcpStream, SocketAddr, Place)> {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|s| *s) => return None,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors, most likely: wait for some to be given back
                // instead of spinning on the error.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(place) = connections.admit(peer.ip()) else {
            tracing::debug!(%peer, "connection refused: too many open");
            crate::web::metrics::refused("too_many_connections");
            continue;
        };
        let _ = stream.set_nodelay(true);
        return Some((stream, peer, place));
    }
}

async fn connection(
    io: Watched,
    peer: SocketAddr,
    router: Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    mut stop: watch::Receiver<bool>,
) {
    let activity = Arc::clone(&io.activity);
    let https = tls.is_some();
    let closer = Closer::default();
    let close = Arc::clone(&closer.0);
    let service = hyper::service::service_fn(move |mut request: hyper::Request<_>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        request.extensions_mut().insert(closer.clone());
        if https {
            request.extensions_mut().insert(Tls);
        }
        router.clone().oneshot(request)
    });
    let served = async {
        let io: Box<dyn Io> = match tls {
            None => Box::new(io),
            Some(acceptor) => {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(io)).await {
                    Ok(Ok(stream)) => Box::new(stream),
                    Ok(Err(e)) => return tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                    Err(_) => return tracing::debug!(%peer, "TLS handshake timed out"),
                }
            }
        };
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
        let mut conn = std::pin::pin!(conn);
        // Once the hub stops, the connection ends after the response in flight.
        let ended = tokio::select! {
            result = conn.as_mut() => Some(result),
            _ = stop.wait_for(|s| *s) => None,
        };
        let result = match ended {
            Some(result) => result,
            None => {
                conn.as_mut().graceful_shutdown();
                conn.await
            }
        };
        if let Err(e) = result {
            tracing::debug!(%peer, error = %e, "connection ended");
        }
    };
    tokio::select! {
        () = served => {}
        () = activity.idle_for(IDLE_TIMEOUT) => tracing::debug!(%peer, "closing an idle connection"),
        () = close.notified() => tracing::debug!(%peer, "closing a stalled viewer's connection"),
    }
}

/// A connection's stream, plain or TLS.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// When a connection last moved a byte.
#[derive(Debug)]
struct Activity {
    since: Instant,
    /// Milliseconds after `since`.
    last: AtomicU64,
}

impl Activity {
    fn touch(&self) {
        let ms = self.since.elapsed().as_millis() as u64;
        self.last.store(ms, Ordering::Relaxed);
    }

    /// Completes once nothing has moved for `limit`.
    async fn idle_for(&self, limit: Duration) {
        loop {
            let last = self.since + Duration::from_millis(self.last.load(Ordering::Relaxed));
            if last.elapsed() >= limit {
                return;
            }
            tokio::time::sleep_until(last + limit).await;
        }
    }
}

/// A client's TCP stream that notes when bytes move and holds the connection's place in
/// the count.
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
    _place: Place,
}

impl Watched {
    fn new(stream: TcpStream, place: Place) -> Watched {
        Watched {
            stream,
            activity: Arc::new(Activity {
                since: Instant::now(),
                last: AtomicU64::new(0),
            }),
            _place: place,
        }
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        poll
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.stream).poll_write(cx, data);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        poll
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The HTTPS listener's TLS settings from PEM files (HTTP/2 and HTTP/1.1 offered).
pub fn tls_acceptor(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    use anyhow::Context as _;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("reading the TLS certificate {}", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("reading the TLS key {}", key.display()))?;
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("the TLS certificate and key do not go together")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_addresses_are_capped_and_leave_room_for_trusted_ones() {
        let limits = ConnectionLimits::new(Some(40), 5, 1 << 20);
        assert_eq!(limits.total, 40);
        let c = Connections::new(limits, true);
        let other: IpAddr = "192.0.2.9".parse().unwrap();
        let held: Vec<_> = (0..5).map(|_| c.admit(other).unwrap()).collect();
        assert!(c.admit(other).is_none(), "over the per-address cap");
        // Many untrusted addresses fill the untrusted share (40 - 32 = 8), not more.
        let mut more = Vec::new();
        for i in 0..10 {
            if let Some(a) = c.admit(IpAddr::from([192, 0, 2, 100 + i])) {
                more.push(a);
            }
        }
        assert_eq!(held.len() + more.len(), 8);
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        let trusted: Vec<_> = (0..32).map(|_| c.admit(local).unwrap()).collect();
        assert!(c.admit(local).is_none(), "over the total");
        assert_eq!(c.open(), 40);
        drop((held, more, trusted));
        assert_eq!(c.open(), 0);
        assert!(c.admit(other).is_some(), "places are given back");
    }

    #[test]
    fn the_total_leaves_descriptors_for_recording() {
        assert_eq!(ConnectionLimits::new(None, 64, 1024).total, 1024 - 128);
        assert_eq!(ConnectionLimits::new(None, 64, 1 << 20).total, 4096);
        assert_eq!(ConnectionLimits::new(Some(10), 64, 1024).total, 10);
        assert_eq!(ConnectionLimits::new(None, 64, 50).total, 1);
    }
}
