//! A camera's video as fragmented MP4: the sample entry (`avc1`, `hvc1`) from its
//! parameter sets, the init segment (`ftyp` + `moov`), and one fragment (`moof` +
//! `mdat`) per access unit for live viewers.
//!
//! A fragment's header is made for each viewer (a hundred bytes, written field by field):
//! its time counts from the viewer's first unit, so that every viewer's stream starts at
//! zero, as a file does. VLC stops at once ("EOF reached") on a live stream whose first
//! fragment starts later; Media Source Extensions and ffmpeg take either. The unit's
//! bytes follow the header untouched, shared by every viewer, never copied.

use std::num::NonZeroU32;

use bytes::Bytes;
use shiguredo_mp4::TrackKind;
use shiguredo_mp4::boxes::SampleEntry;
use shiguredo_mp4::mux::{Fmp4SegmentMuxer, Sample};

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

/// The `moof` and `mdat` header of the fragment that holds `unit` alone, for a viewer
/// whose stream started at the unit of time `start` (the camera's clock): the unit's
/// bytes follow it. Numbered by the unit (a gap is units skipped). Written by hand,
/// field by field (ISO/IEC 14496-12 8.8): it is made for every unit a viewer gets, and
/// the box encoder took as long as the rest of a viewer's frame. The layout is fixed:
/// 100 bytes of `moof`, then `mdat`'s header.
pub fn fragment_header(unit: &AccessUnit, start: i64) -> std::io::Result<Bytes> {
    // Sample flags: a keyframe depends on no other sample; any other depends on others
    // and is not a sync sample.
    let flags: u32 = if unit.keyframe {
        0x0200_0000
    } else {
        0x0101_0000
    };
    let size = u32::try_from(unit.data.len()).map_err(mp4_error)?;
    let mdat_size = size
        .checked_add(8)
        .ok_or_else(|| mp4_error("a unit too large"))?;
    let mut out = Vec::with_capacity(MOOF_LEN as usize + 8);
    let mut put = |bytes: &[u8]| out.extend_from_slice(bytes);
    put(&MOOF_LEN.to_be_bytes());
    put(b"moof");
    // mfhd: version and flags 0, the sequence number.
    put(&16u32.to_be_bytes());
    put(b"mfhd");
    put(&0u32.to_be_bytes());
    put(&(unit.seq as u32).to_be_bytes());
    put(&(MOOF_LEN - 24).to_be_bytes());
    put(b"traf");
    // tfhd: default-base-is-moof (0x020000), the track.
    put(&16u32.to_be_bytes());
    put(b"tfhd");
    put(&0x0002_0000u32.to_be_bytes());
    put(&TRACK_ID.to_be_bytes());
    // tfdt, version 1: the unit's time in the viewer's stream, 64 bits.
    put(&20u32.to_be_bytes());
    put(b"tfdt");
    put(&0x0100_0000u32.to_be_bytes());
    put(&u64::try_from(unit.pts - start).unwrap_or(0).to_be_bytes());
    // trun: data offset (0x1), then one sample's duration (0x100), size (0x200) and
    // flags (0x400). The data starts after the moof and mdat's 8-byte header.
    put(&32u32.to_be_bytes());
    put(b"trun");
    put(&0x0000_0701u32.to_be_bytes());
    put(&1u32.to_be_bytes());
    put(&(MOOF_LEN + 8).to_be_bytes());
    put(&unit.duration.to_be_bytes());
    put(&size.to_be_bytes());
    put(&flags.to_be_bytes());
    put(&mdat_size.to_be_bytes());
    put(b"mdat");
    debug_assert_eq!(out.len(), MOOF_LEN as usize + 8);
    Ok(Bytes::from(out))
}

/// A one-sample `moof`: its header, `mfhd` (16), `traf` (8) with `tfhd` (16), `tfdt`
/// (20) and `trun` (32).
const MOOF_LEN: u32 = 8 + 16 + 8 + 16 + 20 + 32;

#[cfg(test)]
mod tests {
    use super::*;
    use shiguredo_mp4::Decode;
    use shiguredo_mp4::boxes::MoofBox;

    #[test]
    fn a_units_fragment_points_at_its_bytes_right_after_it() {
        let mut unit = crate::video::tests::unit(7, true, 300);
        unit.pts = 123_456;
        unit.duration = 3000;
        // A viewer whose stream started at 100,000.
        let header = fragment_header(&unit, 100_000).unwrap();
        let (moof, moof_len) = MoofBox::decode(&header).unwrap();
        assert_eq!(moof.mfhd_box.sequence_number, 7);
        let traf = &moof.traf_boxes[0];
        assert_eq!(
            traf.tfdt_box.as_ref().unwrap().base_media_decode_time,
            23_456
        );
        let trun = &traf.trun_boxes[0];
        assert_eq!(trun.data_offset, Some(header.len() as i32));
        assert_eq!(trun.samples[0].size, Some(304));
        assert_eq!(trun.samples[0].duration, Some(3000));
        assert_eq!(trun.samples[0].flags.map(|f| f.get()), Some(0x0200_0000));
        assert_eq!(moof_len, MOOF_LEN as usize);
        assert_eq!(&header[moof_len + 4..moof_len + 8], b"mdat");
        assert_eq!(
            u32::from_be_bytes(header[moof_len..moof_len + 4].try_into().unwrap()),
            8 + 304
        );
        // A unit that is not a keyframe depends on others.
        unit.keyframe = false;
        let header = fragment_header(&unit, 0).unwrap();
        let (moof, _) = MoofBox::decode(&header).unwrap();
        let sample = &moof.traf_boxes[0].trun_boxes[0].samples[0];
        assert_eq!(sample.flags.map(|f| f.get()), Some(0x0101_0000));
    }
}
