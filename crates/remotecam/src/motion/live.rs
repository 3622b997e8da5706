//! Motion detection on a live camera: the async shell around [`Session`] (what each
//! event does, `session.rs`). It waits on the camera's frames, its settings, the hub's
//! stop and the scoring job, and runs each job on a blocking thread.
//!
//! The task takes the newest frame from the frame bus like any viewer (a slow detector
//! skips frames, it never holds up the camera), decodes it to a small grayscale picture
//! off the async threads, scores it and feeds the clip rules, which start and end
//! clips; the camera's recorder writes the camera's video of each clip (and counts its
//! frames' motion).

use std::sync::Arc;

use tokio::sync::{broadcast, watch};

use super::history::LevelHistory;
use super::session::{Scored, Session, Task};
use super::settings::{Motion, MotionSettings, MotionStatus};
use crate::camera::{Camera, DemandHandle, LatestShown};
use crate::events::HubEvent;
use crate::record::recorder::RecordingStatus;
use crate::record::store::Recordings;
use crate::video::gop::VideoBus;

/// What a camera's motion task works with: the camera's frames, the parts of its
/// motion state it reports (its own handles: it holds neither the camera nor the hub),
/// and the hub's events, recordings and stop.
pub struct Inputs {
    name: String,
    frames: watch::Receiver<LatestShown>,
    /// Held while detection is on: a video camera makes pictures only on demand (recording
    /// all the time needs none).
    pictures: DemandHandle,
    /// The camera's video, recorded as it is (made by the camera's encoder for a JPEG
    /// camera, while the recorder wants it).
    video: (Arc<VideoBus>, DemandHandle),
    /// Whether the camera sends video (a browser camera's changes with its publisher).
    sends_video: watch::Receiver<bool>,
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
            frames: camera.subscribe_pictures(),
            pictures: camera.pictures_demand(),
            video: (Arc::clone(camera.video()), camera.video_demand()),
            sends_video: camera.watch_sends_video(),
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
        pictures,
        video,
        mut sends_video,
        settings: mut settings_rx,
        status,
        history,
        recording,
        events,
        recordings,
        mut stopping,
    } = inputs;
    sends_video.borrow_and_update();
    let mut task = Task::new(name, status, history, recording, events, recordings, video);
    // Detection, or recording all the time, wants the task running.
    let active = |s: &MotionSettings| s.enabled || (s.record && s.continuous);
    loop {
        tokio::select! {
            on = settings_rx.wait_for(active) => if on.is_err() { return },
            _ = stopping.wait_for(|s| *s) => return,
        }
        let settings = settings_rx.borrow_and_update().clone();
        let mut _pictures = settings.enabled.then(|| pictures.want());
        let last_seq = frames.borrow().shown.as_ref().map_or(0, |f| f.seq());
        let mut s = Session::new(settings, last_seq);
        // The scoring job running, if any (one at a time: the detector is in it).
        let mut scoring: Option<tokio::task::JoinHandle<Scored>> = None;
        loop {
            s.record_video(&mut task);
            if scoring.is_none()
                && let Some(job) = s.next_job()
            {
                if job.is_light() {
                    s.scored(&mut task, job.run());
                    continue;
                }
                scoring = Some(tokio::task::spawn_blocking(move || job.run()));
            }
            let stalled_at = tokio::time::Instant::from_std(s.stalled_at(task.start));
            let in_event = s.in_event();
            let mut gone = false;
            tokio::select! {
                changed = settings_rx.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let settings = settings_rx.borrow_and_update().clone();
                    if !active(&settings) {
                        if let Some(job) = scoring.take() {
                            job.abort();
                        }
                        s.disable(&mut task);
                        break;
                    }
                    if settings.enabled != _pictures.is_some() {
                        _pictures = settings.enabled.then(|| pictures.want());
                    }
                    s.set(&task, settings);
                }
                changed = frames.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let latest = frames.borrow_and_update().clone();
                    gone = !latest.online;
                    if let Some(frame) = latest.shown.filter(|_| latest.online) {
                        s.frame(&mut task, frame);
                    }
                }
                () = tokio::time::sleep_until(stalled_at), if in_event => gone = true,
                Ok(()) = sends_video.changed() => {
                    // A browser camera's new publisher sends the other kind: what was
                    // recorded ends at its last frame, and recording starts again.
                    sends_video.borrow_and_update();
                    if let Some(job) = scoring.take() {
                        job.abort();
                    }
                    s.end_at_last_frame(&task);
                    s.disable(&mut task);
                    task.restart_recorder();
                    break;
                }
                _ = stopping.wait_for(|s| *s) => {
                    // The recorder finishes its clip when it is dropped, with the task.
                    s.end_at_last_frame(&task);
                    return;
                }
                done = async { scoring.as_mut().expect("scoring").await }, if scoring.is_some() => {
                    scoring = None;
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
