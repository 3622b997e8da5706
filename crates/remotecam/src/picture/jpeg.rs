//! JPEG to planes and planes to JPEG, one way each: libjpeg-turbo decodes YCbCr 4:2:0
//! and gray JPEGs (what cameras and browsers send) straight to planes, zune-jpeg (one
//! general decoder, set up in [`general_decoder`]) the rest; libjpeg-turbo encodes.

use std::cell::RefCell;

use bytes::Bytes;
use turbojpeg::{Colorspace, Compressor, Decompressor, Subsamp, YuvImage, YuvPlanesImage};
use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;

use super::{I420, PictureError, Yuv420};

thread_local! {
    /// This thread's libjpeg-turbo decompressor, made at its first frame.
    static TURBO: RefCell<Option<Decompressor>> = const { RefCell::new(None) };
}

/// Scans a progressive JPEG may have: cameras send one to a dozen; a crafted one with
/// thousands would make each frame cost seconds.
const MAX_SCANS: u32 = 100;

fn turbo_error(e: turbojpeg::Error) -> PictureError {
    PictureError::Decode(e.to_string())
}

/// zune-jpeg, the general decoder, for `jpeg`, within the largest size it is given,
/// its output in `colorspace`.
pub fn general_decoder(
    jpeg: &[u8],
    colorspace: ColorSpace,
) -> zune_jpeg::JpegDecoder<ZCursor<&[u8]>> {
    let options = DecoderOptions::default()
        .jpeg_set_out_colorspace(colorspace)
        .set_max_width(16_384)
        .set_max_height(16_384);
    zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(jpeg), options)
}

impl I420 {
    /// Decodes a JPEG into `self`, reusing its buffer.
    ///
    /// YCbCr 4:2:0 JPEGs (what cameras and browsers send) and gray ones, baseline or
    /// progressive, are decoded by libjpeg-turbo straight to planes: 4:2:0 is what
    /// H.264 takes, so there is no chroma upsampling and no colour conversion (and it is
    /// faster than the hub's own decoder was for this: BENCHMARKS.md). Other samplings
    /// and colour spaces go by way of zune-jpeg.
    pub fn decode_jpeg(&mut self, jpeg: &[u8]) -> Result<(), PictureError> {
        let info =
            remotecam_core::jpeg::inspect(jpeg).map_err(|e| PictureError::Decode(e.to_string()))?;
        check_size(usize::from(info.width), usize::from(info.height))?;
        TURBO.with(|cell| {
            let mut slot = cell.borrow_mut();
            let turbo = match slot.as_mut() {
                Some(turbo) => turbo,
                None => {
                    let mut turbo = Decompressor::new().map_err(turbo_error)?;
                    turbo.set_scan_limit(MAX_SCANS).map_err(turbo_error)?;
                    slot.insert(turbo)
                }
            };
            self.decode_turbo(turbo, jpeg)
        })
    }

    fn decode_turbo(&mut self, turbo: &mut Decompressor, jpeg: &[u8]) -> Result<(), PictureError> {
        let Ok(header) = turbo.read_header(jpeg) else {
            return self.decode_general(jpeg);
        };
        let subsamp = match (header.colorspace, header.subsamp) {
            (Colorspace::YCbCr, Subsamp::Sub2x2) => Subsamp::Sub2x2,
            (Colorspace::Gray, _) => Subsamp::Gray,
            _ => return self.decode_general(jpeg),
        };
        let (w, h) = (header.width, header.height);
        check_size(w, h)?;
        // libjpeg-turbo's layout (rows 1-aligned): a 4:2:0 luma plane is padded to an
        // even size, the chroma planes are half that.
        let (yw, yh) = match subsamp {
            Subsamp::Sub2x2 => (w.next_multiple_of(2), h.next_multiple_of(2)),
            _ => (w, h),
        };
        let (cw, ch) = (yw.div_ceil(2), yh.div_ceil(2));
        let decoded = turbojpeg::yuv_pixels_len(w, 1, h, subsamp).map_err(turbo_error)?;
        self.data.resize(yw * yh + 2 * cw * ch, 128);
        let output = YuvImage {
            pixels: &mut self.data[..decoded],
            width: w,
            align: 1,
            height: h,
            subsamp,
        };
        turbo.decompress_to_yuv(jpeg, output).map_err(turbo_error)?;
        let u_at = yw * yh;
        if subsamp == Subsamp::Gray {
            self.data[u_at..].fill(128);
        }
        (self.width, self.height) = (w & !1, h & !1);
        (self.y_stride, self.c_stride) = (yw, cw);
        (self.u_at, self.v_at) = (u_at, u_at + cw * ch);
        Ok(())
    }

    /// Any JPEG, by way of zune-jpeg's full-size output.
    fn decode_general(&mut self, jpeg: &[u8]) -> Result<(), PictureError> {
        let broken = |e: String| PictureError::Decode(e);
        let mut decoder = general_decoder(jpeg, ColorSpace::YCbCr);
        decoder
            .decode_headers()
            .map_err(|e| broken(e.to_string()))?;
        let input = decoder
            .input_colorspace()
            .ok_or_else(|| broken("no colour space".into()))?;
        let (w, h) = decoder
            .dimensions()
            .ok_or_else(|| broken("no picture size".into()))?;
        check_size(w, h)?;
        self.size_for(w, h);
        let options = decoder.options().to_owned();
        let (ew, eh) = (self.width, self.height);
        match input {
            ColorSpace::Luma => {
                decoder.set_options(options.jpeg_set_out_colorspace(ColorSpace::Luma));
                let luma = decoder.decode().map_err(|e| broken(e.to_string()))?;
                let (y, u, v) = self.planes_mut();
                for row in 0..eh {
                    y[row * ew..][..ew].copy_from_slice(&luma[row * w..][..ew]);
                }
                u.fill(128);
                v.fill(128);
            }
            other => {
                // YCbCr straight from the JPEG (no colour conversion); anything else
                // (CMYK, RGB JPEGs) by way of RGB.
                let out = if other == ColorSpace::YCbCr {
                    ColorSpace::YCbCr
                } else {
                    ColorSpace::RGB
                };
                decoder.set_options(options.jpeg_set_out_colorspace(out));
                let mut px = decoder.decode().map_err(|e| broken(e.to_string()))?;
                if px.len() < w * h * 3 {
                    return Err(broken("short decode".into()));
                }
                if out == ColorSpace::RGB {
                    rgb_to_ycbcr(&mut px);
                }
                self.fill_from_ycbcr(&px, w);
            }
        }
        Ok(())
    }

    /// Interleaved full-resolution YCbCr (`stride` pixels a row) to I420: luma copied,
    /// chroma averaged over 2x2 blocks.
    fn fill_from_ycbcr(&mut self, px: &[u8], stride: usize) {
        let (w, h) = (self.width, self.height);
        let (y, u, v) = self.planes_mut();
        for row in 0..h {
            let src = &px[row * stride * 3..][..w * 3];
            let dst = &mut y[row * w..][..w];
            for (d, s) in dst.iter_mut().zip(src.chunks_exact(3)) {
                *d = s[0];
            }
        }
        let cw = w / 2;
        for crow in 0..h / 2 {
            let a = &px[2 * crow * stride * 3..][..w * 3];
            let b = &px[(2 * crow + 1) * stride * 3..][..w * 3];
            for c in 0..cw {
                let i = c * 6;
                let cb = u16::from(a[i + 1]) + u16::from(a[i + 4]) + u16::from(b[i + 1]);
                let cr = u16::from(a[i + 2]) + u16::from(a[i + 5]) + u16::from(b[i + 2]);
                u[crow * cw + c] = ((cb + u16::from(b[i + 4]) + 2) / 4) as u8;
                v[crow * cw + c] = ((cr + u16::from(b[i + 5]) + 2) / 4) as u8;
            }
        }
    }
}

/// The largest picture recorded: H.264 level 5.1's frame size (36,864 macroblocks, e.g.
/// 4096x2304), about what the encoder takes. Larger frames are served live, not
/// recorded, and their decode is refused before anything is allocated for it.
pub const MAX_PIXELS: usize = 36_864 * 256;

fn check_size(w: usize, h: usize) -> Result<(), PictureError> {
    if w < 2 || h < 2 {
        return Err(PictureError::TooSmall(w, h));
    }
    if w * h > MAX_PIXELS {
        return Err(PictureError::TooLarge(w, h));
    }
    Ok(())
}

/// RGB to full-range BT.601 YCbCr (as JPEG defines it), in place.
fn rgb_to_ycbcr(px: &mut [u8]) {
    for p in px.chunks_exact_mut(3) {
        let (r, g, b) = (f32::from(p[0]), f32::from(p[1]), f32::from(p[2]));
        let y = 0.299 * r + 0.587 * g + 0.114 * b;
        let cb = 128.0 - 0.168_736 * r - 0.331_264 * g + 0.5 * b;
        let cr = 128.0 + 0.5 * r - 0.418_688 * g - 0.081_312 * b;
        p[0] = y.round().clamp(0.0, 255.0) as u8;
        p[1] = cb.round().clamp(0.0, 255.0) as u8;
        p[2] = cr.round().clamp(0.0, 255.0) as u8;
    }
}

/// The JPEG encoder (libjpeg-turbo), at one quality.
pub struct JpegEncoder(Compressor);

impl std::fmt::Debug for JpegEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JpegEncoder")
    }
}

impl JpegEncoder {
    pub fn new(quality: i32) -> Result<JpegEncoder, PictureError> {
        let encode = |e: turbojpeg::Error| PictureError::Encode(e.to_string());
        let mut compressor = Compressor::new().map_err(encode)?;
        compressor.set_quality(quality).map_err(encode)?;
        Ok(JpegEncoder(compressor))
    }

    /// A JPEG (4:2:0) of `picture`.
    pub fn encode(&mut self, picture: Yuv420<'_>) -> Result<Bytes, PictureError> {
        let [y_plane, u_plane, v_plane] = picture.planes;
        let [y_stride, u_stride, v_stride] = picture.strides;
        let image = YuvPlanesImage {
            y_plane,
            u_plane,
            v_plane,
            width: picture.width,
            height: picture.height,
            y_stride,
            u_stride,
            v_stride,
            subsamp: Subsamp::Sub2x2,
        };
        let jpeg = self
            .0
            .compress_yuv_planes_to_owned(&image)
            .map_err(|e| PictureError::Encode(e.to_string()))?;
        Ok(Bytes::copy_from_slice(&jpeg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jpeg_encoder::{ColorType, Encoder, SamplingFactor};

    fn jpeg(w: usize, h: usize, sampling: Option<SamplingFactor>) -> Vec<u8> {
        let rgb: Vec<u8> = (0..w * h)
            .flat_map(|i| {
                let (x, y) = (i % w, i / w);
                [(x * 2) as u8, (y * 3) as u8, ((x + y) % 200) as u8]
            })
            .collect();
        let mut out = Vec::new();
        let mut e = Encoder::new(&mut out, 90);
        match sampling {
            Some(s) => {
                e.set_sampling_factor(s);
                e.encode(&rgb, w as u16, h as u16, ColorType::Rgb).unwrap();
            }
            None => {
                let gray: Vec<u8> = rgb.chunks(3).map(|p| p[0]).collect();
                e.encode(&gray, w as u16, h as u16, ColorType::Luma)
                    .unwrap();
            }
        }
        out
    }

    /// Pixel (x, y) of each plane, read through the strides.
    fn yuv(p: &I420, x: usize, y: usize) -> [u8; 3] {
        let c = (y / 2) * p.c_stride + x / 2;
        [p.y()[y * p.y_stride + x], p.u()[c], p.v()[c]]
    }

    #[test]
    fn libjpeg_turbos_planes_match_a_general_decode() {
        // Odd sizes lose their last column and row (and have chroma rows a sample wider
        // than half the picture).
        for (w, h) in [(98, 60), (97, 61), (64, 32)] {
            for sampling in [
                Some(SamplingFactor::R_4_2_0),
                Some(SamplingFactor::R_4_2_2),
                Some(SamplingFactor::R_4_4_4),
                None,
            ] {
                let jpeg = jpeg(w, h, sampling);
                let mut ours = I420::default();
                ours.decode_jpeg(&jpeg).unwrap();
                let mut general = I420::default();
                general.decode_general(&jpeg).unwrap();
                assert_eq!((ours.width, ours.height), (w & !1, h & !1));
                assert_eq!((general.width, general.height), (ours.width, ours.height));
                for y in 0..ours.height {
                    for x in 0..ours.width {
                        let (a, b) = (yuv(&ours, x, y), yuv(&general, x, y));
                        for i in 0..3 {
                            assert!(
                                a[i].abs_diff(b[i]) <= 3,
                                "{w}x{h} {sampling:?} ({x}, {y}) plane {i}: {a:?} vs {b:?}"
                            );
                        }
                    }
                }
                // Decoding again into the same picture (its buffer reused) gives the same.
                let before = (0..ours.height)
                    .flat_map(|y| (0..ours.width).map(move |x| (x, y)))
                    .map(|(x, y)| yuv(&ours, x, y))
                    .collect::<Vec<_>>();
                ours.decode_jpeg(&jpeg).unwrap();
                let again = (0..ours.height)
                    .flat_map(|y| (0..ours.width).map(move |x| (x, y)))
                    .map(|(x, y)| yuv(&ours, x, y))
                    .collect::<Vec<_>>();
                assert_eq!(before, again);
                let mut encoder = JpegEncoder::new(80).unwrap();
                let thumb = crate::picture::thumbnail(ours.view(), &mut encoder).unwrap();
                assert_eq!(&thumb[..2], &[0xFF, 0xD8]);
            }
        }
    }

    #[test]
    fn pictures_too_large_to_record_are_refused_before_decoding() {
        let mut small = jpeg(64, 48, None);
        let sof = small.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        small[sof + 5..sof + 9].copy_from_slice(&[0x10, 0xE0, 0x1E, 0x00]); // 7680x4320
        let mut picture = I420::default();
        let e = picture.decode_jpeg(&small).unwrap_err();
        assert!(matches!(e, PictureError::TooLarge(7680, 4320)), "{e}");
        assert!(
            picture.data.capacity() < 1 << 20,
            "nothing allocated for it"
        );
        assert!(picture.decode_jpeg(&jpeg(64, 48, None)).is_ok());
    }
}
