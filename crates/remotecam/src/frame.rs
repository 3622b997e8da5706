//! The frame: one JPEG picture of one camera, immutable once published.
//!
//! **Architecture invariant:** a frame's bytes are never copied per viewer. Every sink
//! receives the same `Bytes` (a reference-counted slice) or a byte string derived from it
//! once per frame (the MJPEG part header, the WebSocket message), never once per viewer.

use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use remotecam_core::jpeg::{JpegError, JpegInfo};
pub use remotecam_core::wire::FrameMeta;

/// What the hub takes from a publisher or a source: every frame is checked against these
/// before it is published (`--max-frame-bytes`, `--max-frame-pixels`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLimits {
    /// Largest JPEG, in bytes.
    pub max_bytes: usize,
    /// Largest picture, width times height as the JPEG's header claims it. Everything
    /// made from a frame (decoded pictures, the no-signal picture at its size) is
    /// allocated by that claim, so it is bounded here.
    pub max_pixels: u64,
}

impl Default for FrameLimits {
    fn default() -> FrameLimits {
        FrameLimits {
            max_bytes: 8 << 20,
            // 8K UHD (7680x4320): above every phone, webcam and IP camera's picture.
            max_pixels: 7680 * 4320,
        }
    }
}

impl FrameLimits {
    /// The checks of [`remotecam_core::jpeg::inspect`] plus the picture size.
    pub fn check(&self, jpeg: &[u8]) -> Result<JpegInfo, JpegError> {
        remotecam_core::jpeg::inspect_within(jpeg, self.max_pixels)
    }
}

/// The multipart boundary of every MJPEG stream the hub serves.
pub const MJPEG_BOUNDARY: &str = "remotecamframe";

/// One published JPEG plus what is known about it.
#[derive(Debug)]
pub struct Frame {
    /// Per camera, starting at 1, increasing by one per published frame, across publisher
    /// reconnects. A gap seen by a viewer is the number of frames it skipped.
    pub seq: u64,
    pub jpeg: Bytes,
    pub width: u16,
    pub height: u16,
    /// When the source says the picture was taken, by the source's clock (a phone's clock
    /// may be off; compare with `received_at` with care).
    pub captured_at: Option<SystemTime>,
    /// When the hub accepted the frame, by the hub's clock.
    pub received_at: SystemTime,
    /// `received_at` on the monotonic clock, for ages and rates.
    pub received: Instant,
    part_header: Bytes,
    ws_message: OnceLock<Bytes>,
}

/// Whole Unix milliseconds, as the API and the viewer messages give times.
pub(crate) fn epoch_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The header of one MJPEG part (boundary line and part headers) for a JPEG of `len`
/// bytes: a frame's carries its sequence number and arrival time (Unix seconds and
/// microseconds); the no-signal picture's has neither.
pub fn mjpeg_part_header(len: usize, frame: Option<(u64, std::time::Duration)>) -> Bytes {
    let mut header =
        format!("--{MJPEG_BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len}\r\n");
    if let Some((seq, ts)) = frame {
        header += &format!(
            "X-Frame-Seq: {seq}\r\nX-Timestamp: {}.{:06}\r\n",
            ts.as_secs(),
            ts.subsec_micros()
        );
    }
    header += "\r\n";
    Bytes::from(header)
}

impl Frame {
    pub fn new(
        seq: u64,
        jpeg: Bytes,
        width: u16,
        height: u16,
        captured_at: Option<SystemTime>,
    ) -> Frame {
        Frame::received(
            seq,
            jpeg,
            (width, height),
            captured_at,
            (SystemTime::now(), Instant::now()),
        )
    }

    /// A frame that came at `received` (both clocks): a picture made of a video
    /// camera's access unit has the unit's time.
    pub fn received(
        seq: u64,
        jpeg: Bytes,
        (width, height): (u16, u16),
        captured_at: Option<SystemTime>,
        (received_at, received): (SystemTime, Instant),
    ) -> Frame {
        let ts = received_at.duration_since(UNIX_EPOCH).unwrap_or_default();
        let part_header = mjpeg_part_header(jpeg.len(), Some((seq, ts)));
        Frame {
            seq,
            jpeg,
            width,
            height,
            captured_at,
            received_at,
            received,
            part_header,
            ws_message: OnceLock::new(),
        }
    }

    pub fn meta(&self) -> FrameMeta {
        FrameMeta {
            seq: self.seq,
            width: self.width,
            height: self.height,
            captured_ms: self.captured_at.map(epoch_ms),
            received_ms: epoch_ms(self.received_at),
            bytes: self.jpeg.len(),
        }
    }

    /// The MJPEG part header (boundary line and part headers) that precedes the JPEG.
    pub fn mjpeg_part_header(&self) -> Bytes {
        self.part_header.clone()
    }

    /// The binary WebSocket message for viewers ([`remotecam_core::wire::encode_frame`]).
    /// Built on first use, once per frame, and shared by every WebSocket viewer.
    pub fn ws_message(&self) -> Bytes {
        self.ws_message
            .get_or_init(|| remotecam_core::wire::encode_frame(&self.meta(), &self.jpeg))
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_message_is_length_json_jpeg() {
        let frame = Frame::new(7, Bytes::from_static(b"\xFF\xD8jpeg\xFF\xD9"), 4, 2, None);
        let msg = frame.ws_message();
        let n = u32::from_be_bytes(msg[..4].try_into().unwrap()) as usize;
        let meta: serde_json::Value = serde_json::from_slice(&msg[4..4 + n]).unwrap();
        assert_eq!(meta["seq"], 7);
        assert_eq!(meta["width"], 4);
        assert_eq!(meta["captured_ms"], serde_json::Value::Null);
        assert!(meta["received_ms"].is_u64(), "whole milliseconds: {meta}");
        assert_eq!(&msg[4 + n..], &frame.jpeg[..]);
        // Built once: a second call shares the same allocation.
        assert_eq!(frame.ws_message().as_ptr(), msg.as_ptr());
    }

    #[test]
    fn part_header_has_content_length() {
        let frame = Frame::new(1, Bytes::from(vec![0u8; 1234]), 4, 2, None);
        let header = String::from_utf8(frame.mjpeg_part_header().to_vec()).unwrap();
        assert!(header.starts_with("--remotecamframe\r\n"));
        assert!(header.contains("Content-Length: 1234\r\n"));
        assert!(header.ends_with("\r\n\r\n"));
    }
}
