//! A video camera's decoder: pictures for those who want them (JPEG for MJPEG and
//! WebSocket viewers, snapshots and the Python and Rust clients; the decoded luma for
//! motion detection), made of its video.
//!
//! One decoder per camera (`video::pictures`), run while someone wants pictures (the
//! stage's shell, `mod.rs`, starts and stops it). It starts at the newest keyframe the
//! bus holds and decodes its way to the newest unit, so a first picture never waits for
//! the camera's next keyframe. Decoding runs on a thread of its own, never on the async
//! threads.

use std::sync::Arc;
use std::sync::mpsc;

use super::{Never, StageError};
use crate::camera::{Camera, SourceState};
use crate::video::AccessUnit;
use crate::video::pictures::{DecodeError, Jpeg, Picture, PictureMaker};

/// Makes pictures until it is dropped. Returns only if it cannot make any (the JPEG
/// encoder or the thread could not be made).
pub(super) async fn run(camera: &Camera) -> StageError {
    let made = PictureMaker::new()
        .map_err(StageError::Decode)
        .and_then(|maker| Decoder::start(camera.name(), maker));
    let decoder = match made {
        Ok(decoder) => decoder,
        Err(e) => return e,
    };
    camera.set_decoding(true);
    let _decoding = scopeguard(camera, |c| c.set_decoding(false));
    match decode(camera, decoder).await {}
}

/// Runs `undo` on `camera` when dropped (also when the stage is stopped mid-way).
pub(super) fn scopeguard<'a>(camera: &'a Camera, undo: fn(&Camera)) -> impl Drop + 'a {
    struct Undo<'a>(&'a Camera, fn(&Camera));
    impl Drop for Undo<'_> {
        fn drop(&mut self) {
            (self.1)(self.0);
        }
    }
    Undo(camera, undo)
}

/// What the decoder's thread gives back: the unit, and its picture if one was made.
type Decoded = (Arc<AccessUnit>, Result<Option<Picture>, DecodeError>);

/// A camera's decoder on a thread of its own, one unit at a time: always the same thread
/// (the pictures it refers to stay in that CPU's cache), woken through a channel rather
/// than a task handed to the blocking pool for each unit. The thread ends with the
/// unit it decodes when this is dropped.
struct Decoder {
    units: mpsc::SyncSender<(Arc<AccessUnit>, bool, Jpeg)>,
    decoded: tokio::sync::mpsc::Receiver<Decoded>,
}

impl Decoder {
    fn start(camera: &str, mut maker: PictureMaker) -> Result<Decoder, StageError> {
        let (units, jobs) = mpsc::sync_channel::<(Arc<AccessUnit>, bool, Jpeg)>(1);
        let (done, decoded) = tokio::sync::mpsc::channel(1);
        std::thread::Builder::new()
            .name(format!("pic-{camera}"))
            .spawn(move || {
                while let Ok((unit, picture, jpeg)) = jobs.recv() {
                    let made = maker.decode(&unit, picture, jpeg);
                    if done.blocking_send((unit, made)).is_err() {
                        break;
                    }
                }
            })
            .map_err(StageError::Thread)?;
        Ok(Decoder { units, decoded })
    }

    /// Decodes `unit` (making a picture of it if `picture`, with the JPEG `jpeg` says).
    async fn decode(&mut self, unit: Arc<AccessUnit>, picture: bool, jpeg: Jpeg) -> Decoded {
        // One unit at a time: the channel has room, and the thread is there until the
        // decoder is dropped.
        self.units
            .send((unit, picture, jpeg))
            .expect("the decoder thread waits for units");
        self.decoded
            .recv()
            .await
            .expect("the decoder thread answers every unit")
    }
}

/// Decodes every unit from the newest keyframe on, and publishes a picture of the
/// newest; runs until it is dropped.
async fn decode(camera: &Camera, mut decoder: Decoder) -> Never {
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
        let (unit, picture) = decoder.decode(unit, newest, jpeg).await;
        match picture {
            Ok(Some(picture)) => {
                camera.publish_picture(&unit, picture);
                if failing {
                    failing = false;
                    camera.set_source_state(SourceState::Live, None);
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(camera = camera.name(), error = %e, "picture not made");
                failing = true;
                camera.set_source_state(SourceState::Live, Some(e.to_string()));
            }
        }
    }
}
