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
    /// The metadata of the next binary message.
    pending: Option<PublishMeta>,
    sends: Sends,
    stream: PublishedStream,
}

impl Input {
    pub(super) fn new(limits: FrameLimits, counts: Arc<Counts>) -> Input {
        Input {
            limits,
            counts,
            pending: None,
            sends: Sends::Nothing,
            stream: PublishedStream::new(limits.max_bytes, limits.max_pixels),
        }
    }

    /// A text message: the next binary message's metadata.
    pub(super) fn text(&mut self, text: &str) -> Result<(), Refusal> {
        self.pending = Some(parse_meta(text)?);
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
                let published = lease.publish_video(
                    VideoStream::Own,
                    unit.data,
                    unit.keyframe,
                    unit.pts,
                    unit.params,
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

fn parse_meta(text: &str) -> Result<PublishMeta, Refusal> {
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
    serde_json::from_value(value)
        .map_err(|e| Refusal::new(close::INVALID_DATA, format!("bad frame metadata: {e}")))
}

fn epoch_ms_to_time(ms: f64) -> Option<SystemTime> {
    (ms.is_finite() && ms > 0.0 && ms < 1e14)
        .then(|| UNIX_EPOCH + Duration::from_micros((ms * 1000.0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_parsing() {
        let m = parse_meta(r#"{"capture_ms": 1700000000000.5, "t": 3}"#).unwrap();
        assert_eq!((m.t, m.kind), (Some(3.0), Payload::Jpeg));
        let m = parse_meta(r#"{"kind": "h264", "timestamp_us": 33333}"#).unwrap();
        assert_eq!((m.kind, m.timestamp_us), (Payload::H264, Some(33333)));
        assert_eq!(parse_meta("[1]").unwrap_err().code, close::UNSUPPORTED);
        assert_eq!(parse_meta("garbage").unwrap_err().code, close::INVALID_DATA);
        assert_eq!(
            parse_meta(r#"{"t": "x"}"#).unwrap_err().code,
            close::INVALID_DATA
        );
        assert_eq!(
            parse_meta(r#"{"kind": "vp8"}"#).unwrap_err().code,
            close::INVALID_DATA
        );
        assert!(epoch_ms_to_time(f64::NAN).is_none());
    }
}
