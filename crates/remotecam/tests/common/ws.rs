//! WebSocket clients as tools would be: a publisher, a viewer, raw connections from a
//! chosen address, and a healthy camera beside an attack.

use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

use super::{Hub, MjpegReader, RawWs, WAIT, Ws, test_jpeg};

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

/// A WebSocket to the hub from [`super::OTHER`], with these request headers.
pub async fn ws_from_other(
    hub: &Hub,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<RawWs, tokio_tungstenite::tungstenite::Error> {
    connect_ws_from(super::OTHER.parse().unwrap(), hub.http, path, headers).await
}

/// The HTTP status the hub refused a WebSocket upgrade with.
pub fn refused_with(result: Result<RawWs, tokio_tungstenite::tungstenite::Error>) -> u16 {
    match result {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("not refused by HTTP: {e}"),
        Ok(_) => panic!("the upgrade was not refused"),
    }
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
