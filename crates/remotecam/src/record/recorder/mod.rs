//! The recorder: one thread per camera that writes the camera's video of motion clips
//! into MP4 files, off the async threads, without decoding or encoding: what it writes
//! is access units, a video camera's own or those its encoder made of a JPEG camera's
//! frames (`stage`).
//!
//! It holds the tap of the camera's video bus (`video/tap.rs`), takes every unit from it
//! in batches ([`TAKE_EVERY`], and before each message, so that a clip's units are
//! there before its frames), keeps the pre-roll of them (`units.rs`), and a clip is the
//! camera's units from the keyframe at or before its first frame. The motion task sends
//! it `Start`, the clip's frames (pre-roll first) and `End`; the frames carry only what
//! the clip rules said of them (motion, the peak for the thumbnail). Messages queue
//! without blocking the sender; when the recorder falls more than [`MAX_QUEUED`] behind,
//! further frames are dropped (counted) rather than the hub's memory growing.
//!
//! A write error stops the clip cleanly: the file is cut back to its last whole
//! fragment and kept, the camera's recording state says why, a `recording_stopped` event
//! goes out, and nothing more is recorded until the next clip finds room.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use tokio::sync::broadcast;

use super::error::RecordError;
use super::fmp4::{ClipFile, TIMESCALE, Written};
use super::index::{ClipRow, ClipView};
use super::store::Recordings;
use super::units::UnitBuffer;
use crate::camera::Shown;
use crate::events::{HubEvent, What};
use crate::frame::epoch_ms;
use crate::picture::{self, I420, JpegEncoder, PictureError};
use crate::video::AccessUnit;
use crate::video::tap::UnitTap;

mod cuts;
mod passthrough;

/// Frames the recorder may be behind before new ones are dropped (about 8 s at 30 fps).
pub const MAX_QUEUED: usize = 240;
/// How often a clip in progress has its index row brought up to date (its file is
/// synced every fragment; after a crash the file is what counts, `fmp4::recover`).
const INDEX_EVERY: Duration = Duration::from_secs(5);
/// How often the recorder takes the units waiting at its tap, when no
/// message comes sooner: a few wake-ups a second instead of one per unit.
const TAKE_EVERY: Duration = Duration::from_millis(200);

/// What a camera's recorder is doing, for the API and the camera page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordingState {
    /// Recording is not possible (no recordings directory) or not asked for.
    #[default]
    Off,
    /// Waiting for motion.
    Idle,
    /// Writing a clip.
    Recording,
    /// Stopped: the disk is full. Live view goes on; recording resumes when a new clip
    /// finds room.
    DiskFull,
    /// Stopped by another write error (the message says which).
    Error,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RecordingStatus {
    pub state: RecordingState,
    /// The clip being written.
    pub clip: Option<i64>,
    pub error: Option<String>,
    /// Frames dropped because the recorder fell behind, since the hub started.
    pub dropped_frames: u64,
}

enum Msg {
    Start,
    Frame {
        frame: Shown,
        score: f32,
        motion: bool,
    },
    End {
        keep: bool,
    },
    /// How far back a clip starts before its trigger (for the units kept).
    PreRoll(Duration),
    /// The camera went away (offline, stalled): no clip reaches back across the gap.
    Gap,
    /// Recording all the time, in clips of this length; none: clips are motion events.
    Continuous(Option<Duration>),
}

/// The motion task's end of a camera's recorder. Dropping it finishes any open clip and
/// ends the thread.
#[derive(Debug)]
pub struct Recorder {
    tx: mpsc::Sender<Msg>,
    queued: Arc<AtomicUsize>,
    /// Frames and units dropped because the recorder was behind.
    dropped: Arc<AtomicU64>,
}

impl Recorder {
    /// Starts the thread; it reports what it does into `status`, and takes the camera's
    /// units from `tap`.
    pub fn spawn(
        status: tokio::sync::watch::Sender<RecordingStatus>,
        name: String,
        recordings: Arc<Recordings>,
        events: broadcast::Sender<HubEvent>,
        tap: Arc<UnitTap>,
    ) -> std::io::Result<Recorder> {
        let (tx, rx) = mpsc::channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let dropped = Arc::new(AtomicU64::new(0));
        let writer = recordings.writer();
        let worker = Worker {
            status,
            name: name.clone(),
            recordings,
            events,
            queued: Arc::clone(&queued),
            clip: None,
            stopped: None,
            dropped: Arc::clone(&dropped),
            tap,
            taken: Vec::new(),
            units: UnitBuffer::new(Duration::ZERO),
            pre_roll: Duration::ZERO,
            continuous: None,
            size_cuts: cuts::SizeCuts::default(),
            _writer: writer,
        };
        std::thread::Builder::new()
            .name(format!("rec-{name}"))
            .spawn(move || worker.run(rx))?;
        Ok(Recorder {
            tx,
            queued,
            dropped,
        })
    }

    /// Queues a message unless the recorder is [`MAX_QUEUED`] behind.
    fn queue(&self, msg: Msg) -> bool {
        if self.queued.load(Ordering::Relaxed) >= MAX_QUEUED {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        self.queued.fetch_add(1, Ordering::Relaxed);
        if self.tx.send(msg).is_err() {
            self.queued.fetch_sub(1, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// The clip rules' pre-roll: how much of a video camera's units to keep.
    pub fn pre_roll(&self, pre_roll: Duration) {
        let _ = self.tx.send(Msg::PreRoll(pre_roll));
    }

    /// Records all the time, in clips of `max_clip` one after the other, opened and cut
    /// by the recorder itself (a video camera's at its keyframes, from its units, with
    /// no picture needed); `None` ends the open clip, and clips are motion events again.
    pub fn continuous(&self, max_clip: Option<Duration>) {
        let _ = self.tx.send(Msg::Continuous(max_clip));
    }

    pub fn start(&self) {
        let _ = self.tx.send(Msg::Start);
    }

    /// Queues a frame of the open clip (its motion, its picture for the thumbnail);
    /// false when it was dropped (recorder behind).
    pub fn frame(&self, frame: Shown, score: f32, motion: bool) -> bool {
        self.queue(Msg::Frame {
            frame,
            score,
            motion,
        })
    }

    /// The camera went away: the units kept for the pre-roll go (the next clip starts
    /// after the gap).
    pub fn gap(&self) {
        let _ = self.tx.send(Msg::Gap);
    }

    /// Ends the open clip: kept, or discarded (too few motion frames).
    pub fn end(&self, keep: bool) {
        let _ = self.tx.send(Msg::End { keep });
    }
}

/// A clip being written.
struct Clip {
    row: ClipRow,
    file: ClipFile,
    first: Instant,
    /// The first unit's time, by the camera's clock.
    first_pts: Option<i64>,
    /// The unit it starts with (a keyframe).
    first_unit: Option<Arc<AccessUnit>>,
    /// The newest unit written.
    last_unit: u64,
    last_dts: Option<u64>,
    motion_frames: u64,
    /// The most motion of any frame.
    peak_score: f32,
    /// The frame with the most motion among those with a JPEG or a thumbnail (a video
    /// camera's pictures have one at least at every keyframe), and whether its
    /// thumbnail is written yet.
    peak: Option<(f32, Shown)>,
    thumb_written: bool,
    flushed: Written,
    /// When its index row was last brought up to date.
    indexed: Instant,
}

struct Worker {
    status: tokio::sync::watch::Sender<RecordingStatus>,
    name: String,
    recordings: Arc<Recordings>,
    events: broadcast::Sender<HubEvent>,
    queued: Arc<AtomicUsize>,
    clip: Option<Clip>,
    /// Why recording stopped, until a new clip finds room.
    stopped: Option<RecordError>,
    dropped: Arc<AtomicU64>,
    /// The camera's units, as the publisher hands them on.
    tap: Arc<UnitTap>,
    /// The units taken from the tap, being written (kept for its allocation).
    taken: Vec<Arc<AccessUnit>>,
    /// The pre-roll of units (from the first unit on).
    units: UnitBuffer,
    pre_roll: Duration,
    /// Recording all the time, in clips of this length ([`Recorder::continuous`]).
    continuous: Option<Duration>,
    /// How often a new picture size may cut the clip.
    size_cuts: cuts::SizeCuts,
    /// Counted while the thread lives (dropped after the last clip is finished).
    _writer: super::store::Writer,
}

impl Worker {
    fn run(mut self, rx: mpsc::Receiver<Msg>) {
        self.status();
        loop {
            let msg = match rx.recv_timeout(TAKE_EVERY) {
                Ok(msg) => Some(msg),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            };
            // A clip's units before anything of its frames.
            self.take_units();
            let Some(msg) = msg else { continue };
            match msg {
                Msg::Start => self.start(),
                Msg::Frame {
                    frame,
                    score,
                    motion,
                } => {
                    self.queued.fetch_sub(1, Ordering::Relaxed);
                    self.video_frame(frame, score, motion);
                }
                Msg::End { keep } => self.end(keep),
                Msg::Gap => self.units.clear(),
                Msg::PreRoll(pre_roll) => {
                    self.pre_roll = pre_roll;
                    self.units.set_pre_roll(pre_roll);
                }
                Msg::Continuous(max_clip) => {
                    self.continuous = max_clip;
                    match max_clip {
                        None => self.end(true),
                        Some(_) if self.clip.is_none() => self.start(),
                        Some(_) => {}
                    }
                }
            }
        }
        // The camera is gone or the hub is stopping: keep what was recorded.
        self.take_units();
        self.end(true);
    }

    /// Writes (or keeps for the pre-roll) the units waiting at the tap.
    fn take_units(&mut self) {
        let mut taken = std::mem::take(&mut self.taken);
        let dropped = self.tap.take(&mut taken);
        if dropped > 0 {
            self.dropped.fetch_add(dropped, Ordering::Relaxed);
        }
        for unit in taken.drain(..) {
            self.unit(unit);
        }
        self.taken = taken;
    }

    fn status(&self) {
        let (state, error) = match (&self.clip, &self.stopped) {
            (Some(_), _) => (RecordingState::Recording, None),
            (None, Some(e)) => (e.state(), Some(e.message.clone())),
            (None, None) => (RecordingState::Idle, None),
        };
        let error = error.or_else(|| self.size_cuts.held_back());
        self.status.send_replace(RecordingStatus {
            state,
            clip: self.clip.as_ref().map(|c| c.row.id),
            error,
            dropped_frames: self.dropped.load(Ordering::Relaxed),
        });
    }

    fn start(&mut self) {
        if self.clip.is_some() {
            self.end(true);
        }
        if let Err(e) = self.recordings.room_to_record() {
            if self.stopped.is_none() {
                self.stopped_by(&e);
            }
            self.stopped = Some(e);
            self.status();
            return;
        }
        if self.stopped.take().is_some() {
            tracing::info!(camera = %self.name, "recording resumed");
            self.send(What::RecordingResumed);
        }
        // The clip itself begins with its first frame (its size and time).
        self.status();
    }

    /// Opens a clip file (and its index row) starting at `received_at`.
    fn open(
        &mut self,
        (received_at, received): (SystemTime, Instant),
    ) -> Result<Clip, RecordError> {
        let start_ms = epoch_ms(received_at) as i64;
        let row = self
            .recordings
            .index
            .begin(&self.name, start_ms, |id| {
                Recordings::stem(&self.name, start_ms, id)
            })
            .map_err(|e| RecordError::index(&e))?;
        let path = self.recordings.mp4_path(&row);
        let created = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| ClipFile::create(&path));
        let file = match created {
            Ok(f) => f,
            Err(e) => {
                let _ = self.recordings.index.remove(row.id);
                let doing = format_args!("cannot create {}", path.display());
                return Err(RecordError::io(doing, &e));
            }
        };
        Ok(Clip {
            row,
            file,
            first: received,
            first_pts: None,
            first_unit: None,
            last_unit: 0,
            last_dts: None,
            motion_frames: 0,
            peak_score: 0.0,
            peak: None,
            thumb_written: false,
            flushed: Written::default(),
            indexed: Instant::now(),
        })
    }

    /// A frame is in the open clip: its motion and the peak, and the index and the
    /// thumbnail after each whole fragment.
    fn counted(&mut self, frame: Shown, score: f32, motion: bool) {
        let Some(clip) = &mut self.clip else { return };
        if motion {
            clip.motion_frames += 1;
        }
        clip.peak_score = clip.peak_score.max(score);
        let pictured = frame.jpeg().is_some() || frame.thumbnail().is_some();
        if pictured && clip.peak.as_ref().is_none_or(|(best, _)| score > *best) {
            clip.peak = Some((score, frame));
            clip.thumb_written = false;
        }
        if clip.file.written() != clip.flushed {
            self.progress();
        }
    }

    /// After each whole fragment: the index learns how far the clip got, every
    /// [`INDEX_EVERY`] (each commit is synced), and the thumbnail follows the peak.
    fn progress(&mut self) {
        let Some(clip) = &mut self.clip else { return };
        clip.flushed = clip.file.written();
        fill_row(
            &mut clip.row,
            clip.flushed,
            clip.motion_frames,
            clip.peak_score,
        );
        if clip.indexed.elapsed() >= INDEX_EVERY {
            clip.indexed = Instant::now();
            if let Err(e) = self.recordings.index.update(&clip.row) {
                tracing::warn!(camera = %self.name, error = %e, "recordings index not updated");
            }
        }
        if !clip.thumb_written {
            clip.thumb_written = write_thumbnail(&self.recordings, &clip.row, &clip.peak);
        }
    }

    /// Stops recording after an error: the open clip keeps what is whole.
    fn stop(&mut self, error: RecordError) {
        self.stopped_by(&error);
        self.end(true);
        self.stopped = Some(error);
        self.status();
    }

    /// Says that `error` stopped recording: the log and `recording_stopped`.
    fn stopped_by(&self, error: &RecordError) {
        tracing::warn!(camera = %self.name, error = %error, "recording stopped");
        self.send(What::RecordingStopped {
            reason: error.reason(),
            error: error.message.clone(),
        });
    }

    fn send(&self, what: What) {
        let _ = self.events.send(HubEvent::new(&self.name, what));
    }

    fn end(&mut self, keep: bool) {
        let Some(mut clip) = self.clip.take() else {
            self.status();
            return;
        };
        let end = clip.last_dts.map_or(0, |d| d + TIMESCALE as u64 / 30);
        // The last frame shows for as long as the one before it did, at most 1/30 s:
        // the camera sent nothing after it.
        let (written, error) = clip.file.finish(end);
        if let Some(e) = &error {
            tracing::warn!(camera = %self.name, error = %e, "clip cut short");
        }
        let keep = keep && written.frames > 0;
        if keep {
            fill_row(&mut clip.row, written, clip.motion_frames, clip.peak_score);
            if clip.peak.is_none() {
                // A video clip nobody wanted pictures of: its first keyframe, decoded.
                clip.peak = clip.first_unit.as_deref().and_then(passthrough::picture_of);
            }
            if !clip.thumb_written {
                write_thumbnail(&self.recordings, &clip.row, &clip.peak);
            }
            clip.row.in_progress = false;
            match self.recordings.finish(&clip.row) {
                Ok(()) => {
                    // Retention before the event: a listener that looks at the list on
                    // `clip_saved` sees it applied.
                    if let Err(e) = self.recordings.enforce_retention() {
                        tracing::warn!(error = %e, "retention failed");
                    }
                    let clip = serde_json::to_value(ClipView::of(&clip.row)).unwrap_or_default();
                    self.send(What::ClipSaved { clip });
                }
                Err(e) => {
                    tracing::warn!(camera = %self.name, error = %e, "clip not marked finished; it will be once the index can be written");
                }
            }
        } else {
            if let Err(e) = self.recordings.remove_files_and_row(&clip.row) {
                tracing::warn!(camera = %self.name, error = %e, "discarded clip not removed");
            }
            self.send(What::ClipDiscarded {
                motion_frames: clip.motion_frames as u32,
            });
        }
        if let Err(e) = self.recordings.enforce_retention() {
            tracing::warn!(error = %e, "retention failed");
        }
        self.status();
    }
}

fn ticks(d: std::time::Duration) -> u64 {
    (d.as_secs_f64() * f64::from(TIMESCALE)).round() as u64
}

fn fill_row(row: &mut ClipRow, written: Written, motion_frames: u64, peak: f32) {
    row.frames = written.frames as i64;
    row.bytes = written.bytes as i64;
    row.end_ms = row.start_ms + written.millis();
    row.motion_frames = motion_frames as i64;
    row.peak = f64::from(peak);
}

/// The thumbnail of a JPEG frame.
fn thumbnail_of(jpeg: &[u8]) -> Result<bytes::Bytes, PictureError> {
    let mut picture = I420::default();
    picture.decode_jpeg(jpeg)?;
    picture::thumbnail(picture.view(), &mut JpegEncoder::new(picture::QUALITY)?)
}

/// The thumbnail: the frame with the most motion, scaled down (or its thumbnail as it
/// came), written whole (temporary file, then renamed).
fn write_thumbnail(recordings: &Recordings, row: &ClipRow, peak: &Option<(f32, Shown)>) -> bool {
    let Some((_, frame)) = peak else { return false };
    let jpeg = match (frame.thumbnail(), frame.jpeg()) {
        (Some(thumbnail), _) => Ok(thumbnail.clone()),
        (None, Some(jpeg)) => thumbnail_of(jpeg),
        (None, None) => return false,
    };
    let path = recordings.jpg_path(row);
    let tmp = path.with_extension("jpg.tmp");
    let written = jpeg.map_err(std::io::Error::other).and_then(|bytes| {
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, &path)
    });
    match written {
        Ok(()) => true,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            tracing::debug!(error = %e, "thumbnail not written");
            false
        }
    }
}
