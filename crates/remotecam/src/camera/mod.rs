//! A camera: its frame bus (the newest JPEG frame) and its video bus (`video::gop`: the
//! newest group of pictures).
//!
//! The bus is a `tokio::sync::watch` cell holding the newest frame: publishing replaces
//! the value and wakes every viewer; a viewer that is busy writing to a slow socket simply
//! sees a newer frame when it next looks. **Architecture invariant:** no publisher ever
//! awaits a viewer, and the memory the bus holds is one frame per camera whatever the
//! number of viewers (a viewer's socket buffers hold at most a few older frames, shared
//! by reference count).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::{oneshot, watch};

use crate::events::{HubEvent, What};
use crate::frame::Frame;
use crate::jpeg::JpegInfo;
use crate::placeholder;
use crate::video::Codec;
use rate::RateMeter;

mod demand;
mod lease;
mod rate;
mod shown;
mod video;

use demand::Demand;
pub use demand::{DemandGuard, DemandHandle, ViewerGuard, unwanted_for};
pub use lease::PublisherLease;
pub use shown::{LatestShown, MadePicture, Shown};
use video::CameraVideo;
pub use video::VideoStream;

/// Where a camera's frames come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// A browser publishing over `/api/cameras/{name}/publish` (the publisher page).
    Browser,
    /// A program publishing over the same WebSocket (the Python or Rust `Publisher`,
    /// which adds `?client=publisher` to the URL).
    Publisher,
    /// The hub's own test pattern (`test:`).
    Test,
    /// An MJPEG stream or snapshot URL the hub pulls (`http://`).
    Http,
    /// A USB webcam on the hub's machine (`v4l2://`).
    V4l2,
    /// An IP camera's RTSP stream the hub pulls (`rtsp://`): H.264 or H.265 video.
    Rtsp,
}

impl SourceKind {
    /// A camera that comes by itself over the publish WebSocket (no configured source):
    /// anyone may publish into it, and the hub may forget it once it is offline.
    pub fn publishes_itself(self) -> bool {
        matches!(self, SourceKind::Browser | SourceKind::Publisher)
    }
}

/// What a camera's source is doing, as the API and dashboard show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceState {
    /// Starting, or opening its connection.
    Connecting,
    /// Delivering frames.
    Live,
    /// Failed; will try again (the error says why).
    Retrying,
    /// No source attached (a browser camera whose publisher left).
    Offline,
    /// An on-demand source, stopped because nobody watches; the first viewer starts it.
    Idle,
}

/// How long a snapshot waits for a picture newer than the one the camera holds.
pub const SNAPSHOT_WAIT: Duration = Duration::from_secs(5);

/// What viewers watch: the newest frame and whether a source is attached.
#[derive(Debug, Clone, Default)]
pub struct Latest {
    pub frame: Option<Arc<Frame>>,
    pub online: bool,
}

struct Lease {
    id: u64,
    replaced: oneshot::Sender<()>,
}

/// One camera: a name, a source kind, and the buses its consumers read.
pub struct Camera {
    name: String,
    source: SourceKind,
    latest: watch::Sender<Latest>,
    next_seq: AtomicU64,
    /// Who wants what of it: what wakes its source and its stages.
    demand: Demand,
    /// What motion detection and the recorder read: every frame, or every picture its
    /// decoder made of its video (with its JPEG frame or without; only those with one go
    /// onto the frame bus).
    pictures: watch::Sender<LatestShown>,
    /// Its video and what its stages do (`video.rs`).
    video: CameraVideo,
    rate: Mutex<RateMeter>,
    publisher: Mutex<Option<Lease>>,
    next_lease: AtomicU64,
    placeholder: Mutex<Option<(u16, u16, Bytes)>>,
    /// Set by configured sources; browser cameras derive theirs from `online`.
    source_state: Mutex<Option<(SourceState, Option<String>)>>,
    events: tokio::sync::broadcast::Sender<HubEvent>,
}

impl std::fmt::Debug for Camera {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Camera").field("name", &self.name).finish()
    }
}

/// Status of a camera as `GET /api/cameras` reports it.
#[derive(Debug, Serialize)]
pub struct CameraStatus {
    pub name: String,
    pub source: SourceKind,
    pub online: bool,
    pub width: Option<u16>,
    pub height: Option<u16>,
    pub fps: f64,
    /// Bits a second the camera sends (its JPEG frames, or its video), over the last
    /// 2 s.
    pub bitrate_bps: u64,
    pub viewers: usize,
    pub last_frame_age_ms: Option<u64>,
    /// Sequence number of the newest frame (0 before the first).
    pub seq: u64,
    /// What the source is doing.
    pub state: SourceState,
    /// The source's last error, while it matters (retrying, or frames skipped).
    pub error: Option<String>,
    /// What the frames are encoded as (`null` for a video camera before its first
    /// frame).
    pub codec: Option<Codec>,
    /// A video camera's time between keyframes, by its own clock.
    pub keyframe_interval_ms: Option<u64>,
    /// A video camera's RFC 6381 codec string (`avc1.640028`), what Media Source
    /// Extensions and `<video>` ask.
    pub codec_string: Option<String>,
    /// The codec string of its `stream.mp4`: a video camera's own; a JPEG camera's once
    /// its encoder has made video.
    pub video_codec_string: Option<String>,
    /// A video camera's video is being decoded now (someone wants its pictures, or did
    /// within the last 10 s).
    pub decoding: bool,
    /// A JPEG camera's frames are being encoded to H.264 now (someone wants its video,
    /// or did within the last few seconds).
    pub encoding: bool,
}

impl Camera {
    /// A camera on its own (tests); the hub makes them with its event channel.
    pub fn new(name: String, source: SourceKind) -> Camera {
        Camera::with_events(name, source, tokio::sync::broadcast::Sender::new(1))
    }

    pub(crate) fn with_events(
        name: String,
        source: SourceKind,
        events: tokio::sync::broadcast::Sender<HubEvent>,
    ) -> Camera {
        Camera {
            name,
            source,
            latest: watch::Sender::new(Latest::default()),
            next_seq: AtomicU64::new(1),
            demand: Demand::default(),
            pictures: watch::Sender::new(LatestShown::default()),
            video: CameraVideo::for_source(source),
            rate: Mutex::new(RateMeter::default()),
            publisher: Mutex::new(None),
            next_lease: AtomicU64::new(1),
            placeholder: Mutex::new(None),
            source_state: Mutex::new(None),
            events,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn source(&self) -> SourceKind {
        self.source
    }

    /// Reports what the camera's configured source is doing.
    pub fn set_source_state(&self, state: SourceState, error: Option<String>) {
        *self.source_state.lock().expect("source state lock") = Some((state, error));
    }

    pub fn latest(&self) -> Latest {
        self.latest.borrow().clone()
    }

    /// A receiver for the frame bus. Viewers should hold a [`ViewerGuard`] as well, so
    /// the viewer count is right.
    pub fn subscribe(&self) -> watch::Receiver<Latest> {
        self.latest.subscribe()
    }

    /// What motion detection reads: every picture, a JPEG camera's frames and a video
    /// camera's pictures with or without their JPEG.
    pub fn subscribe_pictures(&self) -> watch::Receiver<LatestShown> {
        self.pictures.subscribe()
    }

    /// The first frame a new viewer may be given (0: any); the frame held before it is
    /// stale. An on-demand camera that is idle holds the frame of its last run; a video
    /// camera whose pictures were not being made (nobody wanted JPEG lately) holds the
    /// last picture made then, maybe minutes old: the next is made of its newest unit.
    pub fn fresh_from(&self) -> u64 {
        let held = self.latest().frame.as_ref().map_or(0, |f| f.seq);
        if self.status().state == SourceState::Idle {
            return held + 1;
        }
        // (A JPEG camera's video is made of its frames: never ahead of them.)
        match self.decoded_video().newest().filter(|_| self.sends_video()) {
            // The decoder, when running, is at most the unit being decoded behind; a
            // camera just live has no picture yet.
            Some(unit) if held == 0 || held + 1 < unit.seq => unit.seq,
            _ => 0,
        }
    }

    /// The newest picture while the camera is online, made sure not to be stale
    /// ([`Camera::fresh_from`]): an on-demand camera that is idle is started, and a
    /// video camera makes a picture of its newest unit, by being a viewer for a moment.
    /// Waits [`SNAPSHOT_WAIT`] at most for that picture.
    pub async fn snapshot(self: &Arc<Self>) -> Option<Arc<Frame>> {
        let fresh = self.fresh_from();
        if fresh > 0 {
            let _viewer = self.viewer();
            let mut rx = self.subscribe();
            let is_fresh =
                |l: &Latest| l.online && l.frame.as_ref().is_some_and(|f| f.seq >= fresh);
            let _ = tokio::time::timeout(SNAPSHOT_WAIT, rx.wait_for(is_fresh)).await;
        }
        let latest = self.latest();
        latest.frame.filter(|_| latest.online)
    }

    /// Takes the publisher role. A publisher already attached is told through its
    /// lease's `replaced` channel: the newest publisher wins, because a phone that lost
    /// its network and reconnects must not be locked out by its own stale connection.
    pub fn claim_publisher(self: &Arc<Self>) -> PublisherLease {
        let id = self.next_lease.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        let previous = self
            .publisher
            .lock()
            .expect("publisher lock")
            .replace(Lease { id, replaced: tx });
        if let Some(previous) = previous {
            let _ = previous.replaced.send(());
        }
        self.set_online(true);
        PublisherLease {
            camera: Arc::clone(self),
            id,
            replaced: Some(rx),
        }
    }

    fn release(&self, id: u64) {
        let mut slot = self.publisher.lock().expect("publisher lock");
        if slot.as_ref().is_some_and(|l| l.id == id) {
            *slot = None;
            drop(slot);
            self.video.publisher_left(self.source);
            self.set_online(false);
        }
    }

    fn set_online(&self, online: bool) {
        self.pictures.send_if_modified(|l| {
            let changed = l.online != online;
            l.online = online;
            changed
        });
        let changed = self.latest.send_if_modified(|l| {
            let changed = l.online != online;
            l.online = online;
            changed
        });
        if changed {
            let what = if online {
                What::CameraOnline
            } else {
                What::CameraOffline
            };
            let _ = self.events.send(HubEvent::new(&self.name, what));
        }
    }

    /// Publishes a checked JPEG as the camera's newest frame (through a lease: only its
    /// holder publishes).
    fn publish(&self, jpeg: Bytes, info: JpegInfo, captured_at: Option<SystemTime>) -> Arc<Frame> {
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let frame = Arc::new(Frame::new(seq, jpeg, info.width, info.height, captured_at));
        self.rate
            .lock()
            .expect("rate lock")
            .record(frame.received, frame.jpeg.len());
        if self.encoding() {
            // Its encoder decodes it in full: motion detection gets its working picture
            // from there ([`Camera::show_decoded`]), not from a second decode.
            self.show_to_viewers(Arc::clone(&frame));
        } else {
            self.show(Shown::Frame(Arc::clone(&frame)));
        }
        frame
    }

    /// Shows viewers a JPEG frame.
    fn show_to_viewers(&self, frame: Arc<Frame>) {
        self.latest.send_modify(|l| {
            l.frame = Some(frame);
            l.online = true;
        });
    }

    /// Shows motion detection what the camera shows, and a JPEG frame to its viewers.
    fn show(&self, shown: Shown) {
        let frame = match &shown {
            Shown::Frame(frame) => Some(Arc::clone(frame)),
            Shown::Made(picture) => picture.frame.clone(),
        };
        self.pictures.send_modify(|l| {
            l.shown = Some(shown);
            l.online = true;
        });
        if let Some(frame) = frame {
            self.show_to_viewers(frame);
        }
    }

    /// The "no signal" picture for this camera, at the size of its last frame (so that
    /// clients that assume a fixed size keep working; bounded, see
    /// [`placeholder::size_for`]), made once and cached. It is drawn on a blocking
    /// thread, one picture at a time in the whole hub, so no number of offline cameras
    /// and viewers can hold up the async threads or take more than one picture's memory.
    pub async fn placeholder(&self) -> Bytes {
        static DRAWING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);
        let (w, h) = match &self.latest.borrow().frame {
            Some(f) => (f.width, f.height),
            None => (640, 480),
        };
        let cached = || {
            let cache = self.placeholder.lock().expect("placeholder lock");
            cache
                .as_ref()
                .filter(|(cw, ch, _)| (*cw, *ch) == (w, h))
                .map(|(_, _, jpeg)| jpeg.clone())
        };
        if let Some(jpeg) = cached() {
            return jpeg;
        }
        let _turn = DRAWING.acquire().await.expect("never closed");
        // Drawn meanwhile by another viewer?
        if let Some(jpeg) = cached() {
            return jpeg;
        }
        let name = self.name.clone();
        let jpeg = tokio::task::spawn_blocking(move || placeholder::no_signal(&name, w, h))
            .await
            .expect("drawing does not panic");
        *self.placeholder.lock().expect("placeholder lock") = Some((w, h, jpeg.clone()));
        jpeg
    }

    pub fn status(&self) -> CameraStatus {
        let now = Instant::now();
        let latest = self.latest();
        let frame = latest.frame.as_ref();
        // Each lock in a statement of its own: one taken while another is held is how
        // the status views once hung (see web/motion.rs).
        let reported = self.source_state.lock().expect("source state lock").clone();
        let (state, error) = match reported {
            Some(reported) => reported,
            None if latest.online => (SourceState::Live, None),
            None => (SourceState::Offline, None),
        };
        let (fps, bitrate) = if latest.online {
            self.rate.lock().expect("rate lock").rates(now)
        } else {
            (0.0, 0)
        };
        let viewers = *self.demand.viewers.borrow();
        let mut status = CameraStatus {
            name: self.name.clone(),
            source: self.source,
            online: latest.online,
            width: frame.map(|f| f.width),
            height: frame.map(|f| f.height),
            fps: (fps * 10.0).round() / 10.0,
            bitrate_bps: bitrate,
            viewers,
            last_frame_age_ms: frame.map(|f| now.duration_since(f.received).as_millis() as u64),
            seq: frame.map_or(0, |f| f.seq),
            state,
            error,
            codec: Some(Codec::Jpeg),
            keyframe_interval_ms: None,
            codec_string: None,
            video_codec_string: None,
            decoding: false,
            encoding: false,
        };
        self.video_status(&mut status, now);
        status
    }

    pub fn is_online(&self) -> bool {
        self.latest.borrow().online
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> JpegInfo {
        JpegInfo {
            width: 8,
            height: 8,
            components: 3,
        }
    }

    #[test]
    fn newest_publisher_wins_and_old_one_is_told() {
        let cam = Arc::new(Camera::new("door".into(), SourceKind::Browser));
        let mut first = cam.claim_publisher();
        let second = cam.claim_publisher();
        assert!(first.replaced.as_mut().unwrap().try_recv().is_ok());
        drop(first);
        assert!(
            cam.is_online(),
            "the replaced publisher must not take the camera offline"
        );
        drop(second);
        assert!(!cam.is_online());
    }

    #[test]
    fn sequence_numbers_continue_across_publishers() {
        let cam = Arc::new(Camera::new("door".into(), SourceKind::Browser));
        let lease = cam.claim_publisher();
        assert_eq!(lease.publish(Bytes::from_static(b"a"), info(), None).seq, 1);
        drop(lease);
        let lease = cam.claim_publisher();
        assert_eq!(lease.publish(Bytes::from_static(b"b"), info(), None).seq, 2);
    }

    #[test]
    fn viewer_guard_counts() {
        let cam = Arc::new(Camera::new("door".into(), SourceKind::Browser));
        let a = cam.viewer();
        let b = cam.viewer();
        assert_eq!(cam.status().viewers, 2);
        drop(a);
        drop(b);
        assert_eq!(cam.status().viewers, 0);
    }
}
