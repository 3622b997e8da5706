//! What the WebSocket sessions (`publish.rs`, a source; `view.rs`, a sink) share: close
//! codes, closing so that the client reads the reason, the hub's stop, the client's
//! access ending, output bounds.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::auth::Grant;

/// The close reason when the hub stops (code 1001): clients may come back.
pub(super) const STOPPING: &str = "the hub is stopping";

/// Completes once the hub has stopped (its clips finished): sessions then close.
pub(super) async fn hub_stopped(stopped: &mut watch::Receiver<bool>) {
    if stopped.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Completes when the client's grant ends, with the close frame to send: a session
/// holds one from its start (one timer, not one per message).
pub(super) async fn access_ended(grant: Grant) -> (u16, String) {
    (close::POLICY, grant.ended().await.message().to_owned())
}

pub(super) const PING_EVERY: Duration = Duration::from_secs(5);

/// The most a connection's outgoing buffer holds beyond what it is sending now.
///
/// The WebSocket layer answers every ping with a pong by itself. A client that sends
/// pings and never reads would otherwise have its pongs queued without end (hundreds of
/// megabytes in seconds); with a bound, pongs that do not fit replace each other (one
/// waits), as the protocol allows. Publishers get only small acks back; viewers get whole
/// frames, so theirs is one frame plus this.
pub(super) const WRITE_SLACK: usize = 512 << 10;

pub(crate) mod close {
    pub(crate) const GOING_AWAY: u16 = 1001;
    pub(crate) const UNSUPPORTED: u16 = 1003;
    pub(crate) const INVALID_DATA: u16 = 1007;
    /// The client's access ended (its token revoked or expired).
    pub(crate) const POLICY: u16 = 1008;
    pub(crate) const TOO_BIG: u16 = 1009;
    pub(crate) const REPLACED: u16 = 4000;
}

/// How long a refused client is given to read the close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Sends a close frame and lets the client read it before the socket goes.
///
/// Dropping a TCP socket that still has unread input (the rest of an oversized frame,
/// frames the client sent after the bad one) makes the kernel send a reset, and the
/// client then loses the close frame with its reason. So the session keeps reading and
/// discarding until the client answers the close, or for [`CLOSE_GRACE`] at most.
pub(super) async fn close_with(mut socket: WebSocket, code: u16, reason: String) {
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from(truncate_reason(reason)),
    };
    if let Err(e) = socket.send(Message::Close(Some(frame))).await {
        tracing::debug!(error = %e, "could not send the close frame");
        return;
    }
    let deadline = Instant::now() + CLOSE_GRACE;
    loop {
        match tokio::time::timeout_at(deadline, socket.recv()).await {
            Err(_) | Ok(Some(Ok(Message::Close(_)))) => return,
            Ok(Some(Ok(_))) => {}
            // The stream cannot be read any further (e.g. mid-way through an oversized
            // frame): just hold the connection open until the grace period ends.
            Ok(None | Some(Err(_))) => {
                tokio::time::sleep_until(deadline).await;
                return;
            }
        }
    }
}

pub(super) fn text(message: &impl serde::Serialize) -> Message {
    Message::Text(
        serde_json::to_string(message)
            .expect("messages serialize")
            .into(),
    )
}

/// Close reasons are limited to 123 bytes by the protocol.
fn truncate_reason(mut text: String) -> String {
    if text.len() > 123 {
        let mut cut = 120;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("...");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_fit_the_protocol_limit() {
        assert_eq!(truncate_reason("short".into()), "short");
        let long = truncate_reason("é".repeat(100));
        assert!(long.len() <= 123);
        assert!(long.ends_with("..."));
    }
}
