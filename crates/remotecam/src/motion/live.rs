//! Motion detection on a live camera: settings (the `GET/PUT
//! /api/cameras/{name}/motion` contract), the detector's current level, and the task
//! that scores the camera's frames and reports motion events.
//!
//! The task takes the newest frame from the frame bus like any viewer (a slow detector
//! skips frames, it never holds up the camera), decodes it to a small grayscale picture
//! off the async threads, scores it and feeds the clip rules, which start and end
//! clips; the camera's recorder gets the frames of each clip. While a clip is open the
//! scored frame is decoded in full and the picture goes to the recorder with the
//! frame, so that it is decoded once.

use std::collections::VecDeque;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};
use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;

use super::detector::Score;
use super::{ClipEvent, ClipRules, ClipTracker, Detector, DetectorSettings, Gray};
use crate::camera::Camera;
use crate::events::HubEvent;
use crate::frame::Frame;
use crate::record::encode::I420;
use crate::record::recorder::{Recorder, RecordingStatus};
use crate::record::store::Recordings;
use remotecam_core::planar::{DecodeError, Decoder};

/// Width of the detector's working picture, at most.
const WORK_WIDTH: usize = 160;

/// Per-camera motion settings, as the API reads and writes them (and the hub keeps in
/// `motion.json` in its data directory).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MotionSettings {
    pub enabled: bool,
    /// Motion events are recorded as clips (when the hub keeps recordings).
    pub record: bool,
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

impl MotionSettings {
    /// Applies `update`, checking every value; on error nothing changes.
    pub fn apply(&self, update: MotionUpdate) -> Result<MotionSettings, String> {
        let mut s = self.clone();
        if let Some(v) = update.enabled {
            s.enabled = v;
        }
        if let Some(v) = update.record {
            s.record = v;
        }
        if let Some(v) = update.threshold {
            if !(0.01..=100.0).contains(&v) {
                return Err(format!(
                    "threshold is a percentage of the picture, 0.01 to 100 (got {v})"
                ));
            }
            s.threshold = v;
        }
        if let Some(v) = update.calm_frames {
            if !(1..=10_000).contains(&v) {
                return Err(format!("calm_frames must be 1 to 10000 (got {v})"));
            }
            s.calm_frames = v;
        }
        if let Some(v) = update.min_motion_frames {
            if v > 10_000 {
                return Err(format!("min_motion_frames must be at most 10000 (got {v})"));
            }
            s.min_motion_frames = v;
        }
        let seconds = |key: &str, v: f64, max: f64| {
            if v.is_finite() && (0.0..=max).contains(&v) {
                Ok(v)
            } else {
                Err(format!("{key} must be 0 to {max} seconds (got {v})"))
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
                return Err(format!(
                    "noise_level must be 1 to 255, or null to learn it (got {level})"
                ));
            }
            s.noise_level = v;
        }
        if let Some(mask) = update.mask {
            if mask.len() > 16 {
                return Err(format!(
                    "mask takes at most 16 polygons (got {})",
                    mask.len()
                ));
            }
            for (i, polygon) in mask.iter().enumerate() {
                if !(3..=64).contains(&polygon.len()) {
                    return Err(format!(
                        "mask polygon {i} needs 3 to 64 points (got {})",
                        polygon.len()
                    ));
                }
                if polygon.iter().flatten().any(|v| !(0.0..=1.0).contains(v)) {
                    return Err(format!(
                        "mask polygon {i}: points are [x, y] from 0 to 1 (fractions of the picture)"
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

/// A camera's motion settings and status.
#[derive(Debug)]
pub struct Motion {
    pub settings: watch::Sender<MotionSettings>,
    pub status: watch::Sender<MotionStatus>,
    /// What the camera's recorder is doing.
    pub recording: watch::Sender<RecordingStatus>,
}

impl Default for Motion {
    fn default() -> Motion {
        Motion {
            settings: watch::Sender::new(MotionSettings::default()),
            status: watch::Sender::new(MotionStatus::default()),
            recording: watch::Sender::new(RecordingStatus::default()),
        }
    }
}

/// The largest picture scored through the general decoder (zune-jpeg: progressive JPEGs
/// and others the hub's own decoder leaves to it), 3840x2160. That decoder holds the
/// whole picture, and a progressive one's coefficients too (several bytes a pixel), on
/// the scoring thread; the hub's own decoder reads the 1/8 luma of any allowed size in
/// a few megabytes.
const GENERAL_DECODE_MAX_PIXELS: u64 = 3840 * 2160;

/// A JPEG as the detector's small grayscale picture: luma only, box-averaged down to
/// about [`WORK_WIDTH`] pixels wide.
///
/// A picture at least 8 times as wide is read at 1/8 scale straight from the JPEG's DC
/// coefficients (the mean of each 8x8 block, no inverse DCT: a 720p frame gives
/// exactly the 160x90 working picture), then averaged down by a whole factor if still
/// twice as wide or more. Smaller pictures, and JPEGs the hub's decoder leaves to a
/// general one, are decoded in full and box-averaged.
pub fn small_gray(jpeg: &[u8]) -> Result<Gray, String> {
    let mut eighth = Vec::new();
    match remotecam_core::planar::luma_eighth(jpeg, &mut eighth) {
        Ok((w, h)) if w >= WORK_WIDTH => return Ok(from_eighth(eighth, w, h)),
        Ok(_) | Err(DecodeError::Unsupported(_)) => {}
        Err(e) => return Err(format!("cannot decode the frame: {e}")),
    }
    let options = DecoderOptions::default()
        .jpeg_set_out_colorspace(ColorSpace::Luma)
        .set_max_width(16_384)
        .set_max_height(16_384);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(jpeg), options);
    decoder
        .decode_headers()
        .map_err(|e| format!("cannot decode the frame: {e}"))?;
    if matches!(
        decoder.input_colorspace(),
        Some(ColorSpace::CMYK | ColorSpace::YCCK)
    ) {
        return Err(
            "CMYK frames cannot be scored: motion detection reads grayscale and \
                    YCbCr JPEGs (what cameras send)"
                .into(),
        );
    }
    let (w, h) = decoder.dimensions().ok_or("no picture size")?;
    if (w * h) as u64 > GENERAL_DECODE_MAX_PIXELS {
        return Err(format!(
            "frames of {w}x{h} in this JPEG form (progressive or otherwise beyond the hub's \
             own decoder) are too large to score: at most {GENERAL_DECODE_MAX_PIXELS} pixels"
        ));
    }
    let luma = decoder
        .decode()
        .map_err(|e| format!("cannot decode the frame: {e}"))?;
    if luma.len() < w * h {
        return Err("short decode".into());
    }
    Ok(box_average(&luma, w, w, h, w.div_ceil(WORK_WIDTH).max(1)))
}

/// The working picture from the luma at 1/8 (`w x h`, at least [`WORK_WIDTH`] wide):
/// as it is, or averaged down by a whole factor if still twice as wide or more.
fn from_eighth(eighth: Vec<u8>, w: usize, h: usize) -> Gray {
    let f = w / WORK_WIDTH;
    if f == 1 {
        return Gray {
            width: w,
            height: h,
            pixels: eighth,
        };
    }
    box_average(&eighth, w, w, h, f)
}

/// [`small_gray`] of a frame decoded in full (into `picture`, by `decoder`): the same
/// working picture (from the decoder's luma at 1/8 when the picture is wide enough),
/// without a second decode.
pub fn small_gray_decoded(
    jpeg: &[u8],
    decoder: &mut Decoder,
    picture: &mut I420,
) -> Result<Gray, String> {
    picture.decode_jpeg_with(decoder, jpeg)?;
    if let Some((eighth, w, h)) = decoder.eighth()
        && w >= WORK_WIDTH
    {
        return Ok(from_eighth(eighth.to_vec(), w, h));
    }
    let (w, h) = (picture.width, picture.height);
    let f = w.div_ceil(WORK_WIDTH).max(1);
    Ok(box_average(&picture.y, picture.y_stride, w, h, f))
}

/// `pixels` (`w x h`, rows `stride` apart) reduced `f` times each way, each output pixel
/// the mean of an `f x f` square (a partial square at the edges is left out).
fn box_average(pixels: &[u8], stride: usize, w: usize, h: usize, f: usize) -> Gray {
    let (sw, sh) = ((w / f).max(1), (h / f).max(1));
    let (fw, fh) = (f.min(w), f.min(h));
    let mut out = Vec::with_capacity(sw * sh);
    for y in 0..sh {
        for x in 0..sw {
            let mut sum = 0u32;
            for dy in 0..fh {
                let row = &pixels[(y * fh + dy) * stride + x * fw..][..fw];
                sum += row.iter().map(|&p| u32::from(p)).sum::<u32>();
            }
            out.push((sum / (fw * fh) as u32) as u8);
        }
    }
    Gray {
        width: sw,
        height: sh,
        pixels: out,
    }
}

/// A frame waiting in the motion task: for scoring, for the pre-roll, for the recorder.
struct Buffered {
    frame: Arc<Frame>,
    /// Since the task started, by the frame's arrival.
    t: Duration,
    score: Option<f32>,
    /// The frame decoded for the recorder, from its scoring until it is fed.
    picture: Option<Box<I420>>,
}

/// Frames kept beyond the pre-roll (seconds), so that frames not yet scored are there.
const RING_SLACK: Duration = Duration::from_secs(1);
/// The most the pre-roll buffer holds, whatever the settings (a fast camera with big
/// frames): bytes and frames.
const RING_MAX_BYTES: usize = 96 << 20;
const RING_MAX_FRAMES: usize = 2_000;

/// A scoring job's state, handed to the blocking thread and back.
struct Scorer {
    detector: Detector,
    decoder: Decoder,
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

/// Scores `camera`'s frames while its motion detection is enabled, and records clips
/// into `recordings` (when there are recordings and the camera's settings say so); ends
/// when the camera is gone or the hub stops (ending the event going on first).
///
/// Every frame goes into a buffer (the pre-roll); the newest one is scored off the async
/// threads, and frames that arrive meanwhile wait unscored (a slow detector skips frames,
/// it never holds up the camera). Frames go to the recorder once a frame at least as new
/// is scored, so a clip holds exactly the frames from its pre-roll to its end.
pub async fn run(
    camera: Weak<Camera>,
    events: broadcast::Sender<HubEvent>,
    recordings: Option<Arc<Recordings>>,
    mut stopping: watch::Receiver<bool>,
) {
    let Some((mut settings_rx, mut frames, name)) = camera.upgrade().map(|c| {
        (
            c.motion.settings.subscribe(),
            c.subscribe(),
            c.name().to_owned(),
        )
    }) else {
        return;
    };
    let mut task = Task {
        camera,
        name,
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
    camera: Weak<Camera>,
    name: String,
    events: broadcast::Sender<HubEvent>,
    recordings: Option<Arc<Recordings>>,
    /// Frames' times (`Buffered::t`) count from here.
    start: Instant,
    /// Started at the first clip; its thread finishes the open clip when it is dropped.
    recorder: Option<Recorder>,
}

impl Task {
    fn status(&self, f: impl FnOnce(&mut MotionStatus)) {
        if let Some(c) = self.camera.upgrade() {
            c.motion.status.send_modify(f);
        }
    }

    fn send(&self, event: HubEvent) {
        let _ = self.events.send(event);
    }
}

/// One stretch of detection, from enabled to disabled.
struct Session {
    settings: MotionSettings,
    detector_settings: DetectorSettings,
    /// The detector and its decoder, here between scoring jobs.
    scorer: Option<Scorer>,
    /// The detector must start afresh when it comes back from the job it is in.
    reset_detector: bool,
    /// The scoring job running, if any.
    scoring: Option<tokio::task::JoinHandle<Scored>>,
    tracker: ClipTracker,
    /// The pre-roll and the frames waiting to be scored or fed, oldest first.
    ring: VecDeque<Buffered>,
    ring_bytes: usize,
    /// The newest frame buffered, and the newest handed to the recorder.
    last_seq: u64,
    sent_seq: u64,
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
                decoder: Decoder::new(),
            }),
            reset_detector: false,
            scoring: None,
            tracker: ClipTracker::new(settings.rules()),
            ring: VecDeque::new(),
            ring_bytes: 0,
            last_seq,
            sent_seq: 0,
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
            task.send(HubEvent::motion_end(&task.name, motion_frames, keep));
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
        if frame.seq == self.last_seq {
            return;
        }
        self.last_seq = frame.seq;
        self.ring_bytes += frame.jpeg.len();
        self.ring.push_back(Buffered {
            t: frame.received.saturating_duration_since(task.start),
            frame,
            score: None,
            picture: None,
        });
        trim(&mut self.ring, &mut self.ring_bytes, &self.settings);
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
            .back()
            .is_some_and(|b| b.frame.seq > seq && b.score.is_none())
        {
            self.score_newest(task);
        }
    }

    /// A frame was scored: the clip rules decide, events go out, the recorder gets its
    /// frames (with `picture`, the scored frame decoded, if the scoring decoded it).
    fn on_score(&mut self, task: &mut Task, seq: u64, score: Score, picture: Option<Box<I420>>) {
        let Some(at) = self.ring.iter().position(|b| b.frame.seq == seq) else {
            if let (Some(r), Some(p)) = (task.recorder.as_ref(), picture) {
                r.give_back(p);
            }
            return;
        };
        let b = &mut self.ring[at];
        b.score = Some(score.changed_percent);
        b.picture = picture;
        let t = b.t;
        let record = self.settings.record && task.recordings.is_some();
        for event in self.tracker.frame(t, score.changed_percent) {
            match event {
                ClipEvent::Start { from, .. } => {
                    task.send(HubEvent::motion_start(&task.name));
                    if !record {
                        continue;
                    }
                    if task.recorder.is_none() {
                        task.recorder = spawn_recorder(task);
                    }
                    if let Some(r) = task.recorder.as_ref() {
                        r.start();
                        self.clip_open = true;
                        self.sent_seq = self
                            .ring
                            .iter()
                            .take_while(|b| b.t < from)
                            .last()
                            .map_or(0, |b| b.frame.seq);
                    }
                }
                ClipEvent::End {
                    motion_frames,
                    keep,
                    ..
                } => {
                    task.send(HubEvent::motion_end(&task.name, motion_frames, keep));
                    self.close_clip(task, seq, keep);
                }
            }
        }
        self.feed(task, seq);
        // Not fed (the clip ended or recording was turned off meanwhile): not kept either.
        if let Some(p) = self.ring[at].picture.take()
            && let Some(r) = task.recorder.as_ref()
        {
            r.give_back(p);
        }
    }

    /// Hands the open clip the buffered frames up to `upto` (a sequence number).
    fn feed(&mut self, task: &Task, upto: u64) {
        if self.clip_open
            && let Some(r) = task.recorder.as_ref()
        {
            feed(
                r,
                &mut self.ring,
                &mut self.sent_seq,
                upto,
                self.settings.threshold,
            );
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
        let last = self.ring.back().map_or(Duration::ZERO, |b| b.t);
        tokio::time::Instant::from_std(start + last + STALL)
    }

    /// The camera's source went away (offline, stalled) or the hub is stopping: the
    /// event going on ends at the last frame that came, its clip gets every frame up to
    /// there and is closed, and the buffer is emptied, so a camera that comes back
    /// starts a new clip instead of going on across the gap.
    fn end_at_last_frame(&mut self, task: &Task) {
        if let Some((at, seq)) = self.ring.back().map(|b| (b.t, b.frame.seq))
            && let Some(ClipEvent::End {
                motion_frames,
                keep,
                ..
            }) = self.tracker.stop(at)
        {
            task.send(HubEvent::motion_end(&task.name, motion_frames, keep));
            self.close_clip(task, seq, keep);
        }
        self.clip_open = false;
        for b in self.ring.drain(..) {
            if let (Some(r), Some(p)) = (task.recorder.as_ref(), b.picture) {
                r.give_back(p);
            }
        }
        self.ring_bytes = 0;
        task.status(|s| {
            s.in_event = false;
            s.level = 0.0;
        });
    }
}

/// How long an event may go without a frame before it ends at its last frame (the
/// source stalled, or the phone lost its network without closing its connection).
pub const STALL: Duration = Duration::from_secs(5);

/// A picture for the scoring job to decode the frame into for the recorder: while a clip
/// is open and the recorder keeps up.
fn share(recorder: &Option<Recorder>, clip_open: bool) -> Option<Box<I420>> {
    recorder.as_ref().filter(|_| clip_open)?.picture_to_share()
}

fn spawn_recorder(task: &Task) -> Option<Recorder> {
    let recordings = Arc::clone(task.recordings.as_ref()?);
    let (camera, name) = (task.camera.clone(), task.name.clone());
    match Recorder::spawn(camera, name, recordings, task.events.clone()) {
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
    ring: &VecDeque<Buffered>,
    mut scorer: Scorer,
    mut picture: Option<Box<I420>>,
) -> tokio::task::JoinHandle<Scored> {
    let frame = Arc::clone(&ring.back().expect("a frame to score").frame);
    tokio::task::spawn_blocking(move || {
        let before = thread_cpu();
        let decoded = picture
            .as_mut()
            .map(|p| small_gray_decoded(&frame.jpeg, &mut scorer.decoder, p));
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

/// Hands the recorder the buffered frames after `sent` up to `upto` (sequence numbers),
/// with their pictures where decoded.
fn feed(
    recorder: &Recorder,
    ring: &mut VecDeque<Buffered>,
    sent: &mut u64,
    upto: u64,
    threshold: f32,
) {
    let after = *sent;
    for b in ring
        .iter_mut()
        .filter(|b| b.frame.seq > after && b.frame.seq <= upto)
    {
        let score = b.score.unwrap_or(0.0);
        recorder.frame(
            Arc::clone(&b.frame),
            score,
            score >= threshold,
            b.picture.take(),
        );
        *sent = b.frame.seq;
    }
}

/// Keeps the pre-roll (plus slack for frames waiting to be scored), within the caps.
fn trim(ring: &mut VecDeque<Buffered>, bytes: &mut usize, settings: &MotionSettings) {
    let Some(newest) = ring.back().map(|b| b.t) else {
        return;
    };
    let keep = Duration::from_secs_f64(settings.pre_roll_s) + RING_SLACK;
    while let Some(old) = ring.front() {
        let too_old = newest.saturating_sub(old.t) > keep && old.score.is_some();
        if too_old || *bytes > RING_MAX_BYTES || ring.len() > RING_MAX_FRAMES {
            *bytes -= old.frame.jpeg.len();
            ring.pop_front();
        } else {
            break;
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
        }
    }

    /// The settings `camera` starts with: those saved (or the defaults), with the config
    /// file's keys over them; `None` when neither has anything for it.
    pub fn get(&self, camera: &str) -> Option<MotionSettings> {
        let saved = self
            .saved
            .lock()
            .expect("settings lock")
            .get(camera)
            .cloned();
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

    /// The config file's motion keys for `camera`, applied by [`SettingsStore::get`] over
    /// the saved settings whenever the camera is made.
    pub fn configure(&self, camera: &str, update: MotionUpdate) {
        self.configured
            .lock()
            .expect("settings lock")
            .insert(camera.to_owned(), update);
    }

    /// Records `settings` for `camera` and writes the file.
    pub fn put(&self, camera: &str, settings: &MotionSettings) -> std::io::Result<()> {
        let mut saved = self.saved.lock().expect("settings lock");
        saved.insert(camera.to_owned(), settings.clone());
        let Some(path) = &self.path else {
            return Ok(());
        };
        let json = serde_json::to_vec_pretty(&*saved).map_err(std::io::Error::other)?;
        let tmp = path.with_extension("json.tmp");
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&json)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent()
            && let Ok(d) = std::fs::File::open(dir)
        {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use remotecam_core::canvas::Canvas;

    /// A camera-like picture: gradients, a checkerboard and a bright square.
    fn jpeg(w: usize, h: usize) -> Vec<u8> {
        let mut c = Canvas::new(w, h, [0, 0, 0]);
        for y in 0..h {
            for x in 0..w {
                let check = if (x / 24 + y / 24) % 2 == 0 { 40 } else { 0 };
                let square = if (300..420).contains(&x) && (200..300).contains(&y) {
                    90
                } else {
                    0
                };
                let v = (30 + x * 100 / w + y * 40 / h + check + square) as u8;
                c.rgb[(y * w + x) * 3..][..3].copy_from_slice(&[v, v / 2, 255 - v]);
            }
        }
        c.to_jpeg(85).to_vec()
    }

    /// The full luma decode box-averaged, as the working picture was made before the
    /// DC-only path.
    fn reference(jpeg: &[u8], f: usize) -> Gray {
        let options = DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::Luma);
        let mut d = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(jpeg), options);
        let luma = d.decode().unwrap();
        let (w, h) = d.dimensions().unwrap();
        box_average(&luma, w, w, h, f)
    }

    #[test]
    fn frames_that_cannot_be_scored_say_why() {
        let mut cmyk = Vec::new();
        jpeg_encoder::Encoder::new(&mut cmyk, 80)
            .encode(&[30u8; 64 * 48 * 4], 64, 48, jpeg_encoder::ColorType::Cmyk)
            .unwrap();
        let e = small_gray(&cmyk).unwrap_err();
        assert!(e.contains("CMYK frames cannot be scored"), "{e}");
        // A progressive frame over the general decoder's bound is refused from its
        // header, before anything is allocated for it.
        let mut progressive = Vec::new();
        let mut encoder = jpeg_encoder::Encoder::new(&mut progressive, 80);
        encoder.set_progressive(true);
        encoder
            .encode(&[90u8; 64 * 48 * 3], 64, 48, jpeg_encoder::ColorType::Rgb)
            .unwrap();
        assert!(small_gray(&progressive).is_ok());
        let sof = progressive
            .windows(2)
            .position(|w| w == [0xFF, 0xC2])
            .unwrap();
        progressive[sof + 5..sof + 9].copy_from_slice(&[0x0B, 0xB8, 0x0F, 0xA0]); // 4000x3000
        let e = small_gray(&progressive).unwrap_err();
        assert!(e.contains("too large to score"), "{e}");
    }

    #[test]
    fn wide_frames_give_the_same_working_picture_from_dc_coefficients() {
        // 720p: the DC-only path gives 160x90, as the full decode averaged 8x8 did.
        // 1080p: 240x135 (whole blocks), compared with the full decode averaged 8x8.
        for (w, h, size) in [(1280, 720, (160, 90)), (1920, 1080, (240, 135))] {
            let frame = jpeg(w, h);
            let ours = small_gray(&frame).unwrap();
            assert_eq!((ours.width, ours.height), size, "{w}x{h}");
            let theirs = reference(&frame, 8);
            assert_eq!((theirs.width, theirs.height), size);
            for (i, (a, b)) in ours.pixels.iter().zip(&theirs.pixels).enumerate() {
                assert!(a.abs_diff(*b) <= 2, "{w}x{h} pixel {i}: {a} vs {b}");
            }
        }
        // Small pictures keep the full decode: 640x480 gives 160x120.
        let small = small_gray(&jpeg(640, 480)).unwrap();
        assert_eq!((small.width, small.height), (160, 120));
    }

    #[test]
    fn a_frame_decoded_for_the_recorder_gives_the_same_working_picture() {
        let mut decoder = Decoder::new();
        let mut picture = I420::default();
        // Wide: exactly the DC-only picture. Small: the full luma averaged, as the
        // general decoder's luma averaged (decoders may differ by a level or two).
        for (w, h, exact) in [(1280, 720, true), (1920, 1080, true), (640, 480, false)] {
            let frame = jpeg(w, h);
            let alone = small_gray(&frame).unwrap();
            let shared = small_gray_decoded(&frame, &mut decoder, &mut picture).unwrap();
            assert_eq!((picture.width, picture.height), (w, h));
            assert_eq!((shared.width, shared.height), (alone.width, alone.height));
            if exact {
                assert_eq!(shared.pixels, alone.pixels, "{w}x{h}");
            }
            for (i, (a, b)) in shared.pixels.iter().zip(&alone.pixels).enumerate() {
                assert!(a.abs_diff(*b) <= 2, "{w}x{h} pixel {i}: {a} vs {b}");
            }
        }
        let broken = &jpeg(1280, 720)[..4000];
        assert!(small_gray_decoded(broken, &mut decoder, &mut picture).is_err());
    }
}
