//! An H.264 stream's parameters from its decoder configuration record (ISO/IEC 14496-15
//! `avcC`), as a publisher sends it: what the publisher page's WebCodecs encoder gives
//! as `decoderConfig.description`, the same record an RTSP camera's parameter sets make.
//!
//! Everything the record claims is checked before the stream is taken: its structure,
//! 4-byte NAL lengths (what the hub's units carry), the picture size its SPS gives
//! against `--max-frame-pixels`, the level against [`MAX_LEVEL_IDC`], and what a decoder
//! of it would hold (`dpb.rs`).

use std::sync::Arc;

use bytes::Bytes;
use h264_reader::avcc::AvcDecoderConfigurationRecord;
use h264_reader::nal::sps::SeqParameterSet;
use h264_reader::nal::{Nal, RefNal};

use super::{Codec, VideoParams};

/// The largest decoder configuration taken: an SPS and a PPS are tens of bytes.
pub const MAX_CONFIG_BYTES: usize = 4096;

/// The highest H.264 level taken (5.2: 4096x2304 at 56 fps): what the hub's decoder and
/// recorder are sized for. Level 6 and up are for 8K.
pub const MAX_LEVEL_IDC: u8 = 52;

/// Why a decoder configuration was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("the decoder configuration is {0} bytes, above the limit of {MAX_CONFIG_BYTES}")]
    TooLong(usize),
    #[error("not an H.264 decoder configuration (avcC): {0}")]
    Broken(String),
    #[error(
        "NAL units with {0}-byte lengths; the hub takes 4-byte lengths (WebCodecs' avc format)"
    )]
    LengthSize(u8),
    #[error("level {}.{} is above the hub's limit of 5.2", .0 / 10, .0 % 10)]
    Level(u8),
    #[error("the picture is {0}x{1}, above the limit of {2} pixels (--max-frame-pixels)")]
    TooManyPixels(u32, u32, u64),
    #[error(transparent)]
    Decoder(#[from] super::dpb::DecoderTooLarge),
}

impl ConfigError {
    /// Whether the stream is refused for its size (a WebSocket's 1009): the rest are
    /// records that are broken or of a kind the hub does not take.
    pub fn is_too_big(&self) -> bool {
        matches!(
            self,
            ConfigError::TooLong(_) | ConfigError::TooManyPixels(..) | ConfigError::Decoder(_)
        )
    }
}

/// The decoder configuration record of one SPS and one PPS (each with its NAL header):
/// what an encoder of the hub's own gives as its stream's configuration.
pub fn record(sps: &[u8], pps: &[u8]) -> Vec<u8> {
    let profile = |i: usize| sps.get(i).copied().unwrap_or(0);
    let mut out = vec![1, profile(1), profile(2), profile(3), 0xFF, 0xE1];
    out.extend_from_slice(&(sps.len() as u16).to_be_bytes());
    out.extend_from_slice(sps);
    out.push(1);
    out.extend_from_slice(&(pps.len() as u16).to_be_bytes());
    out.extend_from_slice(pps);
    out
}

impl ConfigError {
    /// Whether the record is not one (a WebSocket's 1007), rather than one of a kind or
    /// size the hub does not take.
    pub fn is_broken(&self) -> bool {
        matches!(self, ConfigError::Broken(_))
    }
}

/// The parameters of the H.264 stream `avcc` describes, within `max_pixels`.
pub fn params(avcc: &[u8], max_pixels: u64) -> Result<VideoParams, ConfigError> {
    if avcc.len() > MAX_CONFIG_BYTES {
        return Err(ConfigError::TooLong(avcc.len()));
    }
    let broken = |what: String| ConfigError::Broken(crate::excerpt::of(&what));
    let record =
        AvcDecoderConfigurationRecord::try_from(avcc).map_err(|e| broken(format!("{e:?}")))?;
    if record.length_size_minus_one() != 3 {
        return Err(ConfigError::LengthSize(record.length_size_minus_one() + 1));
    }
    let first = |sets: &mut dyn Iterator<Item = Result<&[u8], _>>, what: &str| match sets.next() {
        Some(Ok(set)) if !set.is_empty() => Ok(Bytes::copy_from_slice(set)),
        Some(Err(e)) => Err(broken(format!("{what}: {e:?}"))),
        _ => Err(broken(format!("no {what}"))),
    };
    let sps_bytes = first(&mut record.sequence_parameter_sets(), "SPS")?;
    let pps_bytes = first(&mut record.picture_parameter_sets(), "PPS")?;
    let sps = SeqParameterSet::from_bits(RefNal::new(&sps_bytes, &[], true).rbsp_bits())
        .map_err(|e| broken(format!("SPS: {e:?}")))?;
    if sps.level_idc > MAX_LEVEL_IDC {
        return Err(ConfigError::Level(sps.level_idc));
    }
    let (width, height) = sps
        .pixel_dimensions()
        .map_err(|e| broken(format!("SPS: {e:?}")))?;
    if u64::from(width) * u64::from(height) > max_pixels
        || width > u32::from(u16::MAX)
        || height > u32::from(u16::MAX)
    {
        return Err(ConfigError::TooManyPixels(width, height, max_pixels));
    }
    if width == 0 || height == 0 {
        return Err(broken("a picture of no pixels".into()));
    }
    // The codec string from the SPS's own bytes (profile, constraints, level), as the
    // record's copy of them may differ.
    let rfc6381 = format!(
        "avc1.{:02X}{:02X}{:02X}",
        sps_bytes.get(1).copied().unwrap_or(0),
        sps_bytes.get(2).copied().unwrap_or(0),
        sps_bytes.get(3).copied().unwrap_or(0)
    );
    let params = VideoParams::new(
        Codec::H264,
        (width as u16, height as u16),
        rfc6381,
        Bytes::copy_from_slice(avcc),
        vec![sps_bytes, pps_bytes],
    );
    super::dpb::check(&params).map_err(ConfigError::Decoder)?;
    Ok(params)
}

/// An encoder's unit in Annex B form as the hub's units are: its NAL units with 4-byte
/// lengths, its parameter sets taken out into `params` (new ones when they changed).
pub fn unit_of_annex_b(
    annexb: &[u8],
    params: &mut Option<Arc<VideoParams>>,
) -> Result<Bytes, ConfigError> {
    use shiguredo_mp4::bitstream::h264::parse_annexb_nal_units;
    let nals = parse_annexb_nal_units(annexb).map_err(|e| ConfigError::Broken(e.to_string()))?;
    let (mut sps, mut pps) = (None, None);
    let mut data = Vec::with_capacity(annexb.len());
    for nal in &nals {
        match nal.data.first().map(|h| h & 0x1F) {
            Some(7) => sps = Some(nal.data),
            Some(8) => pps = Some(nal.data),
            Some(9) | None => {}
            Some(_) => {
                data.extend_from_slice(&(nal.data.len() as u32).to_be_bytes());
                data.extend_from_slice(nal.data);
            }
        }
    }
    if let (Some(sps), Some(pps)) = (sps, pps) {
        let next = self::params(&record(sps, pps), u64::MAX)?;
        if params.as_deref() != Some(&next) {
            *params = Some(Arc::new(next));
        }
    }
    Ok(Bytes::from(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Chromium's WebCodecs encoder gave for a 1280x720 camera (High, level 3.1).
    const CHROMIUM_720P: &[u8] = &[
        1, 100, 12, 31, 255, 225, 0, 19, 103, 100, 12, 31, 172, 25, 26, 128, 80, 5, 186, 106, 12,
        12, 12, 15, 8, 132, 106, 1, 0, 4, 104, 206, 60, 128,
    ];

    #[test]
    fn a_browsers_record_gives_its_size_and_codec() {
        let p = params(CHROMIUM_720P, 7680 * 4320).unwrap();
        assert_eq!((p.width, p.height), (1280, 720));
        assert_eq!(p.rfc6381, "avc1.640C1F");
        assert_eq!(p.parameter_sets.len(), 2);
        assert_eq!(p.parameter_sets[1].as_ref(), &[104, 206, 60, 128]);
    }

    #[test]
    fn a_record_of_parameter_sets_reads_back() {
        let p = params(CHROMIUM_720P, 1 << 30).unwrap();
        let again = record(&p.parameter_sets[0], &p.parameter_sets[1]);
        assert_eq!(again, CHROMIUM_720P);
    }

    #[test]
    fn refusals() {
        assert!(matches!(
            params(&[1, 2, 3], 1 << 30),
            Err(ConfigError::Broken(_))
        ));
        assert!(matches!(
            params(&vec![1; 5000], 1 << 30),
            Err(ConfigError::TooLong(5000))
        ));
        assert_eq!(
            params(CHROMIUM_720P, 640 * 480).unwrap_err(),
            ConfigError::TooManyPixels(1280, 720, 640 * 480)
        );
        let mut two_byte = CHROMIUM_720P.to_vec();
        two_byte[4] = 0xFD;
        assert_eq!(
            params(&two_byte, 1 << 30).unwrap_err(),
            ConfigError::LengthSize(2)
        );
        let mut no_pps = CHROMIUM_720P.to_vec();
        no_pps.truncate(27);
        no_pps.push(0);
        assert!(matches!(
            params(&no_pps, 1 << 30),
            Err(ConfigError::Broken(_))
        ));
    }
}
