//! JPEG frames to H.264: decode to YUV 4:2:0, encode with OpenH264.
//!
//! Runs on a recorder thread, never on the async threads: a 720p frame costs a few
//! milliseconds to decode and as many to encode.

use openh264::OpenH264API;
use openh264::encoder::{
    BitRate, Complexity, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod,
    RateControlMode, SpsPpsStrategy, UsageType, VuiConfig,
};
use openh264::formats::YUVSource;
use std::cell::RefCell;

use turbojpeg::{Colorspace, Decompressor, Subsamp, YuvImage};
use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;

/// A picture in planar YUV 4:2:0 (I420), full range as JPEG has it, in one buffer: the
/// Y plane, then U, then V. Width and height are even: a JPEG with an odd size loses its
/// last column or row. Rows are `y_stride` (luma) and `c_stride` (chroma) bytes apart,
/// which may be more than the picture's width (an odd-width JPEG's chroma rows have a
/// sample more).
#[derive(Debug, Clone, Default)]
pub struct I420 {
    pub width: usize,
    pub height: usize,
    pub y_stride: usize,
    pub c_stride: usize,
    data: Vec<u8>,
    /// Where the U and V planes start in `data`.
    u_at: usize,
    v_at: usize,
}

impl YUVSource for I420 {
    fn dimensions(&self) -> (usize, usize) {
        (self.width, self.height)
    }

    fn strides(&self) -> (usize, usize, usize) {
        (self.y_stride, self.c_stride, self.c_stride)
    }

    fn y(&self) -> &[u8] {
        &self.data[..self.u_at]
    }

    fn u(&self) -> &[u8] {
        &self.data[self.u_at..self.v_at]
    }

    fn v(&self) -> &[u8] {
        &self.data[self.v_at..]
    }
}

thread_local! {
    /// This thread's libjpeg-turbo decompressor, made at its first frame.
    static TURBO: RefCell<Option<Decompressor>> = const { RefCell::new(None) };
}

/// Scans a progressive JPEG may have: cameras send one to a dozen; a crafted one with
/// thousands would make each frame cost seconds.
const MAX_SCANS: u32 = 100;

fn turbo_error(e: turbojpeg::Error) -> String {
    format!("cannot decode the frame: {e}")
}

impl I420 {
    /// Decodes a JPEG into `self`, reusing its buffer.
    ///
    /// YCbCr 4:2:0 JPEGs (what cameras and browsers send) and gray ones, baseline or
    /// progressive, are decoded by libjpeg-turbo straight to planes: 4:2:0 is what
    /// H.264 takes, so there is no chroma upsampling and no colour conversion (and it is
    /// faster than the hub's own decoder was for this: BENCHMARKS.md). Other samplings
    /// and colour spaces go by way of zune-jpeg.
    pub fn decode_jpeg(&mut self, jpeg: &[u8]) -> Result<(), String> {
        let info = remotecam_core::jpeg::inspect(jpeg).map_err(|e| e.to_string())?;
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

    fn decode_turbo(&mut self, turbo: &mut Decompressor, jpeg: &[u8]) -> Result<(), String> {
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

    /// The luma plane (rows `y_stride` apart).
    pub fn luma(&self) -> &[u8] {
        self.y()
    }

    /// Sizes the buffer for a `w x h` picture, rows one after the other.
    fn size_for(&mut self, w: usize, h: usize) -> Result<(), String> {
        check_size(w, h)?;
        let (ew, eh) = (w & !1, h & !1);
        self.width = ew;
        self.height = eh;
        (self.y_stride, self.c_stride) = (ew, ew / 2);
        (self.u_at, self.v_at) = (ew * eh, ew * eh + ew * eh / 4);
        self.data.resize(ew * eh * 3 / 2, 128);
        Ok(())
    }

    /// The three planes to write: Y, U, V.
    fn planes_mut(&mut self) -> (&mut [u8], &mut [u8], &mut [u8]) {
        let (y, chroma) = self.data.split_at_mut(self.u_at);
        let (u, v) = chroma.split_at_mut(self.v_at - self.u_at);
        (y, u, v)
    }

    /// Any JPEG, by way of zune-jpeg's full-size output.
    fn decode_general(&mut self, jpeg: &[u8]) -> Result<(), String> {
        let options = DecoderOptions::default()
            .set_max_width(16_384)
            .set_max_height(16_384);
        let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(jpeg), options);
        decoder
            .decode_headers()
            .map_err(|e| format!("cannot decode the frame: {e}"))?;
        let input = decoder.input_colorspace().ok_or("no colour space")?;
        let (w, h) = decoder.dimensions().ok_or("no picture size")?;
        self.size_for(w, h)?;
        let (ew, eh) = (self.width, self.height);
        match input {
            ColorSpace::Luma => {
                decoder.set_options(options.jpeg_set_out_colorspace(ColorSpace::Luma));
                let luma = decoder
                    .decode()
                    .map_err(|e| format!("cannot decode the frame: {e}"))?;
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
                let mut px = decoder
                    .decode()
                    .map_err(|e| format!("cannot decode the frame: {e}"))?;
                if px.len() < w * h * 3 {
                    return Err("short decode".into());
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

    /// A JPEG of this picture scaled down to at most `max_width` pixels wide (for
    /// thumbnails).
    pub fn thumbnail_jpeg(&self, max_width: usize) -> Result<Vec<u8>, String> {
        let f = self.width.div_ceil(max_width).max(1);
        let (tw, th) = (self.width / f, self.height / f);
        let mut px = Vec::with_capacity(tw * th * 3);
        let cw = self.c_stride;
        let (luma, u, v) = (self.y(), self.u(), self.v());
        for ty in 0..th {
            for tx in 0..tw {
                let mut sum = 0u32;
                for dy in 0..f {
                    let row = &luma[(ty * f + dy) * self.y_stride + tx * f..][..f];
                    sum += row.iter().map(|&p| u32::from(p)).sum::<u32>();
                }
                let c = (ty * f / 2) * cw + tx * f / 2;
                px.extend_from_slice(&[(sum / (f * f) as u32) as u8, u[c], v[c]]);
            }
        }
        let mut out = Vec::new();
        let encoder = jpeg_encoder::Encoder::new(&mut out, 80);
        encoder
            .encode(&px, tw as u16, th as u16, jpeg_encoder::ColorType::Ycbcr)
            .map_err(|e| e.to_string())?;
        Ok(out)
    }
}

/// The largest picture recorded: H.264 level 5.1's frame size (36,864 macroblocks, e.g.
/// 4096x2304), about what the encoder takes. Larger frames are served live, not
/// recorded, and their decode is refused before anything is allocated for it.
pub const MAX_PIXELS: usize = 36_864 * 256;

fn check_size(w: usize, h: usize) -> Result<(), String> {
    if w < 2 || h < 2 {
        return Err(format!("picture too small to record ({w}x{h})"));
    }
    if w * h > MAX_PIXELS {
        return Err(format!(
            "picture too large to record ({w}x{h}; at most {MAX_PIXELS} pixels, H.264 level 5.1)"
        ));
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

/// One encoded picture: Annex B NAL units.
#[derive(Debug)]
pub struct Encoded {
    pub annexb: Vec<u8>,
    pub keyframe: bool,
}

/// An H.264 encoder for one clip (a new clip starts with a fresh encoder, so every file
/// begins with its own SPS, PPS and IDR picture).
pub struct VideoEncoder {
    encoder: Encoder,
}

impl std::fmt::Debug for VideoEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VideoEncoder")
    }
}

/// Bits per pixel per frame the encoder aims at (at 30 fps): about 3.3 Mbit/s for 720p
/// and 7.5 Mbit/s for 1080p, what security recorders use for such pictures. Encoding
/// time grows with the bits written: at a constant QP 26, `bench/motion-detect.sh`
/// measured 24.1 ms per recorded frame of a noisy 720p stream, 15.9 ms at this rate.
const BITS_PER_PIXEL: f64 = 0.12;

/// OpenH264 prints its messages to stderr by default, among them a warning at every
/// start that frame skipping is off (our choice, see [`VideoEncoder::new`]). They go to
/// the hub's log instead: errors as warnings, the rest at debug level. The callback must
/// be set before the encoder's first frame, when the `openh264` crate initializes it and
/// OpenH264 checks the parameters (the one option it accepts before initialization).
#[allow(unsafe_code)]
fn route_messages_to_log(encoder: &mut Encoder) {
    let callback: openh264_sys2::WelsTraceCallback = Some(encoder_message);
    // SAFETY: OpenH264 copies the function pointer out of the option before returning;
    // `encoder_message` is a plain function, valid for the program's life.
    let status = unsafe {
        encoder.raw_api().set_option(
            openh264_sys2::ENCODER_OPTION_TRACE_CALLBACK,
            (&raw const callback).cast_mut().cast(),
        )
    };
    if status != 0 {
        tracing::debug!("OpenH264 refused its log callback ({status}): it prints to stderr");
    }
}

/// Where OpenH264's messages arrive (`WelsTraceCallback`).
#[allow(unsafe_code)]
unsafe extern "C" fn encoder_message(
    _context: *mut std::ffi::c_void,
    level: std::ffi::c_int,
    text: *const std::ffi::c_char,
) {
    if text.is_null() {
        return;
    }
    // SAFETY: OpenH264 passes a NUL-terminated buffer that lives for the call.
    let text = unsafe { std::ffi::CStr::from_ptr(text) }.to_string_lossy();
    // "[OpenH264] this = 0x..., Warning:..." -> "Warning:..." (the target names the library).
    let text = text.trim_end();
    let text = text
        .strip_prefix("[OpenH264] this = ")
        .and_then(|t| t.split_once(", "))
        .map_or(text, |(_, message)| message);
    if level <= openh264_sys2::WELS_LOG_ERROR as std::ffi::c_int {
        tracing::warn!(target: "openh264", "{text}");
    } else {
        tracing::debug!(target: "openh264", "{text}");
    }
}

impl VideoEncoder {
    /// An encoder for pictures of `width x height`. Rate control aims at
    /// [`BITS_PER_PIXEL`], but frame skipping is off: every frame fed comes out (the
    /// encoder then keeps the rate by its quantizer alone), so the file's frame count and
    /// timestamps are those of the frames the camera sent.
    pub fn new(width: usize, height: usize) -> Result<VideoEncoder, String> {
        let bps = (width as f64 * height as f64 * 30.0 * BITS_PER_PIXEL).clamp(3e5, 2e7);
        let config = EncoderConfig::new()
            .usage_type(UsageType::CameraVideoRealTime)
            .max_frame_rate(FrameRate::from_hz(30.0))
            .rate_control_mode(RateControlMode::Bitrate)
            .bitrate(BitRate::from_bps(bps as u32))
            .skip_frames(false)
            .complexity(Complexity::Low)
            .num_threads(1)
            .sps_pps_strategy(SpsPpsStrategy::ConstantId)
            // Keyframes come when the writer asks, at the start of each fragment.
            .intra_frame_period(IntraFramePeriod::from_num_frames(0))
            .vui(VuiConfig::bt601().full_range(true));
        let mut encoder = Encoder::with_api_config(OpenH264API::from_source(), config)
            .map_err(|e| format!("cannot start the H.264 encoder: {e}"))?;
        route_messages_to_log(&mut encoder);
        Ok(VideoEncoder { encoder })
    }

    /// Encodes one picture at `ms` milliseconds into the clip; `keyframe` asks for an IDR
    /// picture. `None` when the encoder produced nothing for it.
    pub fn encode(
        &mut self,
        picture: &I420,
        ms: u64,
        keyframe: bool,
    ) -> Result<Option<Encoded>, String> {
        if keyframe {
            self.encoder.force_intra_frame();
        }
        let bits = self
            .encoder
            .encode_at(picture, openh264::Timestamp::from_millis(ms))
            .map_err(|e| format!("H.264 encoding failed: {e}"))?;
        let frame_type = bits.frame_type();
        if matches!(frame_type, FrameType::Skip | FrameType::Invalid) {
            return Ok(None);
        }
        Ok(Some(Encoded {
            annexb: bits.to_vec(),
            keyframe: frame_type == FrameType::IDR,
        }))
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
                let thumb = ours.thumbnail_jpeg(32).unwrap();
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
        assert!(e.contains("too large to record"), "{e}");
        assert!(
            picture.data.capacity() < 1 << 20,
            "nothing allocated for it"
        );
        assert!(picture.decode_jpeg(&jpeg(64, 48, None)).is_ok());
    }

    #[test]
    fn the_encoder_reads_rows_through_the_strides() {
        let mut packed = I420::default();
        packed
            .decode_general(&jpeg(98, 60, Some(SamplingFactor::R_4_2_0)))
            .unwrap();
        // The same picture with 14 bytes of noise after every row.
        let pad = |plane: &[u8], w: usize, stride: usize| -> Vec<u8> {
            plane
                .chunks(w)
                .flat_map(|row| {
                    row.iter()
                        .copied()
                        .chain((0..stride - w).map(|i| (i * 37) as u8))
                })
                .collect()
        };
        let mut data = pad(packed.y(), 98, 112);
        let u_at = data.len();
        data.extend(pad(packed.u(), 49, 63));
        let v_at = data.len();
        data.extend(pad(packed.v(), 49, 63));
        let padded = I420 {
            data,
            u_at,
            v_at,
            y_stride: 112,
            c_stride: 63,
            ..packed.clone()
        };
        let encode = |p: &I420| {
            let mut e = VideoEncoder::new(98, 60).unwrap();
            e.encode(p, 0, true).unwrap().unwrap().annexb
        };
        assert_eq!(encode(&packed), encode(&padded));
    }
}
