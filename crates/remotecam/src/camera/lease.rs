//! A source's hold on its camera ([`PublisherLease`]): the one way frames and access
//! units come into it. Nothing publishes into a camera it does not hold; what the
//! camera's stages make of them (pictures of its video, video of its frames) comes in
//! through the camera itself (`stage`).

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use tokio::sync::oneshot;

use super::{Camera, VideoStream};
use crate::frame::Frame;
use crate::jpeg::JpegInfo;
use crate::video::{AccessUnit, VideoParams};

/// The right to publish to a camera; dropping it marks the camera offline unless a newer
/// publisher has taken over.
#[derive(Debug)]
pub struct PublisherLease {
    pub(super) camera: Arc<Camera>,
    pub(super) id: u64,
    /// Fires when a newer publisher takes the camera.
    pub replaced: Option<oneshot::Receiver<()>>,
}

impl PublisherLease {
    pub fn camera(&self) -> &Arc<Camera> {
        &self.camera
    }

    /// Publishes a checked JPEG as the camera's newest frame. A lease a newer publisher
    /// took over still publishes until its holder notices (`replaced`) and stops.
    pub fn publish(
        &self,
        jpeg: Bytes,
        info: JpegInfo,
        captured_at: Option<SystemTime>,
    ) -> Arc<Frame> {
        self.camera.publish(jpeg, info, captured_at)
    }

    /// Says whether the camera sends video from now on (a browser's publisher that
    /// sends H.264): its pictures are then made of its video, until the lease ends.
    pub fn sends_video(&self, video: bool) {
        self.camera.video.set_sends(video);
    }

    /// Publishes the next access unit (`data` with 4-byte NAL lengths) of one of a video
    /// camera's streams, taken at `captured_at` by the publisher's clock if it says.
    pub fn publish_video(
        &self,
        stream: VideoStream,
        data: Bytes,
        (keyframe, pts): (bool, i64),
        params: Arc<VideoParams>,
        captured_at: Option<SystemTime>,
    ) -> Arc<AccessUnit> {
        self.camera
            .publish_video(stream, data, (keyframe, pts), params, (None, captured_at))
    }
}

impl Drop for PublisherLease {
    fn drop(&mut self) {
        self.camera.release(self.id);
    }
}
