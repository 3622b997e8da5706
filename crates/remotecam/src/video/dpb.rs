//! What a camera's decoder would hold before it is opened: its pictures (the ones the
//! stream keeps as references, the one being decoded, the one given out), each of the
//! stream's size. The size is bounded at ingest (`--max-frame-pixels`), the number of
//! references is the stream's: 16 of a 7680x4320 stream would take over a gigabyte. A
//! stream above [`MAX_DECODER_BYTES`] is not decoded (its video is still served and
//! recorded as it came) and the camera says why.

use super::{Codec, VideoParams};

/// The most one camera's decoder may hold: 16 references of 3840x2160 fit.
pub const MAX_DECODER_BYTES: u64 = 320 << 20;

/// Pictures a decoder holds beyond the stream's references: the one it decodes and
/// the one it gives out.
const BESIDE: u64 = 2;

/// The most pictures an H.265 stream keeps at its level's largest size (H.265 A.4.2's
/// maxDpbSize); its parameter sets are not read for it.
const H265_PICTURES: u64 = 6;

/// A stream whose decoder would hold more than [`MAX_DECODER_BYTES`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the camera's video ({width}x{height}, {references} reference pictures) would take {megabytes} MB to \
     decode, above the limit of {limit} MB: its pictures are not made (no motion detection, no \
     JPEG); its video is still served and recorded. A smaller stream as detect_source makes \
     pictures of it",
    limit = MAX_DECODER_BYTES >> 20
)]
pub struct DecoderTooLarge {
    pub width: u16,
    pub height: u16,
    pub references: u64,
    pub megabytes: u64,
}

/// Refuses a stream whose decoder would hold more than [`MAX_DECODER_BYTES`].
pub fn check(params: &VideoParams) -> Result<(), DecoderTooLarge> {
    let references = match params.codec {
        Codec::H264 => params
            .parameter_sets
            .first()
            .and_then(|sps| h264_references(sps))
            .unwrap_or(16),
        _ => H265_PICTURES,
    };
    // Main 10 (and 4:2:0 at more than 8 bits) decodes into 16-bit samples.
    let sample = if params.rfc6381.starts_with("hvc1.2") || params.rfc6381.starts_with("avc1.6E") {
        2
    } else {
        1
    };
    let picture = u64::from(params.width) * u64::from(params.height) * 3 / 2 * sample;
    let bytes = (references + BESIDE) * picture;
    if bytes > MAX_DECODER_BYTES {
        return Err(DecoderTooLarge {
            width: params.width,
            height: params.height,
            references,
            megabytes: bytes >> 20,
        });
    }
    Ok(())
}

/// The pictures an H.264 stream keeps (its SPS, NAL header first): the most of its
/// decoded picture buffer and its reference frames.
fn h264_references(sps: &[u8]) -> Option<u64> {
    use h264_reader::nal::sps::SeqParameterSet;
    use h264_reader::nal::{Nal, RefNal};
    let nal = RefNal::new(sps, &[], true);
    let sps = SeqParameterSet::from_bits(nal.rbsp_bits()).ok()?;
    let buffering = sps
        .vui_parameters
        .as_ref()
        .and_then(|v| v.bitstream_restrictions.as_ref())
        .map_or(0, |b| b.max_dec_frame_buffering);
    Some(u64::from(buffering.max(sps.max_num_ref_frames)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn params(width: u16, height: u16, sps: &[u8]) -> VideoParams {
        VideoParams::new(
            Codec::H264,
            (width, height),
            "avc1.640033".into(),
            Bytes::new(),
            vec![Bytes::copy_from_slice(sps), Bytes::new()],
        )
    }

    /// An SPS of a 1280x720 High profile stream with `refs` reference frames (x264's).
    fn sps(refs: u8) -> Vec<u8> {
        // profile 100, level 31; then the fields in Exp-Golomb, refs where x264 has it.
        let mut bits = String::new();
        let ue = |v: u32, bits: &mut String| {
            let n = 32 - (v + 1).leading_zeros();
            bits.push_str(&"0".repeat(n as usize - 1));
            bits.push_str(&format!("{:b}", v + 1));
        };
        ue(0, &mut bits); // seq_parameter_set_id
        ue(1, &mut bits); // chroma_format_idc
        ue(0, &mut bits); // bit_depth_luma_minus8
        ue(0, &mut bits); // bit_depth_chroma_minus8
        bits.push_str("00"); // qpprime_y_zero_transform_bypass, seq_scaling_matrix_present
        ue(0, &mut bits); // log2_max_frame_num_minus4
        ue(2, &mut bits); // pic_order_cnt_type
        ue(u32::from(refs), &mut bits); // max_num_ref_frames
        bits.push('0'); // gaps_in_frame_num_value_allowed
        ue(79, &mut bits); // pic_width_in_mbs_minus1 (1280)
        ue(44, &mut bits); // pic_height_in_map_units_minus1 (720)
        bits.push('1'); // frame_mbs_only
        bits.push('1'); // direct_8x8_inference
        bits.push('0'); // frame_cropping
        bits.push('0'); // vui_parameters_present
        bits.push('1'); // rbsp stop bit
        while !bits.len().is_multiple_of(8) {
            bits.push('0');
        }
        let mut out = vec![0x67, 100, 0, 31];
        out.extend(
            bits.as_bytes()
                .chunks(8)
                .map(|b| u8::from_str_radix(std::str::from_utf8(b).unwrap(), 2).unwrap()),
        );
        out
    }

    #[test]
    fn the_references_come_from_the_sps() {
        assert_eq!(h264_references(&sps(1)), Some(1));
        assert_eq!(h264_references(&sps(16)), Some(16));
    }

    #[test]
    fn a_large_stream_with_many_references_is_refused() {
        assert!(check(&params(1280, 720, &sps(16))).is_ok());
        assert!(
            check(&params(3840, 2160, &sps(16))).is_ok(),
            "4K with 16 fits"
        );
        assert!(
            check(&params(7680, 4320, &sps(1))).is_ok(),
            "8K with one fits"
        );
        let e = check(&params(7680, 4320, &sps(16))).unwrap_err();
        assert_eq!((e.width, e.height, e.references), (7680, 4320, 16));
        let said = e.to_string();
        assert!(said.contains("7680x4320, 16 reference pictures"), "{said}");
        assert!(said.contains("above the limit of 320 MB"), "{said}");
        // An SPS that cannot be read counts as 16.
        assert!(check(&params(7680, 4320, &[0x67])).is_err());
    }
}
