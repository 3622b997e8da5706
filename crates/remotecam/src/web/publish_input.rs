//! What a publisher's messages mean (`publish.rs` runs the session): frame metadata,
//! then a JPEG, or an H.264 stream (its decoder configuration, then its units, checked
//! by `video::published`); each accepted one published through the session's lease, and
//! each refusal mapped once to the close code the publisher gets.
//!
//! A session sends one kind of picture: the first frame or configuration decides.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use remotecam_core::wire::{Payload, PublishMeta, PublisherText};

use super::ws::close;
use crate::camera::{PublisherLease, VideoStream};
use crate::counts::Counts;
use crate::frame::FrameLimits;
use crate::health::{HealthReport, Reported};
use crate::jpeg::JpegError;
use crate::video::published::{PublishedStream, StreamError};

/// Why a session is closed, with the code the publisher gets.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Refusal {
    pub(super) code: u16,
    pub(super) reason: String,
}

impl Refusal {
    fn new(code: u16, reason: impl Into<String>) -> Refusal {
        Refusal {
            code,
            reason: reason.into(),
        }
    }
}

impl From<JpegError> for Refusal {
    fn from(e: JpegError) -> Refusal {
        let code = match e {
            JpegError::NoStart => close::UNSUPPORTED,
            JpegError::TooLarge { .. } => close::TOO_BIG,
            _ => close::INVALID_DATA,
        };
        Refusal::new(code, format!("frame rejected: {e}"))
    }
}

impl From<StreamError> for Refusal {
    fn from(e: StreamError) -> Refusal {
        let code = if e.is_too_big() {
            close::TOO_BIG
        } else if e.is_policy() {
            close::POLICY
        } else if matches!(e, StreamError::Config(ref c) if !c.is_broken()) {
            close::UNSUPPORTED
        } else {
            close::INVALID_DATA
        };
        Refusal::new(code, format!("video rejected: {e}"))
    }
}

/// What the session sends so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sends {
    Nothing,
    Jpeg,
    H264,
}

/// One session's input.
pub(super) struct Input {
    limits: FrameLimits,
    counts: Arc<Counts>,
    health: Arc<HealthReport>,
    /// The metadata of the next binary message.
    pending: Option<PublishMeta>,
    sends: Sends,
    stream: PublishedStream,
}

impl Input {
    pub(super) fn new(
        limits: FrameLimits,
        counts: Arc<Counts>,
        health: Arc<HealthReport>,
    ) -> Input {
        Input {
            limits,
            counts,
            health,
            pending: None,
            sends: Sends::Nothing,
            stream: PublishedStream::new(limits.max_bytes, limits.max_pixels),
        }
    }

    /// A text message: the next binary message's metadata, or the phone's health.
    pub(super) fn text(&mut self, text: &str) -> Result<(), Refusal> {
        let value = parse_object(text)?;
        if value.get("kind").and_then(|k| k.as_str()) == Some("health") {
            let bad =
                |e: String| Refusal::new(close::INVALID_DATA, format!("bad health report: {e}"));
            let reported: Reported =
                serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
            return self.health.report(reported).map_err(bad);
        }
        self.pending =
            Some(serde_json::from_value(value).map_err(|e| {
                Refusal::new(close::INVALID_DATA, format!("bad frame metadata: {e}"))
            })?);
        Ok(())
    }

    /// A binary message, published through `lease`; what to answer, if anything.
    pub(super) fn binary(
        &mut self,
        data: Bytes,
        lease: &PublisherLease,
    ) -> Result<Option<PublisherText>, Refusal> {
        let meta = self.pending.take().unwrap_or_default();
        self.counts.received(data.len());
        match meta.kind {
            Payload::Jpeg => {
                self.sending(Sends::Jpeg)?;
                let info = self.limits.check(&data)?;
                let captured = meta.capture_ms.and_then(epoch_ms_to_time);
                let frame = lease.publish(data, info, captured);
                Ok(Some(PublisherText::Ack {
                    seq: frame.seq,
                    t: meta.t,
                }))
            }
            Payload::Avcc => {
                self.sending(Sends::H264)?;
                let params = self.stream.configure(&data)?;
                tracing::info!(
                    camera = lease.camera().name(),
                    codec = params.rfc6381,
                    width = params.width,
                    height = params.height,
                    "publisher sends H.264"
                );
                lease.sends_video(true);
                Ok(None)
            }
            Payload::H264 => {
                self.sending(Sends::H264)?;
                let Some(timestamp_us) = meta.timestamp_us else {
                    return Err(Refusal::new(
                        close::INVALID_DATA,
                        "an H.264 unit's metadata needs its timestamp_us",
                    ));
                };
                let unit = self
                    .stream
                    .unit(data, timestamp_us, std::time::Instant::now())?;
                let captured = meta.capture_ms.and_then(epoch_ms_to_time);
                let published = lease.publish_video(
                    VideoStream::Own,
                    unit.data,
                    (unit.keyframe, unit.pts),
                    unit.params,
                    captured,
                );
                Ok(Some(PublisherText::Ack {
                    seq: published.seq,
                    t: meta.t,
                }))
            }
        }
    }

    fn sending(&mut self, kind: Sends) -> Result<(), Refusal> {
        match (self.sends, kind) {
            (Sends::Nothing, _) => {
                self.sends = kind;
                Ok(())
            }
            (now, next) if now == next => Ok(()),
            (Sends::H264, _) => Err(Refusal::new(
                close::UNSUPPORTED,
                "this publisher sends H.264: a JPEG frame is refused (reconnect to send JPEG)",
            )),
            _ => Err(Refusal::new(
                close::UNSUPPORTED,
                "this publisher sends JPEG: H.264 is refused (reconnect to send video)",
            )),
        }
    }
}

/// A text message as the JSON object it must be.
fn parse_object(text: &str) -> Result<serde_json::Value, Refusal> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        Refusal::new(
            close::INVALID_DATA,
            format!("text messages must be JSON frame metadata: {e}"),
        )
    })?;
    if !value.is_object() {
        return Err(Refusal::new(
            close::UNSUPPORTED,
            "text messages must be a JSON object of frame metadata",
        ));
    }
    Ok(value)
}

fn epoch_ms_to_time(ms: f64) -> Option<SystemTime> {
    (ms.is_finite() && ms > 0.0 && ms < 1e14)
        .then(|| UNIX_EPOCH + Duration::from_micros((ms * 1000.0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh() -> (Input, Arc<HealthReport>) {
        let health = Arc::new(HealthReport::default());
        let input = Input::new(FrameLimits::default(), Arc::default(), Arc::clone(&health));
        (input, health)
    }

    #[test]
    fn text_messages() {
        let (mut input, health) = fresh();
        input
            .text(r#"{"capture_ms": 1700000000000.5, "t": 3}"#)
            .unwrap();
        let m = input.pending.take().unwrap();
        assert_eq!((m.t, m.kind), (Some(3.0), Payload::Jpeg));
        input
            .text(r#"{"kind": "h264", "timestamp_us": 33333}"#)
            .unwrap();
        let m = input.pending.take().unwrap();
        assert_eq!((m.kind, m.timestamp_us), (Payload::H264, Some(33333)));
        // A health report is kept, and is no frame's metadata.
        input
            .text(r#"{"kind": "health", "hidden": true, "battery": 0.5}"#)
            .unwrap();
        assert!(input.pending.is_none());
        assert_eq!(health.now().unwrap().battery, Some(0.5));
        let code = |text: &str| fresh().0.text(text).unwrap_err().code;
        assert_eq!(code("[1]"), close::UNSUPPORTED);
        assert_eq!(code("garbage"), close::INVALID_DATA);
        assert_eq!(code(r#"{"t": "x"}"#), close::INVALID_DATA);
        assert_eq!(code(r#"{"kind": "vp8"}"#), close::INVALID_DATA);
        assert_eq!(
            code(r#"{"kind": "health", "battery": 3}"#),
            close::INVALID_DATA
        );
        assert!(epoch_ms_to_time(f64::NAN).is_none());
    }
}
