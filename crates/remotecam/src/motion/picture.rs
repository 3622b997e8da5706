//! The detector's working picture from a JPEG: luma only, about 160 pixels wide, read
//! as cheaply as the JPEG allows (its DC coefficients when it is wide enough), within
//! bounds on what a general decoder may be asked to hold.

use zune_core::colorspace::ColorSpace;

use super::Gray;
use remotecam_core::luma::{WORK_WIDTH, box_average, from_eighth};
use remotecam_core::planar::DecodeError;

/// The largest picture scored through the general decoder (zune-jpeg: progressive JPEGs
/// and others the hub's own decoder leaves to it), 3840x2160. That decoder holds the
/// whole picture, and a progressive one's coefficients too (several bytes a pixel), on
/// the scoring thread; the hub's own decoder reads the 1/8 luma of any allowed size in
/// a few megabytes.
const GENERAL_DECODE_MAX_PIXELS: u64 = 3840 * 2160;

/// A JPEG as the detector's small grayscale picture: luma only, box-averaged down to
/// about [`WORK_WIDTH`] pixels wide.
///
/// A picture at least 8 times as wide is read at 1/8 scale straight from the JPEG's DC
/// coefficients (the mean of each 8x8 block, no inverse DCT: a 720p frame gives
/// exactly the 160x90 working picture), then averaged down by a whole factor if still
/// twice as wide or more. Smaller pictures, and JPEGs the hub's decoder leaves to a
/// general one, are decoded in full and box-averaged.
pub fn small_gray(jpeg: &[u8]) -> Result<Gray, String> {
    let mut eighth = Vec::new();
    match remotecam_core::planar::luma_eighth(jpeg, &mut eighth) {
        Ok((width, height)) if width >= WORK_WIDTH => {
            return Ok(from_eighth(Gray {
                width,
                height,
                pixels: eighth,
            }));
        }
        Ok(_) | Err(DecodeError::Unsupported(_)) => {}
        Err(e) => return Err(format!("cannot decode the frame: {e}")),
    }
    let mut decoder = crate::picture::general_decoder(jpeg, ColorSpace::Luma);
    decoder
        .decode_headers()
        .map_err(|e| format!("cannot decode the frame: {e}"))?;
    if matches!(
        decoder.input_colorspace(),
        Some(ColorSpace::CMYK | ColorSpace::YCCK)
    ) {
        return Err(
            "CMYK frames cannot be scored: motion detection reads grayscale and \
                    YCbCr JPEGs (what cameras send)"
                .into(),
        );
    }
    let (w, h) = decoder.dimensions().ok_or("no picture size")?;
    if (w * h) as u64 > GENERAL_DECODE_MAX_PIXELS {
        return Err(format!(
            "frames of {w}x{h} in this JPEG form (progressive or otherwise beyond the hub's \
             own decoder) are too large to score: at most {GENERAL_DECODE_MAX_PIXELS} pixels"
        ));
    }
    let luma = decoder
        .decode()
        .map_err(|e| format!("cannot decode the frame: {e}"))?;
    if luma.len() < w * h {
        return Err("short decode".into());
    }
    Ok(box_average(&luma, w, w, h, w.div_ceil(WORK_WIDTH).max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use remotecam_core::canvas::Canvas;

    /// A camera-like picture: gradients, a checkerboard and a bright square.
    fn jpeg(w: usize, h: usize) -> Vec<u8> {
        let mut c = Canvas::new(w, h, [0, 0, 0]);
        for y in 0..h {
            for x in 0..w {
                let check = if (x / 24 + y / 24) % 2 == 0 { 40 } else { 0 };
                let square = if (300..420).contains(&x) && (200..300).contains(&y) {
                    90
                } else {
                    0
                };
                let v = (30 + x * 100 / w + y * 40 / h + check + square) as u8;
                c.rgb[(y * w + x) * 3..][..3].copy_from_slice(&[v, v / 2, 255 - v]);
            }
        }
        c.to_jpeg(85).to_vec()
    }

    /// The full luma decode box-averaged, as the working picture was made before the
    /// DC-only path.
    fn reference(jpeg: &[u8], f: usize) -> Gray {
        let mut d = crate::picture::general_decoder(jpeg, ColorSpace::Luma);
        let luma = d.decode().unwrap();
        let (w, h) = d.dimensions().unwrap();
        box_average(&luma, w, w, h, f)
    }

    #[test]
    fn frames_that_cannot_be_scored_say_why() {
        let mut cmyk = Vec::new();
        jpeg_encoder::Encoder::new(&mut cmyk, 80)
            .encode(&[30u8; 64 * 48 * 4], 64, 48, jpeg_encoder::ColorType::Cmyk)
            .unwrap();
        let e = small_gray(&cmyk).unwrap_err();
        assert!(e.contains("CMYK frames cannot be scored"), "{e}");
        // A progressive frame over the general decoder's bound is refused from its
        // header, before anything is allocated for it.
        let mut progressive = Vec::new();
        let mut encoder = jpeg_encoder::Encoder::new(&mut progressive, 80);
        encoder.set_progressive(true);
        encoder
            .encode(&[90u8; 64 * 48 * 3], 64, 48, jpeg_encoder::ColorType::Rgb)
            .unwrap();
        assert!(small_gray(&progressive).is_ok());
        let sof = progressive
            .windows(2)
            .position(|w| w == [0xFF, 0xC2])
            .unwrap();
        progressive[sof + 5..sof + 9].copy_from_slice(&[0x0B, 0xB8, 0x0F, 0xA0]); // 4000x3000
        let e = small_gray(&progressive).unwrap_err();
        assert!(e.contains("too large to score"), "{e}");
    }

    #[test]
    fn wide_frames_give_the_same_working_picture_from_dc_coefficients() {
        // 720p: the DC-only path gives 160x90, as the full decode averaged 8x8 did.
        // 1080p: 240x135 (whole blocks), compared with the full decode averaged 8x8.
        for (w, h, size) in [(1280, 720, (160, 90)), (1920, 1080, (240, 135))] {
            let frame = jpeg(w, h);
            let ours = small_gray(&frame).unwrap();
            assert_eq!((ours.width, ours.height), size, "{w}x{h}");
            let theirs = reference(&frame, 8);
            assert_eq!((theirs.width, theirs.height), size);
            for (i, (a, b)) in ours.pixels.iter().zip(&theirs.pixels).enumerate() {
                assert!(a.abs_diff(*b) <= 2, "{w}x{h} pixel {i}: {a} vs {b}");
            }
        }
        // Small pictures keep the full decode: 640x480 gives 160x120.
        let small = small_gray(&jpeg(640, 480)).unwrap();
        assert_eq!((small.width, small.height), (160, 120));
    }
}
