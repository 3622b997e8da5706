//! JPEG checks done on every ingested frame, before anything is published.
//!
//! The hub never decodes a frame just to forward it ("encode once"), but it must not
//! forward garbage either: a viewer that receives a broken JPEG shows a broken image and
//! some clients (OpenCV's MJPEG reader among them) give up on the whole stream. So each
//! frame is checked for its start and end markers and its header is walked far enough to
//! learn the picture size. That costs a few hundred nanoseconds, not a decode.

use thiserror::Error;

/// What the header says about a JPEG.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JpegInfo {
    pub width: u16,
    pub height: u16,
    /// Colour components: 1 for grayscale, 3 for YCbCr.
    pub components: u8,
}

/// Why a message is not a usable JPEG. The text is sent to the publisher as the close
/// reason, so it says what is wrong in words a person can act on.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum JpegError {
    #[error("not a JPEG: it does not start with the SOI marker (FF D8)")]
    NoStart,
    #[error("truncated JPEG: it does not end with the EOI marker (FF D9)")]
    NoEnd,
    #[error("truncated JPEG header")]
    TruncatedHeader,
    #[error("JPEG has no frame header (SOF) before its scan")]
    NoFrameHeader,
    #[error("JPEG frame header has zero width or height")]
    ZeroSize,
    #[error("corrupt JPEG header: expected a marker at byte {0}")]
    BadMarker(usize),
}

/// Checks `data` and returns the size from its frame header.
///
/// Accepts trailing zero padding after EOI (some encoders align their buffers) but
/// nothing else after it.
pub fn inspect(data: &[u8]) -> Result<JpegInfo, JpegError> {
    if data.len() < 4 || data[0] != 0xFF || data[1] != 0xD8 {
        return Err(JpegError::NoStart);
    }
    let mut end = data.len();
    while end > 4 && data[end - 1] == 0 {
        end -= 1;
    }
    if data[end - 2] != 0xFF || data[end - 1] != 0xD9 {
        return Err(JpegError::NoEnd);
    }
    let mut pos = 2;
    loop {
        if pos >= end {
            return Err(JpegError::TruncatedHeader);
        }
        if data[pos] != 0xFF {
            return Err(JpegError::BadMarker(pos));
        }
        // Any number of 0xFF fill bytes may precede a marker code.
        while pos < end && data[pos] == 0xFF {
            pos += 1;
        }
        if pos >= end {
            return Err(JpegError::TruncatedHeader);
        }
        let marker = data[pos];
        pos += 1;
        match marker {
            // Markers without a length field.
            0x01 | 0xD0..=0xD7 => continue,
            0xD8 => return Err(JpegError::BadMarker(pos - 2)),
            0xD9 | 0xDA => return Err(JpegError::NoFrameHeader),
            _ => {}
        }
        if pos + 2 > end {
            return Err(JpegError::TruncatedHeader);
        }
        let len = usize::from(u16::from_be_bytes([data[pos], data[pos + 1]]));
        if len < 2 || pos + len > end {
            return Err(JpegError::TruncatedHeader);
        }
        let is_sof = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_sof {
            // length(2) precision(1) height(2) width(2) components(1)
            if len < 8 {
                return Err(JpegError::TruncatedHeader);
            }
            let height = u16::from_be_bytes([data[pos + 3], data[pos + 4]]);
            let width = u16::from_be_bytes([data[pos + 5], data[pos + 6]]);
            let components = data[pos + 7];
            if width == 0 || height == 0 {
                return Err(JpegError::ZeroSize);
            }
            return Ok(JpegInfo {
                width,
                height,
                components,
            });
        }
        pos += len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(width: u16, height: u16) -> Vec<u8> {
        let pixels = vec![128u8; usize::from(width) * usize::from(height) * 3];
        let mut out = Vec::new();
        jpeg_encoder::Encoder::new(&mut out, 80)
            .encode(&pixels, width, height, jpeg_encoder::ColorType::Rgb)
            .unwrap();
        out
    }

    #[test]
    fn reads_size_of_real_jpeg() {
        let jpeg = encode(64, 48);
        assert_eq!(
            inspect(&jpeg),
            Ok(JpegInfo {
                width: 64,
                height: 48,
                components: 3
            })
        );
    }

    #[test]
    fn accepts_zero_padding_after_eoi() {
        let mut jpeg = encode(16, 16);
        jpeg.extend_from_slice(&[0, 0, 0]);
        assert_eq!(inspect(&jpeg).unwrap().width, 16);
    }

    #[test]
    fn rejects_non_jpeg() {
        assert_eq!(inspect(b"\x89PNG\r\n\x1a\nxxxx"), Err(JpegError::NoStart));
        assert_eq!(inspect(b""), Err(JpegError::NoStart));
    }

    #[test]
    fn rejects_truncated_tail() {
        let jpeg = encode(32, 32);
        assert_eq!(inspect(&jpeg[..jpeg.len() / 2]), Err(JpegError::NoEnd));
    }

    #[test]
    fn rejects_header_without_sof() {
        // SOI, a comment segment, then EOI.
        let data = [0xFF, 0xD8, 0xFF, 0xFE, 0x00, 0x04, b'h', b'i', 0xFF, 0xD9];
        assert_eq!(inspect(&data), Err(JpegError::NoFrameHeader));
    }

    #[test]
    fn rejects_segment_running_past_end() {
        let data = [0xFF, 0xD8, 0xFF, 0xE0, 0x40, 0x00, 0xFF, 0xD9];
        assert_eq!(inspect(&data), Err(JpegError::TruncatedHeader));
    }

    #[test]
    fn rejects_garbage_between_segments() {
        let data = [0xFF, 0xD8, 0x12, 0x34, 0xFF, 0xD9];
        assert_eq!(inspect(&data), Err(JpegError::BadMarker(2)));
    }

    #[test]
    fn never_panics_on_any_prefix_or_byte_flip() {
        let jpeg = encode(24, 24);
        for cut in 0..jpeg.len() {
            let _ = inspect(&jpeg[..cut]);
        }
        let mut copy = jpeg.clone();
        for i in 0..copy.len().min(700) {
            copy[i] ^= 0xFF;
            let _ = inspect(&copy);
            copy[i] ^= 0xFF;
        }
    }
}
