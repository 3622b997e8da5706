//! Pictures for those who want a video camera's pictures: JPEG for MJPEG and WebSocket
//! viewers, snapshots and the Python and Rust clients; the decoded luma for motion
//! detection.
//!
//! One decoder per camera (`video::pictures`), started when the first of them comes and
//! stopped [`LINGER`] after the last one left, so that snapshots taken one after another
//! find it running. It starts at the newest keyframe the bus holds and decodes its way to
//! the newest unit, so a first picture never waits for the camera's next keyframe.
//! Decoding runs on a blocking thread, never on the async threads.

use std::time::Duration;

use super::Never;
use crate::camera::{PublisherLease, SourceState};
use crate::video::pictures::{Jpeg, PictureMaker};

/// How long the decoder keeps running after its last consumer left.
pub(super) const LINGER: Duration = Duration::from_secs(10);

/// Makes pictures for as long as the source runs. Returns only if it cannot make any
/// (the JPEG encoder could not be made).
pub(super) async fn run(lease: &PublisherLease) -> String {
    let camera = lease.camera();
    let mut wanted = camera.watch_pictures_wanted();
    loop {
        if wanted.wait_for(|n| *n > 0).await.is_err() {
            return std::future::pending().await;
        }
        let maker = match PictureMaker::new() {
            Ok(maker) => Box::new(maker),
            Err(e) => return e,
        };
        let _decoding = Decoding::start(camera);
        tokio::select! {
            never = decode(lease, maker) => match never {},
            () = super::unwatched(&mut wanted, Some(LINGER)) => {}
        }
    }
}

/// The camera says it decodes while this lives (also when the source fails mid-way).
struct Decoding<'a>(&'a crate::camera::Camera);

impl<'a> Decoding<'a> {
    fn start(camera: &'a crate::camera::Camera) -> Decoding<'a> {
        camera.set_decoding(true);
        Decoding(camera)
    }
}

impl Drop for Decoding<'_> {
    fn drop(&mut self) {
        self.0.set_decoding(false);
    }
}

/// Decodes every unit from the newest keyframe on, and publishes a picture of the
/// newest; runs until it is dropped.
async fn decode(lease: &PublisherLease, mut maker: Box<PictureMaker>) -> Never {
    let camera = lease.camera();
    let jpeg_wanted = camera.watch_jpeg_wanted();
    let mut reader = camera.decoded_video().reader();
    let mut failing = false;
    loop {
        let Some(unit) = reader.next().await else {
            return std::future::pending().await;
        };
        // Every unit is decoded; only the newest becomes a picture, with its JPEG while
        // a viewer or a snapshot wants one, else with a thumbnail at keyframes (what a
        // clip's thumbnail is made of).
        let newest = !reader.behind();
        let jpeg = if *jpeg_wanted.borrow() > 0 {
            Jpeg::Full
        } else if unit.keyframe {
            Jpeg::Thumbnail
        } else {
            Jpeg::No
        };
        let job = tokio::task::spawn_blocking(move || {
            let picture = maker.decode(&unit, newest, jpeg);
            (maker, unit, picture)
        });
        let (returned, unit, picture) = job.await.expect("decoding does not panic");
        maker = returned;
        match picture {
            Ok(Some(picture)) => {
                lease.publish_picture(&unit, picture);
                if failing {
                    failing = false;
                    camera.set_source_state(SourceState::Live, None);
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(camera = camera.name(), error = %e, "picture not made");
                failing = true;
                camera.set_source_state(SourceState::Live, Some(e));
            }
        }
    }
}
