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

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::camera_tls;
use super::spec::RtspSpec;

/// Longest RTSP message head the camera may send (requests and answers are a few
/// hundred bytes).
const MAX_HEAD: usize = 64 << 10;
/// Longest RTSP message body (a session description is a few KiB).
const MAX_BODY: usize = 1 << 20;

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
    /// to `max_unit` bytes.
    pub(super) async fn open(spec: &RtspSpec, max_unit: usize) -> Result<Link, String> {
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
        let guard = Guard::new(max_unit);
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

/// Reads the camera's side of an RTSP connection as it comes (RTSP messages and `$`
/// interleaved packets, RFC 2326 10.12) and refuses it once a message head, a body's
/// claimed length or an access unit is above its bound. An access unit is counted by
/// its RTP packets on their channel, from one with a new timestamp to one with the
/// marker bit (RFC 6184 5.1); retina puts a unit together the same way.
struct Guard {
    max_unit: usize,
    at: At,
    /// The part of a message head or packet header read so far.
    head: Vec<u8>,
    /// Per channel: the timestamp of the unit being put together and its bytes so far.
    units: Box<[(u32, usize); 256]>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum At {
    /// Between messages.
    Start,
    /// In a message head.
    Head,
    /// In a message body, with this many bytes left.
    Body(usize),
    /// After a packet's `$`, reading its channel and length.
    PacketHeader,
    /// In a packet of this length on this channel, with this many bytes left.
    Packet {
        channel: u8,
        len: usize,
        left: usize,
    },
}

/// The bytes of an RTP header read for counting: flags, marker and type, sequence
/// number, timestamp.
const RTP_HEAD: usize = 8;

impl Guard {
    fn new(max_unit: usize) -> Guard {
        Guard {
            max_unit,
            at: At::Start,
            head: Vec::new(),
            units: Box::new([(0, 0); 256]),
        }
    }

    fn check(&mut self, mut data: &[u8]) -> Result<(), String> {
        while let Some(&byte) = data.first() {
            match self.at {
                At::Start => {
                    self.head.clear();
                    match byte {
                        b'$' => {
                            self.at = At::PacketHeader;
                            data = &data[1..];
                        }
                        b'\r' | b'\n' => data = &data[1..],
                        _ => self.at = At::Head,
                    }
                }
                At::Head => {
                    let end = data
                        .iter()
                        .position(|&b| b == b'\n')
                        .map_or(data.len(), |i| i + 1);
                    self.head.extend_from_slice(&data[..end]);
                    data = &data[end..];
                    if self.head.len() > MAX_HEAD {
                        return Err(format!(
                            "the camera sent an RTSP message head above {} KiB",
                            MAX_HEAD >> 10
                        ));
                    }
                    if self.head.ends_with(b"\r\n\r\n") || self.head.ends_with(b"\n\n") {
                        let body = content_length(&self.head)?;
                        self.at = if body == 0 { At::Start } else { At::Body(body) };
                    }
                }
                At::Body(left) => {
                    let n = left.min(data.len());
                    data = &data[n..];
                    self.at = if n == left {
                        At::Start
                    } else {
                        At::Body(left - n)
                    };
                }
                At::PacketHeader => {
                    let n = (3 - self.head.len()).min(data.len());
                    self.head.extend_from_slice(&data[..n]);
                    data = &data[n..];
                    if self.head.len() == 3 {
                        let len = usize::from(u16::from_be_bytes([self.head[1], self.head[2]]));
                        let channel = self.head[0];
                        self.head.clear();
                        self.at = if len == 0 {
                            At::Start
                        } else {
                            At::Packet {
                                channel,
                                len,
                                left: len,
                            }
                        };
                    }
                }
                At::Packet { channel, len, left } => {
                    let read = len - left;
                    if read < RTP_HEAD {
                        let n = (RTP_HEAD - read).min(data.len()).min(left);
                        self.head.extend_from_slice(&data[..n]);
                        if self.head.len() == RTP_HEAD {
                            self.count(channel, len)?;
                        }
                    }
                    let n = left.min(data.len());
                    data = &data[n..];
                    self.at = if n == left {
                        At::Start
                    } else {
                        At::Packet {
                            channel,
                            len,
                            left: left - n,
                        }
                    };
                }
            }
        }
        Ok(())
    }

    /// Counts a packet of `len` bytes whose RTP header is in `head`.
    fn count(&mut self, channel: u8, len: usize) -> Result<(), String> {
        let head = &self.head;
        if head[0] >> 6 != 2 {
            // Not RTP: retina tells what is wrong with it.
            return Ok(());
        }
        let marker = head[1] & 0x80 != 0;
        let timestamp = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
        let unit = &mut self.units[usize::from(channel)];
        if unit.0 != timestamp {
            *unit = (timestamp, 0);
        }
        unit.1 += len.saturating_sub(12);
        if unit.1 > self.max_unit {
            return Err(format!(
                "the camera sent an access unit above the limit of {} bytes (--max-frame-bytes)",
                self.max_unit
            ));
        }
        if marker {
            unit.1 = 0;
        }
        Ok(())
    }
}

/// A message head's `Content-Length`, within [`MAX_BODY`].
fn content_length(head: &[u8]) -> Result<usize, String> {
    let head = String::from_utf8_lossy(head);
    let Some(value) = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-length")
            .then_some(value.trim())
    }) else {
        return Ok(0);
    };
    match value.parse::<u64>() {
        Ok(n) if n <= MAX_BODY as u64 => Ok(n as usize),
        Ok(n) => Err(format!(
            "the camera announced an RTSP message body of {n} bytes, above {} MiB",
            MAX_BODY >> 20
        )),
        Err(_) => Err(format!("the camera sent a bad Content-Length: {value:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rtp(channel: u8, timestamp: u32, marker: bool, payload: usize) -> Vec<u8> {
        let len = 12 + payload;
        let mut p = vec![b'$', channel];
        p.extend_from_slice(&(len as u16).to_be_bytes());
        p.extend_from_slice(&[0x80, if marker { 0xE0 } else { 0x60 }, 0, 0]);
        p.extend_from_slice(&timestamp.to_be_bytes());
        p.resize(4 + len, 0xAB);
        p
    }

    /// Feeds `bytes` to a guard in pieces of `piece` bytes.
    fn check_in_pieces(max_unit: usize, bytes: &[u8], piece: usize) -> Result<(), String> {
        let mut guard = Guard::new(max_unit);
        bytes.chunks(piece).try_for_each(|c| guard.check(c))
    }

    #[test]
    fn a_camera_within_bounds_passes_however_its_bytes_are_cut() {
        let mut bytes = b"RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Length: 5\r\n\r\n$$$$$".to_vec();
        for ts in 0..5 {
            // A unit of three packets, 3000 bytes of payload.
            bytes.extend(rtp(0, ts, false, 1000));
            // RTCP on the next channel: its packet types (200-204) read as a marker.
            bytes.extend(rtp(1, 7, true, 900));
            bytes.extend(rtp(0, ts, false, 1000));
            bytes.extend(rtp(0, ts, true, 1000));
        }
        bytes.extend(b"\r\nRTSP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n");
        for piece in [1, 2, 3, 7, 13, 100, bytes.len()] {
            check_in_pieces(3000, &bytes, piece).unwrap();
        }
    }

    #[test]
    fn an_access_unit_without_end_is_refused_at_its_bound() {
        let mut bytes = Vec::new();
        for _ in 0..4 {
            bytes.extend(rtp(0, 9, false, 1000));
        }
        for piece in [1, 5, bytes.len()] {
            let e = check_in_pieces(3000, &bytes, piece).unwrap_err();
            assert!(e.contains("above the limit of 3000 bytes"), "{e}");
        }
        // A new timestamp starts a new unit, as retina counts.
        let mut bytes = Vec::new();
        for ts in 0..10 {
            bytes.extend(rtp(0, ts, false, 1000));
        }
        check_in_pieces(1000, &bytes, 17).unwrap();
    }

    #[test]
    fn a_huge_body_or_endless_head_is_refused_before_it_comes() {
        let e = check_in_pieces(
            1,
            b"RTSP/1.0 200 OK\r\nContent-Length: 99999999999\r\n\r\n",
            4,
        )
        .unwrap_err();
        assert!(e.contains("99999999999 bytes, above 1 MiB"), "{e}");
        let e = check_in_pieces(1, b"RTSP/1.0 200 OK\r\nContent-Length: x\r\n\r\n", 4).unwrap_err();
        assert!(e.contains("bad Content-Length"), "{e}");
        let mut head = b"RTSP/1.0 200 OK\r\n".to_vec();
        head.extend(std::iter::repeat_n(b'a', MAX_HEAD));
        let e = check_in_pieces(1, &head, 1000).unwrap_err();
        assert!(e.contains("head above 64 KiB"), "{e}");
    }

    #[test]
    fn the_camera_is_reached_where_retina_connects() {
        let url = url::Url::parse("rtsps://cam.local:7441/abc?x=1").unwrap();
        let local = local_url(&url, "127.0.0.1:9999".parse().unwrap());
        assert_eq!(local.as_str(), "rtsp://127.0.0.1:9999/abc?x=1");
    }
}
