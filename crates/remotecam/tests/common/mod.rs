//! Test harness: the real `remotecam` binary on 127.0.0.1 with free ports, plus small
//! clients (publisher, MJPEG reader, WebSocket viewer) that speak to it as tools would.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use remotecam::placeholder::Canvas;
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;
pub type RawWs = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// Generous bound for anything the tests wait on; hitting it is a failure, not a delay.
pub const WAIT: Duration = Duration::from_secs(20);

pub struct Hub {
    child: Child,
    /// Every line the hub wrote to stderr (its log), also passed on to the test's.
    log: Arc<Mutex<Vec<String>>>,
    pub http: SocketAddr,
    pub https: SocketAddr,
    pub token: String,
    pub dir: tempfile::TempDir,
}

impl Hub {
    pub fn start(extra: &[&str]) -> Hub {
        let dir = tempfile::tempdir().unwrap();
        Hub::start_in(dir, extra)
    }

    pub fn start_in(dir: tempfile::TempDir, extra: &[&str]) -> Hub {
        Hub::start_on(dir, 0, 0, extra)
    }

    /// Stops the hub and starts it again on the same ports with the same data.
    pub fn restart(self, extra: &[&str]) -> Hub {
        let (port, https) = (self.http.port(), self.https.port());
        let dir = self.stop();
        Hub::start_on(dir, port, https, extra)
    }

    fn start_on(dir: tempfile::TempDir, port: u16, https_port: u16, extra: &[&str]) -> Hub {
        Hub::start_wrapped(dir, port, https_port, extra, &[])
    }

    /// Starts the hub under `wrapper` (a command that ends by running the rest of its
    /// arguments), e.g. to give it a filesystem of its own.
    pub fn start_wrapped(
        dir: tempfile::TempDir,
        port: u16,
        https_port: u16,
        extra: &[&str],
        wrapper: &[&str],
    ) -> Hub {
        // reqwest is built without a default crypto provider; use the hub's (ring).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let bin = env!("CARGO_BIN_EXE_remotecam");
        let mut command = match wrapper.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        let mut child = command
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--https-port", &https_port.to_string(), "--data-dir"])
            .arg(dir.path())
            .args(extra)
            .env(
                "RUST_LOG",
                std::env::var("HUB_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start remotecam");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let kept = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                eprintln!("{line}");
                kept.lock().unwrap().push(line);
            }
        });
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (mut http, mut https, mut token) = (None, None, None);
        while http.is_none() || https.is_none() || token.is_none() {
            let line = rx.recv_timeout(WAIT).expect("hub printed its banner");
            if let Some(a) = line.strip_prefix("HTTP  listening on ") {
                http = Some(a.trim().parse().unwrap());
            } else if let Some(a) = line.strip_prefix("HTTPS listening on ") {
                https = Some(a.trim().parse().unwrap());
            } else if let Some(rest) = line.trim().strip_prefix("Access token: ") {
                token = Some(rest.split_whitespace().next().unwrap().to_owned());
            }
        }
        Hub {
            child,
            log,
            http: http.unwrap(),
            https: https.unwrap(),
            token: token.unwrap(),
            dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.http)
    }

    /// What the hub has written to its log (stderr) so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory of the hub process, in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    /// Stops the hub as a service manager does (SIGTERM) and waits for it to exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = rustix::process::Pid::from_raw(self.pid() as i32).expect("a pid");
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM");
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the hub did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the hub and gives back its data directory.
    pub fn stop(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let dir = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, dir)
    }

    pub async fn cameras(&self) -> serde_json::Value {
        reqwest::get(self.url("/api/cameras"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn camera(&self, name: &str) -> serde_json::Value {
        self.json(&format!("/api/cameras/{name}")).await
    }

    /// The camera's motion settings and status (`GET /api/cameras/{name}/motion`).
    pub async fn motion(&self, name: &str) -> serde_json::Value {
        self.json(&format!("/api/cameras/{name}/motion")).await
    }

    /// The JSON answer to `GET path`, from this machine (trusted loopback).
    pub async fn json(&self, path: &str) -> serde_json::Value {
        reqwest::get(self.url(path))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Polls the camera's status until `pred` holds (the hub's own view is the sync point).
    pub async fn wait_camera(&self, name: &str, pred: impl Fn(&serde_json::Value) -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let status = self.camera(name).await;
            if pred(&status) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "camera {name} never reached the state; last {status}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A JPEG of `width` x `height` with `label` drawn on it. With `noise`, the background
/// is pseudo-random so the JPEG is large (like a real camera picture).
pub fn test_jpeg(width: usize, height: usize, label: &str, noise: bool) -> Bytes {
    let mut canvas = Canvas::new(width, height, [40, 90, 160]);
    if noise {
        let mut x: u32 = 0x9E37_79B9 ^ label.len() as u32;
        for b in canvas.rgb.iter_mut() {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *b = (x & 0xFF) as u8;
        }
    }
    canvas.text(8, 8, label, 2, [255, 255, 255]);
    canvas.to_jpeg(85)
}

pub async fn connect_ws(url: &str) -> Ws {
    let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
        .await
        .expect("connect in time")
        .unwrap_or_else(|e| panic!("connect {url}: {e}"));
    ws
}

/// A WebSocket connection from a chosen local address (127.0.0.2 stands in for another
/// machine), with extra request headers.
pub async fn connect_ws_from(
    local: IpAddr,
    server: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<RawWs, tokio_tungstenite::tungstenite::Error> {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(local, 0)).unwrap();
    let stream = socket.connect(server).await.unwrap();
    let mut request = format!("ws://{server}{path}")
        .into_client_request()
        .unwrap();
    for (k, v) in headers {
        request.headers_mut().insert(
            reqwest::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    tokio_tungstenite::client_async(request, stream)
        .await
        .map(|(ws, _)| ws)
}

pub struct Publisher {
    pub ws: Ws,
}

impl Publisher {
    pub async fn connect(hub: &Hub, camera: &str) -> Publisher {
        let mut ws = connect_ws(&hub.ws_url(&format!("/api/cameras/{camera}/publish"))).await;
        let hello = next_text(&mut ws).await;
        assert_eq!(hello["type"], "hello");
        Publisher { ws }
    }

    /// Sends a frame and waits for its ack; returns the sequence number the hub gave it.
    pub async fn send(&mut self, jpeg: Bytes) -> u64 {
        self.ws.send(Message::Binary(jpeg)).await.unwrap();
        let ack = next_text(&mut self.ws).await;
        assert_eq!(ack["type"], "ack", "{ack}");
        ack["seq"].as_u64().unwrap()
    }
}

/// A healthy camera with a viewer, to prove the hub still serves everyone else.
pub struct Bystander {
    publisher: Publisher,
    viewer: MjpegReader,
}

impl Bystander {
    pub async fn start(hub: &Hub) -> Bystander {
        let mut publisher = Publisher::connect(hub, "healthy").await;
        publisher.send(test_jpeg(64, 48, "h0", false)).await;
        let mut viewer = MjpegReader::open(&hub.url("/api/cameras/healthy/stream.mjpg")).await;
        viewer.next_part().await;
        Bystander { publisher, viewer }
    }

    pub async fn still_served(&mut self) {
        self.served(1).await;
    }

    /// `n` frames published, every one of them reaching the viewer: the camera is
    /// served at the full rate its publisher sends.
    pub async fn served(&mut self, n: usize) {
        for i in 0..n {
            let jpeg = test_jpeg(64, 48, &format!("still here {i}"), false);
            let seq = self.publisher.send(jpeg.clone()).await;
            let part = self.viewer.next_part().await;
            assert!(part.body == jpeg, "the viewer did not get frame {i}");
            assert_eq!(part.header("X-Frame-Seq"), Some(seq.to_string().as_str()));
        }
    }
}

/// A publisher to `camera` that sends `message`; the close code and reason it gets.
pub async fn closed_with(hub: &Hub, camera: &str, message: Message) -> (u16, String) {
    let mut publisher = Publisher::connect(hub, camera).await;
    publisher.ws.send(message).await.unwrap();
    let frame = close_frame(&mut publisher.ws)
        .await
        .expect("a close frame with a reason");
    (u16::from(frame.code), frame.reason.to_string())
}

/// `jpeg` with the picture size in its frame header replaced (a header's claim).
pub fn claiming(jpeg: &[u8], width: u16, height: u16) -> Bytes {
    let mut jpeg = jpeg.to_vec();
    let sof = jpeg
        .windows(2)
        .position(|w| w[0] == 0xFF && matches!(w[1], 0xC0 | 0xC2))
        .expect("a frame header");
    jpeg[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    jpeg[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    jpeg.into()
}

/// Resident memory limit for the hub under attack, KiB.
pub const RSS_MAX_KIB: u64 = 200 * 1024;

pub async fn next_text<S>(ws: &mut S) -> serde_json::Value
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        match tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("message in time")
        {
            Some(Ok(Message::Text(t))) => return serde_json::from_str(&t).unwrap(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            other => panic!("expected a text message, got {other:?}"),
        }
    }
}

/// Reads until the server closes; returns the close frame.
pub async fn close_frame<S>(ws: &mut S) -> Option<CloseFrame>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        match tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("close in time")
        {
            Some(Ok(Message::Close(frame))) => return frame,
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("connection failed without a close frame: {e}"),
            None => return None,
        }
    }
}

/// A WebSocket viewer's next frame: (metadata, jpeg). Skips status messages.
pub async fn next_ws_frame(ws: &mut Ws) -> (serde_json::Value, Bytes) {
    loop {
        match tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("frame in time")
        {
            Some(Ok(Message::Binary(data))) => {
                let n = u32::from_be_bytes(data[..4].try_into().unwrap()) as usize;
                let meta = serde_json::from_slice(&data[4..4 + n]).unwrap();
                return (meta, data.slice(4 + n..));
            }
            Some(Ok(_)) => {}
            other => panic!("expected a frame, got {other:?}"),
        }
    }
}

/// One part of a multipart MJPEG stream.
#[derive(Debug)]
pub struct Part {
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Part {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads `multipart/x-mixed-replace` as a strict client would: every part must have a
/// Content-Length and end where it says.
pub struct MjpegReader {
    body: std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<Bytes>> + Send>>,
    buf: BytesMut,
    boundary: String,
}

impl MjpegReader {
    pub async fn open(url: &str) -> MjpegReader {
        let response = tokio::time::timeout(WAIT, reqwest::get(url))
            .await
            .expect("the stream's answer in time")
            .unwrap();
        assert_eq!(response.status(), 200, "{url}");
        let ctype = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        let boundary = ctype
            .split("boundary=")
            .nth(1)
            .expect("boundary in content type")
            .to_owned();
        assert!(ctype.starts_with("multipart/x-mixed-replace"), "{ctype}");
        MjpegReader {
            body: Box::pin(response.bytes_stream()),
            buf: BytesMut::new(),
            boundary,
        }
    }

    async fn fill(&mut self) {
        let chunk = tokio::time::timeout(WAIT, self.body.next())
            .await
            .expect("stream data in time")
            .expect("stream still open")
            .unwrap();
        self.buf.extend_from_slice(&chunk);
    }

    pub async fn next_part(&mut self) -> Part {
        let start = format!("--{}\r\n", self.boundary);
        loop {
            if let Some(head_end) = find(&self.buf, b"\r\n\r\n") {
                assert!(
                    self.buf.starts_with(start.as_bytes()),
                    "part starts with the boundary"
                );
                let head = std::str::from_utf8(&self.buf[start.len()..head_end])
                    .unwrap()
                    .to_owned();
                let headers: Vec<(String, String)> = head
                    .split("\r\n")
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                    .collect();
                let len: usize = headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                    .expect("Content-Length on every part")
                    .1
                    .parse()
                    .unwrap();
                let total = head_end + 4 + len + 2;
                while self.buf.len() < total {
                    self.fill().await;
                }
                let mut part = self.buf.split_to(total);
                assert_eq!(&part[total - 2..], b"\r\n", "part ends with CRLF");
                let body = part.split_off(head_end + 4).freeze().slice(..len);
                return Part { headers, body };
            }
            self.fill().await;
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A 640x480 scene: gradient and checks, with a white square at `square` if any.
pub fn scene(square: Option<(usize, usize)>) -> Bytes {
    let mut c = Canvas::new(640, 480, [0, 0, 0]);
    for y in 0..480 {
        for x in 0..640 {
            let v = (40 + x / 5 + if (x / 32 + y / 32) % 2 == 0 { 30 } else { 0 }) as u8;
            c.rgb[(y * 640 + x) * 3..][..3].copy_from_slice(&[v, v, v]);
        }
    }
    if let Some((sx, sy)) = square {
        for y in sy..sy + 96 {
            for x in sx..sx + 96 {
                c.rgb[(y * 640 + x) * 3..][..3].copy_from_slice(&[255, 255, 255]);
            }
        }
    }
    c.to_jpeg(85)
}

pub struct Events {
    body: std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<Bytes>> + Send>>,
    buf: String,
}

impl Events {
    pub async fn open(hub: &Hub) -> Events {
        let res = reqwest::get(hub.url("/api/events")).await.unwrap();
        assert_eq!(res.status(), 200);
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        Events {
            body: Box::pin(res.bytes_stream()),
            buf: String::new(),
        }
    }

    /// The next event as (name, data), skipping keep-alive comments.
    pub async fn next(&mut self) -> (String, serde_json::Value) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut name = String::new();
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim());
                    }
                }
                if !name.is_empty() {
                    return (
                        name,
                        serde_json::from_str(&data).unwrap_or(serde_json::Value::Null),
                    );
                }
                continue;
            }
            let chunk = tokio::time::timeout_at(deadline, self.body.next())
                .await
                .expect("an event in time")
                .expect("stream open")
                .unwrap();
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

pub async fn put_motion(hub: &Hub, camera: &str, body: serde_json::Value) -> reqwest::Response {
    reqwest::Client::new()
        .put(hub.url(&format!("/api/cameras/{camera}/motion")))
        .json(&body)
        .send()
        .await
        .unwrap()
}

pub struct Probe {
    pub codec: String,
    pub frames: u64,
    pub duration: f64,
}

/// What ffprobe says of a video file: codec, decoded frame count, duration.
pub fn ffprobe(path: &Path) -> Probe {
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args([
            "-show_entries",
            "stream=codec_name,nb_read_frames:format=duration",
            "-of",
            "default=noprint_wrappers=1",
        ])
        .arg(path)
        .output()
        .expect("run ffprobe");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "ffprobe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("no {k} in {text}"))
            .to_owned()
    };
    Probe {
        codec: field("codec_name"),
        frames: field("nb_read_frames").parse().expect("frames"),
        duration: field("duration").parse().expect("duration"),
    }
}

/// Waits until the frame `seq` is scored; returns the motion status.
pub async fn wait_scored(hub: &Hub, camera: &str, seq: u64) -> serde_json::Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let m = hub.motion(camera).await;
        if m["scored_seq"].as_u64() >= Some(seq) {
            return m;
        }
        assert!(Instant::now() < deadline, "frame {seq} never scored: {m}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
