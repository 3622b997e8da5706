//! The set of cameras.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use thiserror::Error;

use tokio::sync::broadcast;

use crate::camera::{Camera, SourceKind};
use crate::counts::Counts;
use crate::events::HubEvent;
use crate::health::HealthReport;
use crate::motion::{Motion, SettingsStore};
use crate::record::store::Recordings;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum NameError {
    #[error("camera name must be 1 to 64 characters")]
    Length,
    #[error("camera name may contain only a-z, 0-9, '_' and '-' (got {0:?})")]
    Character(char),
}

/// Checks a camera name and returns it lower-cased: `[a-z0-9_-]{1,64}`.
pub fn camera_name(raw: &str) -> Result<String, NameError> {
    let name = raw.to_ascii_lowercase();
    if name.is_empty() || name.len() > 64 {
        return Err(NameError::Length);
    }
    if let Some(c) = name
        .chars()
        .find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '_' | '-'))
    {
        return Err(NameError::Character(c));
    }
    Ok(name)
}

#[derive(Debug, Error, PartialEq, Eq)]
#[error(
    "the hub is full: it keeps at most {0} camera(s) (--max-cameras), and none is offline to make room"
)]
pub struct TooManyCameras(pub usize);

/// Cameras one scoped token may bring into being by publishing (those the hub still
/// has): a publisher link cannot fill the hub with names, each of which pushes out
/// another's offline camera.
pub const CAMERAS_PER_TOKEN: usize = 8;

#[derive(Debug, Error, PartialEq, Eq)]
#[error(
    "this token has brought {0} cameras into being, the most one token may: publish under one \
     of them, or have an admin forget one (DELETE /api/cameras/NAME) or give a token of its own"
)]
pub struct TooManyForToken(pub usize);

/// What the hub keeps of each camera: its frame bus, and beside it (not inside it)
/// motion detection's settings and state, which the API, the motion task and the
/// recorder share. The camera knows nothing of who consumes its frames.
#[derive(Debug, Clone)]
pub struct Entry {
    pub camera: Arc<Camera>,
    pub motion: Arc<Motion>,
    /// What was sent of it and what happened to it (`/metrics`): forgotten with it.
    pub counts: Arc<Counts>,
    /// What its publisher page last said of the phone's health, while it publishes.
    pub health: Arc<HealthReport>,
}

/// Called with each camera the hub makes, to start what works on it (the server starts
/// its motion task); the hub itself starts nothing.
pub type OnNewCamera = Box<dyn Fn(&Hub, &Entry) + Send + Sync>;

/// Where the hub's clips go: recordings, none (a hub without a data directory), or the
/// reason they could not be opened (every camera's recording state and
/// `/api/recordings` tell it).
#[derive(Debug)]
pub enum RecordingsSetup {
    Open(Arc<Recordings>),
    None,
    Failed(String),
}

/// All cameras, by name. A camera is made when a source first publishes to its name
/// and stays listed (offline) when the source leaves, until it is deleted or the hub
/// stops. The number of cameras is capped so that clients cannot grow the hub's memory
/// by inventing names.
pub struct Hub {
    cameras: RwLock<BTreeMap<String, Entry>>,
    max_cameras: usize,
    events: broadcast::Sender<HubEvent>,
    /// Motion settings kept across restarts.
    pub motion_store: SettingsStore,
    recordings: RecordingsSetup,
    on_new_camera: Option<OnNewCamera>,
    /// Set once the hub is stopping: motion tasks end their events and clips.
    stopping: tokio::sync::watch::Sender<bool>,
    /// Set once they have (every clip is finished and its events are sent).
    stopped: tokio::sync::watch::Sender<bool>,
    /// By scoped token (its id): the cameras it brought into being.
    made_by: Mutex<HashMap<String, Vec<String>>>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("max_cameras", &self.max_cameras)
            .finish_non_exhaustive()
    }
}

impl Hub {
    /// Changes `name`'s motion settings (API and MQTT alike): one change at a time
    /// ([`SettingsStore::change`]), its file sync on a blocking thread.
    pub async fn change_motion(
        self: &Arc<Self>,
        name: &str,
        motion: &Arc<Motion>,
        update: crate::motion::MotionUpdate,
    ) -> Result<crate::motion::MotionSettings, crate::motion::ChangeError> {
        let (hub, motion, name) = (Arc::clone(self), Arc::clone(motion), name.to_owned());
        tokio::task::spawn_blocking(move || {
            hub.motion_store.change(&name, &motion.settings, update)
        })
        .await
        .unwrap_or_else(|e| {
            Err(crate::motion::ChangeError::Unsaved(std::io::Error::other(
                e,
            )))
        })
    }

    /// A hub that keeps nothing on disk and starts nothing on its cameras (tests).
    pub fn new(max_cameras: usize) -> Hub {
        Hub::with_parts(
            max_cameras,
            SettingsStore::open(None),
            RecordingsSetup::None,
            None,
        )
    }

    /// A hub with its settings store and recordings, calling `on_new_camera` for each
    /// camera it makes.
    pub fn with_parts(
        max_cameras: usize,
        motion_store: SettingsStore,
        recordings: RecordingsSetup,
        on_new_camera: Option<OnNewCamera>,
    ) -> Hub {
        Hub {
            cameras: RwLock::new(BTreeMap::new()),
            max_cameras,
            events: broadcast::Sender::new(256),
            motion_store,
            recordings,
            on_new_camera,
            stopping: tokio::sync::watch::Sender::new(false),
            stopped: tokio::sync::watch::Sender::new(false),
            made_by: Mutex::default(),
        }
    }

    /// Why there are no recordings, if they failed to open.
    pub fn recordings_error(&self) -> Option<&str> {
        match &self.recordings {
            RecordingsSetup::Failed(e) => Some(e),
            _ => None,
        }
    }

    pub fn recordings(&self) -> Option<&Arc<Recordings>> {
        match &self.recordings {
            RecordingsSetup::Open(r) => Some(r),
            _ => None,
        }
    }

    /// Listens to the hub's events (camera online/offline, motion).
    pub fn events(&self) -> broadcast::Receiver<HubEvent> {
        self.events.subscribe()
    }

    /// Where the hub's events are sent, for the workers that send them.
    pub fn event_sender(&self) -> broadcast::Sender<HubEvent> {
        self.events.clone()
    }

    /// Becomes true when the hub starts to stop ([`Hub::stop`]).
    pub fn stopping(&self) -> tokio::sync::watch::Receiver<bool> {
        self.stopping.subscribe()
    }

    pub fn get(&self, name: &str) -> Option<Arc<Camera>> {
        self.entry(name).map(|e| e.camera)
    }

    /// The camera and what the hub keeps beside it.
    pub fn entry(&self, name: &str) -> Option<Entry> {
        self.cameras
            .read()
            .expect("cameras lock")
            .get(name)
            .cloned()
    }

    /// Whether a camera of this name exists or could be made now (the camera limit).
    pub fn has_room_for(&self, name: &str) -> Result<(), TooManyCameras> {
        let cameras = self.cameras.read().expect("cameras lock");
        if cameras.contains_key(name)
            || cameras.len() < self.max_cameras
            || forgettable(&cameras).is_some()
        {
            Ok(())
        } else {
            Err(TooManyCameras(self.max_cameras))
        }
    }

    pub fn get_or_create(
        &self,
        name: &str,
        source: SourceKind,
    ) -> Result<Arc<Camera>, TooManyCameras> {
        if let Some(cam) = self.get(name) {
            return Ok(cam);
        }
        let mut cameras = self.cameras.write().expect("cameras lock");
        if let Some(entry) = cameras.get(name) {
            return Ok(Arc::clone(&entry.camera));
        }
        if cameras.len() >= self.max_cameras {
            // Full: the browser camera offline the longest makes room (a phone that
            // came once must not block every new camera for ever).
            let Some(old) = forgettable(&cameras) else {
                return Err(TooManyCameras(self.max_cameras));
            };
            tracing::info!(camera = %old, "forgetting the camera offline the longest, to make room");
            cameras.remove(&old);
        }
        let entry = Entry {
            camera: Arc::new(Camera::with_events(
                name.to_owned(),
                source,
                self.events.clone(),
            )),
            motion: Arc::new(Motion::new(self.motion_store.get(name).unwrap_or_default())),
            counts: Arc::default(),
            health: Arc::default(),
        };
        cameras.insert(name.to_owned(), entry.clone());
        drop(cameras);
        if let Some(start) = &self.on_new_camera {
            start(self, &entry);
        }
        Ok(entry.camera)
    }

    /// A clean stop: every motion event ends and its clip is closed (kept, playable,
    /// `clip_saved`), waiting for the recorders for `within` at most. Recovery at the
    /// next start remains for clips a crash leaves.
    pub async fn stop(&self, within: std::time::Duration) {
        self.stopping.send_replace(true);
        if let Some(recordings) = self.recordings()
            && !recordings.writers_done(within).await
        {
            tracing::warn!("stopping with clips still being written; the next start recovers them");
        }
        self.stopped.send_replace(true);
    }

    /// Becomes true when a stop has finished the clips ([`Hub::stop`]): event streams
    /// then end, once they have sent what is queued.
    pub fn stopped(&self) -> tokio::sync::watch::Receiver<bool> {
        self.stopped.subscribe()
    }

    /// Notes that the scoped token `token` (its id) brings the camera `name` into being,
    /// within [`CAMERAS_PER_TOKEN`] of those it made that the hub still has. A camera
    /// that exists is no new one.
    pub fn made_by(&self, token: &str, name: &str) -> Result<(), TooManyForToken> {
        let cameras = self.cameras.read().expect("cameras lock");
        if cameras.contains_key(name) {
            return Ok(());
        }
        let mut made_by = self.made_by.lock().expect("made_by lock");
        let made = made_by.entry(token.to_owned()).or_default();
        made.retain(|n| cameras.contains_key(n));
        if made.len() >= CAMERAS_PER_TOKEN {
            return Err(TooManyForToken(CAMERAS_PER_TOKEN));
        }
        made.push(name.to_owned());
        Ok(())
    }

    /// Every camera with what is kept beside it, by name.
    pub fn list(&self) -> Vec<Entry> {
        self.cameras
            .read()
            .expect("cameras lock")
            .values()
            .cloned()
            .collect()
    }

    /// Forgets an offline camera. Returns `Err(())` if it is online.
    pub fn remove_offline(&self, name: &str) -> Option<Result<(), ()>> {
        let mut cameras = self.cameras.write().expect("cameras lock");
        let entry = cameras.get(name)?;
        if entry.camera.is_online() {
            return Some(Err(()));
        }
        cameras.remove(name);
        Some(Ok(()))
    }
}

/// The offline browser camera whose last frame is the oldest (one that never sent a
/// frame first). Configured cameras are never forgotten.
fn forgettable(cameras: &BTreeMap<String, Entry>) -> Option<String> {
    cameras
        .values()
        .map(|e| &e.camera)
        .filter(|c| c.source().publishes_itself() && !c.is_online())
        .min_by_key(|c| c.latest().frame.map(|f| f.received))
        .map(|c| c.name().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lowercased_and_checked() {
        assert_eq!(camera_name("Front-Door_2").unwrap(), "front-door_2");
        assert_eq!(camera_name(""), Err(NameError::Length));
        assert_eq!(camera_name(&"a".repeat(65)), Err(NameError::Length));
        assert_eq!(camera_name("a b"), Err(NameError::Character(' ')));
        assert_eq!(camera_name("ü"), Err(NameError::Character('ü')));
        assert_eq!(camera_name("../x"), Err(NameError::Character('.')));
    }

    #[test]
    fn camera_count_is_capped() {
        let hub = Hub::new(2);
        hub.get_or_create("a", SourceKind::Browser).unwrap();
        hub.get_or_create("b", SourceKind::Browser).unwrap();
        assert!(hub.get_or_create("a", SourceKind::Browser).is_ok());
        let _a = hub.get("a").unwrap().claim_publisher();
        let _b = hub.get("b").unwrap().claim_publisher();
        assert_eq!(
            hub.get_or_create("c", SourceKind::Browser).unwrap_err(),
            TooManyCameras(2)
        );
    }

    #[test]
    fn a_full_hub_forgets_the_browser_camera_offline_the_longest() {
        let hub = Hub::new(3);
        let info = crate::jpeg::JpegInfo {
            width: 8,
            height: 8,
            components: 3,
        };
        hub.get_or_create("pattern", SourceKind::Test).unwrap();
        for name in ["old", "recent"] {
            let cam = hub.get_or_create(name, SourceKind::Browser).unwrap();
            let lease = cam.claim_publisher();
            lease.publish(bytes::Bytes::from_static(b"x"), info, None);
            drop(lease);
        }
        assert!(hub.has_room_for("new").is_ok());
        hub.get_or_create("new", SourceKind::Browser).unwrap();
        let names: Vec<String> = hub
            .list()
            .iter()
            .map(|e| e.camera.name().to_owned())
            .collect();
        assert_eq!(names, ["new", "pattern", "recent"]);
        // Online cameras and configured ones are never forgotten.
        let _live = hub.get("new").unwrap().claim_publisher();
        let _recent = hub.get("recent").unwrap().claim_publisher();
        assert_eq!(
            hub.get_or_create("another", SourceKind::Browser)
                .unwrap_err(),
            TooManyCameras(3)
        );
    }
}
