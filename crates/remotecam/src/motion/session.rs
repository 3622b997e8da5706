//! One stretch of a camera's motion detection, without the async parts: what happens
//! to each frame, scoring result, settings change and loss of the source (the clip
//! rules, events, status, the recorder fed), and the scoring job to run next. `live.rs`
//! runs it: it waits on the camera and the settings and runs the jobs off the async
//! threads; everything else is here, and runs as well without tokio (the tests).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, watch};

use super::detector::Score;
use super::history::LevelHistory;
use super::picture::small_gray;
use super::preroll::PreRoll;
use super::settings::{MotionSettings, MotionStatus};
use super::{ClipEvent, ClipTracker, Detector, DetectorSettings};
use crate::camera::Shown;
use crate::camera::{DemandGuard, DemandHandle};
use crate::events::{HubEvent, What};
use crate::record::recorder::{Recorder, RecordingStatus};
use crate::record::store::Recordings;
use crate::video::gop::VideoBus;

/// A scoring job's state, handed to the blocking thread and back.
pub(super) struct Scorer {
    detector: Detector,
}

/// What a scoring job gives back.
pub(super) struct Scored {
    seq: u64,
    score: Result<Score, String>,
    scorer: Scorer,
    /// The job's CPU time.
    cpu: Duration,
}

/// What a camera's motion task keeps from one stretch of detection to the next.
pub(super) struct Task {
    pub(super) name: String,
    status: watch::Sender<MotionStatus>,
    history: Arc<LevelHistory>,
    /// Handed to the recorder, which reports into it.
    recording: watch::Sender<RecordingStatus>,
    events: broadcast::Sender<HubEvent>,
    recordings: Option<Arc<Recordings>>,
    /// The camera's video: its recorder takes the units from the bus's tap, and wants
    /// them made (a JPEG camera's encoder runs while it does).
    video: (Arc<VideoBus>, DemandHandle),
    /// Frames' times (`Buffered::t`) count from here.
    pub(super) start: Instant,
    /// Runs while recording is on (it keeps the pre-roll of the camera's units); its
    /// thread finishes the open clip when it is dropped.
    recorder: Option<Recorder>,
    /// Held with the recorder: the camera's video is wanted.
    wants_video: Option<DemandGuard>,
}

impl Task {
    pub(super) fn new(
        name: String,
        status: watch::Sender<MotionStatus>,
        history: Arc<LevelHistory>,
        recording: watch::Sender<RecordingStatus>,
        events: broadcast::Sender<HubEvent>,
        recordings: Option<Arc<Recordings>>,
        video: (Arc<VideoBus>, DemandHandle),
    ) -> Task {
        Task {
            name,
            status,
            history,
            recording,
            events,
            recordings,
            video,
            start: Instant::now(),
            recorder: None,
            wants_video: None,
        }
    }

    /// Starts the recorder, unless it runs.
    fn start_recorder(&mut self, settings: &MotionSettings) {
        if self.recorder.is_none() {
            self.recorder = spawn_recorder(self, settings);
            self.wants_video = self.recorder.as_ref().map(|_| self.video.1.want());
        }
    }

    /// Stops the recorder (it finishes its clip).
    fn stop_recorder(&mut self) {
        self.recorder = None;
        self.wants_video = None;
    }

    /// The camera's video starts anew, of another kind (a browser's new publisher
    /// sends H.264 after JPEG, or the other way): the recorder is started again (its
    /// clip finished), for units numbered anew.
    pub(super) fn restart_recorder(&mut self) {
        self.stop_recorder();
    }

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
pub(super) struct Session {
    settings: MotionSettings,
    detector_settings: DetectorSettings,
    /// The detector, here between scoring jobs.
    scorer: Option<Scorer>,
    /// The detector must start afresh when it comes back from the job it is in.
    reset_detector: bool,
    /// The newest frame a scoring job was made for: each frame is scored once.
    job_seq: u64,
    tracker: ClipTracker,
    /// The pre-roll and the frames waiting to be scored or fed.
    ring: PreRoll,
    /// Frames go to the recorder (a motion clip is open, or it records all the time).
    clip_open: bool,
    /// The recorder was told to record all the time (`continuous`).
    recording_all: bool,
    /// The scoring's CPU time per frame, a running average (milliseconds).
    cpu_ms: Option<f32>,
}

impl Session {
    pub(super) fn new(settings: MotionSettings, last_seq: u64) -> Session {
        let detector_settings = settings.detector();
        Session {
            scorer: Some(Scorer {
                detector: Detector::new(detector_settings.clone()),
            }),
            reset_detector: false,
            job_seq: 0,
            tracker: ClipTracker::new(settings.rules()),
            ring: PreRoll::new(last_seq),
            clip_open: false,
            recording_all: false,
            cpu_ms: None,
            detector_settings,
            settings,
        }
    }

    /// New settings while enabled or recording all the time: they apply from the next
    /// frame.
    pub(super) fn set(&mut self, task: &Task, settings: MotionSettings) {
        self.tracker.set_rules(settings.rules());
        if settings.detector() != self.detector_settings {
            self.detector_settings = settings.detector();
            self.reset_detector();
        }
        if self.settings.enabled && !settings.enabled {
            self.stop_detecting(task);
        }
        let all = settings.record && settings.continuous && task.recordings.is_some();
        if let Some(r) = &task.recorder {
            let max_clip = Duration::from_secs_f64(settings.max_clip_s);
            if self.recording_all && !all {
                r.continuous(None);
                self.recording_all = false;
                self.clip_open = false;
            } else if self.recording_all && settings.max_clip_s != self.settings.max_clip_s {
                r.continuous(Some(max_clip));
            } else if all && !self.recording_all && self.clip_open {
                // The motion clip gives way to recording all the time (at the next frame).
                r.end(true);
                self.clip_open = false;
            }
        }
        if !settings.record && self.clip_open {
            if let Some(r) = &task.recorder {
                r.end(true);
            }
            self.clip_open = false;
        }
        if settings.pre_roll_s != self.settings.pre_roll_s
            && let Some(r) = &task.recorder
        {
            r.pre_roll(Duration::from_secs_f64(settings.pre_roll_s));
        }
        self.settings = settings;
    }

    /// Detection and recording all the time both turned off: the event going on ends,
    /// its clip is kept, and the recorder's thread ends (a video camera's would go on
    /// taking its units).
    pub(super) fn disable(&mut self, task: &mut Task) {
        self.stop_detecting(task);
        if self.clip_open
            && let Some(r) = &task.recorder
        {
            if self.recording_all {
                r.continuous(None);
            } else {
                r.end(true);
            }
        }
        self.clip_open = false;
        self.recording_all = false;
        task.stop_recorder();
    }

    /// Detection turned off: the event going on ends (its clip, unless the camera
    /// records all the time, ends with it).
    fn stop_detecting(&mut self, task: &Task) {
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
            && !self.recording_all
            && let Some(r) = &task.recorder
        {
            r.end(true);
            self.clip_open = false;
        }
        task.status(|s| *s = MotionStatus::default());
    }

    pub(super) fn reset_detector(&mut self) {
        match &mut self.scorer {
            Some(s) => s.detector = Detector::new(self.detector_settings.clone()),
            None => self.reset_detector = true,
        }
    }

    /// A frame from the bus: buffered (scored by the next job if the detector is free).
    /// Recording all the time without detection, it goes to the recorder at once.
    pub(super) fn frame(&mut self, task: &mut Task, frame: Shown) {
        let t = frame.received().saturating_duration_since(task.start);
        let pre_roll = Duration::from_secs_f64(self.settings.pre_roll_s);
        let seq = frame.seq();
        if !self.ring.push(frame, t, pre_roll) {
            return;
        }
        self.keep_recording(task, t);
        if !self.settings.enabled && self.ring.scored(seq, 0.0).is_some() {
            self.feed(task, seq);
        }
    }

    /// Recording all the time (`continuous`, with `record`, where the hub keeps
    /// recordings): the recorder opens and cuts the clips itself.
    fn continuous(&self, task: &Task) -> bool {
        self.settings.record && self.settings.continuous && task.recordings.is_some()
    }

    /// Recording all the time: the recorder told so once, and fed every frame from `t`
    /// on (a video camera's recorder opens its clips from the units).
    fn keep_recording(&mut self, task: &mut Task, t: Duration) {
        if self.recording_all || !self.continuous(task) {
            return;
        }
        task.start_recorder(&self.settings);
        if let Some(r) = &task.recorder {
            r.continuous(Some(Duration::from_secs_f64(self.settings.max_clip_s)));
            self.recording_all = true;
            self.clip_open = true;
            self.ring.clip_from(t);
        }
    }

    /// The recorder runs while recording is on, from before any clip: it keeps the
    /// pre-roll of the camera's units, taken from the video bus's tap. Called at every
    /// turn of the task (it is cheap when nothing changed).
    pub(super) fn record_video(&mut self, task: &mut Task) {
        if !self.settings.record || task.recordings.is_none() {
            task.stop_recorder();
            return;
        }
        task.start_recorder(&self.settings);
        self.keep_recording(task, task.start.elapsed());
    }

    /// The next scoring job: the newest frame, when the detector is free and that frame
    /// has not had a job yet. Frames that came while the detector was busy wait unscored
    /// (a slow detector skips frames; it never holds up the camera).
    pub(super) fn next_job(&mut self) -> Option<Job> {
        if !self.settings.enabled {
            return None;
        }
        let frame = self
            .ring
            .newest()
            .filter(|b| b.frame.seq() > self.job_seq)?;
        let frame = frame.frame.clone();
        let scorer = self.scorer.take()?;
        self.job_seq = frame.seq();
        Some(Job { frame, scorer })
    }

    /// A scoring job came back: the status, the clip rules.
    pub(super) fn scored(&mut self, task: &mut Task, done: Scored) {
        let Scored {
            seq,
            score,
            scorer: mut back,
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
        if !self.settings.enabled {
            // Detection was turned off while this frame was being scored.
            return;
        }
        match score {
            Ok(score) => {
                self.on_score(task, seq, score);
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
    }

    /// A frame was scored: the clip rules decide, events go out, the recorder gets its
    /// frames.
    fn on_score(&mut self, task: &mut Task, seq: u64, score: Score) {
        let Some(t) = self.ring.scored(seq, score.changed_percent) else {
            return;
        };
        let record = self.settings.record && task.recordings.is_some();
        for event in self.tracker.frame(t, score.changed_percent) {
            match event {
                ClipEvent::Start { from, .. } => {
                    task.send(What::MotionStart);
                    if !record || self.continuous(task) {
                        continue;
                    }
                    task.start_recorder(&self.settings);
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
                    if !self.continuous(task) {
                        self.close_clip(task, seq, keep);
                    }
                }
            }
        }
        self.feed(task, seq);
    }

    /// Hands the open clip the buffered frames up to `upto` (a sequence number).
    fn feed(&mut self, task: &Task, upto: u64) {
        if self.clip_open
            && let Some(r) = task.recorder.as_ref()
        {
            let threshold = self.settings.threshold;
            self.ring.hand_on(upto, |b| {
                let score = b.score.unwrap_or(0.0);
                r.frame(b.frame.clone(), score, score >= threshold);
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

    /// A motion event is going on.
    pub(super) fn in_event(&self) -> bool {
        self.tracker.recording()
    }

    /// When the newest buffered frame is [`STALL`] old.
    pub(super) fn stalled_at(&self, start: Instant) -> Instant {
        let last = self.ring.newest().map_or(Duration::ZERO, |b| b.t);
        start + last + STALL
    }

    /// The camera's source went away (offline, stalled) or the hub is stopping: the
    /// event going on ends at the last frame that came, its clip gets every frame up to
    /// there and is closed, and the buffer is emptied, so a camera that comes back
    /// starts a new clip instead of going on across the gap.
    pub(super) fn end_at_last_frame(&mut self, task: &Task) {
        if let Some((at, seq)) = self.ring.newest().map(|b| (b.t, b.frame.seq()))
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
            self.close_clip(task, seq, keep || self.recording_all);
        } else if self.recording_all {
            // The file ends at the gap; the recorder opens the next when frames come.
            let upto = self.ring.newest().map_or(0, |b| b.frame.seq());
            self.close_clip(task, upto, true);
        }
        // Recording all the time goes on (in a new file).
        self.clip_open = self.recording_all;
        self.ring.clear();
        if let Some(r) = &task.recorder {
            r.gap();
        }
        task.status(|s| {
            s.in_event = false;
            s.level = 0.0;
        });
    }
}

/// How long an event may go without a frame before it ends at its last frame (the
/// source stalled, or the phone lost its network without closing its connection).
pub(super) const STALL: Duration = Duration::from_secs(5);

fn spawn_recorder(task: &Task, settings: &MotionSettings) -> Option<Recorder> {
    let recordings = Arc::clone(task.recordings.as_ref()?);
    let (status, name) = (task.recording.clone(), task.name.clone());
    let tap = task.video.0.tap();
    match Recorder::spawn(status, name, recordings, task.events.clone(), tap) {
        Ok(r) => {
            r.pre_roll(Duration::from_secs_f64(settings.pre_roll_s));
            Some(r)
        }
        Err(e) => {
            tracing::error!(camera = %task.name, error = %e, "cannot start the recorder");
            None
        }
    }
}

/// A scoring job: a frame and the detector. Run off the async threads.
pub(super) struct Job {
    frame: Shown,
    scorer: Scorer,
}

impl Job {
    /// The frame comes with its working picture (made of decoded video): scoring it
    /// decodes nothing and takes a fraction of a millisecond, less than handing it to
    /// another thread and back.
    pub(super) fn is_light(&self) -> bool {
        self.frame.luma().is_some()
    }

    /// Scores the frame: from its working picture when it comes with one (made of
    /// decoded video), from its JPEG otherwise.
    pub(super) fn run(self) -> Scored {
        let Job { frame, mut scorer } = self;
        let before = thread_cpu();
        let score = match (frame.luma(), frame.jpeg()) {
            (Some(luma), _) => Ok(scorer.detector.score(luma)),
            (None, Some(jpeg)) => small_gray(jpeg).map(|g| scorer.detector.score(&g)),
            (None, None) => Err("a picture with nothing to score".into()),
        };
        Scored {
            seq: frame.seq(),
            score,
            scorer,
            cpu: thread_cpu().saturating_sub(before),
        }
    }
}

/// CPU time the calling thread has used.
fn thread_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Frame;
    use remotecam_core::canvas::Canvas;

    /// A 640x480 scene (gradient and checks), with a white 96-pixel square at `square`.
    fn scene(square: Option<(usize, usize)>) -> bytes::Bytes {
        let inside = |x: usize, y: usize| {
            square.is_some_and(|(sx, sy)| (sx..sx + 96).contains(&x) && (sy..sy + 96).contains(&y))
        };
        let mut c = Canvas::new(640, 480, [0, 0, 0]);
        for (i, px) in c.rgb.chunks_exact_mut(3).enumerate() {
            let (x, y) = (i % 640, i / 640);
            let check = 30 * usize::from((x / 32 + y / 32) % 2 == 0);
            px.fill(if inside(x, y) {
                255
            } else {
                (40 + x / 5 + check) as u8
            });
        }
        c.to_jpeg(85)
    }

    fn camera() -> crate::camera::Camera {
        crate::camera::Camera::new("yard".into(), crate::camera::SourceKind::Browser)
    }

    fn frame(seq: u64, jpeg: bytes::Bytes) -> Shown {
        Shown::Frame(Arc::new(Frame::new(seq, jpeg, 640, 480, None)))
    }

    fn task() -> (Task, broadcast::Receiver<HubEvent>) {
        let events = broadcast::Sender::new(64);
        let rx = events.subscribe();
        let task = Task::new(
            "yard".into(),
            watch::Sender::new(MotionStatus::default()),
            Arc::default(),
            watch::Sender::new(RecordingStatus::default()),
            events,
            None,
            (Arc::default(), camera().video_demand()),
        );
        (task, rx)
    }

    fn settings() -> MotionSettings {
        MotionSettings {
            enabled: true,
            calm_frames: 3,
            min_motion_frames: 1,
            ..MotionSettings::default()
        }
    }

    /// What the async shell does with a job: runs it and hands the result back.
    fn run_next(s: &mut Session, task: &mut Task) -> Option<u64> {
        let job = s.next_job()?;
        let scored = job.run();
        let seq = scored.seq;
        s.scored(task, scored);
        Some(seq)
    }

    #[test]
    fn a_busy_detector_skips_to_the_newest_frame_and_scores_each_once() {
        let (mut task, _events) = task();
        let mut s = Session::new(settings(), 0);
        s.frame(&mut task, frame(1, scene(None)));
        let job = s.next_job().expect("a job for frame 1");
        // Frames 2 and 3 come while frame 1 is being scored: no second job.
        s.frame(&mut task, frame(2, scene(None)));
        s.frame(&mut task, frame(3, scene(None)));
        assert!(s.next_job().is_none(), "the detector is busy");
        s.scored(&mut task, job.run());
        assert_eq!(
            run_next(&mut s, &mut task),
            Some(3),
            "the newest, 2 skipped"
        );
        assert_eq!(run_next(&mut s, &mut task), None, "nothing new to score");
        assert_eq!(task.status.borrow().scored_seq, 3);
    }

    #[test]
    fn a_frame_that_cannot_be_scored_says_why_and_is_not_tried_again() {
        let (mut task, _events) = task();
        let mut s = Session::new(settings(), 0);
        s.frame(
            &mut task,
            frame(1, bytes::Bytes::from_static(b"\xff\xd8 not a picture")),
        );
        assert_eq!(run_next(&mut s, &mut task), Some(1));
        assert!(task.status.borrow().error.is_some());
        assert_eq!(run_next(&mut s, &mut task), None);
        // The detector came back: the next frame is scored.
        s.frame(&mut task, frame(2, scene(None)));
        assert_eq!(run_next(&mut s, &mut task), Some(2));
        assert_eq!(task.status.borrow().error, None);
    }

    #[test]
    fn a_moving_square_is_one_event_ended_by_calm_frames() {
        let (mut task, mut events) = task();
        let mut s = Session::new(settings(), 0);
        let positions = (0..12)
            .map(|_| None) // the detector learns the scene
            .chain((0..6).map(|i| Some((60 + i * 60, 200))))
            .chain((0..6).map(|_| None));
        for (i, square) in positions.enumerate() {
            s.frame(&mut task, frame(i as u64 + 1, scene(square)));
            run_next(&mut s, &mut task).expect("each frame scored");
        }
        let names: Vec<&str> = std::iter::from_fn(|| events.try_recv().ok())
            .map(|e| e.name())
            .collect();
        assert_eq!(names, ["motion_start", "motion_end"]);
        assert!(!s.in_event());
    }
}
