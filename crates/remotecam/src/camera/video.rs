//! What a camera has of video, grouped and chosen once from its source: whether it sends
//! video (an RTSP camera always, a browser while its publisher sends H.264), its video
//! bus (its own units, or those its encoder makes), its detect stream's bus, the
//! numbering of units that are not its own, what its stages are doing; and how units
//! and the pictures made of them come in.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use remotecam_core::luma::Luma;
use tokio::sync::watch;

use super::{Camera, CameraStatus, MadePicture, Shown, SourceKind};
use crate::frame::Frame;
use crate::video::gop::VideoBus;
use crate::video::pictures::Picture;
use crate::video::{AccessUnit, VideoParams};

/// Which of a video camera's streams an access unit is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoStream {
    /// Its `source`: recorded and played as it is ([`Camera::video`]).
    Own,
    /// Its `detect_source`: what its pictures are made of ([`Camera::detect_video`]),
    /// numbered on its own.
    Detect,
    /// What its encoder made of a JPEG camera's frames: played and recorded as its
    /// video, numbered on its own (its frames are counted, not these).
    Encoded,
}

/// A camera's video parts.
#[derive(Debug)]
pub(super) struct CameraVideo {
    /// The camera sends video: its pictures are made of its video.
    sends: watch::Sender<bool>,
    /// Its video: a video camera's own units, or those its encoder makes of a JPEG
    /// camera's frames while someone wants them.
    bus: Arc<VideoBus>,
    /// The video of its `detect_source` (a substream), for a camera that has one: its
    /// pictures are made of that, and `bus` is never decoded.
    detect: OnceLock<Arc<VideoBus>>,
    /// The units of a stream other than the camera's own are numbered on their own:
    /// its detect stream's (the pictures made of them are the camera's frames, whose
    /// numbers say how many a viewer skipped), or those its encoder made of its frames.
    next_other_seq: AtomicU64,
    /// A video camera's pictures are being made (its decoder runs).
    decoding: AtomicBool,
    /// A JPEG camera's video is being made (its encoder runs).
    encoding: AtomicBool,
}

impl CameraVideo {
    /// A camera of `source`'s video: an RTSP camera sends video from the start.
    pub(super) fn for_source(source: SourceKind) -> CameraVideo {
        CameraVideo {
            sends: watch::Sender::new(source == SourceKind::Rtsp),
            bus: Arc::new(VideoBus::default()),
            detect: OnceLock::new(),
            next_other_seq: AtomicU64::new(1),
            decoding: AtomicBool::new(false),
            encoding: AtomicBool::new(false),
        }
    }

    /// Its publisher left: its streams start over, and a browser camera is a JPEG camera
    /// until a publisher says otherwise.
    pub(super) fn publisher_left(&self, source: SourceKind) {
        if source != SourceKind::Rtsp {
            self.sends.send_replace(false);
        }
        self.bus.reset();
        if let Some(detect) = self.detect.get() {
            detect.reset();
        }
    }

    /// A browser's publisher says whether it sends video.
    pub(super) fn set_sends(&self, video: bool) {
        self.sends.send_if_modified(|v| {
            let changed = *v != video;
            *v = video;
            changed
        });
    }
}

impl Camera {
    /// Whether the camera sends video now (an RTSP camera; a browser publishing H.264):
    /// its pictures are made of its video, which is recorded and played as it came.
    pub fn sends_video(&self) -> bool {
        *self.video.sends.borrow()
    }

    /// [`Camera::sends_video`], to wait on: a browser camera's changes with its
    /// publisher.
    pub fn watch_sends_video(&self) -> watch::Receiver<bool> {
        self.video.sends.subscribe()
    }

    /// Reports whether the camera's decoder runs (a video camera's pictures are made).
    pub fn set_decoding(&self, decoding: bool) {
        self.video.decoding.store(decoding, Ordering::Relaxed);
    }

    /// Reports whether the camera's encoder runs (a JPEG camera's video is made): while
    /// it does, motion detection gets the camera's frames from it, decoded
    /// ([`Camera::show_decoded`]).
    pub fn set_encoding(&self, encoding: bool) {
        self.video.encoding.store(encoding, Ordering::Relaxed);
    }

    pub(super) fn encoding(&self) -> bool {
        self.video.encoding.load(Ordering::Relaxed)
    }

    /// A JPEG frame its encoder took, to motion detection with the working picture of
    /// its decode (`luma`), or as it is if it could not be decoded.
    pub(crate) fn show_decoded(&self, frame: &Arc<Frame>, luma: Option<Arc<Luma>>) {
        let shown = match luma {
            Some(luma) => Shown::Made(Arc::new(MadePicture {
                seq: frame.seq,
                width: frame.width,
                height: frame.height,
                captured_at: frame.captured_at,
                received_at: frame.received_at,
                received: frame.received,
                luma,
                frame: Some(Arc::clone(frame)),
                thumbnail: None,
            })),
            None => Shown::Frame(Arc::clone(frame)),
        };
        self.pictures.send_modify(|l| {
            l.shown = Some(shown);
            l.online = true;
        });
    }

    /// The camera's video: its own, or what its encoder makes of its frames.
    pub fn video(&self) -> &Arc<VideoBus> {
        &self.video.bus
    }

    /// The video the camera's pictures are made of: its detect stream's when it has one
    /// ([`Camera::detect_video`]), its own otherwise.
    pub fn decoded_video(&self) -> &Arc<VideoBus> {
        self.video.detect.get().unwrap_or(&self.video.bus)
    }

    /// The video of the camera's detect stream; from the first call on, the camera's
    /// pictures are made of it (a source with a `detect_source` calls it before it
    /// starts).
    pub fn detect_video(&self) -> &Arc<VideoBus> {
        self.video.detect.get_or_init(Arc::default)
    }

    /// Makes `data` the next access unit of `stream`; only the camera's own counts in
    /// its frame rate and bitrate.
    pub(super) fn publish_video(
        &self,
        stream: VideoStream,
        data: Bytes,
        (keyframe, pts): (bool, i64),
        params: Arc<VideoParams>,
        (came, captured_at): (Option<(SystemTime, Instant)>, Option<SystemTime>),
    ) -> Arc<AccessUnit> {
        let (bus, counter) = match stream {
            VideoStream::Own => (&self.video.bus, &self.next_seq),
            VideoStream::Detect => (self.detect_video(), &self.video.next_other_seq),
            VideoStream::Encoded => (&self.video.bus, &self.video.next_other_seq),
        };
        let seq = counter.fetch_add(1, Ordering::Relaxed);
        // How long the unit before it showed; a unit shows as long (the next one's time is
        // not known yet).
        let duration = bus
            .newest()
            .and_then(|before| u32::try_from(pts - before.pts).ok())
            .filter(|ticks| (1..=90_000).contains(ticks))
            .unwrap_or(3000);
        let mut unit = AccessUnit::new(seq, data, keyframe, (pts, duration), params);
        unit.captured_at = captured_at;
        if let Some((at, instant)) = came {
            (unit.received_at, unit.received) = (at, instant);
        }
        let unit = Arc::new(unit);
        bus.push(Arc::clone(&unit));
        if stream == VideoStream::Own {
            self.rate
                .lock()
                .expect("rate lock")
                .record(unit.received, unit.data.len());
        }
        unit
    }

    /// Shows a picture its decoder made of the access unit `unit`, under that unit's
    /// sequence number: to motion detection, and as the camera's newest JPEG frame when
    /// it has its JPEG.
    pub(crate) fn publish_picture(&self, unit: &AccessUnit, picture: Picture) {
        let size = (picture.width, picture.height);
        let frame = picture.jpeg.map(|jpeg| {
            let came = (unit.received_at, unit.received);
            Arc::new(Frame::received(
                unit.seq,
                jpeg,
                size,
                unit.captured_at,
                came,
            ))
        });
        self.show(Shown::Made(Arc::new(MadePicture {
            seq: unit.seq,
            width: size.0,
            height: size.1,
            captured_at: unit.captured_at,
            received_at: unit.received_at,
            received: unit.received,
            luma: picture.luma,
            frame,
            thumbnail: picture.thumbnail,
        })));
    }

    /// Puts a unit its encoder made of `frame` onto its video bus, as come when the
    /// frame came (what the recorder matches clips' frames by), unless the camera sends
    /// video of its own now (a browser's new publisher).
    pub(crate) fn publish_encoded(
        &self,
        frame: &Frame,
        data: Bytes,
        (keyframe, pts): (bool, i64),
        params: Arc<VideoParams>,
    ) -> Option<Arc<AccessUnit>> {
        // Nor once the camera is offline: its frames' video ended with them.
        if self.sends_video() || !self.is_online() {
            return None;
        }
        let came = (Some((frame.received_at, frame.received)), frame.captured_at);
        Some(self.publish_video(VideoStream::Encoded, data, (keyframe, pts), params, came))
    }

    /// What the API says of its video: a video camera's codec, size, newest unit and
    /// keyframe interval are its video's; every camera's `stream.mp4` codec string and
    /// stages.
    pub(super) fn video_status(&self, status: &mut CameraStatus, now: Instant) {
        let bus = &self.video.bus;
        status.video_codec_string = bus.params().map(|p| p.rfc6381.clone());
        status.decoding = self.video.decoding.load(Ordering::Relaxed);
        status.encoding = self.video.encoding.load(Ordering::Relaxed);
        if !self.sends_video() {
            return;
        }
        let params = bus.params();
        status.codec = params.as_ref().map(|p| p.codec);
        status.width = params.as_ref().map(|p| p.width);
        status.height = params.as_ref().map(|p| p.height);
        status.codec_string = params.as_ref().map(|p| p.rfc6381.clone());
        if let Some(newest) = bus.newest() {
            status.seq = newest.seq;
            status.last_frame_age_ms = Some(now.duration_since(newest.received).as_millis() as u64);
        }
        status.keyframe_interval_ms = bus.keyframe_interval().map(|d| d.as_millis() as u64);
    }
}
