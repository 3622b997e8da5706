//! A bare RTSP client over TCP, for what real clients cannot be made to do: a Basic
//! `Authorization` when Digest is offered too, requests out of order, hostile bytes.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use super::WAIT;

pub struct RawRtsp {
    pub stream: TcpStream,
    buf: Vec<u8>,
    cseq: u32,
    /// The session, once set up.
    pub session: Option<String>,
}

/// A response, as read.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What came next on the connection.
#[derive(Debug)]
pub enum Received {
    Reply(Reply),
    Packet { channel: u8, data: Vec<u8> },
    Closed,
}

impl RawRtsp {
    /// Connects from `from` (an address of 127.0.0.0/8: 127.0.0.1 is trusted).
    pub async fn connect_from(from: &str, to: SocketAddr) -> RawRtsp {
        let socket = TcpSocket::new_v4().unwrap();
        socket
            .bind(SocketAddr::new(from.parse().unwrap(), 0))
            .unwrap();
        RawRtsp::on(socket.connect(to).await.unwrap())
    }

    /// A client on a connection made by the test.
    pub fn on(stream: TcpStream) -> RawRtsp {
        RawRtsp {
            stream,
            buf: Vec::new(),
            cseq: 0,
            session: None,
        }
    }

    /// Sends a request (`CSeq` added, and the session once there is one).
    pub async fn send(&mut self, method: &str, uri: &str, headers: &[(&str, &str)]) {
        self.cseq += 1;
        let mut text = format!("{method} {uri} RTSP/1.0\r\nCSeq: {}\r\n", self.cseq);
        if let Some(session) = &self.session {
            text.push_str(&format!("Session: {session}\r\n"));
        }
        for (name, value) in headers {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        text.push_str("\r\n");
        self.stream.write_all(text.as_bytes()).await.unwrap();
    }

    /// Sends a request and waits for its reply, skipping packets.
    pub async fn request(&mut self, method: &str, uri: &str, headers: &[(&str, &str)]) -> Reply {
        self.send(method, uri, headers).await;
        loop {
            match self.next().await {
                Received::Reply(reply) => return reply,
                Received::Packet { .. } => {}
                Received::Closed => panic!("closed before the reply to {method}"),
            }
        }
    }

    /// DESCRIBE, SETUP (TCP), PLAY of `url`'s camera: the PLAY's reply.
    pub async fn play(&mut self, url: &str, headers: &[(&str, &str)]) -> Reply {
        let describe = self.request("DESCRIBE", url, headers).await;
        if describe.status != 200 {
            return describe;
        }
        let base = describe.header("Content-Base").unwrap().to_owned();
        let mut with_transport = headers.to_vec();
        with_transport.push(("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1"));
        let setup = self
            .request("SETUP", &format!("{base}trackID=0"), &with_transport)
            .await;
        assert_eq!(setup.status, 200, "{setup:?}");
        self.session = Some(
            setup
                .header("Session")
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .to_owned(),
        );
        self.request("PLAY", &base, headers).await
    }

    /// The next RTP packet on channel 0, within [`WAIT`]; `None` once closed.
    pub async fn rtp(&mut self) -> Option<Vec<u8>> {
        loop {
            match tokio::time::timeout(WAIT, self.next())
                .await
                .expect("a packet")
            {
                Received::Packet { channel: 0, data } => return Some(data),
                Received::Closed => return None,
                _ => {}
            }
        }
    }

    /// The next message or packet.
    pub async fn next(&mut self) -> Received {
        loop {
            if let Some(got) = self.parse() {
                return got;
            }
            let mut chunk = [0u8; 16 << 10];
            match tokio::time::timeout(WAIT, self.stream.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return Received::Closed,
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
                Err(_) => panic!("nothing came within {WAIT:?}"),
            }
        }
    }

    fn parse(&mut self) -> Option<Received> {
        if self.buf.first() == Some(&b'$') {
            if self.buf.len() < 4 {
                return None;
            }
            let len = usize::from(u16::from_be_bytes([self.buf[2], self.buf[3]]));
            if self.buf.len() < 4 + len {
                return None;
            }
            let channel = self.buf[1];
            let data = self.buf[4..4 + len].to_vec();
            self.buf.drain(..4 + len);
            return Some(Received::Packet { channel, data });
        }
        let end = self.buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
        let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
            .collect();
        let len: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("Content-Length"))
            .map_or(0, |(_, v)| v.parse().unwrap());
        if self.buf.len() < end + len {
            return None;
        }
        let body = String::from_utf8_lossy(&self.buf[end..end + len]).into_owned();
        self.buf.drain(..end + len);
        Some(Received::Reply(Reply {
            status,
            headers,
            body,
        }))
    }
}

/// A Basic `Authorization` value.
pub fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    let pair = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// retina, the RTSP client the hub itself uses, playing `url`'s first stream (with the
/// user and password in the URL, if any), its frames as MP4 stores them.
pub async fn retina_play(url: &str) -> retina::client::Demuxed {
    use retina::client::{Credentials, PlayOptions, Session, SessionOptions, SetupOptions};
    let mut url = url::Url::parse(url).unwrap();
    let mut options = SessionOptions::default();
    if !url.username().is_empty() {
        options = options.creds(Some(Credentials {
            username: url.username().to_owned(),
            password: url.password().unwrap_or("").to_owned(),
        }));
        url.set_username("").unwrap();
        url.set_password(None).unwrap();
    }
    let mut session = Session::describe(url, options).await.unwrap();
    let setup = SetupOptions::default().frame_format(retina::codec::FrameFormat::MP4);
    session.setup(0, setup).await.unwrap();
    let playing = session.play(PlayOptions::default()).await.unwrap();
    playing.demuxed().unwrap()
}
