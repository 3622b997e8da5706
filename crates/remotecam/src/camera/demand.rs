//! Who wants what of a camera, counted by guards that live as long as the wish: viewers
//! (an on-demand source runs while there are some), consumers of pictures and of their
//! JPEG (a video camera's decoder runs while there are some), consumers of video (a
//! JPEG camera's encoder runs while there are some). The camera's source and stages wait
//! on these counts; nothing is made that nobody wants.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::Camera;

/// The counts of one camera.
#[derive(Debug)]
pub(super) struct Demand {
    /// Open viewers; sources that run on demand watch it.
    pub(super) viewers: watch::Sender<usize>,
    /// Consumers of pictures (JPEG viewers, snapshots, motion detection).
    pictures: watch::Sender<usize>,
    /// Those of them that want the JPEG bytes (viewers, snapshots; motion detection
    /// wants only the luma): a video camera encodes JPEG only while there are some (and
    /// at keyframes, for clip thumbnails).
    jpeg: watch::Sender<usize>,
    /// Consumers of video (`stream.mp4` viewers, the recorder).
    video: watch::Sender<usize>,
}

impl Default for Demand {
    fn default() -> Demand {
        Demand {
            viewers: watch::Sender::new(0),
            pictures: watch::Sender::new(0),
            jpeg: watch::Sender::new(0),
            video: watch::Sender::new(0),
        }
    }
}

impl Camera {
    /// The number of open viewers, to wait on.
    pub fn watch_viewers(&self) -> watch::Receiver<usize> {
        self.demand.viewers.subscribe()
    }

    /// Counts a viewer of JPEG frames (MJPEG, WebSocket, a snapshot) for as long as the
    /// guard lives: it wakes an on-demand source and, on a video camera, the making of
    /// pictures with their JPEG.
    pub fn viewer(self: &Arc<Self>) -> ViewerGuard {
        self.demand.viewers.send_modify(|n| *n += 1);
        ViewerGuard {
            camera: Arc::clone(self),
            _wants: [Some(self.want_pictures()), Some(want(&self.demand.jpeg))],
        }
    }

    /// Counts a viewer of the camera's video (MP4) for as long as the guard lives: it
    /// wakes an on-demand source and, on a JPEG camera, its encoder; it wants no JPEG.
    pub fn video_viewer(self: &Arc<Self>) -> ViewerGuard {
        self.demand.viewers.send_modify(|n| *n += 1);
        ViewerGuard {
            camera: Arc::clone(self),
            _wants: [Some(self.want_video()), None],
        }
    }

    /// Counts a consumer of pictures that is not a viewer (motion detection: it wants
    /// the luma only, and does not wake an on-demand source).
    pub fn want_pictures(&self) -> DemandGuard {
        want(&self.demand.pictures)
    }

    /// Counts a consumer of the camera's video that is not a viewer (the recorder).
    pub fn want_video(&self) -> DemandGuard {
        want(&self.demand.video)
    }

    /// What counts consumers of pictures, for one that holds no camera (the motion
    /// task).
    pub fn pictures_demand(&self) -> DemandHandle {
        DemandHandle(self.demand.pictures.clone())
    }

    /// What counts consumers of video, for one that holds no camera (the motion task,
    /// for its recorder).
    pub fn video_demand(&self) -> DemandHandle {
        DemandHandle(self.demand.video.clone())
    }

    /// The number of consumers of pictures, to wait on.
    pub fn watch_pictures_wanted(&self) -> watch::Receiver<usize> {
        self.demand.pictures.subscribe()
    }

    /// The number of consumers of JPEG bytes (viewers and snapshots).
    pub fn watch_jpeg_wanted(&self) -> watch::Receiver<usize> {
        self.demand.jpeg.subscribe()
    }

    /// The number of consumers of video, to wait on.
    pub fn watch_video_wanted(&self) -> watch::Receiver<usize> {
        self.demand.video.subscribe()
    }
}

/// Completes once a count of consumers (`Camera::watch_viewers`, `watch_video_wanted`,
/// ...) has been zero for `after` without a break: what stops an on-demand source or a
/// stage once it is no longer wanted. Never completes once the camera is gone.
pub async fn unwanted_for(count: &mut watch::Receiver<usize>, after: Duration) {
    loop {
        if count.wait_for(|n| *n == 0).await.is_err() {
            return std::future::pending().await;
        }
        if tokio::time::timeout(after, count.wait_for(|n| *n > 0))
            .await
            .is_err()
        {
            return;
        }
    }
}

fn want(count: &watch::Sender<usize>) -> DemandGuard {
    count.send_modify(|n| *n += 1);
    DemandGuard(count.clone())
}

/// Counts a viewer for as long as it lives, and what it wants.
#[derive(Debug)]
pub struct ViewerGuard {
    camera: Arc<Camera>,
    _wants: [Option<DemandGuard>; 2],
}

impl Drop for ViewerGuard {
    fn drop(&mut self) {
        self.camera
            .demand
            .viewers
            .send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Counts one consumer (of pictures, of their JPEG, of video) for as long as it lives.
#[derive(Debug)]
pub struct DemandGuard(watch::Sender<usize>);

impl Drop for DemandGuard {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Makes [`DemandGuard`]s of one kind for one camera, for a consumer that holds no
/// camera (the motion task).
#[derive(Debug, Clone)]
pub struct DemandHandle(watch::Sender<usize>);

impl DemandHandle {
    pub fn want(&self) -> DemandGuard {
        want(&self.0)
    }
}
