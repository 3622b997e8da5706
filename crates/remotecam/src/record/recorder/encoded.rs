//! A JPEG camera's clips: each frame's picture (decoded here, or handed over decoded by
//! the motion task) encoded by the hub's H.264 encoder into the file. The recorder's other
//! half (`mod.rs`) opens, counts and ends clips for every camera; `passthrough.rs` is the
//! same for a camera that sends its own video.

use std::sync::Arc;
use std::time::Instant;

use super::{RETRY_EVERY, Worker, give_back, ticks};
use crate::frame::Frame;
use crate::record::encode::{I420, VideoEncoder};
use crate::record::error::{Kind, RecordError};

impl Worker {
    /// A frame of a JPEG camera's clip: recorded from its picture (decoded here, or by the
    /// motion task), opening the clip at its first frame. Recording all the time, the
    /// clip is cut when it is as long as it may be.
    pub(super) fn jpeg_frame(
        &mut self,
        frame: Arc<Frame>,
        score: f32,
        motion: bool,
        decoded: Option<Box<I420>>,
    ) {
        // Recording all the time: a clip as long as it may be goes on in the next, and
        // after a full disk the next is tried every few seconds.
        if let Some(max) = self.continuous {
            let due = match &self.clip {
                Some(clip) => frame.received.saturating_duration_since(clip.first) >= max,
                None => {
                    self.stopped.is_some()
                        && self.tried.is_none_or(|t| {
                            frame.received.saturating_duration_since(t) >= RETRY_EVERY
                        })
                }
            };
            if due {
                self.tried = Some(frame.received);
                self.start();
            }
        }
        if let Some(picture) = decoded {
            if self.stopped.is_none() {
                self.record(frame, &picture, score, motion);
            }
            give_back(&self.pool, picture);
            return;
        }
        if self.stopped.is_some() {
            return;
        }
        let mut picture = std::mem::take(&mut self.picture);
        match picture.decode_jpeg(&frame.jpeg) {
            Ok(()) => self.record(frame, &picture, score, motion),
            Err(e) => tracing::debug!(camera = %self.name, error = %e, "frame not recorded"),
        }
        self.picture = picture;
    }

    /// Encodes and writes one decoded frame, opening a clip file for it if none is open.
    fn record(&mut self, frame: Arc<Frame>, picture: &I420, score: f32, motion: bool) {
        // A new picture size (a phone turned) needs a new encoder and file: the clip goes
        // on in a new file.
        if let Some(c) = &self.clip
            && c.size != (picture.width, picture.height)
        {
            if !self.cut_for_new_size(frame.received) {
                return;
            }
            self.end(true);
            self.start();
            if self.stopped.is_some() {
                return;
            }
        }
        if self.clip.is_none() {
            let size = (picture.width, picture.height);
            let opened = VideoEncoder::new(size.0, size.1)
                .map_err(|e| RecordError::new(Kind::Codec, e))
                .and_then(|encoder| {
                    self.open((frame.received_at, frame.received), size, Some(encoder))
                });
            match opened {
                Ok(c) => self.clip = Some(c),
                Err(e) => return self.stop(e),
            }
            self.status();
        }
        let clip = self.clip.as_mut().expect("open clip");
        let dts = ticks(frame.received.saturating_duration_since(clip.first));
        if clip.last_dts.is_some_and(|last| dts <= last) {
            return;
        }
        let key = clip.file.wants_keyframe(dts);
        let encoder = clip
            .encoder
            .as_mut()
            .expect("a JPEG camera's clip has an encoder");
        let started = Instant::now();
        let encoded = encoder.encode(picture, dts / 90, key);
        self.encode_time.record(started.elapsed().as_secs_f64());
        let encoded = match encoded {
            Ok(Some(e)) => e,
            Ok(None) => return,
            Err(e) => return self.stop(RecordError::new(Kind::Codec, e)),
        };
        if let Err(e) = clip.file.push(dts, encoded) {
            return self.stop(RecordError::io("writing the clip", &e));
        }
        clip.last_dts = Some(dts);
        self.counted(frame, score, motion);
    }
}
