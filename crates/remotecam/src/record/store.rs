//! The recordings directory: clip files by camera and day, the index beside them, crash
//! recovery at start, and retention.
//!
//! Layout: `<data dir>/recordings/index.sqlite` and
//! `<data dir>/recordings/<camera>/<YYYY-MM-DD>/<HHMMSS>-<id>.mp4` (and `.jpg`, the
//! thumbnail), days and times in UTC.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::error::{Kind, RecordError};
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

/// Why a clip could not be deleted.
#[derive(Debug, thiserror::Error)]
pub enum DeleteError {
    #[error("no recording {0}")]
    NotFound(i64),
    #[error("recording {0} is still being written; delete it once it ends")]
    InProgress(i64),
    #[error("{0}")]
    Record(RecordError),
}

#[derive(Debug)]
pub struct Recordings {
    root: PathBuf,
    pub index: Index,
    retention: Retention,
    /// Recorder threads alive (each finishes its clip before it ends), so that a hub
    /// that is stopping can wait for its clips to be closed.
    writers: tokio::sync::watch::Sender<usize>,
    /// Clips whose file is closed but whose row still says `recording`, because the
    /// index could not be written then (a full disk, a locked index). Marked finished
    /// at the next listing, deletion or retention, so that a user freeing room is not
    /// refused the clip; a restart's recovery would finish them too.
    unfinished: Mutex<Vec<ClipRow>>,
}

/// A recorder thread's place in [`Recordings`]' count, for as long as it lives.
#[derive(Debug)]
pub struct Writer(tokio::sync::watch::Sender<usize>);

impl Drop for Writer {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n -= 1);
    }
}

/// The index's file name in the recordings directory.
const INDEX: &str = "index.sqlite";

/// Renames a damaged index (and its WAL files) to `index.sqlite.damaged-<unix s>`.
fn set_aside(path: &Path) -> Result<PathBuf, RecordError> {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let aside = path.with_file_name(format!("{INDEX}.damaged-{secs}"));
    std::fs::rename(path, &aside).map_err(|e| {
        let doing = format_args!("cannot set the damaged index {} aside", path.display());
        RecordError::io(doing, &e)
    })?;
    for suffix in ["-wal", "-shm"] {
        let side = path.with_file_name(format!("{INDEX}{suffix}"));
        if side.exists() {
            let _ = std::fs::rename(
                &side,
                aside.with_file_name(format!("{INDEX}.damaged-{secs}{suffix}")),
            );
        }
    }
    Ok(aside)
}

/// The clip files under `root`: (camera, day, file name without `.mp4`).
fn clip_files(root: &Path) -> Vec<(String, String, String)> {
    let dirs = |p: &Path| -> Vec<(String, PathBuf)> {
        std::fs::read_dir(p)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| Some((e.file_name().into_string().ok()?, e.path())))
            .collect()
    };
    let mut out = Vec::new();
    for (camera, camera_dir) in dirs(root) {
        for (day, day_dir) in dirs(&camera_dir) {
            for entry in std::fs::read_dir(&day_dir).into_iter().flatten().flatten() {
                let name = entry.file_name().into_string().unwrap_or_default();
                if let Some(stem) = name.strip_suffix(".mp4") {
                    out.push((camera.clone(), day.clone(), stem.to_owned()));
                }
            }
        }
    }
    out.sort();
    out
}

/// A clip's start from its path (see [`Recordings::stem`]): `2026-11-22`, `081500-7`.
fn stem_start_ms(day: &str, name: &str) -> Option<i64> {
    let (hms, id) = name.split_once('-')?;
    if hms.len() != 6 || !hms.bytes().all(|b| b.is_ascii_digit()) || id.parse::<i64>().is_err() {
        return None;
    }
    let t = format!("{day}T{}:{}:{}Z", &hms[..2], &hms[2..4], &hms[4..]);
    t.parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_millisecond())
}

impl Recordings {
    /// Opens the recordings under `root` (creating it), and finishes what a crash left:
    /// clips left in progress are cut back to their last whole fragment and listed (or
    /// removed when empty); rows whose file is gone are dropped.
    ///
    /// A damaged index (a file that is not a database) is set aside, renamed, never
    /// deleted, and a new one is built from the clip files, which hold their own
    /// durations: clips get new ids, their start is the second their file name gives,
    /// and their motion frames and peak are not known (0).
    pub fn open(root: &Path, retention: Retention) -> Result<Recordings, RecordError> {
        std::fs::create_dir_all(root)
            .map_err(|e| RecordError::io(format_args!("cannot create {}", root.display()), &e))?;
        let path = root.join(INDEX);
        let index = match Index::open(&path) {
            Ok(index) => index,
            Err(e) if path.exists() => {
                let aside = set_aside(&path)?;
                tracing::warn!(
                    error = %e,
                    kept = %aside.display(),
                    "the recordings index is damaged: set aside, and rebuilt from the clip files"
                );
                Index::open(&path)?
            }
            Err(e) => return Err(e.into()),
        };
        let recordings = Recordings {
            root: root.to_owned(),
            index,
            retention,
            writers: tokio::sync::watch::Sender::new(0),
            unfinished: Mutex::default(),
        };
        recordings.recover()?;
        recordings.index_orphans()?;
        Ok(recordings)
    }

    /// Files and rows agree again if the index file was removed under the hub (the
    /// recordings directory deleted): a new index is opened and the clip files still
    /// there are listed. Cheap (one `stat`) when nothing happened; called before
    /// listing and before each clip.
    pub fn check_index(&self) -> Result<(), RecordError> {
        let path = self.root.join(INDEX);
        if path.exists() {
            return Ok(());
        }
        tracing::warn!(path = %path.display(), "the recordings index was removed: starting a new one");
        std::fs::create_dir_all(&self.root).map_err(|e| {
            RecordError::io(format_args!("cannot create {}", self.root.display()), &e)
        })?;
        self.index.reopen(&path)?;
        self.index_orphans()
    }

    /// Lists the clip files that have no row (the index was lost, set aside or
    /// removed): each is cut back to its last whole fragment, as after a crash, and
    /// gets a new row; a file without one whole fragment is removed.
    fn index_orphans(&self) -> Result<(), RecordError> {
        let known: std::collections::HashSet<String> =
            self.index.all()?.into_iter().map(|c| c.stem).collect();
        for (camera, day, name) in clip_files(&self.root) {
            let stem = format!("{camera}/{day}/{name}");
            if known.contains(&stem) {
                continue;
            }
            let Some(start_ms) = stem_start_ms(&day, &name) else {
                tracing::warn!(%stem, "a file in the recordings that is not a clip; left alone");
                continue;
            };
            let mut clip = ClipRow {
                id: 0,
                camera,
                start_ms,
                end_ms: start_ms,
                frames: 0,
                motion_frames: 0,
                peak: 0.0,
                bytes: 0,
                in_progress: false,
                stem,
                remote: None,
                local: true,
            };
            match fmp4::recover(&self.mp4_path(&clip)) {
                Ok(Some(written)) => {
                    clip.frames = written.frames as i64;
                    clip.bytes = written.bytes as i64;
                    clip.end_ms = start_ms + written.millis();
                    clip.id = self.index.insert_done(&clip)?;
                    tracing::info!(clip = clip.id, stem = %clip.stem, "listed a clip file the index did not have");
                }
                Ok(None) => self.remove_files_and_row(&clip)?,
                Err(e) => {
                    tracing::warn!(stem = %clip.stem, error = %e, "cannot read a clip file; left as it is")
                }
            }
        }
        Ok(())
    }

    /// Counts a recorder thread until the returned value is dropped.
    pub fn writer(&self) -> Writer {
        self.writers.send_modify(|n| *n += 1);
        Writer(self.writers.clone())
    }

    /// Waits until every recorder thread has finished its clip, for `within` at most;
    /// false if some had not.
    pub async fn writers_done(&self, within: std::time::Duration) -> bool {
        let mut rx = self.writers.subscribe();
        tokio::time::timeout(within, rx.wait_for(|n| *n == 0))
            .await
            .is_ok()
    }

    fn recover(&self) -> Result<(), RecordError> {
        for mut clip in self.index.in_progress()? {
            let mp4 = self.mp4_path(&clip);
            match fmp4::recover(&mp4) {
                Ok(Some(written)) => {
                    clip.frames = written.frames as i64;
                    clip.bytes = written.bytes as i64;
                    clip.end_ms = clip.start_ms + written.millis();
                    clip.in_progress = false;
                    self.index.update(&clip)?;
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
        for clip in self.index.all()? {
            if !clip.in_progress && clip.local && !self.mp4_path(&clip).exists() {
                tracing::warn!(clip = clip.id, "clip file missing; dropped from the index");
                self.index.remove(clip.id)?;
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

    pub fn list(&self, q: &Query) -> Result<Vec<ClipRow>, RecordError> {
        self.check_index()?;
        self.finish_unfinished();
        Ok(self.index.list(q)?)
    }

    /// Marks a clip whose file is closed finished in the index; when the index cannot
    /// be written, the clip is kept to be marked later (see `unfinished`).
    pub fn finish(&self, clip: &ClipRow) -> Result<(), RecordError> {
        let mut unfinished = self.unfinished();
        unfinished.retain(|c| c.id != clip.id);
        self.index.update(clip).map_err(|e| {
            unfinished.push(clip.clone());
            e.into()
        })
    }

    /// Tries again to mark finished the clips the index could not take before.
    fn finish_unfinished(&self) {
        self.unfinished()
            .retain(|clip| match self.index.update(clip) {
                Ok(()) => {
                    tracing::info!(clip = clip.id, camera = %clip.camera, "clip marked finished");
                    false
                }
                Err(_) => true,
            });
    }

    fn unfinished(&self) -> std::sync::MutexGuard<'_, Vec<ClipRow>> {
        self.unfinished
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub fn get(&self, id: i64) -> Result<Option<ClipRow>, RecordError> {
        Ok(self.index.get(id)?)
    }

    /// Removes a finished clip: files first, then its row (so the index never lists a
    /// clip whose file is gone, except between these two steps). A clip whose file is
    /// closed but which the index could not mark finished may go too: that is how a
    /// user makes room on a full disk.
    pub fn delete(&self, id: i64) -> Result<ClipRow, DeleteError> {
        self.finish_unfinished();
        let clip = self
            .get(id)
            .map_err(DeleteError::Record)?
            .ok_or(DeleteError::NotFound(id))?;
        let closed = self.unfinished().iter().any(|c| c.id == id);
        if clip.in_progress && !closed {
            return Err(DeleteError::InProgress(id));
        }
        self.remove_files_and_row(&clip)
            .map_err(DeleteError::Record)?;
        self.unfinished().retain(|c| c.id != id);
        Ok(clip)
    }

    /// Removes a clip's files and row, whatever its state (the recorder discarding a
    /// clip, or recovery dropping an empty one).
    pub fn remove_files_and_row(&self, clip: &ClipRow) -> Result<(), RecordError> {
        self.remove_files(clip)?;
        Ok(self.index.remove(clip.id)?)
    }

    /// Removes a clip's files from the disk (its row stays).
    fn remove_files(&self, clip: &ClipRow) -> Result<(), RecordError> {
        for path in [self.mp4_path(clip), self.jpg_path(clip)] {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    let doing = format_args!("cannot remove {}", path.display());
                    return Err(RecordError::io(doing, &e));
                }
            }
        }
        // An emptied day directory goes too (the camera directory stays).
        if let Some(day) = self.mp4_path(clip).parent() {
            let _ = std::fs::remove_dir(day);
        }
        Ok(())
    }

    /// Bytes of every clip the index lists.
    pub fn total_bytes(&self) -> Result<u64, RecordError> {
        Ok(self.index.total_bytes()?.max(0) as u64)
    }

    /// Free bytes on the recordings' filesystem, for an unprivileged writer.
    pub fn free_bytes(&self) -> Option<u64> {
        let st = rustix::fs::statvfs(&self.root).ok()?;
        Some(st.f_bavail.saturating_mul(st.f_frsize))
    }

    /// Removes the oldest finished clips until the retention limits hold (or nothing
    /// finished is left). Returns the clips removed. A clip uploaded to object storage
    /// only leaves the disk: it stays listed, served from the store.
    pub fn enforce_retention(&self) -> Result<Vec<ClipRow>, RecordError> {
        self.finish_unfinished();
        let mut removed = Vec::new();
        let now = now_ms();
        let mut total = self.index.total_bytes()?.max(0) as u64;
        let mut free = self.free_bytes().unwrap_or(u64::MAX);
        loop {
            let batch = self.index.oldest_done(64)?;
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
                if clip.remote.is_some() {
                    self.remove_files(&clip)?;
                    self.index.set_not_local(clip.id)?;
                } else {
                    self.remove_files_and_row(&clip)?;
                }
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
    pub fn room_to_record(&self) -> Result<(), RecordError> {
        self.check_index()?;
        if let Err(e) = self.enforce_retention() {
            tracing::warn!(error = %e, "retention failed");
        }
        match self.free_bytes() {
            Some(free) if free < self.retention.min_free_bytes => Err(RecordError::new(
                Kind::Full,
                format!(
                    "disk full: {} MB free, recording needs at least {} MB",
                    free >> 20,
                    self.retention.min_free_bytes >> 20
                ),
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Recordings with one clip in a real index: its file written, its row still
    /// `recording` (its recorder has not finished it).
    fn one_closed_clip() -> (tempfile::TempDir, Recordings, ClipRow) {
        let dir = tempfile::tempdir().unwrap();
        let recordings = Recordings::open(dir.path(), Retention::default()).unwrap();
        let start = now_ms();
        let mut clip = recordings
            .index
            .begin("yard", start, |id| Recordings::stem("yard", start, id))
            .unwrap();
        let mp4 = recordings.mp4_path(&clip);
        std::fs::create_dir_all(mp4.parent().unwrap()).unwrap();
        std::fs::write(&mp4, b"a closed clip").unwrap();
        clip.frames = 30;
        clip.in_progress = false;
        (dir, recordings, clip)
    }

    /// The clip's recorder fails to mark it finished: the index refuses, as a full disk
    /// makes it, until the returned connection runs `DROP TRIGGER full`.
    fn finish_refused(dir: &Path, recordings: &Recordings, clip: &ClipRow) -> rusqlite::Connection {
        let conn = rusqlite::Connection::open(dir.join(INDEX)).unwrap();
        conn.execute_batch(
            "CREATE TRIGGER full BEFORE UPDATE ON clips WHEN NEW.state = 'done'
             BEGIN SELECT RAISE(FAIL, 'database or disk is full'); END;",
        )
        .unwrap();
        assert!(recordings.finish(clip).is_err());
        assert!(recordings.get(clip.id).unwrap().unwrap().in_progress);
        conn
    }

    #[test]
    fn a_clip_the_index_could_not_mark_finished_can_still_be_deleted() {
        let (dir, recordings, clip) = one_closed_clip();
        let _full = finish_refused(dir.path(), &recordings, &clip);

        recordings.delete(clip.id).unwrap();
        assert_eq!(recordings.get(clip.id).unwrap(), None);
        assert!(!recordings.mp4_path(&clip).exists());
    }

    #[test]
    fn a_clip_the_index_could_not_mark_finished_is_marked_once_it_can() {
        let (dir, recordings, clip) = one_closed_clip();
        let full = finish_refused(dir.path(), &recordings, &clip);
        full.execute_batch("DROP TRIGGER full").unwrap();

        let all = Query {
            limit: 10,
            ..Query::default()
        };
        let listed = recordings.list(&all).unwrap();
        assert_eq!(listed.len(), 1);
        assert!(!listed[0].in_progress, "{listed:?}");
        assert_eq!(listed[0].frames, 30);
    }

    #[test]
    fn a_clip_still_being_written_cannot_be_deleted() {
        let (_dir, recordings, clip) = one_closed_clip();
        assert!(matches!(
            recordings.delete(clip.id),
            Err(DeleteError::InProgress(_))
        ));
        assert!(recordings.mp4_path(&clip).exists());
    }
}
