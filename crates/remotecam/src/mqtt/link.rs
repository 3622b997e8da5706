//! The connection to the broker: rumqttc's event loop, polled for as long as the hub
//! runs. Each failure waits before the next try, 1 s doubling to 30 s, back to 1 s once
//! a connection has lasted [`STABLE`]: a broker that takes the hub and then sends what
//! ends the connection (a retained message above the hub's limit comes again at every
//! subscription) is not asked again every second. The bridge sees the connection on a watch (so the link
//! never waits for the bridge, which may itself be waiting for room in the link's
//! queue) and gets the broker's messages through a bounded channel.

use std::sync::Arc;
use std::time::Duration;

use rumqttc::{ConnectionError, Event, EventLoop, Packet};
use tokio::sync::{mpsc, watch};

use crate::source::camera_tls::{Refusal, Verifier};

/// Messages from the broker waiting for the bridge at most; past that they are dropped
/// (a flood of commands must not grow the hub's memory).
pub(super) const TO_BRIDGE: usize = 64;
const FIRST_RETRY: Duration = Duration::from_secs(1);
const LAST_RETRY: Duration = Duration::from_secs(30);
/// How long a connection must last for the next failure to be retried at once again.
const STABLE: Duration = Duration::from_secs(30);

/// The connection as the bridge sees it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Connection {
    /// Sessions the broker has given the hub so far: each new one has no subscriptions
    /// and, the broker having maybe restarted, none of the hub's retained messages.
    pub(super) sessions: u64,
    pub(super) up: bool,
}

/// A message from the broker (a command).
#[derive(Debug)]
pub(super) struct Message {
    pub(super) topic: String,
    pub(super) payload: bytes::Bytes,
    /// Kept by the broker and sent again at each subscription, rather than sent now.
    pub(super) retained: bool,
}

pub(super) async fn drive(
    mut events: EventLoop,
    tls: Option<Arc<Verifier>>,
    connection: watch::Sender<Connection>,
    bridge: mpsc::Sender<Message>,
) {
    let mut retry = FIRST_RETRY;
    let mut connected_at: Option<tokio::time::Instant> = None;
    // The first failure is logged, and the first after each connection.
    let mut logged = false;
    loop {
        match events.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                tracing::info!("MQTT broker connected");
                connected_at = Some(tokio::time::Instant::now());
                logged = false;
                connection.send_modify(|c| {
                    c.sessions += 1;
                    c.up = true;
                });
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                let message = Message {
                    topic: p.topic,
                    payload: p.payload,
                    retained: p.retain,
                };
                if bridge.try_send(message).is_err() {
                    tracing::debug!("MQTT command dropped: the bridge is behind");
                }
            }
            Ok(_) => {}
            Err(e) => {
                if !logged {
                    let refused = tls.as_ref().and_then(|v| v.refused());
                    tracing::warn!(error = %why(&e, refused), "MQTT broker lost; retrying");
                    logged = true;
                }
                connection.send_if_modified(|c| std::mem::replace(&mut c.up, false));
                if connected_at.take().is_some_and(|at| at.elapsed() >= STABLE) {
                    retry = FIRST_RETRY;
                }
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(LAST_RETRY);
            }
        }
    }
}

/// The error as a person needs it: a refusal says why.
fn why(e: &ConnectionError, refused: Option<Refusal>) -> String {
    match refused {
        Some(Refusal { shown, why: None }) => {
            return format!(
                "the broker's TLS certificate is not trusted: its SHA-256 fingerprint is \
                 {shown}, not mqtt.fingerprint"
            );
        }
        Some(Refusal {
            shown,
            why: Some(why),
        }) => {
            return format!(
                "the broker's TLS certificate is not trusted: {why}; if it is the broker's \
                 own, set mqtt.fingerprint = \"{shown}\""
            );
        }
        None => {}
    }
    match e {
        ConnectionError::MqttState(rumqttc::StateError::Deserialization(
            rumqttc::mqttbytes::Error::PayloadSizeLimitExceeded(size),
        )) => format!(
            "the broker sent a message of {size} bytes on the hub's topics, above what the \
             hub takes; a retained one comes again at each connection: clear it \
             (mosquitto_pub -r -n -t TOPIC)"
        ),
        ConnectionError::ConnectionRefused(code) => {
            format!("the broker refused the hub ({code:?}): check mqtt.username and mqtt.password")
        }
        other => other.to_string(),
    }
}
