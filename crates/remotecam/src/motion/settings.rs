//! A camera's motion settings (the `GET/PUT /api/cameras/{name}/motion` contract), the
//! detector's status beside them, and the store that keeps the settings across
//! restarts.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::{ClipRules, DetectorSettings};
use crate::record::recorder::RecordingStatus;

/// Per-camera motion settings, as the API reads and writes them (and the hub keeps in
/// `motion.json` in its data directory).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MotionSettings {
    pub enabled: bool,
    /// Motion events are recorded as clips (when the hub keeps recordings).
    pub record: bool,
    /// With `record`: record all the time, in clips of `max_clip_s` one after the other,
    /// whether detection is on or not (when it is, its events and motion frames are
    /// marked in them).
    pub continuous: bool,
    /// Changed share of the picture (percent) that makes a frame a motion frame.
    pub threshold: f32,
    pub calm_frames: u32,
    pub min_motion_frames: u32,
    pub pre_roll_s: f64,
    pub max_clip_s: f64,
    pub min_gap_s: f64,
    /// Fixed noise level (0 to 255), or null to learn it from the scene.
    pub noise_level: Option<f32>,
    /// Areas to ignore: polygons of [x, y] points from 0 to 1 (x right, y down).
    pub mask: Vec<Vec<[f32; 2]>>,
}

impl Default for MotionSettings {
    fn default() -> MotionSettings {
        let rules = ClipRules::default();
        MotionSettings {
            enabled: false,
            record: true,
            continuous: false,
            threshold: rules.threshold,
            calm_frames: rules.calm_frames,
            min_motion_frames: rules.min_motion_frames,
            pre_roll_s: rules.pre_roll.as_secs_f64(),
            max_clip_s: rules.max_clip.as_secs_f64(),
            min_gap_s: rules.min_gap.as_secs_f64(),
            noise_level: None,
            mask: Vec::new(),
        }
    }
}

/// A change to the settings: any subset of the keys.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MotionUpdate {
    pub enabled: Option<bool>,
    pub record: Option<bool>,
    pub continuous: Option<bool>,
    pub threshold: Option<f32>,
    pub calm_frames: Option<u32>,
    pub min_motion_frames: Option<u32>,
    pub pre_roll_s: Option<f64>,
    pub max_clip_s: Option<f64>,
    pub min_gap_s: Option<f64>,
    #[serde(default, with = "double_option")]
    pub noise_level: Option<Option<f32>>,
    pub mask: Option<Vec<Vec<[f32; 2]>>>,
}

/// `null` sets `Some(None)`; a missing key leaves `None`.
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<f32>>, D::Error> {
        Option::<f32>::deserialize(d).map(Some)
    }
}

/// A motion setting refused: the key at fault (as data, so the config file can point at
/// its line) and why, for a person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SettingError {
    pub key: &'static str,
    pub message: String,
}

impl SettingError {
    fn new(key: &'static str, message: String) -> SettingError {
        SettingError { key, message }
    }
}

impl MotionSettings {
    /// Applies `update`, checking every value; on error nothing changes.
    pub fn apply(&self, update: MotionUpdate) -> Result<MotionSettings, SettingError> {
        let mut s = self.clone();
        if let Some(v) = update.enabled {
            s.enabled = v;
        }
        if let Some(v) = update.record {
            s.record = v;
        }
        if let Some(v) = update.continuous {
            s.continuous = v;
        }
        if let Some(v) = update.threshold {
            if !(0.01..=100.0).contains(&v) {
                return Err(SettingError::new(
                    "threshold",
                    format!("threshold is a percentage of the picture, 0.01 to 100 (got {v})"),
                ));
            }
            s.threshold = v;
        }
        if let Some(v) = update.calm_frames {
            if !(1..=10_000).contains(&v) {
                return Err(SettingError::new(
                    "calm_frames",
                    format!("calm_frames must be 1 to 10000 (got {v})"),
                ));
            }
            s.calm_frames = v;
        }
        if let Some(v) = update.min_motion_frames {
            if v > 10_000 {
                return Err(SettingError::new(
                    "min_motion_frames",
                    format!("min_motion_frames must be at most 10000 (got {v})"),
                ));
            }
            s.min_motion_frames = v;
        }
        let seconds = |key: &'static str, v: f64, max: f64| {
            if v.is_finite() && (0.0..=max).contains(&v) {
                Ok(v)
            } else {
                let message = format!("{key} must be 0 to {max} seconds (got {v})");
                Err(SettingError::new(key, message))
            }
        };
        if let Some(v) = update.pre_roll_s {
            s.pre_roll_s = seconds("pre_roll_s", v, 60.0)?;
        }
        if let Some(v) = update.max_clip_s {
            s.max_clip_s = seconds("max_clip_s", v, 86_400.0)?.max(1.0);
        }
        if let Some(v) = update.min_gap_s {
            s.min_gap_s = seconds("min_gap_s", v, 86_400.0)?;
        }
        if let Some(v) = update.noise_level {
            if let Some(level) = v
                && !(1.0..=255.0).contains(&level)
            {
                return Err(SettingError::new(
                    "noise_level",
                    format!("noise_level must be 1 to 255, or null to learn it (got {level})"),
                ));
            }
            s.noise_level = v;
        }
        if let Some(mask) = update.mask {
            if mask.len() > 16 {
                return Err(SettingError::new(
                    "mask",
                    format!("mask takes at most 16 polygons (got {})", mask.len()),
                ));
            }
            for (i, polygon) in mask.iter().enumerate() {
                if !(3..=64).contains(&polygon.len()) {
                    return Err(SettingError::new(
                        "mask",
                        format!(
                            "mask polygon {i} needs 3 to 64 points (got {})",
                            polygon.len()
                        ),
                    ));
                }
                if polygon.iter().flatten().any(|v| !(0.0..=1.0).contains(v)) {
                    return Err(SettingError::new(
                        "mask",
                        format!(
                            "mask polygon {i}: points are [x, y] from 0 to 1 (fractions of the picture)"
                        ),
                    ));
                }
            }
            s.mask = mask;
        }
        Ok(s)
    }

    /// The detector's settings for these.
    pub fn detector(&self) -> DetectorSettings {
        DetectorSettings {
            noise_level: self.noise_level,
            mask: self
                .mask
                .iter()
                .map(|p| p.iter().map(|[x, y]| (*x, *y)).collect())
                .collect(),
            ..DetectorSettings::default()
        }
    }

    pub fn rules(&self) -> ClipRules {
        let secs = std::time::Duration::from_secs_f64;
        ClipRules {
            threshold: self.threshold,
            calm_frames: self.calm_frames,
            min_motion_frames: self.min_motion_frames,
            pre_roll: secs(self.pre_roll_s),
            max_clip: secs(self.max_clip_s),
            min_gap: secs(self.min_gap_s),
        }
    }
}

/// What the detector last said, for the API and the camera page's graph.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MotionStatus {
    /// Changed share of the last scored frame, percent.
    pub level: f32,
    /// A motion event (a clip, once recording exists) is going on.
    pub in_event: bool,
    /// Sequence number of the last frame scored.
    pub scored_seq: u64,
    /// The noise level in use.
    pub noise: f32,
    /// Why the last frame could not be scored, if it could not.
    pub error: Option<String>,
    /// CPU time the detector takes per scored frame, milliseconds, averaged over about
    /// the last 30 frames: its decoding included (while a clip records, that is the full
    /// decode the recorder then uses). What detection costs, whatever else the machine
    /// runs.
    pub detector_cpu_ms: f32,
}

/// A camera's motion settings and status, kept by the hub beside the camera. The API
/// reads and writes them here; the motion task and the recorder each hold their own
/// handle to the part they report (a `watch::Sender` clone), never the camera.
#[derive(Debug)]
pub struct Motion {
    pub settings: watch::Sender<MotionSettings>,
    pub status: watch::Sender<MotionStatus>,
    /// What the camera's recorder is doing.
    pub recording: watch::Sender<RecordingStatus>,
    /// The last minutes of the level, for the camera page's graph.
    pub history: Arc<super::history::LevelHistory>,
}

impl Motion {
    pub fn new(settings: MotionSettings) -> Motion {
        Motion {
            settings: watch::Sender::new(settings),
            status: watch::Sender::new(MotionStatus::default()),
            recording: watch::Sender::new(RecordingStatus::default()),
            history: Arc::default(),
        }
    }
}

/// Motion settings kept across restarts: `motion.json` in the data directory, a map from
/// camera name to settings, replaced whole on each change (written to a temporary file,
/// synced, then renamed, so a crash leaves the old file or the new one, never half).
#[derive(Debug)]
pub struct SettingsStore {
    path: Option<std::path::PathBuf>,
    saved: std::sync::Mutex<std::collections::BTreeMap<String, MotionSettings>>,
    /// From the config file: keys that win over the saved settings at every start.
    configured: std::sync::Mutex<std::collections::BTreeMap<String, MotionUpdate>>,
    /// From the config file's `[motion]`: the settings of a camera with none saved.
    defaults: std::sync::Mutex<Option<MotionSettings>>,
}

impl SettingsStore {
    /// The store in `data_dir`, or one that keeps nothing (`None`).
    pub fn open(data_dir: Option<&std::path::Path>) -> SettingsStore {
        let path = data_dir.map(|d| d.join("motion.json"));
        let saved = path
            .as_ref()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|bytes| match serde_json::from_slice(&bytes) {
                Ok(map) => Some(map),
                Err(e) => {
                    tracing::warn!(error = %e, "motion.json is unreadable; starting from defaults");
                    None
                }
            })
            .unwrap_or_default();
        SettingsStore {
            path,
            saved: std::sync::Mutex::new(saved),
            configured: std::sync::Mutex::default(),
            defaults: std::sync::Mutex::default(),
        }
    }

    /// The settings `camera` starts with: those saved (or the config file's `[motion]`
    /// defaults), with the config file's keys for the camera over them; `None` when
    /// nothing has anything for it (then it has [`MotionSettings::default`]).
    pub fn get(&self, camera: &str) -> Option<MotionSettings> {
        let saved = self
            .saved
            .lock()
            .expect("settings lock")
            .get(camera)
            .cloned()
            .or_else(|| self.defaults.lock().expect("settings lock").clone());
        let configured = self
            .configured
            .lock()
            .expect("settings lock")
            .get(camera)
            .cloned();
        match (saved, configured) {
            (saved, Some(update)) => {
                let base = saved.unwrap_or_default();
                // Checked when the config file was read; a failure here keeps the base.
                Some(base.apply(update.clone()).unwrap_or_else(|e| {
                    tracing::warn!(camera, error = %e, "motion settings from the config file not applied");
                    base
                }))
            }
            (saved, None) => saved,
        }
    }

    /// The config file's `[motion]` keys (checked when it was read): the settings of
    /// every camera that has none saved.
    pub fn set_defaults(&self, update: MotionUpdate) {
        let defaults = MotionSettings::default().apply(update).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "[motion] from the config file not applied");
            MotionSettings::default()
        });
        *self.defaults.lock().expect("settings lock") = Some(defaults);
    }

    /// The config file's motion keys for `camera`, applied by [`SettingsStore::get`] over
    /// the saved settings whenever the camera is made.
    pub fn configure(&self, camera: &str, update: MotionUpdate) {
        self.configured
            .lock()
            .expect("settings lock")
            .insert(camera.to_owned(), update);
    }

    /// Applies `update` to what `camera` has now, saves the result and makes it the
    /// camera's, one change at a time across the hub: two changes at once (two fields
    /// typed quickly on the camera page, two tools) each start from the other's result,
    /// so one never puts back what the other just set. Blocks on the file's sync.
    pub fn change(
        &self,
        camera: &str,
        settings: &watch::Sender<MotionSettings>,
        update: MotionUpdate,
    ) -> Result<MotionSettings, ChangeError> {
        let mut saved = self.saved.lock().expect("settings lock");
        let next = settings
            .borrow()
            .apply(update)
            .map_err(ChangeError::Refused)?;
        let before = saved.insert(camera.to_owned(), next.clone());
        if let Err(e) = self.write(&saved) {
            match before {
                Some(before) => saved.insert(camera.to_owned(), before),
                None => saved.remove(camera),
            };
            return Err(ChangeError::Unsaved(e));
        }
        settings.send_replace(next.clone());
        Ok(next)
    }

    /// Writes `saved` to the file, if the hub keeps one.
    fn write(
        &self,
        saved: &std::collections::BTreeMap<String, MotionSettings>,
    ) -> std::io::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let json = serde_json::to_vec_pretty(saved).map_err(std::io::Error::other)?;
        crate::files::replace(path, &json)
    }
}

/// Why [`SettingsStore::change`] changed nothing.
#[derive(Debug)]
pub enum ChangeError {
    /// The update itself is wrong (a value out of range): the client's to fix.
    Refused(SettingError),
    /// The data directory could not take the file.
    Unsaved(std::io::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(json: &str) -> SettingError {
        let update: MotionUpdate = serde_json::from_str(json).unwrap();
        MotionSettings::default().apply(update).unwrap_err()
    }

    /// Each refusal names the key at fault as data (the config file points at its line).
    #[test]
    fn refusals_name_their_key() {
        for (json, key) in [
            (r#"{"threshold": 0}"#, "threshold"),
            (r#"{"calm_frames": 0}"#, "calm_frames"),
            (r#"{"min_motion_frames": 10001}"#, "min_motion_frames"),
            (r#"{"pre_roll_s": -1}"#, "pre_roll_s"),
            (r#"{"max_clip_s": 1e9}"#, "max_clip_s"),
            (r#"{"min_gap_s": -2}"#, "min_gap_s"),
            (r#"{"noise_level": 0.5}"#, "noise_level"),
            (r#"{"mask": [[[0, 0], [1, 1]]]}"#, "mask"),
        ] {
            let e = refused(json);
            assert_eq!(e.key, key, "{json}: {e}");
            assert!(e.message.contains(key), "{json}: {e}");
        }
    }
}
