//! Pictures to H.264: OpenH264 (built from source), the encoder of a JPEG camera's
//! video (`stage/encoder.rs`). Runs on a thread of the camera's own, never on the async
//! threads: a 720p picture costs a few milliseconds.

use openh264::OpenH264API;
use openh264::encoder::{
    BitRate, Complexity, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod,
    RateControlMode, SpsPpsStrategy, UsageType, VuiConfig,
};
use openh264::formats::YUVSource;

use crate::picture::I420;

/// The encoder could not start, or failed on a picture.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct EncodeError(String);

impl YUVSource for I420 {
    fn dimensions(&self) -> (usize, usize) {
        (self.width, self.height)
    }

    fn strides(&self) -> (usize, usize, usize) {
        (self.y_stride, self.c_stride, self.c_stride)
    }

    fn y(&self) -> &[u8] {
        I420::y(self)
    }

    fn u(&self) -> &[u8] {
        I420::u(self)
    }

    fn v(&self) -> &[u8] {
        I420::v(self)
    }
}

/// One encoded picture: Annex B NAL units.
#[derive(Debug)]
pub struct Encoded {
    pub annexb: Vec<u8>,
    pub keyframe: bool,
}

/// An H.264 encoder of one camera's pictures of one size (a camera's encoder stage,
/// `stage/encoder.rs`, makes a new one at a new size).
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
    pub fn new(width: usize, height: usize) -> Result<VideoEncoder, EncodeError> {
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
            .map_err(|e| EncodeError(format!("cannot start the H.264 encoder: {e}")))?;
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
    ) -> Result<Option<Encoded>, EncodeError> {
        if keyframe {
            self.encoder.force_intra_frame();
        }
        let bits = self
            .encoder
            .encode_at(picture, openh264::Timestamp::from_millis(ms))
            .map_err(|e| EncodeError(format!("H.264 encoding failed: {e}")))?;
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
    use jpeg_encoder::{ColorType, Encoder as JpegEncoder, SamplingFactor};

    #[test]
    fn the_encoder_reads_rows_through_the_strides() {
        let (w, h) = (98, 60);
        let rgb: Vec<u8> = (0..w * h)
            .flat_map(|i| {
                [
                    (i % w * 2) as u8,
                    (i / w * 3) as u8,
                    ((i % w + i / w) % 200) as u8,
                ]
            })
            .collect();
        let mut jpeg = Vec::new();
        let mut e = JpegEncoder::new(&mut jpeg, 90);
        e.set_sampling_factor(SamplingFactor::R_4_2_0);
        e.encode(&rgb, w as u16, h as u16, ColorType::Rgb).unwrap();
        let mut packed = I420::default();
        packed.decode_jpeg(&jpeg).unwrap();
        // The same picture with noise after every row.
        let pad = |plane: &[u8], w: usize, stride: usize, from: usize| -> Vec<u8> {
            plane
                .chunks(from)
                .flat_map(|row| {
                    row[..w]
                        .iter()
                        .copied()
                        .chain((0..stride - w).map(|i| (i * 37) as u8))
                })
                .collect()
        };
        let y = pad(packed.y(), 98, 112, packed.y_stride);
        let u = pad(packed.u(), 49, 63, packed.c_stride);
        let v = pad(packed.v(), 49, 63, packed.c_stride);
        let padded = I420::from_planes((98, 60), (112, 63), [&y, &u, &v]);
        let encode = |p: &I420| {
            let mut e = VideoEncoder::new(98, 60).unwrap();
            e.encode(p, 0, true).unwrap().unwrap().annexb
        };
        assert_eq!(encode(&packed), encode(&padded));
    }
}
