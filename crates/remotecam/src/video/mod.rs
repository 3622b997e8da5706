//! Encoded video on the bus: H.264 and H.265 access units as a camera sends them.
//!
//! A camera that sends inter-coded video (an RTSP camera, a browser sending H.264)
//! publishes its access units here, untouched, and pictures are made of them only while
//! someone wants pictures ([`pictures`]); a JPEG camera's units are made by its encoder
//! ([`encoder`]) while someone wants video. Inter-coded frames depend on the frames
//! before them back to a keyframe, so the bus cannot keep only the newest frame as the
//! JPEG bus does: it keeps the newest group of pictures ([`gop`]).

pub mod avcc;
pub mod dpb;
pub mod encoder;
pub mod gop;
pub mod mp4;
pub mod pictures;
pub mod published;
pub mod tap;

use std::sync::OnceLock;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use serde::Serialize;

/// What a camera's frames are encoded as, as `/api/cameras` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Codec {
    /// A JPEG per frame (browsers, programs, MJPEG and snapshot cameras, webcams, the
    /// test pattern).
    Jpeg,
    H264,
    H265,
}

impl Codec {
    /// As people write it.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Jpeg => "JPEG",
            Codec::H264 => "H.264",
            Codec::H265 => "H.265",
        }
    }

    /// Whether a NAL unit whose header starts with `header` is (a slice of) a picture:
    /// H.264's types 1 to 5, H.265's VCL types 0 to 31.
    pub fn is_picture(self, header: u8) -> bool {
        match self {
            Codec::Jpeg => false,
            Codec::H264 => matches!(header & 0x1F, 1..=5),
            Codec::H265 => (header >> 1) & 0x3F < 32,
        }
    }

    /// Whether a NAL unit whose header starts with `header` may be the last of an access
    /// unit, as retina puts units together from RTP packets: parameter sets (and H.264's
    /// SEI, H.265's reserved and unspecified non-picture types) come before a picture,
    /// so a unit that ends in one goes on, across markers and timestamps.
    pub fn may_end_unit(self, header: u8) -> bool {
        match self {
            Codec::Jpeg => true,
            Codec::H264 => !matches!(header & 0x1F, 6..=8),
            Codec::H265 => !matches!((header >> 1) & 0x3F, 32..=34 | 41..=44 | 48..=55),
        }
    }

    /// Whether an access unit (NAL units with 4-byte lengths) holds a picture. A unit
    /// without one (only SEI, delimiters, filler) shows nothing: the hub does not take
    /// it as video.
    pub fn has_picture(self, unit: &[u8]) -> bool {
        let mut rest = unit;
        while let Some((len, tail)) = rest.split_first_chunk::<4>() {
            let len = u32::from_be_bytes(*len) as usize;
            let Some(nal) = tail.get(..len) else {
                return false;
            };
            if nal.first().is_some_and(|&h| self.is_picture(h)) {
                return true;
            }
            rest = &tail[len..];
        }
        false
    }
}

/// What a decoder or an MP4 writer needs to know of a stream besides its access units.
/// Shared by every access unit of the stream until the camera changes them (a new
/// resolution, say): a new `VideoParams` then comes with the keyframe that needs it.
#[derive(Debug)]
pub struct VideoParams {
    pub codec: Codec,
    /// The picture as shown (the coded size cropped).
    pub width: u16,
    pub height: u16,
    /// The RFC 6381 codec string (`avc1.640028`), what Media Source Extensions ask.
    pub rfc6381: String,
    /// The decoder configuration record (ISO/IEC 14496-15 `avcC` or `hvcC`), what an MP4
    /// sample entry carries.
    pub config: Bytes,
    /// The parameter sets (H.264: SPS, PPS; H.265: VPS, SPS, PPS), each without a start
    /// code, for a decoder that reads them in-band.
    pub parameter_sets: Vec<Bytes>,
    /// The live MP4 init segment, made on first use.
    init: OnceLock<Bytes>,
}

/// Two streams' parameters are the same when a decoder could not tell them apart.
impl PartialEq for VideoParams {
    fn eq(&self, other: &VideoParams) -> bool {
        (
            self.codec,
            self.width,
            self.height,
            &self.config,
            &self.parameter_sets,
        ) == (
            other.codec,
            other.width,
            other.height,
            &other.config,
            &other.parameter_sets,
        )
    }
}

impl Eq for VideoParams {}

impl VideoParams {
    pub fn new(
        codec: Codec,
        (width, height): (u16, u16),
        rfc6381: String,
        config: Bytes,
        parameter_sets: Vec<Bytes>,
    ) -> VideoParams {
        VideoParams {
            codec,
            width,
            height,
            rfc6381,
            config,
            parameter_sets,
            init: OnceLock::new(),
        }
    }

    /// The init segment of a live MP4 stream of this video, made once.
    pub fn init_segment(&self) -> std::io::Result<Bytes> {
        if let Some(init) = self.init.get() {
            return Ok(init.clone());
        }
        let init = mp4::init_segment(self)?;
        Ok(self.init.get_or_init(|| init).clone())
    }
}

/// One coded picture (an access unit) of an H.264 or H.265 stream, immutable once
/// published. Its NAL units are each prefixed by a 4-byte big-endian length, as MP4
/// stores them; the parameter sets are in [`VideoParams`], not here.
#[derive(Debug)]
pub struct AccessUnit {
    /// Per camera, increasing by one per access unit, across reconnects.
    pub seq: u64,
    pub data: Bytes,
    /// A picture decodable on its own (IDR or a random access point): where a consumer
    /// may start.
    pub keyframe: bool,
    /// Presentation time in 90 kHz units from the start of the stream, by the camera's
    /// clock (RTP timestamps).
    pub pts: i64,
    /// How long it shows, in 90 kHz units: the time since the unit before it (the next
    /// one's time is not known yet).
    pub duration: u32,
    pub params: std::sync::Arc<VideoParams>,
    /// When the picture was taken, by the publisher's clock, when it says (a browser's
    /// `capture_ms`; a JPEG camera's frame's, for units its encoder made).
    pub captured_at: Option<SystemTime>,
    /// When the hub received it, by the hub's clock.
    pub received_at: SystemTime,
    /// `received_at` on the monotonic clock.
    pub received: Instant,
}

/// What holding one access unit costs beside its bytes: the unit, its counts and its
/// buffer's bookkeeping.
pub const UNIT_OVERHEAD: usize = std::mem::size_of::<AccessUnit>() + 256;

impl AccessUnit {
    /// The memory holding this unit takes, what caps on held units count: many tiny
    /// units weigh what they cost, not only their bytes.
    pub fn held_bytes(&self) -> usize {
        self.data.len() + UNIT_OVERHEAD
    }

    pub fn new(
        seq: u64,
        data: Bytes,
        keyframe: bool,
        (pts, duration): (i64, u32),
        params: std::sync::Arc<VideoParams>,
    ) -> AccessUnit {
        let received = Instant::now();
        AccessUnit {
            seq,
            data,
            keyframe,
            pts,
            duration,
            params,
            captured_at: None,
            received_at: SystemTime::now(),
            received,
        }
    }

    /// The NAL units in Annex B form (each behind a start code), with the parameter sets
    /// first on a keyframe: what a decoder that reads a byte stream takes. An error for a
    /// unit whose lengths run past its end.
    pub fn annex_b(&self) -> Result<Vec<u8>, CutShort> {
        use shiguredo_mp4::bitstream::h264::{LengthSize, length_prefixed_to_annexb};
        let units = length_prefixed_to_annexb(&self.data, LengthSize::FourBytes)
            .map_err(|e| CutShort(e.to_string()))?;
        if !self.keyframe {
            return Ok(units);
        }
        let mut out = Vec::with_capacity(units.len() + 64);
        for set in &self.params.parameter_sets {
            out.extend_from_slice(&[0, 0, 0, 1]);
            out.extend_from_slice(set);
        }
        out.extend_from_slice(&units);
        Ok(out)
    }
}

/// An access unit whose NAL unit lengths run past its end.
#[derive(Debug, thiserror::Error)]
#[error("a unit cut short: {0}")]
pub struct CutShort(String);

/// Whether an H.265 access unit (4-byte NAL lengths) is a random access point: its
/// picture is of an IRAP type (BLA, IDR or CRA: 16 to 23). retina counts only IDR
/// pictures, but encoders with open groups of pictures (x265's default, some cameras)
/// start each group at a CRA picture: without these the bus's group of pictures would
/// never start again. (Leading pictures a camera that reorders sends after a CRA cannot
/// be decoded from it; decoders that start there skip them.)
pub fn is_h265_irap(data: &[u8]) -> bool {
    use shiguredo_mp4::bitstream::h265::{
        H265NalUnitType, LengthSize, parse_length_prefixed_nal_units,
    };
    parse_length_prefixed_nal_units(data, LengthSize::FourBytes).is_ok_and(|nals| {
        nals.iter()
            .any(|n| matches!(n.nal_unit_type, H265NalUnitType::Other(16..=23)))
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::Arc;

    /// A unit of H.265 NAL units, each a 2-byte header of `type` and a byte.
    fn h265(types: &[u8]) -> Vec<u8> {
        types
            .iter()
            .flat_map(|&t| [0, 0, 0, 3, t << 1, 1, 0xAF])
            .collect()
    }

    #[test]
    fn a_unit_has_a_picture_only_with_a_slice_in_it() {
        let h264 = |types: &[u8]| -> Vec<u8> {
            types
                .iter()
                .flat_map(|&t| [0, 0, 0, 2, 0x60 | t, 0xAF])
                .collect()
        };
        assert!(Codec::H264.has_picture(&h264(&[9, 6, 5])), "AUD, SEI, IDR");
        assert!(Codec::H264.has_picture(&h264(&[1])), "a P slice");
        assert!(
            !Codec::H264.has_picture(&h264(&[9, 6, 6, 12])),
            "AUD, SEI, filler"
        );
        assert!(
            !Codec::H264.has_picture(&[0, 0, 0, 9, 0x65]),
            "a length past the end"
        );
        assert!(
            Codec::H265.has_picture(&h265(&[35, 39, 1])),
            "AUD, SEI, TRAIL_R"
        );
        assert!(Codec::H265.has_picture(&h265(&[19])), "IDR");
        assert!(!Codec::H265.has_picture(&h265(&[35, 39, 40])), "AUD, SEIs");
    }

    #[test]
    fn a_unit_goes_on_after_parameter_sets_and_sei() {
        for (header, ends) in [
            (0x67, false),
            (0x68, false),
            (0x06, false),
            (0x65, true),
            (0x41, true),
            (0x09, true),
        ] {
            assert_eq!(Codec::H264.may_end_unit(header), ends, "{header:#x}");
        }
        for (kind, ends) in [
            (32, false),
            (33, false),
            (34, false),
            (48, false),
            (1, true),
            (19, true),
            (39, true),
        ] {
            assert_eq!(Codec::H265.may_end_unit(kind << 1), ends, "{kind}");
        }
    }

    #[test]
    fn an_h265_keyframe_is_any_irap_picture_cra_included() {
        assert!(is_h265_irap(&h265(&[32, 33, 34, 21])), "VPS, SPS, PPS, CRA");
        assert!(is_h265_irap(&h265(&[35, 19])), "AUD, IDR");
        assert!(!is_h265_irap(&h265(&[35, 1])), "AUD, TRAIL_R");
        assert!(!is_h265_irap(&h265(&[9])), "RASL_R");
        assert!(!is_h265_irap(&[0, 0, 0, 9, 0x2a]), "cut short");
    }

    pub(crate) fn params() -> Arc<VideoParams> {
        Arc::new(VideoParams::new(
            Codec::H264,
            (64, 48),
            "avc1.640028".into(),
            Bytes::new(),
            vec![
                Bytes::from_static(b"\x67sps"),
                Bytes::from_static(b"\x68pps"),
            ],
        ))
    }

    pub(crate) fn unit(seq: u64, keyframe: bool, len: usize) -> AccessUnit {
        let mut data = (len as u32).to_be_bytes().to_vec();
        data.resize(4 + len, 0x41);
        AccessUnit::new(
            seq,
            Bytes::from(data),
            keyframe,
            (seq as i64 * 3000, 3000),
            params(),
        )
    }

    #[test]
    fn annex_b_puts_start_codes_and_parameter_sets_on_keyframes() {
        let mut au = unit(1, true, 0);
        au.data = Bytes::from_static(b"\x00\x00\x00\x02\x65\x01\x00\x00\x00\x01\x06");
        assert_eq!(
            au.annex_b().unwrap(),
            b"\0\0\0\x01\x67sps\0\0\0\x01\x68pps\0\0\0\x01\x65\x01\0\0\0\x01\x06"
        );
        au.keyframe = false;
        assert_eq!(au.annex_b().unwrap(), b"\0\0\0\x01\x65\x01\0\0\0\x01\x06");
    }

    #[test]
    fn a_unit_whose_lengths_run_past_its_end_is_refused() {
        let mut au = unit(1, false, 0);
        au.data = Bytes::from_static(b"\x00\x00\x00\x09\x41\x01");
        assert!(au.annex_b().unwrap_err().to_string().contains("cut short"));
    }
}
