//! A publisher's H.264 stream, checked unit by unit before it goes onto the video bus:
//! what the publish WebSocket takes from the publisher page's WebCodecs encoder. No
//! I/O: the session hands it each message and acts on the answer.
//!
//! A publisher's claims are bounded before they are believed: the configuration first
//! (`avcc.rs`), every unit within `--max-frame-bytes`, its NAL lengths within its bytes,
//! a picture in it, the first unit after a configuration a keyframe (by its content, not
//! by the publisher's word), times that only go forward, and at most
//! [`MAX_UNITS_PER_SECOND`] units a second (a camera sends 60 at most: a flood of tiny
//! units would cost the hub its bookkeeping for each).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::avcc::{self, ConfigError};
use super::{Codec, VideoParams};

/// The most units a publisher may send in any second.
pub const MAX_UNITS_PER_SECOND: u32 = 120;

/// Why a publisher's stream was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StreamError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("a video unit before the decoder configuration")]
    NoConfig,
    #[error("a unit of {0} bytes, above the limit of {1} (--max-frame-bytes)")]
    TooLarge(usize, usize),
    #[error("a unit whose NAL unit lengths run past its end")]
    CutShort,
    #[error("a unit without a picture in it")]
    NoPicture,
    #[error("the first unit after a configuration must be a keyframe (an IDR picture)")]
    NoKeyframe,
    #[error("unit times must increase ({0} µs came after {1} µs)")]
    TimeBack(i64, i64),
    #[error("more than {MAX_UNITS_PER_SECOND} units in a second")]
    TooMany,
}

impl StreamError {
    /// Whether the stream is refused for a size (a WebSocket's 1009).
    pub fn is_too_big(&self) -> bool {
        match self {
            StreamError::Config(e) => e.is_too_big(),
            StreamError::TooLarge(..) => true,
            _ => false,
        }
    }

    /// Whether the publisher broke a rule of the protocol rather than sent bad data (a
    /// WebSocket's 1008).
    pub fn is_policy(&self) -> bool {
        matches!(self, StreamError::TooMany)
    }
}

/// A unit that passed, ready for the bus.
#[derive(Debug)]
pub struct Checked {
    pub data: Bytes,
    pub keyframe: bool,
    /// 90 kHz, from the publisher's clock.
    pub pts: i64,
    pub params: Arc<VideoParams>,
}

/// One publisher's stream, as far as it came.
#[derive(Debug)]
pub struct PublishedStream {
    max_bytes: usize,
    max_pixels: u64,
    params: Option<Arc<VideoParams>>,
    /// A keyframe is due (the first unit after a configuration).
    want_keyframe: bool,
    last_us: Option<i64>,
    /// The current second's start and the units in it.
    window: Option<(Instant, u32)>,
}

impl PublishedStream {
    pub fn new(max_bytes: usize, max_pixels: u64) -> PublishedStream {
        PublishedStream {
            max_bytes,
            max_pixels,
            params: None,
            want_keyframe: true,
            last_us: None,
            window: None,
        }
    }

    /// The stream's parameters, once configured.
    pub fn params(&self) -> Option<&Arc<VideoParams>> {
        self.params.as_ref()
    }

    /// Takes a decoder configuration (avcC); the next unit must be a keyframe, and its
    /// time may start anew. The same configuration again changes nothing.
    pub fn configure(&mut self, avcc: &[u8]) -> Result<Arc<VideoParams>, StreamError> {
        let params = avcc::params(avcc, self.max_pixels)?;
        match &self.params {
            Some(same) if **same == params => {}
            _ => {
                // A new stream (a new size, a new encoder): its clock may start anew.
                self.params = Some(Arc::new(params));
                self.want_keyframe = true;
                self.last_us = None;
            }
        }
        Ok(Arc::clone(self.params.as_ref().expect("just set")))
    }

    /// Checks the unit `data` (NAL units with 4-byte lengths) of time `timestamp_us`
    /// (the publisher's clock, microseconds), received at `now`.
    pub fn unit(
        &mut self,
        data: Bytes,
        timestamp_us: i64,
        now: Instant,
    ) -> Result<Checked, StreamError> {
        self.count(now)?;
        let params = Arc::clone(self.params.as_ref().ok_or(StreamError::NoConfig)?);
        if data.len() > self.max_bytes {
            return Err(StreamError::TooLarge(data.len(), self.max_bytes));
        }
        let (picture, keyframe) = scan(&data).ok_or(StreamError::CutShort)?;
        if !picture {
            return Err(StreamError::NoPicture);
        }
        if self.want_keyframe && !keyframe {
            return Err(StreamError::NoKeyframe);
        }
        if let Some(last) = self.last_us
            && timestamp_us <= last
        {
            return Err(StreamError::TimeBack(timestamp_us, last));
        }
        self.want_keyframe = false;
        self.last_us = Some(timestamp_us);
        Ok(Checked {
            data,
            keyframe,
            pts: timestamp_us.saturating_mul(9) / 100,
            params,
        })
    }

    fn count(&mut self, now: Instant) -> Result<(), StreamError> {
        let (start, units) = self.window.get_or_insert((now, 0));
        if now.saturating_duration_since(*start) >= Duration::from_secs(1) {
            (*start, *units) = (now, 0);
        }
        *units += 1;
        if *units > MAX_UNITS_PER_SECOND {
            return Err(StreamError::TooMany);
        }
        Ok(())
    }
}

/// Whether a unit holds a picture and whether it is an IDR picture; `None` when its
/// lengths run past its end.
fn scan(unit: &[u8]) -> Option<(bool, bool)> {
    let (mut picture, mut idr) = (false, false);
    let mut rest = unit;
    while !rest.is_empty() {
        let (len, tail) = rest.split_first_chunk::<4>()?;
        let len = u32::from_be_bytes(*len) as usize;
        let nal = tail.get(..len)?;
        if let Some(&header) = nal.first() {
            picture |= Codec::H264.is_picture(header);
            idr |= header & 0x1F == 5;
        }
        rest = &tail[len..];
    }
    Some((picture, idr))
}

#[cfg(test)]
mod tests {
    use super::*;

    const AVCC: &[u8] = &[
        1, 100, 12, 31, 255, 225, 0, 19, 103, 100, 12, 31, 172, 25, 26, 128, 80, 5, 186, 106, 12,
        12, 12, 15, 8, 132, 106, 1, 0, 4, 104, 206, 60, 128,
    ];

    fn nal(header: u8, len: usize) -> Vec<u8> {
        let mut v = (len as u32 + 1).to_be_bytes().to_vec();
        v.push(header);
        v.resize(5 + len, 0x88);
        v
    }

    #[test]
    fn a_stream_starts_with_its_configuration_and_a_keyframe() {
        let now = Instant::now();
        let mut s = PublishedStream::new(1 << 20, 1 << 30);
        let idr = Bytes::from(nal(0x65, 100));
        let p = Bytes::from(nal(0x41, 10));
        assert_eq!(
            s.unit(idr.clone(), 0, now).unwrap_err(),
            StreamError::NoConfig
        );
        s.configure(AVCC).unwrap();
        assert_eq!(
            s.unit(p.clone(), 0, now).unwrap_err(),
            StreamError::NoKeyframe
        );
        let first = s.unit(idr, 1_000_000, now).unwrap();
        assert!(first.keyframe);
        assert_eq!(first.pts, 90_000);
        assert!(!s.unit(p.clone(), 1_033_333, now).unwrap().keyframe);
        assert_eq!(
            s.unit(p.clone(), 1_000_000, now).unwrap_err(),
            StreamError::TimeBack(1_000_000, 1_033_333)
        );
        // The same configuration again asks for nothing new.
        s.configure(AVCC).unwrap();
        assert!(s.unit(p, 1_066_666, now).is_ok());
    }

    #[test]
    fn bad_units_are_refused() {
        let now = Instant::now();
        let mut s = PublishedStream::new(1000, 1 << 30);
        s.configure(AVCC).unwrap();
        assert_eq!(
            s.unit(Bytes::from(nal(0x65, 2000)), 0, now).unwrap_err(),
            StreamError::TooLarge(2005, 1000)
        );
        let mut cut = nal(0x65, 10);
        cut.truncate(8);
        assert_eq!(
            s.unit(Bytes::from(cut), 0, now).unwrap_err(),
            StreamError::CutShort
        );
        assert_eq!(
            s.unit(Bytes::from(nal(0x06, 10)), 0, now).unwrap_err(),
            StreamError::NoPicture
        );
    }

    #[test]
    fn a_flood_of_units_is_refused() {
        let now = Instant::now();
        let mut s = PublishedStream::new(1000, 1 << 30);
        s.configure(AVCC).unwrap();
        for i in 0..MAX_UNITS_PER_SECOND {
            s.unit(Bytes::from(nal(0x65, 1)), i64::from(i), now)
                .unwrap();
        }
        assert_eq!(
            s.unit(Bytes::from(nal(0x65, 1)), 1000, now).unwrap_err(),
            StreamError::TooMany
        );
        // The next second starts a new count.
        let later = now + Duration::from_secs(1);
        s.unit(Bytes::from(nal(0x65, 1)), 2000, later).unwrap();
    }
}
