//! What a camera shows motion detection and the recorder: each JPEG frame it sends, or
//! each picture its decoder makes of its video. A picture made of video is a type of its
//! own ([`MadePicture`]): the detector's working picture always, a JPEG frame only when
//! someone wanted one (then that frame is on the frame bus too), a thumbnail at
//! keyframes. A [`Frame`] is always a JPEG.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use remotecam_core::luma::Luma;

use crate::frame::Frame;

/// A picture the camera's decoder made of one access unit, under that unit's number
/// and times.
#[derive(Debug)]
pub struct MadePicture {
    pub seq: u64,
    pub width: u16,
    pub height: u16,
    pub captured_at: Option<SystemTime>,
    pub received_at: SystemTime,
    pub received: Instant,
    /// The motion detector's working picture: detection decodes no JPEG.
    pub luma: Arc<Luma>,
    /// Its JPEG frame, when a viewer or a snapshot wanted one.
    pub frame: Option<Arc<Frame>>,
    /// A thumbnail-sized JPEG (at keyframes, for a clip's thumbnail).
    pub thumbnail: Option<Bytes>,
}

/// One thing the camera showed.
#[derive(Debug, Clone)]
pub enum Shown {
    Frame(Arc<Frame>),
    Made(Arc<MadePicture>),
}

impl Shown {
    pub fn seq(&self) -> u64 {
        match self {
            Shown::Frame(f) => f.seq,
            Shown::Made(p) => p.seq,
        }
    }

    /// When the hub received it (monotonic clock).
    pub fn received(&self) -> Instant {
        match self {
            Shown::Frame(f) => f.received,
            Shown::Made(p) => p.received,
        }
    }

    /// Its JPEG, if it has one.
    pub fn jpeg(&self) -> Option<&Bytes> {
        match self {
            Shown::Frame(f) => Some(&f.jpeg),
            Shown::Made(p) => p.frame.as_ref().map(|f| &f.jpeg),
        }
    }

    /// Its working picture, when it came with one (made of video).
    pub fn luma(&self) -> Option<&Arc<Luma>> {
        match self {
            Shown::Frame(_) => None,
            Shown::Made(p) => Some(&p.luma),
        }
    }

    pub fn thumbnail(&self) -> Option<&Bytes> {
        match self {
            Shown::Frame(_) => None,
            Shown::Made(p) => p.thumbnail.as_ref(),
        }
    }

    /// What holding it costs, beside its bookkeeping: its JPEG, its thumbnail, its
    /// working picture.
    pub fn held_bytes(&self) -> usize {
        let luma = self.luma().map_or(0, |l| l.pixels.len());
        self.jpeg().map_or(0, Bytes::len) + self.thumbnail().map_or(0, Bytes::len) + luma
    }
}

/// What motion detection watches: the newest thing shown, and whether a source is
/// attached.
#[derive(Debug, Clone, Default)]
pub struct LatestShown {
    pub shown: Option<Shown>,
    pub online: bool,
}
