use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use remotecam_core::wire::PublisherText;
use tokio_tungstenite::tungstenite::Message;

use crate::receiver::{WsStream, open};
use crate::{Error, Target, encode_bgr};

/// Frames sent but not yet acknowledged, at most. Like the publisher page: enough to
/// keep the link busy, never a queue.
const MAX_IN_FLIGHT: usize = 2;

/// Sends frames into a camera of the hub (its publish WebSocket).
pub struct Publisher {
    target: Target,
    ws: WsStream,
    in_flight: usize,
    max_message_bytes: usize,
    /// Sequence number of the last acknowledged frame.
    pub last_seq: u64,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("camera", &self.target.camera)
            .finish()
    }
}

impl Publisher {
    pub async fn connect(target: Target) -> Result<Publisher, Error> {
        // The hub lists the camera with source "publisher" (not "browser").
        let mut ws = open(&target, "publish?client=publisher").await?;
        let max_message_bytes = loop {
            match next_text(&mut ws).await? {
                PublisherText::Hello {
                    max_message_bytes, ..
                } => break max_message_bytes,
                _ => continue,
            }
        };
        Ok(Publisher {
            target,
            ws,
            in_flight: 0,
            max_message_bytes,
            last_seq: 0,
        })
    }

    /// Publishes one JPEG. Returns once the frame is sent and at most one earlier frame
    /// is still unacknowledged.
    pub async fn send_jpeg(&mut self, jpeg: Bytes) -> Result<(), Error> {
        if jpeg.len() > self.max_message_bytes {
            return Err(Error::Protocol(format!(
                "a {}-byte frame is over the hub's {}-byte limit",
                jpeg.len(),
                self.max_message_bytes
            )));
        }
        self.ws
            .send(Message::Binary(jpeg))
            .await
            .map_err(|e| Error::Closed(e.to_string()))?;
        self.in_flight += 1;
        while self.in_flight >= MAX_IN_FLIGHT {
            self.wait_ack().await?;
        }
        Ok(())
    }

    /// Encodes a BGR picture (on the calling thread) and publishes it.
    pub async fn send_bgr(
        &mut self,
        bgr: &[u8],
        width: usize,
        height: usize,
        quality: u8,
    ) -> Result<(), Error> {
        let jpeg = encode_bgr(bgr, width, height, quality)?;
        self.send_jpeg(Bytes::from(jpeg)).await
    }

    /// Waits until every sent frame is acknowledged.
    pub async fn flush(&mut self) -> Result<(), Error> {
        while self.in_flight > 0 {
            self.wait_ack().await?;
        }
        Ok(())
    }

    async fn wait_ack(&mut self) -> Result<(), Error> {
        if let PublisherText::Ack { seq, .. } = next_text(&mut self.ws).await? {
            self.in_flight = self.in_flight.saturating_sub(1);
            self.last_seq = seq;
        }
        Ok(())
    }

    pub async fn close(mut self) -> Result<(), Error> {
        let _ = self.flush().await;
        self.ws
            .close(None)
            .await
            .map_err(|e| Error::Closed(e.to_string()))
    }
}

/// The next text message, or the hub's close reason as an error.
async fn next_text(ws: &mut WsStream) -> Result<PublisherText, Error> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => {
                return serde_json::from_str(&text).map_err(|e| Error::Protocol(e.to_string()));
            }
            Some(Ok(Message::Close(frame))) => {
                let reason = frame
                    .map(|f| format!("{} ({})", f.reason, u16::from(f.code)))
                    .unwrap_or_else(|| "no reason given".into());
                return Err(Error::Closed(reason));
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(Error::Closed(e.to_string())),
            None => return Err(Error::Closed("connection ended".into())),
        }
    }
}
