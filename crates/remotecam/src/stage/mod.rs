//! A camera's stages: what is made of what it sends, for those who want it. A video
//! camera (an RTSP camera, a browser sending H.264) has its pictures made by its decoder
//! (`decoder.rs`) while someone wants pictures; a JPEG camera has its video made by its
//! encoder (`encoder.rs`) while someone wants video. Consumers only declare what they
//! take (`camera::demand`); the stage between is inserted here, once per camera.
//!
//! One task per camera, started with it (the server's hook). It holds the camera only
//! while a stage runs, which is only while the camera is online (an offline camera may
//! be forgotten), and ends when the camera is gone. A stage stops [`LINGER`] (the
//! decoder, so that snapshots taken one after another find it running) or
//! [`ENCODER_LINGER`] after its last consumer left, and at once when the camera changes
//! kind (a browser's new publisher).

mod decoder;
mod encoder;

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::watch;

use crate::camera::{Camera, unwanted_for};

/// How long the decoder keeps running after its last consumer left.
pub const LINGER: Duration = Duration::from_secs(10);
/// How long the encoder keeps running after its last consumer left.
pub const ENCODER_LINGER: Duration = Duration::from_secs(3);

/// What a task that runs until it is dropped returns.
enum Never {}

/// Why a stage cannot run.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error(transparent)]
    Decode(#[from] crate::video::pictures::DecodeError),
    #[error("cannot start its thread: {0}")]
    Thread(std::io::Error),
}

/// Starts `camera`'s stages; they end when the camera is gone.
pub fn spawn(camera: &Arc<Camera>) {
    let demand = Demand {
        online: camera.subscribe(),
        sends_video: camera.watch_sends_video(),
        pictures: camera.watch_pictures_wanted(),
        video: camera.watch_video_wanted(),
    };
    tokio::spawn(run(Arc::downgrade(camera), demand));
}

/// What the stages wait on (receivers only: they keep no camera alive).
struct Demand {
    online: watch::Receiver<crate::camera::Latest>,
    sends_video: watch::Receiver<bool>,
    pictures: watch::Receiver<usize>,
    video: watch::Receiver<usize>,
}

async fn run(camera: Weak<Camera>, mut d: Demand) {
    loop {
        let video = *d.sends_video.borrow_and_update();
        // A video camera's consumers of pictures wake its decoder; a JPEG camera's
        // consumers of video its encoder.
        let (wanted, linger) = if video {
            (&mut d.pictures, LINGER)
        } else {
            (&mut d.video, ENCODER_LINGER)
        };
        if *wanted.borrow_and_update() == 0 || !d.online.borrow_and_update().online {
            let changed = tokio::select! {
                changed = wanted.changed() => changed,
                changed = d.online.changed() => changed,
                changed = d.sends_video.changed() => changed,
            };
            if changed.is_err() {
                return;
            }
            continue;
        }
        let Some(camera) = camera.upgrade() else {
            return;
        };
        let stage = async {
            let error = if video {
                decoder::run(&camera).await
            } else {
                encoder::run(&camera).await
            };
            tracing::warn!(camera = camera.name(), %error, "the camera's stage cannot run");
            // Not again until its consumers come anew.
            std::future::pending::<()>().await;
        };
        tokio::select! {
            () = stage => {}
            () = unwanted_for(wanted, linger) => {}
            _ = d.sends_video.changed() => {}
            _ = d.online.wait_for(|l| !l.online) => {}
        }
    }
}
