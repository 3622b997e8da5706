//! The set of cameras.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use thiserror::Error;

use tokio::sync::broadcast;

use crate::camera::{Camera, SourceKind};
use crate::events::HubEvent;
use crate::motion::SettingsStore;
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

/// All cameras, by name. A camera is made when a source first publishes to its name
/// and stays listed (offline) when the source leaves, until it is deleted or the hub
/// stops. The number of cameras is capped so that clients cannot grow the hub's memory
/// by inventing names.
#[derive(Debug)]
pub struct Hub {
    cameras: RwLock<BTreeMap<String, Arc<Camera>>>,
    max_cameras: usize,
    events: broadcast::Sender<HubEvent>,
    /// Motion settings kept across restarts.
    pub motion_store: SettingsStore,
    /// Where motion clips go; unset, nothing is recorded.
    recordings: std::sync::OnceLock<Arc<Recordings>>,
    recordings_error: std::sync::OnceLock<String>,
    /// Set once the hub is stopping: motion tasks end their events and clips.
    stopping: tokio::sync::watch::Sender<bool>,
    /// Set once they have (every clip is finished and its events are sent).
    stopped: tokio::sync::watch::Sender<bool>,
}

impl Hub {
    /// A hub that keeps nothing on disk.
    pub fn new(max_cameras: usize) -> Hub {
        Hub::with_data_dir(max_cameras, None)
    }

    /// A hub that keeps its per-camera settings in `data_dir`.
    pub fn with_data_dir(max_cameras: usize, data_dir: Option<&std::path::Path>) -> Hub {
        Hub {
            cameras: RwLock::new(BTreeMap::new()),
            max_cameras,
            events: broadcast::Sender::new(256),
            motion_store: SettingsStore::open(data_dir),
            recordings: std::sync::OnceLock::new(),
            recordings_error: std::sync::OnceLock::new(),
            stopping: tokio::sync::watch::Sender::new(false),
            stopped: tokio::sync::watch::Sender::new(false),
        }
    }

    /// Gives the hub its recordings (once, before cameras are made: cameras made before
    /// do not record).
    pub fn set_recordings(&self, recordings: Arc<Recordings>) {
        let _ = self.recordings.set(recordings);
    }

    /// Says why the hub has no recordings (they could not be opened): every camera's
    /// recording state and `/api/recordings` tell it.
    pub fn set_recordings_error(&self, error: String) {
        let _ = self.recordings_error.set(error);
    }

    /// Why there are no recordings, if they failed to open.
    pub fn recordings_error(&self) -> Option<&str> {
        self.recordings_error.get().map(String::as_str)
    }

    pub fn recordings(&self) -> Option<&Arc<Recordings>> {
        self.recordings.get()
    }

    /// Listens to the hub's events (camera online/offline, motion).
    pub fn events(&self) -> broadcast::Receiver<HubEvent> {
        self.events.subscribe()
    }

    pub fn get(&self, name: &str) -> Option<Arc<Camera>> {
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
        if let Some(cam) = cameras.get(name) {
            return Ok(Arc::clone(cam));
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
        let cam = Arc::new(Camera::with_events(
            name.to_owned(),
            source,
            self.events.clone(),
        ));
        if let Some(settings) = self.motion_store.get(name) {
            cam.motion.settings.send_replace(settings);
        }
        cameras.insert(name.to_owned(), Arc::clone(&cam));
        // Motion detection waits, costing nothing, until it is enabled; it ends when the
        // camera is dropped. Without a runtime (unit tests) there is none.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(crate::motion::live::run(
                Arc::downgrade(&cam),
                self.events.clone(),
                self.recordings.get().cloned(),
                self.stopping.subscribe(),
            ));
        }
        Ok(cam)
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

    pub fn list(&self) -> Vec<Arc<Camera>> {
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
        let cam = cameras.get(name)?;
        if cam.is_online() {
            return Some(Err(()));
        }
        cameras.remove(name);
        Some(Ok(()))
    }
}

/// The offline browser camera whose last frame is the oldest (one that never sent a
/// frame first). Configured cameras are never forgotten.
fn forgettable(cameras: &BTreeMap<String, Arc<Camera>>) -> Option<String> {
    cameras
        .values()
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
            cam.publish(bytes::Bytes::from_static(b"x"), info, None);
            drop(lease);
        }
        assert!(hub.has_room_for("new").is_ok());
        hub.get_or_create("new", SourceKind::Browser).unwrap();
        let names: Vec<String> = hub.list().iter().map(|c| c.name().to_owned()).collect();
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
