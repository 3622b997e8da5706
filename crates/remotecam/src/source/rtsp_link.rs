//! The hub's end of an RTSP camera's connection. retina opens its connection itself,
//! neither bounds what comes in on it (a message's claimed length, an access unit put
//! together from RTP packets) nor speaks TLS; so over TCP it talks to this relay on
//! 127.0.0.1 instead, and the relay to the camera. Every byte the camera sends is
//! checked here before retina buffers it ([`Guard`]), and `rtsps://` is carried over
//! TLS (`camera_tls.rs`). retina's requests go through as they are: cameras take the
//! path from a request's URL, and the URLs that follow come from the camera's own
//! `Content-Base`.
//!
//! The relay runs in the task that reads the stream ([`Link::drive`]), not a task of
//! its own: what it hands on is read by retina in the same wake-up.
//!
//! RTP over UDP (`#transport=udp`) does not come through here: retina binds its UDP
//! ports to its connection's address, so it connects to the camera itself.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::camera_tls;
use super::rtsp_guard::Guard;
use super::spec::RtspSpec;
use crate::video::Codec;

/// The relay's work: copying until either side ends; why it cut the connection, if the
/// camera sent what it may not.
type Relay = Pin<Box<dyn Future<Output = Option<String>> + Send>>;

/// A relayed connection to a camera; it ends when dropped.
pub(super) struct Link {
    /// What retina connects to instead of the camera.
    pub(super) url: url::Url,
    /// `None` once it has ended.
    relay: Option<Relay>,
    failure: Option<String>,
}

impl Link {
    /// Connects to the camera (TCP, and TLS for `rtsps://`); access units are bounded
    /// to `max_unit` bytes, counted as units of `codec` once it is set.
    pub(super) async fn open(
        spec: &RtspSpec,
        max_unit: usize,
        codec: Arc<OnceLock<Codec>>,
    ) -> Result<Link, String> {
        let host = spec.url.host_str().unwrap_or_default().to_owned();
        let tls = spec.url.scheme() == "rtsps";
        let port = spec.url.port().unwrap_or(if tls { 322 } else { 554 });
        let host_name = host.trim_start_matches('[').trim_end_matches(']');
        let tcp = TcpStream::connect((host_name, port))
            .await
            .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(|e| format!("cannot listen on 127.0.0.1: {e}"))?;
        let local = listener.local_addr().map_err(|e| e.to_string())?;
        let guard = Guard::new(max_unit, spec.basic_auth, codec);
        let relay: Relay = match spec.tls {
            Some(trust) if tls => {
                let camera = camera_tls::connect(tcp, host_name, trust).await?;
                Box::pin(relay(listener, camera, guard))
            }
            _ => Box::pin(relay(listener, tcp, guard)),
        };
        Ok(Link {
            url: local_url(&spec.url, local),
            relay: Some(relay),
            failure: None,
        })
    }

    /// Runs `work` (retina's, on this link) while relaying. Once the relay has ended,
    /// its sockets are closed and `work` sees the end of the connection.
    pub(super) async fn drive<F: Future>(&mut self, work: F) -> F::Output {
        let mut work = std::pin::pin!(work);
        if let Some(relay) = &mut self.relay {
            tokio::select! {
                // The relay first: what it hands on is there for `work` at once.
                biased;
                failure = relay => (self.relay, self.failure) = (None, failure),
                out = &mut work => return out,
            }
        }
        work.await
    }

    /// Why the relay cut the connection, when the camera sent what it may not.
    pub(super) fn failure(&self) -> Option<String> {
        self.failure.clone()
    }
}

/// `url` with the relay's address in place of the camera's.
fn local_url(url: &url::Url, local: SocketAddr) -> url::Url {
    let mut local_url = url.clone();
    // A URL's scheme can only change between special ones; rebuild it instead.
    let rest = &url[url::Position::BeforePath..];
    if let Ok(u) = url::Url::parse(&format!("rtsp://{local}{rest}")) {
        local_url = u;
    }
    local_url
}

/// Takes retina's one connection and copies both ways until either side ends or the
/// camera sends what it may not (then says what).
async fn relay<C>(listener: TcpListener, camera: C, mut guard: Guard) -> Option<String>
where
    C: AsyncRead + AsyncWrite + Unpin,
{
    let Ok((hub, _)) = listener.accept().await else {
        return None;
    };
    drop(listener);
    let _ = hub.set_nodelay(true);
    let (mut from_camera, mut to_camera) = tokio::io::split(camera);
    let (mut from_hub, mut to_hub) = hub.into_split();
    let requests = tokio::io::copy(&mut from_hub, &mut to_camera);
    let answers = async {
        let mut buffer = vec![0u8; 64 << 10];
        loop {
            let n = match from_camera.read(&mut buffer).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => n,
            };
            if let Err(why) = guard.check(&buffer[..n]) {
                return Some(why);
            }
            if to_hub.write_all(&buffer[..n]).await.is_err() {
                return None;
            }
        }
    };
    tokio::select! {
        _ = requests => None,
        failure = answers => failure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_camera_is_reached_where_retina_connects() {
        let url = url::Url::parse("rtsps://cam.local:7441/abc?x=1").unwrap();
        let local = local_url(&url, "127.0.0.1:9999".parse().unwrap());
        assert_eq!(local.as_str(), "rtsp://127.0.0.1:9999/abc?x=1");
    }
}
