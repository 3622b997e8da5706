//! The set of cameras.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use thiserror::Error;

use tokio::sync::broadcast;

use crate::camera::{Camera, SourceKind};
use crate::events::HubEvent;
use crate::motion::live::SettingsStore;
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
#[error("the hub already has {0} cameras, its limit (--max-cameras)")]
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
        }
    }

    /// Gives the hub its recordings (once, before cameras are made: cameras made before
    /// do not record).
    pub fn set_recordings(&self, recordings: Arc<Recordings>) {
        let _ = self.recordings.set(recordings);
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
        if cameras.contains_key(name) || cameras.len() < self.max_cameras {
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
            return Err(TooManyCameras(self.max_cameras));
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
            ));
        }
        Ok(cam)
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
        assert_eq!(
            hub.get_or_create("c", SourceKind::Browser).unwrap_err(),
            TooManyCameras(2)
        );
    }
}
