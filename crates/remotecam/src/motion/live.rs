//! Motion detection on a live camera: the task that scores the camera's frames and
//! reports motion events.
//!
//! The task takes the newest frame from the frame bus like any viewer (a slow detector
//! skips frames, it never holds up the camera), decodes it to a small grayscale picture
//! off the async threads, scores it and feeds the clip rules, which start and end
//! clips; the camera's recorder gets the frames of each clip. While a clip is open the
//! scored frame is decoded in full and the picture goes to the recorder with the
//! frame, so that it is decoded once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, watch};

use super::detector::Score;
use super::history::LevelHistory;
use super::picture::{small_gray, small_gray_decoded};
use super::preroll::PreRoll;
use super::settings::{Motion, MotionSettings, MotionStatus};
use super::{ClipEvent, ClipTracker, Detector, DetectorSettings};
use crate::camera::{Camera, Latest};
use crate::events::{HubEvent, What};
use crate::frame::Frame;
use crate::record::encode::I420;
use crate::record::recorder::{Recorder, RecordingStatus};
use crate::record::store::Recordings;

/// A scoring job's state, handed to the blocking thread and back.
struct Scorer {
    detector: Detector,
}

/// What a scoring job gives back.
struct Scored {
    seq: u64,
    score: Result<Score, String>,
    scorer: Scorer,
    /// The frame decoded in full, when the job was given a picture for the recorder.
    picture: Option<Box<I420>>,
    /// The job's CPU time.
    cpu: Duration,
}

/// What a camera's motion task works with: the camera's frames, the parts of its
/// motion state it reports (its own handles: it holds neither the camera nor the hub),
/// and the hub's events, recordings and stop.
pub struct Inputs {
    name: String,
    frames: watch::Receiver<Latest>,
    settings: watch::Receiver<MotionSettings>,
    status: watch::Sender<MotionStatus>,
    history: Arc<LevelHistory>,
    recording: watch::Sender<RecordingStatus>,
    events: broadcast::Sender<HubEvent>,
    recordings: Option<Arc<Recordings>>,
    stopping: watch::Receiver<bool>,
}

impl Inputs {
    pub fn new(
        camera: &Camera,
        motion: &Motion,
        events: broadcast::Sender<HubEvent>,
        recordings: Option<Arc<Recordings>>,
        stopping: watch::Receiver<bool>,
    ) -> Inputs {
        Inputs {
            name: camera.name().to_owned(),
            frames: camera.subscribe(),
            settings: motion.settings.subscribe(),
            status: motion.status.clone(),
            history: Arc::clone(&motion.history),
            recording: motion.recording.clone(),
            events,
            recordings,
            stopping,
        }
    }
}

/// Scores a camera's frames while its motion detection is enabled, and records clips
/// (when there are recordings and the camera's settings say so); ends when the camera
/// leaves the hub or the hub stops (ending the event going on first).
///
/// Every frame goes into a buffer (the pre-roll); the newest one is scored off the async
/// threads, and frames that arrive meanwhile wait unscored (a slow detector skips frames,
/// it never holds up the camera). Frames go to the recorder once a frame at least as new
/// is scored, so a clip holds exactly the frames from its pre-roll to its end.
pub async fn run(inputs: Inputs) {
    let Inputs {
        name,
        mut frames,
        settings: mut settings_rx,
        status,
        history,
        recording,
        events,
        recordings,
        mut stopping,
    } = inputs;
    let mut task = Task {
        name,
        status,
        history,
        recording,
        events,
        recordings,
        start: Instant::now(),
        recorder: None,
    };
    loop {
        tokio::select! {
            enabled = settings_rx.wait_for(|s| s.enabled) => if enabled.is_err() { return },
            _ = stopping.wait_for(|s| *s) => return,
        }
        let settings = settings_rx.borrow_and_update().clone();
        let last_seq = frames.borrow().frame.as_ref().map_or(0, |f| f.seq);
        let mut s = Session::new(settings, last_seq);
        loop {
            let stalled_at = s.stalled_at(task.start);
            let in_event = s.tracker.recording();
            let mut gone = false;
            tokio::select! {
                changed = settings_rx.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let settings = settings_rx.borrow_and_update().clone();
                    if !settings.enabled {
                        s.disable(&task);
                        break;
                    }
                    s.set(&task, settings);
                }
                changed = frames.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let latest = frames.borrow_and_update().clone();
                    gone = !latest.online;
                    if let Some(frame) = latest.frame.filter(|_| latest.online) {
                        s.frame(&task, frame);
                    }
                }
                () = tokio::time::sleep_until(stalled_at), if in_event => gone = true,
                _ = stopping.wait_for(|s| *s) => {
                    // The recorder finishes its clip when it is dropped, with the task.
                    s.end_at_last_frame(&task);
                    return;
                }
                done = async { s.scoring.as_mut().expect("scoring").await }, if s.scoring.is_some() => {
                    s.scoring = None;
                    match done {
                        Ok(scored) => s.scored(&mut task, scored),
                        Err(e) => {
                            tracing::error!(camera = %task.name, error = %e, "motion scoring failed");
                            return;
                        }
                    }
                }
            }
            if gone {
                s.end_at_last_frame(&task);
                // What comes back is a new scene: learn its background afresh.
                s.reset_detector();
            }
        }
    }
}

/// What a camera's motion task keeps from one stretch of detection to the next.
struct Task {
    name: String,
    status: watch::Sender<MotionStatus>,
    history: Arc<LevelHistory>,
    /// Handed to the recorder, which reports into it.
    recording: watch::Sender<RecordingStatus>,
    events: broadcast::Sender<HubEvent>,
    recordings: Option<Arc<Recordings>>,
    /// Frames' times (`Buffered::t`) count from here.
    start: Instant,
    /// Started at the first clip; its thread finishes the open clip when it is dropped.
    recorder: Option<Recorder>,
}

impl Task {
    fn status(&self, f: impl FnOnce(&mut MotionStatus)) {
        self.status.send_modify(f);
    }

    /// Keeps a scored frame's level in the camera's history.
    fn history(&self, level: f32, in_event: bool) {
        let now = crate::frame::epoch_ms(std::time::SystemTime::now());
        self.history.record(now, level, in_event);
    }

    fn send(&self, what: What) {
        let _ = self.events.send(HubEvent::new(&self.name, what));
    }
}

/// One stretch of detection, from enabled to disabled.
struct Session {
    settings: MotionSettings,
    detector_settings: DetectorSettings,
    /// The detector, here between scoring jobs.
    scorer: Option<Scorer>,
    /// The detector must start afresh when it comes back from the job it is in.
    reset_detector: bool,
    /// The scoring job running, if any.
    scoring: Option<tokio::task::JoinHandle<Scored>>,
    tracker: ClipTracker,
    /// The pre-roll and the frames waiting to be scored or fed.
    ring: PreRoll,
    clip_open: bool,
    /// The scoring's CPU time per frame, a running average (milliseconds).
    cpu_ms: Option<f32>,
}

impl Session {
    fn new(settings: MotionSettings, last_seq: u64) -> Session {
        let detector_settings = settings.detector();
        Session {
            scorer: Some(Scorer {
                detector: Detector::new(detector_settings.clone()),
            }),
            reset_detector: false,
            scoring: None,
            tracker: ClipTracker::new(settings.rules()),
            ring: PreRoll::new(last_seq),
            clip_open: false,
            cpu_ms: None,
            detector_settings,
            settings,
        }
    }

    /// New settings while enabled: they apply from the next frame.
    fn set(&mut self, task: &Task, settings: MotionSettings) {
        self.tracker.set_rules(settings.rules());
        if settings.detector() != self.detector_settings {
            self.detector_settings = settings.detector();
            self.reset_detector();
        }
        if !settings.record && self.clip_open {
            if let Some(r) = &task.recorder {
                r.end(true);
            }
            self.clip_open = false;
        }
        self.settings = settings;
    }

    /// Detection turned off: the event going on ends, its clip is kept.
    fn disable(&mut self, task: &Task) {
        if let Some(ClipEvent::End {
            motion_frames,
            keep,
            ..
        }) = self.tracker.stop(task.start.elapsed())
        {
            task.send(What::MotionEnd {
                motion_frames,
                kept: keep,
            });
        }
        if self.clip_open
            && let Some(r) = &task.recorder
        {
            r.end(true);
        }
        task.status(|s| *s = MotionStatus::default());
        if let Some(job) = self.scoring.take() {
            job.abort();
        }
    }

    fn reset_detector(&mut self) {
        match &mut self.scorer {
            Some(s) => s.detector = Detector::new(self.detector_settings.clone()),
            None => self.reset_detector = true,
        }
    }

    /// A frame from the bus: buffered, and scored if the detector is free.
    fn frame(&mut self, task: &Task, frame: Arc<Frame>) {
        let t = frame.received.saturating_duration_since(task.start);
        let pre_roll = Duration::from_secs_f64(self.settings.pre_roll_s);
        if !self.ring.push(frame, t, pre_roll) {
            return;
        }
        if self.scoring.is_none() {
            self.score_newest(task);
        }
    }

    /// Starts a job on the newest buffered frame, if the detector is free.
    fn score_newest(&mut self, task: &Task) {
        if let Some(scorer) = self.scorer.take() {
            let picture = share(&task.recorder, self.clip_open);
            self.scoring = Some(score_newest(&self.ring, scorer, picture));
        }
    }

    /// A scoring job came back: the status, the clip rules, the next job.
    fn scored(&mut self, task: &mut Task, done: Scored) {
        let Scored {
            seq,
            score,
            scorer: mut back,
            picture,
            cpu,
        } = done;
        let ms = cpu.as_secs_f32() * 1e3;
        let cpu_ms = *self
            .cpu_ms
            .insert(self.cpu_ms.map_or(ms, |avg| avg + (ms - avg) / 30.0));
        if std::mem::take(&mut self.reset_detector) || score.is_err() {
            back.detector = Detector::new(self.detector_settings.clone());
        }
        self.scorer = Some(back);
        match score {
            Ok(score) => {
                self.on_score(task, seq, score, picture);
                let in_event = self.tracker.recording();
                task.history(score.changed_percent, in_event);
                task.status(|s| {
                    *s = MotionStatus {
                        level: score.changed_percent,
                        in_event,
                        scored_seq: seq,
                        noise: score.noise_level,
                        error: None,
                        detector_cpu_ms: cpu_ms,
                    }
                });
            }
            Err(e) => task.status(|s| {
                s.error = Some(e);
                s.scored_seq = seq;
                s.detector_cpu_ms = cpu_ms;
            }),
        }
        // Frames came while scoring: score the newest of them next.
        if self
            .ring
            .newest()
            .is_some_and(|b| b.frame.seq > seq && b.score.is_none())
        {
            self.score_newest(task);
        }
    }

    /// A frame was scored: the clip rules decide, events go out, the recorder gets its
    /// frames (with `picture`, the scored frame decoded, if the scoring decoded it).
    fn on_score(&mut self, task: &mut Task, seq: u64, score: Score, picture: Option<Box<I420>>) {
        let t = match self.ring.scored(seq, score.changed_percent, picture) {
            Ok(t) => t,
            Err(picture) => return give_back(task, picture),
        };
        let record = self.settings.record && task.recordings.is_some();
        for event in self.tracker.frame(t, score.changed_percent) {
            match event {
                ClipEvent::Start { from, .. } => {
                    task.send(What::MotionStart);
                    if !record {
                        continue;
                    }
                    if task.recorder.is_none() {
                        task.recorder = spawn_recorder(task);
                    }
                    if let Some(r) = task.recorder.as_ref() {
                        r.start();
                        self.clip_open = true;
                        self.ring.clip_from(from);
                    }
                }
                ClipEvent::End {
                    motion_frames,
                    keep,
                    ..
                } => {
                    task.send(What::MotionEnd {
                        motion_frames,
                        kept: keep,
                    });
                    self.close_clip(task, seq, keep);
                }
            }
        }
        self.feed(task, seq);
        // Not fed (the clip ended or recording was turned off meanwhile): not kept either.
        give_back(task, self.ring.take_picture(seq));
    }

    /// Hands the open clip the buffered frames up to `upto` (a sequence number).
    fn feed(&mut self, task: &Task, upto: u64) {
        if self.clip_open
            && let Some(r) = task.recorder.as_ref()
        {
            let threshold = self.settings.threshold;
            self.ring.hand_on(upto, |b| {
                let score = b.score.unwrap_or(0.0);
                r.frame(
                    Arc::clone(&b.frame),
                    score,
                    score >= threshold,
                    b.picture.take(),
                );
            });
        }
    }

    /// Ends the open clip with the frames up to `upto`: kept, or discarded.
    fn close_clip(&mut self, task: &Task, upto: u64, keep: bool) {
        self.feed(task, upto);
        if self.clip_open
            && let Some(r) = task.recorder.as_ref()
        {
            r.end(keep);
        }
        self.clip_open = false;
    }

    /// When the newest buffered frame is [`STALL`] old.
    fn stalled_at(&self, start: Instant) -> tokio::time::Instant {
        let last = self.ring.newest().map_or(Duration::ZERO, |b| b.t);
        tokio::time::Instant::from_std(start + last + STALL)
    }

    /// The camera's source went away (offline, stalled) or the hub is stopping: the
    /// event going on ends at the last frame that came, its clip gets every frame up to
    /// there and is closed, and the buffer is emptied, so a camera that comes back
    /// starts a new clip instead of going on across the gap.
    fn end_at_last_frame(&mut self, task: &Task) {
        if let Some((at, seq)) = self.ring.newest().map(|b| (b.t, b.frame.seq))
            && let Some(ClipEvent::End {
                motion_frames,
                keep,
                ..
            }) = self.tracker.stop(at)
        {
            task.send(What::MotionEnd {
                motion_frames,
                kept: keep,
            });
            self.close_clip(task, seq, keep);
        }
        self.clip_open = false;
        for picture in self.ring.clear() {
            give_back(task, Some(picture));
        }
        task.status(|s| {
            s.in_event = false;
            s.level = 0.0;
        });
    }
}

/// How long an event may go without a frame before it ends at its last frame (the
/// source stalled, or the phone lost its network without closing its connection).
pub const STALL: Duration = Duration::from_secs(5);

/// A decoded picture back to the recorder's pool, for reuse.
fn give_back(task: &Task, picture: Option<Box<I420>>) {
    if let (Some(r), Some(p)) = (task.recorder.as_ref(), picture) {
        r.give_back(p);
    }
}

/// A picture for the scoring job to decode the frame into for the recorder: while a clip
/// is open and the recorder keeps up.
fn share(recorder: &Option<Recorder>, clip_open: bool) -> Option<Box<I420>> {
    recorder.as_ref().filter(|_| clip_open)?.picture_to_share()
}

fn spawn_recorder(task: &Task) -> Option<Recorder> {
    let recordings = Arc::clone(task.recordings.as_ref()?);
    let (status, name) = (task.recording.clone(), task.name.clone());
    match Recorder::spawn(status, name, recordings, task.events.clone()) {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::error!(camera = %task.name, error = %e, "cannot start the recorder");
            None
        }
    }
}

/// Scores the newest buffered frame on a blocking thread; given a `picture`, decodes the
/// frame in full into it (for the recorder) and scores from that.
fn score_newest(
    ring: &PreRoll,
    mut scorer: Scorer,
    mut picture: Option<Box<I420>>,
) -> tokio::task::JoinHandle<Scored> {
    let frame = Arc::clone(&ring.newest().expect("a frame to score").frame);
    tokio::task::spawn_blocking(move || {
        let before = thread_cpu();
        let decoded = picture.as_mut().map(|p| small_gray_decoded(&frame.jpeg, p));
        // A frame the recorder cannot take (too large to record, say) is still scored.
        let gray = match decoded {
            Some(Ok(gray)) => Ok(gray),
            _ => {
                picture = None;
                small_gray(&frame.jpeg)
            }
        };
        let score = gray.map(|g| scorer.detector.score(&g));
        Scored {
            seq: frame.seq,
            score,
            scorer,
            picture,
            cpu: thread_cpu().saturating_sub(before),
        }
    })
}

/// CPU time the calling thread has used.
fn thread_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}
