//! The recordings index: one SQLite row per clip.
//!
//! Write order (with the files, see [`super::store`]): a row is inserted, as
//! `recording`, before its file is created; the row becomes `done` only after the file
//! is finished and synced; a clip is removed file first, row second. So after a crash a
//! `done` row always has its file, and a `recording` row is a clip to recover (or to drop
//! when its file never got a whole fragment).

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

/// One clip as the index has it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipRow {
    pub id: i64,
    pub camera: String,
    /// Unix milliseconds of the first frame.
    pub start_ms: i64,
    /// Unix milliseconds of the end of the last whole fragment (in progress) or of the
    /// last frame (done).
    pub end_ms: i64,
    pub frames: i64,
    pub motion_frames: i64,
    /// Highest changed share (percent) seen in the clip.
    pub peak: f64,
    pub bytes: i64,
    pub in_progress: bool,
    /// File path without extension, relative to the recordings directory.
    pub stem: String,
    /// Where the clip was uploaded (`s3://bucket/key` of its video), once it was.
    pub remote: Option<String>,
    /// Its files are on the hub's disk (`false`: retention freed them after the upload;
    /// the clip is then served from the store).
    pub local: bool,
}

/// RFC 3339 in UTC, millisecond precision.
pub fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| format!("{t:.3}"))
        .unwrap_or_default()
}

/// A clip as `GET /api/recordings` lists it (and `clip_saved` carries it): the API's
/// contract, one key per field.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ClipView {
    pub id: i64,
    pub camera: String,
    /// RFC 3339, UTC.
    pub start: String,
    pub end: String,
    pub duration_s: f64,
    pub frames: i64,
    pub motion_frames: i64,
    pub peak: f64,
    pub bytes: i64,
    pub video_url: String,
    pub thumbnail_url: String,
    pub in_progress: bool,
    /// Where the clip is in object storage, once uploaded (`s3://bucket/key`).
    pub remote: Option<String>,
    /// Its files are on the hub's disk (else it is served from the store).
    pub local: bool,
}

impl ClipView {
    pub fn of(clip: &ClipRow) -> ClipView {
        ClipView {
            id: clip.id,
            camera: clip.camera.clone(),
            start: rfc3339(clip.start_ms),
            end: rfc3339(clip.end_ms),
            duration_s: (clip.end_ms - clip.start_ms) as f64 / 1000.0,
            frames: clip.frames,
            motion_frames: clip.motion_frames,
            peak: clip.peak,
            bytes: clip.bytes,
            video_url: format!("/api/recordings/{}.mp4", clip.id),
            thumbnail_url: format!("/api/recordings/{}.jpg", clip.id),
            in_progress: clip.in_progress,
            remote: clip.remote.clone(),
            local: clip.local,
        }
    }
}

/// Which clips to list.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Clips of these cameras; `None`: of every camera.
    pub cameras: Option<Vec<String>>,
    /// Clips that end at or after this (Unix ms).
    pub since_ms: Option<i64>,
    /// Clips that start at or before this (Unix ms).
    pub until_ms: Option<i64>,
    pub limit: u32,
}

#[derive(Debug)]
pub struct Index {
    conn: Mutex<Connection>,
}

const COLUMNS: &str =
    "id, camera, start_ms, end_ms, frames, motion_frames, peak, bytes, state, stem, remote, local";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ClipRow> {
    Ok(ClipRow {
        id: r.get(0)?,
        camera: r.get(1)?,
        start_ms: r.get(2)?,
        end_ms: r.get(3)?,
        frames: r.get(4)?,
        motion_frames: r.get(5)?,
        peak: r.get(6)?,
        bytes: r.get(7)?,
        in_progress: r.get::<_, String>(8)? == "recording",
        stem: r.get(9)?,
        remote: r.get(10)?,
        local: r.get(11)?,
    })
}

impl Index {
    /// Opens (or creates) the index at `path`.
    pub fn open(path: &Path) -> rusqlite::Result<Index> {
        Ok(Index {
            conn: Mutex::new(Index::connect(path)?),
        })
    }

    /// Opens `path` afresh in place of the current file (which was removed under the
    /// hub: its clips are gone with it).
    pub fn reopen(&self, path: &Path) -> rusqlite::Result<()> {
        *self.conn() = Index::connect(path)?;
        Ok(())
    }

    /// An index in memory (for tests).
    #[cfg(test)]
    pub fn in_memory() -> rusqlite::Result<Index> {
        Ok(Index {
            conn: Mutex::new(Index::init(Connection::open_in_memory()?)?),
        })
    }

    fn connect(path: &Path) -> rusqlite::Result<Connection> {
        let conn = Index::init(Connection::open(path)?)?;
        // A file that is not a database, or a damaged one, fails here, not at the
        // first clip (a quick check reads every page: milliseconds for years of clips).
        let check: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
        if check != "ok" {
            return Err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
                Some(format!("the index fails its check: {check}")),
            ));
        }
        Ok(conn)
    }

    fn init(conn: Connection) -> rusqlite::Result<Connection> {
        // WAL: readers (the API) never wait for the recorder; synchronous=FULL: a commit
        // survives a power cut, which the write order above relies on.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS clips (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                camera TEXT NOT NULL,
                start_ms INTEGER NOT NULL,
                end_ms INTEGER NOT NULL,
                frames INTEGER NOT NULL DEFAULT 0,
                motion_frames INTEGER NOT NULL DEFAULT 0,
                peak REAL NOT NULL DEFAULT 0,
                bytes INTEGER NOT NULL DEFAULT 0,
                state TEXT NOT NULL CHECK (state IN ('recording', 'done')),
                stem TEXT NOT NULL DEFAULT ''
            );
            CREATE INDEX IF NOT EXISTS clips_start ON clips (start_ms);
            CREATE INDEX IF NOT EXISTS clips_camera_start ON clips (camera, start_ms);",
        )?;
        // Added with uploads to object storage: an index of an older hub gets it.
        let has_remote = conn
            .prepare("SELECT 1 FROM pragma_table_info('clips') WHERE name = 'remote'")?
            .exists([])?;
        if !has_remote {
            conn.execute_batch(
                "ALTER TABLE clips ADD COLUMN remote TEXT;
                 ALTER TABLE clips ADD COLUMN local INTEGER NOT NULL DEFAULT 1;",
            )?;
        }
        Ok(conn)
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a clip being recorded; `stem` makes its file path from its id.
    pub fn begin(
        &self,
        camera: &str,
        start_ms: i64,
        stem: impl FnOnce(i64) -> String,
    ) -> rusqlite::Result<ClipRow> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO clips (camera, start_ms, end_ms, state) VALUES (?1, ?2, ?2, 'recording')",
            params![camera, start_ms],
        )?;
        let id = tx.last_insert_rowid();
        let stem = stem(id);
        tx.execute(
            "UPDATE clips SET stem = ?1 WHERE id = ?2",
            params![stem, id],
        )?;
        tx.commit()?;
        Ok(ClipRow {
            id,
            camera: camera.to_owned(),
            start_ms,
            end_ms: start_ms,
            frames: 0,
            motion_frames: 0,
            peak: 0.0,
            bytes: 0,
            in_progress: true,
            stem,
            remote: None,
            local: true,
        })
    }

    /// Records a clip's progress (in progress) or its end (`done`).
    pub fn update(&self, clip: &ClipRow) -> rusqlite::Result<()> {
        self.conn().execute(
            "UPDATE clips SET end_ms = ?1, frames = ?2, motion_frames = ?3, peak = ?4,
             bytes = ?5, state = ?6 WHERE id = ?7",
            params![
                clip.end_ms,
                clip.frames,
                clip.motion_frames,
                clip.peak,
                clip.bytes,
                if clip.in_progress {
                    "recording"
                } else {
                    "done"
                },
                clip.id
            ],
        )?;
        Ok(())
    }

    /// Adds a finished clip found on disk without a row (the index was lost); it gets
    /// a new id.
    pub fn insert_done(&self, clip: &ClipRow) -> rusqlite::Result<i64> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO clips (camera, start_ms, end_ms, frames, motion_frames, peak, bytes,
             state, stem) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'done', ?8)",
            params![
                clip.camera,
                clip.start_ms,
                clip.end_ms,
                clip.frames,
                clip.motion_frames,
                clip.peak,
                clip.bytes,
                clip.stem
            ],
        )?;
        Ok(conn.last_insert_rowid())
    }

    /// Finished clips not uploaded yet, oldest first: the upload queue (kept here, it
    /// survives restarts and crashes).
    pub fn not_uploaded(&self, limit: u32) -> rusqlite::Result<Vec<ClipRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM clips WHERE state = 'done' AND remote IS NULL
             ORDER BY id LIMIT ?1"
        ))?;
        stmt.query_map(params![limit], row)?.collect()
    }

    /// How many finished clips wait for their upload.
    pub fn not_uploaded_count(&self) -> rusqlite::Result<i64> {
        self.conn().query_row(
            "SELECT COUNT(*) FROM clips WHERE state = 'done' AND remote IS NULL",
            [],
            |r| r.get(0),
        )
    }

    /// Records where the clip `id` was uploaded.
    pub fn set_remote(&self, id: i64, remote: &str) -> rusqlite::Result<()> {
        self.conn().execute(
            "UPDATE clips SET remote = ?1 WHERE id = ?2",
            params![remote, id],
        )?;
        Ok(())
    }

    /// Records that the clip `id`'s files left the hub's disk (it is in the store).
    pub fn set_not_local(&self, id: i64) -> rusqlite::Result<()> {
        self.conn()
            .execute("UPDATE clips SET local = 0 WHERE id = ?1", params![id])?;
        Ok(())
    }

    pub fn remove(&self, id: i64) -> rusqlite::Result<()> {
        self.conn()
            .execute("DELETE FROM clips WHERE id = ?1", params![id])?;
        Ok(())
    }

    pub fn get(&self, id: i64) -> rusqlite::Result<Option<ClipRow>> {
        self.conn()
            .query_row(
                &format!("SELECT {COLUMNS} FROM clips WHERE id = ?1"),
                params![id],
                row,
            )
            .optional()
    }

    /// Clips matching `q`, newest first.
    pub fn list(&self, q: &Query) -> rusqlite::Result<Vec<ClipRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM clips
             WHERE (?1 IS NULL OR camera IN (SELECT value FROM json_each(?1)))
               AND (?2 IS NULL OR end_ms >= ?2)
               AND (?3 IS NULL OR start_ms <= ?3)
             ORDER BY start_ms DESC, id DESC LIMIT ?4"
        ))?;
        let cameras = q.cameras.as_ref().map(|c| serde_json::json!(c).to_string());
        stmt.query_map(params![cameras, q.since_ms, q.until_ms, q.limit], row)?
            .collect()
    }

    /// Clips left `recording` (by a crash, at start).
    pub fn in_progress(&self) -> rusqlite::Result<Vec<ClipRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM clips WHERE state = 'recording' ORDER BY id"
        ))?;
        stmt.query_map([], row)?.collect()
    }

    /// Finished clips, oldest first (the order retention removes them in).
    pub fn oldest_done(&self, limit: u32) -> rusqlite::Result<Vec<ClipRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM clips WHERE state = 'done' AND local = 1
             ORDER BY start_ms, id LIMIT ?1"
        ))?;
        stmt.query_map(params![limit], row)?.collect()
    }

    /// Bytes of all clips on the hub's disk, finished and in progress.
    pub fn total_bytes(&self) -> rusqlite::Result<i64> {
        self.conn().query_row(
            "SELECT COALESCE(SUM(bytes), 0) FROM clips WHERE local = 1",
            [],
            |r| r.get(0),
        )
    }

    /// Every clip's stem (to check files against rows at start).
    pub fn all(&self) -> rusqlite::Result<Vec<ClipRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM clips"))?;
        stmt.query_map([], row)?.collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clips_are_listed_newest_first_and_filtered() {
        let index = Index::in_memory().unwrap();
        for (cam, start) in [("a", 1000), ("b", 2000), ("a", 3000)] {
            let mut c = index.begin(cam, start, |id| format!("{cam}/{id}")).unwrap();
            c.end_ms = start + 500;
            c.in_progress = false;
            index.update(&c).unwrap();
        }
        let all = index
            .list(&Query {
                limit: 10,
                ..Query::default()
            })
            .unwrap();
        assert_eq!(
            all.iter().map(|c| c.start_ms).collect::<Vec<_>>(),
            [3000, 2000, 1000]
        );
        let b = Query {
            cameras: Some(vec!["b".into(), "c".into()]),
            limit: 10,
            ..Query::default()
        };
        assert_eq!(index.list(&b).unwrap()[0].stem, "b/2");
        assert_eq!(index.list(&b).unwrap().len(), 1);
        let a = Query {
            cameras: Some(vec!["a".into()]),
            since_ms: Some(1600),
            until_ms: Some(3000),
            limit: 10,
        };
        let got = index.list(&a).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].start_ms, got[0].stem.as_str()), (3000, "a/3"));
        assert_eq!(index.oldest_done(1).unwrap()[0].start_ms, 1000);
    }
}
