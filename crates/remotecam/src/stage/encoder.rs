//! A JPEG camera's encoder: H.264 made of its frames for those who want its video
//! (`stream.mp4` viewers), one encoder per camera whatever their number, run while
//! someone wants video (the stage's shell, `mod.rs`, starts and stops it).
//!
//! It takes the newest frame whenever it is free (a camera faster than the encoder has
//! frames skipped, never queued), decodes and encodes it on a thread of its own, and
//! puts the unit onto the camera's video bus with the stream's parameters: a keyframe
//! every [`KEYFRAME_EVERY`], at the start, at a new size and whenever a consumer asks.
//! While it runs, motion detection gets the camera's frames from it, with the working
//! picture of its decode: a frame is decoded once, not once for each.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{Never, StageError};
use crate::camera::Camera;
use crate::frame::Frame;
use crate::picture::{I420, PictureError};
use crate::video::encoder::{EncodeError, Encoded, VideoEncoder};
use crate::video::{VideoParams, avcc};
use remotecam_core::luma::Luma;

/// The most time between keyframes: where a new viewer starts, what a clip's pre-roll
/// reaches back to and where a clip recorded all the time is cut (a second, as the
/// clip file's fragments).
pub(super) const KEYFRAME_EVERY: Duration = Duration::from_secs(1);

/// Makes video until it is dropped. Returns only if it cannot (no thread).
pub(super) async fn run(camera: &Camera) -> StageError {
    let encoder = match EncoderThread::start(camera.name()) {
        Ok(encoder) => encoder,
        Err(e) => return e,
    };
    camera.set_encoding(true);
    let _encoding = super::decoder::scopeguard(camera, |c| c.set_encoding(false));
    match encode(camera, encoder).await {}
}

async fn encode(camera: &Camera, mut encoder: EncoderThread) -> Never {
    let mut frames = camera.subscribe();
    let mut asks = camera.video().watch_keyframe_asks();
    let start = Instant::now();
    // The frame the camera holds came before the encoder started, maybe long before (a
    // publisher that reconnected): the video starts with the next.
    let held = frames
        .borrow_and_update()
        .frame
        .as_ref()
        .map_or(0, |f| f.seq);
    let (mut last_seq, mut last_key) = (held, None::<Instant>);
    let mut params: Option<Arc<VideoParams>> = None;
    loop {
        let frame = {
            let latest = frames.borrow_and_update();
            latest
                .frame
                .clone()
                .filter(|f| latest.online && f.seq > last_seq && !f.jpeg.is_empty())
        };
        let Some(frame) = frame else {
            if frames.changed().await.is_err() {
                return std::future::pending().await;
            }
            continue;
        };
        last_seq = frame.seq;
        let asked = asks.has_changed().unwrap_or(false);
        asks.borrow_and_update();
        let key = asked
            || last_key
                .is_none_or(|k| frame.received.saturating_duration_since(k) >= KEYFRAME_EVERY);
        let ms = frame.received.saturating_duration_since(start).as_millis() as u64;
        let (frame, luma, encoded) = encoder.encode(frame, ms, key).await;
        // Motion detection scores the picture decoded here: one decode a frame.
        camera.show_decoded(&frame, luma);
        let encoded = match encoded {
            Ok(Some(encoded)) => encoded,
            Ok(None) => continue,
            Err(e) => {
                tracing::debug!(camera = camera.name(), error = %e, "frame not encoded");
                continue;
            }
        };
        if encoded.keyframe {
            last_key = Some(frame.received);
        }
        let data = match avcc::unit_of_annex_b(&encoded.annexb, &mut params) {
            Ok(data) => data,
            Err(e) => {
                tracing::warn!(camera = camera.name(), error = %e, "encoded unit dropped");
                continue;
            }
        };
        let Some(params) = &params else { continue };
        let pts = (ms * 90) as i64;
        camera.publish_encoded(&frame, data, (encoded.keyframe, pts), Arc::clone(params));
    }
}

/// What the encoder's thread gives back: the frame, the working picture of its decode,
/// and its unit if one was made.
type Done = (
    Arc<Frame>,
    Option<Arc<Luma>>,
    Result<Option<Encoded>, NotEncoded>,
);

/// Why a frame was not encoded.
#[derive(Debug, thiserror::Error)]
enum NotEncoded {
    #[error(transparent)]
    Picture(#[from] PictureError),
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// The camera's encoder on a thread of its own, one frame at a time (decoding the JPEG,
/// then encoding it); a new size starts a new encoder, with a keyframe. The thread ends
/// with the frame it encodes when this is dropped.
struct EncoderThread {
    jobs: mpsc::SyncSender<(Arc<Frame>, u64, bool)>,
    done: tokio::sync::mpsc::Receiver<Done>,
}

impl EncoderThread {
    fn start(camera: &str) -> Result<EncoderThread, StageError> {
        let (jobs, work) = mpsc::sync_channel::<(Arc<Frame>, u64, bool)>(1);
        let (answer, done) = tokio::sync::mpsc::channel(1);
        let time =
            metrics::histogram!("remotecam_recorder_encode_seconds", "camera" => camera.to_owned());
        std::thread::Builder::new()
            .name(format!("enc-{camera}"))
            .spawn(move || {
                let mut picture = I420::default();
                let mut encoder: Option<((usize, usize), VideoEncoder)> = None;
                while let Ok((frame, ms, key)) = work.recv() {
                    let started = Instant::now();
                    let made = encode_one(&mut picture, &mut encoder, &frame, (ms, key));
                    time.record(started.elapsed().as_secs_f64());
                    // Motion detection reads grayscale and YCbCr JPEGs (what cameras
                    // send): a CMYK one goes to it as it is, to be refused there.
                    let cmyk = remotecam_core::jpeg::inspect(&frame.jpeg)
                        .is_ok_and(|info| info.components == 4);
                    let luma = match &made {
                        Err(NotEncoded::Picture(_)) => None,
                        _ if cmyk => None,
                        _ => Some(Arc::new(picture.view().working_picture())),
                    };
                    if answer.blocking_send((frame, luma, made)).is_err() {
                        break;
                    }
                }
            })
            .map_err(StageError::Thread)?;
        Ok(EncoderThread { jobs, done })
    }

    async fn encode(&mut self, frame: Arc<Frame>, ms: u64, key: bool) -> Done {
        self.jobs
            .send((frame, ms, key))
            .expect("the encoder thread waits for frames");
        self.done
            .recv()
            .await
            .expect("the encoder thread answers every frame")
    }
}

fn encode_one(
    picture: &mut I420,
    encoder: &mut Option<((usize, usize), VideoEncoder)>,
    frame: &Frame,
    (ms, key): (u64, bool),
) -> Result<Option<Encoded>, NotEncoded> {
    picture.decode_jpeg(&frame.jpeg)?;
    let size = (picture.width, picture.height);
    let key = match encoder {
        Some((at, _)) if *at == size => key,
        _ => {
            *encoder = Some((size, VideoEncoder::new(size.0, size.1)?));
            true
        }
    };
    let (_, encoder) = encoder.as_mut().expect("just made");
    Ok(encoder.encode(picture, ms, key)?)
}
