//! The luma at 1/8 scale from the DC coefficients: the block walk, restarts included,
//! that decodes each block's DC and skips its AC coefficients.

use super::bits::Bits;
use super::header::Header;
use super::huffman::Huffman;
use super::{DecodeError, LUT_BITS, Result, SKIP_BITS};

/// The size of [`luma_eighth`]'s picture: a pixel per whole luma block, at least one.
pub(super) fn eighth_size(hd: &Header) -> (usize, usize) {
    let (hmax, vmax) = hd.max_sampling();
    let y = hd.components[0];
    let w = ((hd.width * y.h).div_ceil(hmax) / 8).max(1);
    let h = ((hd.height * y.v).div_ceil(vmax) / 8).max(1);
    (w, h)
}

/// The picture's luma at 1/8 scale into `out`, one pixel per whole 8x8 block of the
/// luma plane (the mean of the block, from its DC coefficient); returns its width and
/// height. Partial blocks at the right and bottom edges are left out, so every pixel is
/// the mean of 64 real ones; a picture narrower or shorter than 8 pixels still gives one.
pub fn luma_eighth(jpeg: &[u8], out: &mut Vec<u8>) -> Result<(usize, usize)> {
    let hd = Header::parse(jpeg)?;
    let (w, h) = eighth_size(&hd);
    out.clear();
    out.resize(w * h, 0);
    let q0 = i32::from(hd.quant[hd.components[0].quant].expect("checked in the scan header")[0]);
    /// One block of an MCU, in coding order: its component, tables and place in the MCU.
    struct Slot<'t> {
        luma: bool,
        dc: &'t Huffman,
        ac: &'t Huffman,
        /// The component's blocks across and down an MCU, and this one's place.
        per_mcu: (usize, usize),
        at: (usize, usize),
    }
    let mut slots = Vec::new();
    for (ci, c) in hd.components.iter().enumerate() {
        let dc = hd.dc[c.dc_table]
            .as_deref()
            .expect("checked in the scan header");
        let ac = hd.ac[c.ac_table]
            .as_deref()
            .expect("checked in the scan header");
        // A single-component scan has one block per MCU, whatever the sampling.
        let per_mcu = if hd.components.len() == 1 {
            (1, 1)
        } else {
            (c.h, c.v)
        };
        for v in 0..per_mcu.1 {
            for u in 0..per_mcu.0 {
                let luma = ci == 0;
                slots.push(Slot {
                    luma,
                    dc,
                    ac,
                    per_mcu,
                    at: (u, v),
                });
            }
        }
    }
    // The hot loop: the bit buffer stays in locals across blocks (through `&mut Bits`
    // every step would go through memory); `bits` refills it and handles restarts.
    let (mx, my) = hd.mcus();
    let mut bits = Bits::new(jpeg, hd.scan_start);
    let (mut acc, mut n) = (0u64, 0u32);
    // Only the luma's DC predictor is needed: the chroma's differences are skipped.
    let mut pred = 0i32;
    let mut left = hd.restart_interval;
    for y in 0..my {
        for x in 0..mx {
            if hd.restart_interval > 0 {
                if left == 0 {
                    (bits.acc, bits.n) = (acc, n);
                    bits.restart()?;
                    (acc, n) = (0, 0);
                    pred = 0;
                    left = hd.restart_interval;
                }
                left -= 1;
            }
            for slot in &slots {
                if n < 32 {
                    (acc, n) = bits.refill_from(acc, n);
                }
                if !slot.luma {
                    // Chroma: its DC difference is skipped too.
                    let e = slot.dc.skip[(acc >> (64 - SKIP_BITS)) as usize];
                    if e != 0 {
                        let taken = u32::from(e & 31);
                        (acc, n) = (acc << taken, n - taken);
                    } else {
                        (bits.acc, bits.n) = (acc, n);
                        let size = u32::from(bits.decode(slot.dc)?);
                        bits.consume(size.min(16));
                        (acc, n) = (bits.acc, bits.n);
                    }
                    (acc, n) = skip_ac(&mut bits, slot.ac, acc, n)?;
                    continue;
                }
                let e = slot.dc.lut[(acc >> (64 - LUT_BITS)) as usize];
                let size = if e != 0 {
                    let len = u32::from(e >> 8);
                    (acc, n) = (acc << len, n - len);
                    u32::from(e & 0xFF)
                } else {
                    (bits.acc, bits.n) = (acc, n);
                    let size = bits.decode_slow(slot.dc)?;
                    (acc, n) = (bits.acc, bits.n);
                    u32::from(size)
                };
                if size > 11 {
                    return Err(DecodeError::Corrupt("DC difference too large"));
                }
                let diff = extend((acc >> 32) as u32, size);
                (acc, n) = (acc << size, n - size);
                (acc, n) = skip_ac(&mut bits, slot.ac, acc, n)?;
                pred = pred.wrapping_add(diff);
                let (bx, by) = (
                    x * slot.per_mcu.0 + slot.at.0,
                    y * slot.per_mcu.1 + slot.at.1,
                );
                if bx < w && by < h {
                    // The coefficient as decoders store it, 16 bits (a valid stream's
                    // fit in 12): a corrupt stream's runaway predictor wraps the same
                    // way as libjpeg's, and the product cannot overflow.
                    let coefficient = i32::from(pred as i16);
                    out[by * w + bx] = dc_pixel(coefficient * q0);
                }
            }
        }
    }
    (bits.acc, bits.n) = (acc, n);
    if bits.overran() {
        return Err(DecodeError::Corrupt("entropy data ends early"));
    }
    Ok((w, h))
}

/// The coefficient (JPEG's EXTEND, F.12) whose `size` extra bits (at most 16) are at the
/// top of `top`.
#[inline]
pub(super) fn extend(top: u32, size: u32) -> i32 {
    if size == 0 {
        return 0;
    }
    let v = (top >> (32 - size)) as i32;
    if v < 1 << (size - 1) {
        v - (1 << size) + 1
    } else {
        v
    }
}

/// The pixel value of a block whose only coefficient is `dc` (dequantized): the block's
/// mean.
#[inline]
pub(super) fn dc_pixel(dc: i32) -> u8 {
    (dc.wrapping_add(4) >> 3).wrapping_add(128).clamp(0, 255) as u8
}

/// Moves past a block's AC coefficients without keeping them.
///
/// The hot loop of [`luma_eighth`]: the bit buffer is held in locals so that it stays in
/// registers (through `&mut Bits` every step would go through memory).
#[inline(always)]
pub(super) fn skip_ac(
    bits: &mut Bits<'_>,
    table: &Huffman,
    mut acc: u64,
    mut n: u32,
) -> Result<(u64, u32)> {
    let mut k = 1;
    while k < 64 {
        if n < 32 {
            (acc, n) = bits.refill_from(acc, n);
        }
        let window = (acc >> (64 - SKIP_BITS)) as usize;
        // Several codes at once, if they stay inside this block: an end of block must
        // come before coefficient 64, and without one the codes may reach it exactly.
        let m = usize::from(table.skip_many[window]);
        let (taken, advance, ends) = ((m & 31) as u32, (m >> 5) & 127, m >> 12 != 0);
        if taken != 0
            && (if ends {
                k + advance < 64
            } else {
                k + advance <= 64
            })
        {
            acc <<= taken;
            n -= taken;
            if ends {
                break;
            }
            k += advance;
            continue;
        }
        let e = table.skip[window];
        if e != 0 {
            let taken = u32::from(e & 31);
            acc <<= taken;
            n -= taken;
            k += usize::from(e >> 5);
            continue;
        }
        (bits.acc, bits.n) = (acc, n);
        let rs = bits.decode(table)?;
        let (run, size) = (usize::from(rs >> 4), u32::from(rs & 15));
        if size == 0 && run != 15 {
            return Ok((bits.acc, bits.n));
        }
        bits.consume(size);
        (acc, n) = (bits.acc, bits.n);
        k += if size == 0 { 16 } else { run + 1 };
    }
    Ok((acc, n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jpeg_encoder::{ColorType, Encoder, SamplingFactor};

    /// A camera-like picture: gradients, texture and an edge.
    fn rgb(w: usize, h: usize) -> Vec<u8> {
        let mut px = Vec::with_capacity(w * h * 3);
        for y in 0..h {
            for x in 0..w {
                let t = ((x * 31 + y * 17) % 23) as u8;
                let edge = if x > w / 2 { 90 } else { 0 };
                px.extend_from_slice(&[
                    (x * 255 / w) as u8 / 2 + t + edge,
                    (y * 255 / h) as u8 / 2 + t,
                    200 - t - edge,
                ]);
            }
        }
        px
    }

    fn encode(w: usize, h: usize, sampling: SamplingFactor, restart: u16) -> Vec<u8> {
        let mut out = Vec::new();
        let mut e = Encoder::new(&mut out, 85);
        e.set_sampling_factor(sampling);
        e.set_restart_interval(restart);
        e.encode(&rgb(w, h), w as u16, h as u16, ColorType::Rgb)
            .unwrap();
        out
    }

    /// zune-jpeg's decode of the same JPEG as YCbCr at full size.
    fn reference(jpeg: &[u8]) -> (usize, usize, Vec<u8>) {
        use zune_jpeg::zune_core::bytestream::ZCursor;
        use zune_jpeg::zune_core::colorspace::ColorSpace;
        use zune_jpeg::zune_core::options::DecoderOptions;
        let options = DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::YCbCr);
        let mut d = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(jpeg), options);
        let px = d.decode().unwrap();
        let (w, h) = d.dimensions().unwrap();
        (w, h, px)
    }

    /// libjpeg-turbo's luma at 1/8 scale: its scaled inverse DCT keeps only each block's
    /// DC coefficient, which is what [`luma_eighth`] reads. Partial blocks at the edges
    /// are in it too (we leave them out): its size is rounded up.
    fn turbo_eighth(jpeg: &[u8]) -> (usize, usize, Vec<u8>) {
        let mut d = turbojpeg::Decompressor::new().unwrap();
        d.set_scaling_factor(turbojpeg::ScalingFactor::ONE_EIGHTH)
            .unwrap();
        let header = d.read_header(jpeg).unwrap();
        let (w, h) = (header.width.div_ceil(8), header.height.div_ceil(8));
        let mut gray = vec![0; w * h];
        let image = turbojpeg::Image {
            pixels: &mut gray[..],
            width: w,
            pitch: w,
            height: h,
            format: turbojpeg::PixelFormat::GRAY,
        };
        d.decompress(jpeg, image).unwrap();
        (w, h, gray)
    }

    /// Largest difference between [`luma_eighth`] and libjpeg-turbo's, over the blocks
    /// both give; checks ours has a pixel per whole block.
    fn eighth_error(jpeg: &[u8]) -> u8 {
        let mut ours = Vec::new();
        let (w, h) = luma_eighth(jpeg, &mut ours).unwrap();
        let header = turbojpeg::read_header(jpeg).unwrap();
        assert_eq!(
            (w, h),
            ((header.width / 8).max(1), (header.height / 8).max(1))
        );
        let (tw, _, theirs) = turbo_eighth(jpeg);
        (0..w * h)
            .map(|i| ours[i].abs_diff(theirs[(i / w) * tw + i % w]))
            .max()
            .unwrap()
    }

    #[test]
    fn luma_matches_libjpeg_turbo_for_every_sampling_and_size() {
        for sampling in [
            SamplingFactor::R_4_4_4,
            SamplingFactor::R_4_2_2,
            SamplingFactor::R_4_2_0,
            SamplingFactor::R_4_4_0,
        ] {
            for (w, h) in [(64, 48), (333, 201), (17, 9), (8, 8), (1, 1)] {
                let jpeg = encode(w, h, sampling, 0);
                let err = eighth_error(&jpeg);
                assert!(err <= 1, "{sampling:?} {w}x{h}: luma off by {err}");
            }
        }
    }

    #[test]
    fn restart_intervals_decode() {
        for restart in [1, 3, 7] {
            let jpeg = encode(200, 120, SamplingFactor::R_4_2_0, restart);
            assert!(eighth_error(&jpeg) <= 1, "restart {restart}");
        }
    }

    #[test]
    fn grayscale_is_read_too() {
        let (w, h) = (100, 60);
        let gray: Vec<u8> = (0..w * h).map(|i| ((i % w) + (i / w)) as u8).collect();
        let mut jpeg = Vec::new();
        Encoder::new(&mut jpeg, 90)
            .encode(&gray, w as u16, h as u16, ColorType::Luma)
            .unwrap();
        assert!(eighth_error(&jpeg) <= 1);
    }

    #[test]
    fn eighth_is_the_mean_of_each_block() {
        let (w, h) = (333, 201);
        for sampling in [SamplingFactor::R_4_2_0, SamplingFactor::R_4_4_4] {
            let jpeg = encode(w, h, sampling, 5);
            let (rw, _, px) = reference(&jpeg);
            let mut small = Vec::new();
            let (sw, sh) = luma_eighth(&jpeg, &mut small).unwrap();
            assert_eq!((sw, sh), (w / 8, h / 8));
            for by in 0..sh {
                for bx in 0..sw {
                    let mut sum = 0u32;
                    for y in 0..8 {
                        for x in 0..8 {
                            sum += u32::from(px[((by * 8 + y) * rw + bx * 8 + x) * 3]);
                        }
                    }
                    let mean = (sum / 64) as u8;
                    let ours = small[by * sw + bx];
                    assert!(
                        ours.abs_diff(mean) <= 2,
                        "block {bx},{by}: {ours} vs {mean}"
                    );
                }
            }
        }
    }
    /// Heavy data: noise up to full scale at quality 100, so that coefficients are large,
    /// their extra bits reach past the skipping lookups and many of their codes are
    /// longer than them (up to 16 bits in the standard tables). Skipping over it must land
    /// on every block's DC as libjpeg-turbo's decoding does.
    #[test]
    fn skipping_long_codes_lands_where_decoding_does() {
        let (w, h) = (320, 184);
        let mut x: u32 = 0x2545_F491;
        let px: Vec<u8> = (0..w * h * 3)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                // Noise of every amplitude: quiet, loud, and near full scale.
                let amp = [8, 64, 255][(i / 3 / w / 32) % 3];
                ((i / 3 % w) as u32 / 3 + x % amp) as u8
            })
            .collect();
        for (sampling, restart) in [(SamplingFactor::R_4_2_0, 0), (SamplingFactor::R_4_4_4, 7)] {
            let mut jpeg = Vec::new();
            let mut e = Encoder::new(&mut jpeg, 100);
            e.set_sampling_factor(sampling);
            e.set_restart_interval(restart);
            e.encode(&px, w as u16, h as u16, ColorType::Rgb).unwrap();
            assert!(eighth_error(&jpeg) <= 1, "{sampling:?}");
            let mut small = Vec::new();
            assert!(luma_eighth(&jpeg[..jpeg.len() * 9 / 10], &mut small).is_err());
        }
    }

    #[test]
    fn frames_without_huffman_tables_use_the_standard_ones() {
        let jpeg = encode(64, 32, SamplingFactor::R_4_2_2, 0);
        // Drop every DHT segment, as MJPEG webcams do.
        let mut stripped = vec![0xFF, 0xD8];
        let mut pos = 2;
        loop {
            let marker = jpeg[pos + 1];
            let len = usize::from(u16::from_be_bytes([jpeg[pos + 2], jpeg[pos + 3]]));
            if marker != 0xC4 {
                stripped.extend_from_slice(&jpeg[pos..pos + 2 + len]);
            }
            pos += 2 + len;
            if marker == 0xDA {
                break;
            }
        }
        stripped.extend_from_slice(&jpeg[pos..]);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let size = luma_eighth(&jpeg, &mut a).unwrap();
        assert_eq!(luma_eighth(&stripped, &mut b).unwrap(), size);
        assert_eq!(a, b);
    }

    #[test]
    fn progressive_and_multi_scan_are_left_to_a_general_decoder() {
        let mut progressive = Vec::new();
        let mut e = Encoder::new(&mut progressive, 80);
        e.set_progressive(true);
        e.encode(&rgb(32, 32), 32, 32, ColorType::Rgb).unwrap();
        // This encoder writes 4:1:1 as one scan per component.
        let separate = encode(64, 48, SamplingFactor::R_4_1_1, 0);
        for jpeg in [progressive, separate] {
            assert!(matches!(
                luma_eighth(&jpeg, &mut Vec::new()),
                Err(DecodeError::Unsupported(_))
            ));
        }
    }

    #[test]
    fn cut_or_damaged_data_is_an_error_not_a_panic() {
        let jpeg = encode(120, 80, SamplingFactor::R_4_2_0, 0);
        // Cut in the middle of the entropy data, EOI kept.
        let mut cut = jpeg[..jpeg.len() / 2].to_vec();
        cut.extend_from_slice(&[0xFF, 0xD9]);
        assert!(matches!(
            luma_eighth(&cut, &mut Vec::new()),
            Err(DecodeError::Corrupt(_))
        ));
        // A header claiming a picture far larger than its data: refused up front.
        let mut big = jpeg.clone();
        let sof = big.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        big[sof + 5..sof + 9].copy_from_slice(&[0x1F, 0x40, 0x1F, 0x40]); // 8000 x 8000
        assert_eq!(
            luma_eighth(&big, &mut Vec::new()).unwrap_err(),
            DecodeError::Corrupt("too little data for the picture size it claims")
        );
        // Every byte flipped in turn: any result but a panic.
        for i in 2..jpeg.len() - 2 {
            let mut bad = jpeg.clone();
            bad[i] ^= 0x5A;
            let _ = luma_eighth(&bad, &mut Vec::new());
        }
    }
}
