//! A camera's video as fragmented MP4: the sample entry (`avc1`, `hvc1`) from its
//! parameter sets, the init segment (`ftyp` + `moov`), and one fragment (`moof` +
//! `mdat`) per access unit for live viewers.
//!
//! A unit's fragment depends on the unit alone (its sequence number, its time by the
//! camera's clock, its size), so it is made once, on first use, and shared by every
//! viewer: the unit's bytes follow it untouched, never copied. A viewer that joins late
//! gets fragments whose times do not start at zero; players and Media Source Extensions
//! start where the first fragment says.

use std::num::NonZeroU32;

use bytes::Bytes;
use shiguredo_mp4::boxes::{
    MfhdBox, MoofBox, SampleEntry, TfdtBox, TfhdBox, TrafBox, TrunBox, TrunSample,
};
use shiguredo_mp4::mux::{Fmp4SegmentMuxer, Sample};
use shiguredo_mp4::{Encode, SampleFlags, TrackKind};

use super::{AccessUnit, Codec, VideoParams};
use shiguredo_mp4::bitstream::h264::{H264SampleEntryConfig, LengthSize, build_avc1_box};
use shiguredo_mp4::bitstream::h265::{
    H265ConstantFrameRate, H265SampleEntryConfig, build_hvc1_box,
};

/// Media timescale of the camera's video: RTP's 90 kHz.
pub const TIMESCALE: u32 = 90_000;

/// The one track's id, as the init segment numbers it.
const TRACK_ID: u32 = 1;

fn mp4_error(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(format!("MP4: {e}"))
}

/// The MP4 sample entry (`avc1`, `hvc1`) for a camera's video, from its parameter sets.
pub fn sample_entry(params: &VideoParams) -> std::io::Result<SampleEntry> {
    let sets: Vec<Vec<u8>> = params.parameter_sets.iter().map(|s| s.to_vec()).collect();
    match (params.codec, &sets[..]) {
        (Codec::H264, [sps, pps]) => {
            let config = H264SampleEntryConfig {
                length_size: LengthSize::FourBytes,
            };
            let avc1 = build_avc1_box(
                std::slice::from_ref(sps),
                std::slice::from_ref(pps),
                &config,
            )
            .map_err(mp4_error)?;
            Ok(SampleEntry::Avc1(avc1))
        }
        (Codec::H265, [vps, sps, pps]) => {
            let config = H265SampleEntryConfig {
                length_size: LengthSize::FourBytes,
                avg_frame_rate: H265SampleEntryConfig::AVG_FRAME_RATE_UNSPECIFIED,
                constant_frame_rate: H265ConstantFrameRate::Unknown,
            };
            let hvc1 = build_hvc1_box(
                std::slice::from_ref(vps),
                std::slice::from_ref(sps),
                std::slice::from_ref(pps),
                &config,
            )
            .map_err(mp4_error)?;
            Ok(SampleEntry::Hvc1(hvc1))
        }
        _ => Err(std::io::Error::other(
            "no parameter sets to describe the video",
        )),
    }
}

/// The init segment of a live stream of this video.
pub fn init_segment(params: &VideoParams) -> std::io::Result<Bytes> {
    // The muxer learns the track from a first sample's entry; that sample is not sent.
    let mut muxer = Fmp4SegmentMuxer::new().map_err(mp4_error)?;
    muxer
        .create_media_segment_metadata(&[Sample {
            track_kind: TrackKind::Video,
            timescale: NonZeroU32::new(TIMESCALE).expect("non-zero"),
            sample_entry: Some(sample_entry(params)?),
            duration: 1,
            keyframe: true,
            composition_time_offset: None,
            data_offset: 0,
            data_size: 0,
        }])
        .map_err(mp4_error)?;
    Ok(Bytes::from(muxer.init_segment_bytes().map_err(mp4_error)?))
}

/// The `moof` and `mdat` header of the fragment that holds `unit` alone; the unit's
/// bytes follow it.
pub fn fragment_header(unit: &AccessUnit) -> std::io::Result<Bytes> {
    // ISO/IEC 14496-12 sample flags: a keyframe depends on no other sample; any other
    // depends on others and is not a sync sample.
    let flags = if unit.keyframe {
        SampleFlags::new(0x0200_0000)
    } else {
        SampleFlags::new(0x0101_0000)
    };
    let size = u32::try_from(unit.data.len()).map_err(mp4_error)?;
    let mut moof = MoofBox {
        mfhd_box: MfhdBox {
            sequence_number: unit.seq as u32,
        },
        traf_boxes: vec![TrafBox {
            tfhd_box: TfhdBox {
                track_id: TRACK_ID,
                base_data_offset: None,
                sample_description_index: None,
                default_sample_duration: None,
                default_sample_size: None,
                default_sample_flags: None,
                duration_is_empty: false,
                default_base_is_moof: true,
            },
            tfdt_box: Some(TfdtBox {
                version: 1,
                base_media_decode_time: u64::try_from(unit.pts).unwrap_or(0),
            }),
            trun_boxes: vec![TrunBox {
                data_offset: Some(0),
                first_sample_flags: None,
                samples: vec![TrunSample {
                    duration: Some(unit.duration),
                    size: Some(size),
                    flags: Some(flags),
                    composition_time_offset: None,
                }],
            }],
            unknown_boxes: Vec::new(),
        }],
        unknown_boxes: Vec::new(),
    };
    // The sample's data starts after the moof and the mdat's 8-byte header.
    let moof_len = moof.encode_to_vec().map_err(mp4_error)?.len();
    moof.traf_boxes[0].trun_boxes[0].data_offset =
        Some(i32::try_from(moof_len + 8).map_err(mp4_error)?);
    let mut out = moof.encode_to_vec().map_err(mp4_error)?;
    out.extend_from_slice(&(size + 8).to_be_bytes());
    out.extend_from_slice(b"mdat");
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shiguredo_mp4::Decode;

    #[test]
    fn a_units_fragment_points_at_its_bytes_right_after_it() {
        let mut unit = crate::video::tests::unit(7, true, 300);
        unit.pts = 123_456;
        unit.duration = 3000;
        let header = fragment_header(&unit).unwrap();
        let (moof, moof_len) = MoofBox::decode(&header).unwrap();
        assert_eq!(moof.mfhd_box.sequence_number, 7);
        let traf = &moof.traf_boxes[0];
        assert_eq!(
            traf.tfdt_box.as_ref().unwrap().base_media_decode_time,
            123_456
        );
        let trun = &traf.trun_boxes[0];
        assert_eq!(trun.data_offset, Some(header.len() as i32));
        assert_eq!(trun.samples[0].size, Some(304));
        assert_eq!(trun.samples[0].duration, Some(3000));
        assert_eq!(&header[moof_len + 4..moof_len + 8], b"mdat");
        assert_eq!(
            u32::from_be_bytes(header[moof_len..moof_len + 4].try_into().unwrap()),
            8 + 304
        );
    }
}
