//! JPEG checks done on every ingested frame, before anything is published.
//!
//! The hub never decodes a frame just to forward it ("encode once"), but it must not
//! forward garbage either: a viewer that receives a broken JPEG shows a broken image and
//! some clients (OpenCV's MJPEG reader among them) give up on the whole stream. So each
//! frame is checked for its start and end markers and its header is walked far enough to
//! learn the picture size. That costs a few hundred nanoseconds, not a decode.

use std::sync::OnceLock;

use bytes::{BufMut, Bytes, BytesMut};
use thiserror::Error;

/// What the header says about a JPEG.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JpegInfo {
    pub width: u16,
    pub height: u16,
    /// Colour components: 1 for grayscale, 3 for YCbCr.
    pub components: u8,
}

impl JpegInfo {
    pub fn pixels(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }
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
    #[error(
        "picture of {width}x{height} is larger than this hub takes ({max_pixels} pixels at most)"
    )]
    TooLarge {
        width: u16,
        height: u16,
        max_pixels: u64,
    },
}

/// [`inspect`], and the picture's size within `max_pixels`: what a hub takes from a
/// source. The size in a header is only a claim, but it is what decoders and the
/// pictures made from a frame allocate by, so a frame claiming more is refused here,
/// before anything is allocated for it.
pub fn inspect_within(data: &[u8], max_pixels: u64) -> Result<JpegInfo, JpegError> {
    let info = inspect(data)?;
    if info.pixels() > max_pixels {
        return Err(JpegError::TooLarge {
            width: info.width,
            height: info.height,
            max_pixels,
        });
    }
    Ok(info)
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

/// The marker segments of the header, up to and including the start of scan:
/// (marker, offset of the marker, length of the segment after the marker). Stops early on
/// a malformed header; [`inspect`] is the check that reports why.
fn header_segments(data: &[u8]) -> Vec<(u8, usize, usize)> {
    let mut out = Vec::new();
    let mut pos = 2;
    while pos + 4 <= data.len() && data[pos] == 0xFF {
        let marker = data[pos + 1];
        if marker == 0xFF {
            pos += 1;
            continue;
        }
        if matches!(marker, 0x01 | 0xD0..=0xD7) {
            pos += 2;
            continue;
        }
        let len = usize::from(u16::from_be_bytes([data[pos + 2], data[pos + 3]]));
        out.push((marker, pos, len));
        if marker == 0xDA || len < 2 {
            break;
        }
        pos += 2 + len;
    }
    out
}

/// The JPEG standard's Huffman tables (Annex K.3) as one DHT segment, as our encoder
/// writes them (it uses exactly these unless asked to optimise), taken once.
pub(crate) fn standard_dht() -> &'static [u8] {
    static DHT: OnceLock<Vec<u8>> = OnceLock::new();
    DHT.get_or_init(|| {
        let mut jpeg = Vec::new();
        jpeg_encoder::Encoder::new(&mut jpeg, 75)
            .encode(&[0u8; 16 * 16 * 3], 16, 16, jpeg_encoder::ColorType::Rgb)
            .expect("encoding to memory cannot fail");
        let mut tables = Vec::new();
        for (marker, at, len) in header_segments(&jpeg) {
            if marker == 0xC4 {
                tables.extend_from_slice(&jpeg[at + 4..at + 2 + len]);
            }
        }
        let mut segment = vec![0xFF, 0xC4];
        segment.extend_from_slice(
            &u16::try_from(tables.len() + 2)
                .expect("small")
                .to_be_bytes(),
        );
        segment.extend_from_slice(&tables);
        segment
    })
}

/// Whether the header defines Huffman tables. Many webcams send MJPEG frames without
/// them (the MJPEG convention is that the standard tables apply), which some decoders
/// refuse.
pub fn has_huffman_tables(data: &[u8]) -> bool {
    header_segments(data)
        .iter()
        .any(|&(marker, _, _)| marker == 0xC4)
}

/// The frame with the standard Huffman tables inserted after SOI when it has none (as
/// MJPEG implies); the frame itself, shared, when it has them. Pass-through stays
/// byte-for-byte for every frame that is already a complete JPEG.
pub fn with_huffman_tables(data: Bytes) -> Bytes {
    if data.len() < 4 || has_huffman_tables(&data) {
        return data;
    }
    let dht = standard_dht();
    let mut out = BytesMut::with_capacity(data.len() + dht.len());
    out.put_slice(&data[..2]);
    out.put_slice(dht);
    out.put_slice(&data[2..]);
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(width: u16, height: u16) -> Vec<u8> {
        let pixels: Vec<u8> = (0..usize::from(width) * usize::from(height) * 3)
            .map(|i| (i * 7 % 251) as u8)
            .collect();
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

    /// `jpeg` with the size in its frame header replaced.
    fn claiming(mut jpeg: Vec<u8>, width: u16, height: u16) -> Vec<u8> {
        let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        jpeg[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
        jpeg[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
        jpeg
    }

    #[test]
    fn a_claimed_size_over_the_limit_is_refused() {
        let huge = claiming(encode(16, 16), 65535, 65535);
        assert_eq!(inspect(&huge).unwrap().pixels(), 65535 * 65535);
        let limit = 8192 * 8192;
        assert_eq!(
            inspect_within(&huge, limit),
            Err(JpegError::TooLarge {
                width: 65535,
                height: 65535,
                max_pixels: limit
            })
        );
        let at_limit = claiming(encode(16, 16), 8192, 8192);
        assert_eq!(inspect_within(&at_limit, limit).unwrap().width, 8192);
        let wide = claiming(encode(16, 16), 65535, 1025);
        assert!(inspect_within(&wide, limit).is_err());
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

    /// The frame without its DHT segments, as a webcam would send it.
    fn strip_dht(jpeg: &[u8]) -> Vec<u8> {
        let mut out = jpeg[..2].to_vec();
        let mut last = 2;
        for (marker, at, len) in header_segments(jpeg) {
            out.extend_from_slice(&jpeg[last..at]);
            if marker == 0xDA {
                last = at;
                break;
            }
            if marker != 0xC4 {
                out.extend_from_slice(&jpeg[at..at + 2 + len]);
            }
            last = at + 2 + len;
        }
        out.extend_from_slice(&jpeg[last..]);
        out
    }

    #[test]
    fn standard_tables_are_annex_k() {
        let dht = standard_dht();
        // Four tables: DC (1 + 16 + 12 bytes) twice, AC (1 + 16 + 162 bytes) twice.
        assert_eq!(dht.len(), 4 + 2 * 29 + 2 * 179);
        assert_eq!(&dht[..4], &[0xFF, 0xC4, 0x01, 0xA2]);
        // The code-length counts of the luminance AC table, Annex K.3.3.2.
        let ac_lum = [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7D];
        assert!(dht.windows(16).any(|w| w == ac_lum));
    }

    #[test]
    fn missing_tables_are_inserted_and_present_ones_kept() {
        let jpeg = Bytes::from(encode(32, 24));
        assert!(has_huffman_tables(&jpeg));
        let same = with_huffman_tables(jpeg.clone());
        assert_eq!(
            same.as_ptr(),
            jpeg.as_ptr(),
            "a complete frame is passed through"
        );
        let bare = strip_dht(&jpeg);
        assert!(!has_huffman_tables(&bare));
        assert!(bare.len() < jpeg.len());
        let decode =
            |data: &[u8]| zune_jpeg::JpegDecoder::new(std::io::Cursor::new(data.to_vec())).decode();
        assert!(
            decode(&bare).is_err(),
            "a strict decoder refuses the bare frame"
        );
        let fixed = with_huffman_tables(Bytes::from(bare));
        assert!(has_huffman_tables(&fixed));
        assert_eq!(inspect(&fixed).unwrap().width, 32);
        assert_eq!(
            decode(&fixed).unwrap(),
            decode(&jpeg).unwrap(),
            "same picture as before"
        );
    }

    #[test]
    fn never_panics_on_any_prefix_or_byte_flip() {
        let jpeg = encode(24, 24);
        for cut in 0..jpeg.len() {
            let _ = inspect(&jpeg[..cut]);
            let _ = with_huffman_tables(Bytes::copy_from_slice(&jpeg[..cut]));
        }
        let mut copy = jpeg.clone();
        for i in 0..copy.len().min(700) {
            copy[i] ^= 0xFF;
            let _ = inspect(&copy);
            copy[i] ^= 0xFF;
        }
    }
}
