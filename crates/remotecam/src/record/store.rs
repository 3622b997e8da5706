//! The recordings directory: clip files by camera and day, the index beside them, crash
//! recovery at start, and retention.
//!
//! Layout: `<data dir>/recordings/index.sqlite` and
//! `<data dir>/recordings/<camera>/<YYYY-MM-DD>/<HHMMSS>-<id>.mp4` (and `.jpg`, the
//! thumbnail), days and times in UTC.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;

use super::fmp4;
use super::index::{ClipRow, Index, Query};

/// How much the recordings may keep. Oldest clips go first; a clip being written never.
#[derive(Debug, Clone, PartialEq)]
pub struct Retention {
    /// Clips older than this are removed.
    pub max_age: Option<Duration>,
    /// The clips together take at most this many bytes.
    pub max_bytes: Option<u64>,
    /// The disk keeps at least this much free; below it, old clips are removed, and when
    /// none is left to remove, recording stops until there is room.
    pub min_free_bytes: u64,
}

impl Default for Retention {
    fn default() -> Retention {
        Retention {
            max_age: Some(Duration::from_secs(30 * 86_400)),
            max_bytes: None,
            min_free_bytes: 256 << 20,
        }
    }
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// RFC 3339 in UTC, millisecond precision.
pub fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| format!("{t:.3}"))
        .unwrap_or_default()
}

/// Why a clip could not be deleted.
#[derive(Debug, thiserror::Error)]
pub enum DeleteError {
    #[error("no recording {0}")]
    NotFound(i64),
    #[error("recording {0} is still being written; delete it once it ends")]
    InProgress(i64),
    #[error("{0}")]
    Io(String),
}

#[derive(Debug)]
pub struct Recordings {
    root: PathBuf,
    pub index: Index,
    retention: Retention,
}

fn db_err(e: rusqlite::Error) -> String {
    format!("recordings index: {e}")
}

impl Recordings {
    /// Opens the recordings under `root` (creating it), and finishes what a crash left:
    /// clips left in progress are cut back to their last whole fragment and listed (or
    /// removed when empty); rows whose file is gone are dropped.
    pub fn open(root: &Path, retention: Retention) -> Result<Recordings, String> {
        std::fs::create_dir_all(root)
            .map_err(|e| format!("cannot create {}: {e}", root.display()))?;
        let index = Index::open(&root.join("index.sqlite")).map_err(db_err)?;
        let recordings = Recordings {
            root: root.to_owned(),
            index,
            retention,
        };
        recordings.recover()?;
        Ok(recordings)
    }

    fn recover(&self) -> Result<(), String> {
        for mut clip in self.index.in_progress().map_err(db_err)? {
            let mp4 = self.mp4_path(&clip);
            match fmp4::recover(&mp4) {
                Ok(Some(written)) => {
                    clip.frames = written.frames as i64;
                    clip.bytes = written.bytes as i64;
                    clip.end_ms = clip.start_ms + written.millis();
                    clip.in_progress = false;
                    self.index.update(&clip).map_err(db_err)?;
                    tracing::info!(
                        clip = clip.id,
                        camera = %clip.camera,
                        seconds = written.seconds(),
                        "recovered a clip left unfinished"
                    );
                }
                Ok(None) => self.remove_files_and_row(&clip)?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    self.remove_files_and_row(&clip)?;
                }
                Err(e) => {
                    tracing::warn!(clip = clip.id, error = %e, "cannot recover a clip; left as it is");
                }
            }
        }
        for clip in self.index.all().map_err(db_err)? {
            if !clip.in_progress && !self.mp4_path(&clip).exists() {
                tracing::warn!(clip = clip.id, "clip file missing; dropped from the index");
                self.index.remove(clip.id).map_err(db_err)?;
            }
        }
        Ok(())
    }

    /// The file path stem for a new clip.
    pub fn stem(camera: &str, start_ms: i64, id: i64) -> String {
        let t = jiff::Timestamp::from_millisecond(start_ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        format!(
            "{camera}/{}/{}-{id}",
            t.strftime("%Y-%m-%d"),
            t.strftime("%H%M%S")
        )
    }

    pub fn mp4_path(&self, clip: &ClipRow) -> PathBuf {
        self.root.join(format!("{}.mp4", clip.stem))
    }

    pub fn jpg_path(&self, clip: &ClipRow) -> PathBuf {
        self.root.join(format!("{}.jpg", clip.stem))
    }

    /// A clip as the API lists it.
    pub fn clip_json(clip: &ClipRow) -> serde_json::Value {
        json!({
            "id": clip.id,
            "camera": clip.camera,
            "start": rfc3339(clip.start_ms),
            "end": rfc3339(clip.end_ms),
            "duration_s": (clip.end_ms - clip.start_ms) as f64 / 1000.0,
            "frames": clip.frames,
            "motion_frames": clip.motion_frames,
            "peak": clip.peak,
            "bytes": clip.bytes,
            "video_url": format!("/api/recordings/{}.mp4", clip.id),
            "thumbnail_url": format!("/api/recordings/{}.jpg", clip.id),
            "in_progress": clip.in_progress,
        })
    }

    pub fn list(&self, q: &Query) -> Result<Vec<ClipRow>, String> {
        self.index.list(q).map_err(db_err)
    }

    pub fn get(&self, id: i64) -> Result<Option<ClipRow>, String> {
        self.index.get(id).map_err(db_err)
    }

    /// Removes a finished clip: files first, then its row (so the index never lists a
    /// clip whose file is gone, except between these two steps).
    pub fn delete(&self, id: i64) -> Result<ClipRow, DeleteError> {
        let clip = self
            .get(id)
            .map_err(DeleteError::Io)?
            .ok_or(DeleteError::NotFound(id))?;
        if clip.in_progress {
            return Err(DeleteError::InProgress(id));
        }
        self.remove_files_and_row(&clip).map_err(DeleteError::Io)?;
        Ok(clip)
    }

    /// Removes a clip's files and row, whatever its state (the recorder discarding a
    /// clip, or recovery dropping an empty one).
    pub fn remove_files_and_row(&self, clip: &ClipRow) -> Result<(), String> {
        for path in [self.mp4_path(clip), self.jpg_path(clip)] {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("cannot remove {}: {e}", path.display())),
            }
        }
        // An emptied day directory goes too (the camera directory stays).
        if let Some(day) = self.mp4_path(clip).parent() {
            let _ = std::fs::remove_dir(day);
        }
        self.index.remove(clip.id).map_err(db_err)
    }

    /// Free bytes on the recordings' filesystem, for an unprivileged writer.
    pub fn free_bytes(&self) -> Option<u64> {
        let st = rustix::fs::statvfs(&self.root).ok()?;
        Some(st.f_bavail.saturating_mul(st.f_frsize))
    }

    /// Removes the oldest finished clips until the retention limits hold (or nothing
    /// finished is left). Returns the clips removed.
    pub fn enforce_retention(&self) -> Result<Vec<ClipRow>, String> {
        let mut removed = Vec::new();
        let now = now_ms();
        let mut total = self.index.total_bytes().map_err(db_err)?.max(0) as u64;
        let mut free = self.free_bytes().unwrap_or(u64::MAX);
        loop {
            let batch = self.index.oldest_done(64).map_err(db_err)?;
            if batch.is_empty() {
                return Ok(removed);
            }
            for clip in batch {
                let too_old = self
                    .retention
                    .max_age
                    .is_some_and(|age| clip.end_ms < now - age.as_millis() as i64);
                let too_big = self.retention.max_bytes.is_some_and(|max| total > max);
                let too_full = free < self.retention.min_free_bytes;
                if !(too_old || too_big || too_full) {
                    return Ok(removed);
                }
                self.remove_files_and_row(&clip)?;
                let bytes = clip.bytes.max(0) as u64;
                total = total.saturating_sub(bytes);
                free = match self.free_bytes() {
                    Some(f) => f,
                    None => free.saturating_add(bytes),
                };
                tracing::info!(
                    clip = clip.id,
                    camera = %clip.camera,
                    too_old,
                    too_big,
                    too_full,
                    "retention removed a clip"
                );
                removed.push(clip);
            }
        }
    }

    /// Whether a new clip may start: retention first, then the free-space floor.
    pub fn room_to_record(&self) -> Result<(), String> {
        if let Err(e) = self.enforce_retention() {
            tracing::warn!(error = %e, "retention failed");
        }
        match self.free_bytes() {
            Some(free) if free < self.retention.min_free_bytes => Err(format!(
                "disk full: {} MB free, recording needs at least {} MB",
                free >> 20,
                self.retention.min_free_bytes >> 20
            )),
            _ => Ok(()),
        }
    }
}
