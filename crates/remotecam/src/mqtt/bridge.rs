//! The hub's state as MQTT messages, and commands from the broker as changes.
//!
//! What the broker keeps (retained: online, motion, the switches' states, discovery) is
//! sent when it changes, and all of it again on each new connection; the level once a
//! second at most, while it changes; events as they come. Nothing waits for the broker:
//! a message the link's queue has no room for is dropped, and the next connection
//! sends the state whole.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rumqttc::{AsyncClient, QoS};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{mpsc, watch};

use super::discovery::Discovery;
use super::link::{Connection, Message};
use crate::events::{HubEvent, What};
use crate::hub::{Entry, Hub};
use crate::motion::MotionUpdate;

/// How often the cameras' state is read, and the level sent at most.
const EVERY: Duration = Duration::from_secs(1);
/// A camera's snapshots at most this often (each may be megabytes in the queue).
const SNAPSHOT_EVERY: Duration = Duration::from_secs(2);

/// The hub's topics, all under one prefix.
#[derive(Debug, Clone)]
pub(super) struct Topics {
    prefix: String,
}

impl Topics {
    pub(super) fn new(prefix: &str) -> Topics {
        Topics {
            prefix: prefix.to_owned(),
        }
    }

    /// `online` while the hub is connected, `offline` (its last will) once it is not.
    pub(super) fn available(&self) -> String {
        format!("{}/available", self.prefix)
    }

    pub(super) fn camera(&self, camera: &str, leaf: &str) -> String {
        format!("{}/{camera}/{leaf}", self.prefix)
    }

    /// The subscriptions for commands.
    fn commands(&self) -> [String; 3] {
        [
            format!("{}/+/motion/set", self.prefix),
            format!("{}/+/record/set", self.prefix),
            format!("{}/+/snapshot/get", self.prefix),
        ]
    }

    /// The camera and command of a message's topic.
    fn command<'t>(&self, topic: &'t str, payload: &[u8]) -> Option<(&'t str, Command)> {
        let rest = topic.strip_prefix(&self.prefix)?.strip_prefix('/')?;
        let (camera, leaf) = rest.split_once('/')?;
        let on = || match payload.trim_ascii() {
            b"ON" => Some(true),
            b"OFF" => Some(false),
            _ => None,
        };
        let command = match leaf {
            "motion/set" => Command::Detection(on()?),
            "record/set" => Command::Recording(on()?),
            "snapshot/get" => Command::Snapshot,
            _ => return None,
        };
        Some((camera, command))
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Command {
    Detection(bool),
    Recording(bool),
    Snapshot,
}

/// What the broker was last told of a camera.
#[derive(Debug, Default)]
struct Shown {
    online: bool,
    motion: bool,
    detection: bool,
    recording: bool,
    /// In hundredths of a percent.
    level: Option<u32>,
}

struct Bridge {
    hub: Arc<Hub>,
    client: AsyncClient,
    topics: Topics,
    discovery: Option<Discovery>,
    connected: bool,
    /// By camera; empty after each connection, so that everything is sent again.
    shown: BTreeMap<String, Shown>,
    /// Each camera's last snapshot: when it was asked for, and the task making it.
    snapshots: BTreeMap<String, (std::time::Instant, tokio::task::JoinHandle<()>)>,
}

pub(super) async fn run(
    hub: Arc<Hub>,
    client: AsyncClient,
    mut connection: watch::Receiver<Connection>,
    mut commands: mpsc::Receiver<Message>,
    topics: Topics,
    discovery: Option<Discovery>,
) {
    let mut events = hub.events();
    let mut bridge = Bridge {
        hub,
        client,
        topics,
        discovery,
        connected: false,
        shown: BTreeMap::new(),
        snapshots: BTreeMap::new(),
    };
    let mut sessions = 0;
    let mut every = tokio::time::interval(EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            changed = connection.changed() => {
                if changed.is_err() {
                    return;
                }
                let now = *connection.borrow_and_update();
                bridge.connected = now.up;
                if now.up && now.sessions != sessions {
                    sessions = now.sessions;
                    bridge.new_session().await;
                }
            }
            message = commands.recv() => match message {
                Some(Message {
                    topic,
                    payload,
                    retained,
                }) => bridge.command(&topic, &payload, retained).await,
                None => return,
            },
            event = events.recv() => match event {
                Ok(event) => bridge.event(&event).await,
                Err(RecvError::Lagged(_)) => bridge.sync(false).await,
                Err(RecvError::Closed) => return,
            },
            _ = every.tick() => bridge.sync(true).await,
        }
    }
}

impl Bridge {
    async fn send(&self, topic: String, retain: bool, payload: impl Into<Vec<u8>>) {
        if self.connected
            && let Err(e) = self
                .client
                .publish(topic, QoS::AtLeastOnce, retain, payload)
                .await
        {
            tracing::debug!(error = %e, "MQTT message dropped");
        }
    }

    async fn on_off(&self, camera: &str, leaf: &str, on: bool) {
        let word = if on { "ON" } else { "OFF" };
        self.send(self.topics.camera(camera, leaf), true, word)
            .await;
    }

    /// A new session: subscriptions, availability, then every camera from the start.
    async fn new_session(&mut self) {
        for topic in self.topics.commands() {
            let _ = self.client.subscribe(topic, QoS::AtLeastOnce).await;
        }
        self.send(self.topics.available(), true, "online").await;
        self.shown.clear();
        self.sync(true).await;
    }

    /// Sends what changed since the broker was last told, for every camera; and, with
    /// `level`, the levels that moved.
    async fn sync(&mut self, level: bool) {
        if !self.connected {
            return;
        }
        let entries = self.hub.list();
        for entry in &entries {
            self.sync_camera(entry, level).await;
        }
        let forgotten: Vec<String> = self
            .shown
            .keys()
            .filter(|name| !entries.iter().any(|e| e.camera.name() == name.as_str()))
            .cloned()
            .collect();
        for name in forgotten {
            self.forget(&name).await;
        }
    }

    async fn sync_camera(&mut self, entry: &Entry, level: bool) {
        let name = entry.camera.name();
        let (detection, recording) = {
            let s = entry.motion.settings.borrow();
            (s.enabled, s.record)
        };
        let (now_level, in_event) = {
            let s = entry.motion.status.borrow();
            (s.level, s.in_event)
        };
        let online = entry.camera.is_online();
        let known = self.shown.contains_key(name);
        if !known && let Some(d) = &self.discovery {
            for (topic, config) in d.configs(name) {
                self.send(topic, true, config.to_string()).await;
            }
        }
        let mut shown = self.shown.remove(name).unwrap_or_default();
        if !known || shown.online != online {
            let word = if online { "online" } else { "offline" };
            self.send(self.topics.camera(name, "online"), true, word)
                .await;
        }
        if !known || shown.detection != detection {
            self.on_off(name, "motion/state", detection).await;
        }
        if !known || shown.recording != recording {
            self.on_off(name, "record/state", recording).await;
        }
        // Motion follows the events (the status may be a frame behind them); it is read
        // from the status only when the broker has nothing yet, or detection is off.
        let motion = if known {
            shown.motion && detection
        } else {
            in_event
        };
        if !known || shown.motion != motion {
            self.on_off(name, "motion", motion).await;
        }
        let hundredths = (now_level * 100.0).round() as u32;
        if level && self.connected && detection && online && shown.level != Some(hundredths) {
            let text = format!("{:.2}", f64::from(hundredths) / 100.0);
            if let Err(e) = self.client.try_publish(
                self.topics.camera(name, "level"),
                QoS::AtMostOnce,
                false,
                text,
            ) {
                tracing::debug!(error = %e, "MQTT level dropped");
            }
            shown.level = Some(hundredths);
        }
        shown.online = online;
        shown.detection = detection;
        shown.recording = recording;
        shown.motion = motion;
        self.shown.insert(name.to_owned(), shown);
    }

    /// The hub forgot `camera`: its retained messages and its Home Assistant device go.
    async fn forget(&mut self, camera: &str) {
        self.shown.remove(camera);
        self.snapshots.remove(camera);
        if let Some(d) = &self.discovery {
            for (topic, _) in d.configs(camera) {
                self.send(topic, true, "").await;
            }
        }
        for leaf in [
            "online",
            "motion",
            "motion/state",
            "record/state",
            "snapshot",
        ] {
            self.send(self.topics.camera(camera, leaf), true, "").await;
        }
    }

    async fn event(&mut self, event: &HubEvent) {
        if !self.connected {
            return;
        }
        let camera = event.camera.as_str();
        let json = serde_json::to_vec(event).unwrap_or_default();
        self.send(self.topics.camera(camera, "events"), false, json)
            .await;
        match event.what {
            What::MotionStart => {
                self.motion(camera, true).await;
                self.snapshot(camera, false);
            }
            What::MotionEnd { .. } => self.motion(camera, false).await,
            What::CameraOnline | What::CameraOffline => {
                if let Some(entry) = self.hub.entry(camera) {
                    self.sync_camera(&entry, false).await;
                }
            }
            _ => {}
        }
    }

    async fn motion(&mut self, camera: &str, on: bool) {
        if let Some(entry) = self.hub.entry(camera) {
            // A camera new to the broker gets its whole state first.
            self.sync_camera(&entry, false).await;
        }
        if let Some(shown) = self.shown.get_mut(camera)
            && shown.motion != on
        {
            shown.motion = on;
            self.on_off(camera, "motion", on).await;
        }
    }

    /// The camera's newest picture on `<camera>/snapshot` (retained), made in a task of
    /// its own (a video camera may have to decode one first). None while the broker is
    /// away or the camera's last is still being made; one `asked` for is made then, one
    /// for motion only [`SNAPSHOT_EVERY`] after the last.
    fn snapshot(&mut self, camera: &str, asked: bool) {
        let now = std::time::Instant::now();
        let busy = self.snapshots.get(camera).is_some_and(|(at, task)| {
            !task.is_finished() || (!asked && now.duration_since(*at) < SNAPSHOT_EVERY)
        });
        if !self.connected || busy {
            return;
        }
        let Some(entry) = self.hub.entry(camera) else {
            return;
        };
        let client = self.client.clone();
        let topic = self.topics.camera(camera, "snapshot");
        let task = tokio::spawn(async move {
            let Some(frame) = entry.camera.snapshot().await else {
                return;
            };
            let jpeg: Bytes = frame.jpeg.clone();
            if let Err(e) = client.try_publish(topic, QoS::AtMostOnce, true, jpeg.to_vec()) {
                tracing::debug!(error = %e, "MQTT snapshot dropped");
            }
        });
        self.snapshots.insert(camera.to_owned(), (now, task));
    }

    async fn command(&mut self, topic: &str, payload: &[u8], retained: bool) {
        if retained {
            // Kept by the broker, it would act again at every connection, undoing every
            // later change made elsewhere: a command acts once, when it is sent.
            tracing::warn!(
                topic = %crate::excerpt::of(topic),
                "MQTT command ignored: it is retained (commands act when sent; clear it \
                 with mosquitto_pub -r -n -t TOPIC)"
            );
            return;
        }
        let Some((camera, command)) = self.topics.command(topic, payload) else {
            tracing::debug!(topic, "MQTT message not understood");
            return;
        };
        let Some(entry) = self.hub.entry(camera) else {
            return;
        };
        let update = match command {
            Command::Snapshot => return self.snapshot(camera, true),
            Command::Detection(on) => MotionUpdate {
                enabled: Some(on),
                ..MotionUpdate::default()
            },
            Command::Recording(on) => MotionUpdate {
                record: Some(on),
                ..MotionUpdate::default()
            },
        };
        let changed = self.hub.change_motion(camera, &entry.motion, update).await;
        if changed.is_err() {
            tracing::warn!(
                camera,
                topic,
                "MQTT command not applied: the settings could not be saved"
            );
        }
        // The state, changed or not, echoed at once.
        self.sync_camera(&entry, false).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_read_from_their_topics() {
        let t = Topics::new("home/cams");
        assert_eq!(
            t.command("home/cams/door/motion/set", b"ON"),
            Some(("door", Command::Detection(true)))
        );
        assert_eq!(
            t.command("home/cams/door/record/set", b"OFF\n"),
            Some(("door", Command::Recording(false)))
        );
        assert_eq!(
            t.command("home/cams/door/snapshot/get", b""),
            Some(("door", Command::Snapshot))
        );
        assert_eq!(t.command("home/cams/door/motion/set", b"maybe"), None);
        assert_eq!(t.command("home/other/door/motion/set", b"ON"), None);
        assert_eq!(t.command("home/cams/door/level", b"ON"), None);
    }
}
