//! The connection to the broker: rumqttc's event loop, polled for as long as the hub
//! runs. Each failure waits before the next try, 1 s doubling to 30 s, back to 1 s once
//! the broker has taken the hub; the bridge hears of each connection made or lost and
//! of each message from the broker.

use std::time::Duration;

use rumqttc::{ConnectionError, Event, EventLoop, Packet};
use tokio::sync::mpsc;

/// Messages from the broker waiting for the bridge at most; past that they are dropped
/// (a flood of commands must not grow the hub's memory).
pub(super) const TO_BRIDGE: usize = 64;
const FIRST_RETRY: Duration = Duration::from_secs(1);
const LAST_RETRY: Duration = Duration::from_secs(30);

/// What the link tells the bridge.
#[derive(Debug)]
pub(super) enum FromBroker {
    /// The broker took the hub: a new session, with no subscriptions yet.
    Connected,
    /// The connection is lost; the link is trying again.
    Lost,
    Message {
        topic: String,
        payload: bytes::Bytes,
    },
}

pub(super) async fn drive(mut events: EventLoop, bridge: mpsc::Sender<FromBroker>) {
    let mut retry = FIRST_RETRY;
    let mut connected = true; // so the first failure is logged
    loop {
        match events.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                tracing::info!("MQTT broker connected");
                retry = FIRST_RETRY;
                connected = true;
                let _ = bridge.send(FromBroker::Connected).await;
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                let message = FromBroker::Message {
                    topic: p.topic,
                    payload: p.payload,
                };
                if bridge.try_send(message).is_err() {
                    tracing::debug!("MQTT command dropped: the bridge is behind");
                }
            }
            Ok(_) => {}
            Err(e) => {
                if connected {
                    tracing::warn!(error = %why(&e), "MQTT broker lost; retrying");
                    connected = false;
                    let _ = bridge.send(FromBroker::Lost).await;
                }
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(LAST_RETRY);
            }
        }
    }
}

/// The error as a person needs it: a refusal says why.
fn why(e: &ConnectionError) -> String {
    match e {
        ConnectionError::ConnectionRefused(code) => {
            format!("the broker refused the hub ({code:?}): check mqtt.username and mqtt.password")
        }
        other => other.to_string(),
    }
}
