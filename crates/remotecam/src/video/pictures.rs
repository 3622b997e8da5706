//! JPEG pictures from H.264 access units: OpenH264's decoder, libjpeg-turbo's encoder.
//!
//! One per camera, and only while someone needs JPEG (the async side decides when:
//! `source/pictures.rs`). It runs on a blocking thread: a 720p access unit costs a few
//! milliseconds to decode, and a JPEG as many to encode. Every unit must be decoded (the
//! next depends on it), but a picture is made only of the newest: a decoder catching up
//! through a group of pictures makes one of its last unit only. A picture is the
//! detector's working picture, and a JPEG when someone wants one.

use std::sync::Arc;

use bytes::Bytes;
use openh264::decoder::Decoder;
use openh264::formats::YUVSource;
use turbojpeg::{Compressor, Subsamp, YuvPlanesImage};

use super::{AccessUnit, Codec, VideoParams};
use remotecam_core::luma::{Luma, working_picture};

/// JPEG quality of the pictures made from video: the look of a camera's own MJPEG.
const QUALITY: i32 = 80;

/// The motion detector's working picture of an access unit, and its JPEG if asked.
#[derive(Debug)]
pub struct Picture {
    pub jpeg: Option<Bytes>,
    pub width: u16,
    pub height: u16,
    pub luma: Arc<Luma>,
}

/// Decodes one camera's H.264 stream and makes JPEG pictures of it.
pub struct PictureMaker {
    decoder: Option<(Arc<VideoParams>, Decoder)>,
    compressor: Compressor,
    /// After a unit failed to decode, units are skipped up to the next keyframe (the ones
    /// between refer to what was lost).
    broken: bool,
}

impl std::fmt::Debug for PictureMaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PictureMaker")
            .field("broken", &self.broken)
            .finish()
    }
}

impl PictureMaker {
    pub fn new() -> Result<PictureMaker, String> {
        let mut compressor = Compressor::new().map_err(|e| format!("JPEG encoder: {e}"))?;
        compressor
            .set_quality(QUALITY)
            .map_err(|e| format!("JPEG encoder: {e}"))?;
        Ok(PictureMaker {
            decoder: None,
            compressor,
            broken: true,
        })
    }

    /// Decodes `unit`, and with `picture` makes a [`Picture`] of it (with `jpeg`, its
    /// JPEG too). `Ok(None)` when none was asked or none came out (the decoder wants
    /// more, or the unit was skipped after a loss). An error is for this unit only:
    /// decoding goes on at the next keyframe.
    pub fn decode(
        &mut self,
        unit: &AccessUnit,
        picture: bool,
        jpeg: bool,
    ) -> Result<Option<Picture>, String> {
        if unit.params.codec != Codec::H264 {
            return Err("the hub decodes H.264 only".into());
        }
        if unit.keyframe {
            self.broken = false;
            let same = self
                .decoder
                .as_ref()
                .is_some_and(|(params, _)| Arc::ptr_eq(params, &unit.params));
            if !same {
                let decoder = Decoder::new().map_err(|e| format!("H.264 decoder: {e}"))?;
                self.decoder = Some((Arc::clone(&unit.params), decoder));
            }
        }
        if self.broken {
            return Ok(None);
        }
        let Some((params, decoder)) = self.decoder.as_mut() else {
            return Ok(None);
        };
        let decoded = match unit
            .annex_b()
            .and_then(|bytes| decoder.decode(&bytes).map_err(|e| e.to_string()))
        {
            Ok(decoded) => decoded,
            Err(e) => {
                self.broken = true;
                return Err(format!("undecodable H.264 (frame {}): {e}", unit.seq));
            }
        };
        let Some(yuv) = decoded.filter(|_| picture) else {
            return Ok(None);
        };
        let (width, height) = yuv.dimensions();
        if (width, height) != (usize::from(params.width), usize::from(params.height)) {
            self.broken = true;
            return Err(format!(
                "the picture decoded at {width}x{height}, not the {}x{} its parameters say",
                params.width, params.height
            ));
        }
        let (y_stride, u_stride, v_stride) = yuv.strides();
        let luma = Arc::new(working_picture(yuv.y(), y_stride, width, height));
        if !jpeg {
            return Ok(Some(Picture {
                jpeg: None,
                width: params.width,
                height: params.height,
                luma,
            }));
        }
        let image = YuvPlanesImage {
            y_plane: yuv.y(),
            u_plane: yuv.u(),
            v_plane: yuv.v(),
            width,
            height,
            y_stride,
            u_stride,
            v_stride,
            subsamp: Subsamp::Sub2x2,
        };
        let jpeg = self
            .compressor
            .compress_yuv_planes_to_owned(&image)
            .map_err(|e| format!("JPEG encoder: {e}"))?;
        Ok(Some(Picture {
            jpeg: Some(Bytes::copy_from_slice(&jpeg)),
            width: params.width,
            height: params.height,
            luma,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openh264::encoder::Encoder;
    use openh264::formats::{RgbSliceU8, YUVBuffer};
    use shiguredo_mp4::bitstream::h264::{H264NalUnitType, parse_annexb_nal_units};

    /// A 1280x720 keyframe of a picture with gradients and a bright square, made by
    /// OpenH264's encoder, as a camera's access unit.
    fn keyframe() -> AccessUnit {
        let mut rgb = vec![0u8; 1280 * 720 * 3];
        for y in 0..720 {
            for x in 0..1280 {
                let square = (400..600).contains(&x) && (200..400).contains(&y);
                let v = if square {
                    240
                } else {
                    (20 + x / 8 + y / 12) as u8
                };
                rgb[(y * 1280 + x) * 3..][..3].copy_from_slice(&[v, v, v]);
            }
        }
        let yuv = YUVBuffer::from_rgb8_source(RgbSliceU8::new(&rgb, (1280, 720)));
        let annexb = Encoder::new().unwrap().encode(&yuv).unwrap().to_vec();
        let nals = parse_annexb_nal_units(&annexb).unwrap();
        let set = |kind| {
            nals.iter()
                .find(|n| n.nal_unit_type == kind)
                .map(|n| Bytes::copy_from_slice(n.data))
                .unwrap()
        };
        let mut data = Vec::new();
        for nal in nals
            .iter()
            .filter(|n| n.nal_unit_type == H264NalUnitType::IdrSlice)
        {
            data.extend_from_slice(&(nal.data.len() as u32).to_be_bytes());
            data.extend_from_slice(nal.data);
        }
        let params = VideoParams::new(
            Codec::H264,
            (1280, 720),
            "avc1.42c01f".into(),
            Bytes::new(),
            vec![set(H264NalUnitType::Sps), set(H264NalUnitType::Pps)],
        );
        AccessUnit::new(1, Bytes::from(data), true, (0, 3000), Arc::new(params))
    }

    #[test]
    fn a_decoded_picture_comes_with_the_working_picture_its_jpeg_would_give() {
        let unit = keyframe();
        let mut maker = PictureMaker::new().unwrap();
        let picture = maker.decode(&unit, true, true).unwrap().expect("a picture");
        let jpeg = picture.jpeg.clone().expect("a JPEG");
        assert_eq!((picture.width, picture.height), (1280, 720));
        // What motion detection would read from the JPEG (its DC coefficients), and what
        // it gets instead.
        let mut eighth = Vec::new();
        let (width, height) = remotecam_core::planar::luma_eighth(&jpeg, &mut eighth).unwrap();
        let from_jpeg = remotecam_core::luma::from_eighth(Luma {
            width,
            height,
            pixels: eighth,
        });
        assert_eq!((picture.luma.width, picture.luma.height), (160, 90));
        assert_eq!((from_jpeg.width, from_jpeg.height), (160, 90));
        let off: u32 = picture
            .luma
            .pixels
            .iter()
            .zip(&from_jpeg.pixels)
            .map(|(a, b)| u32::from(a.abs_diff(*b)))
            .sum();
        assert!(
            off / (160 * 90) <= 2,
            "mean difference {}",
            off / (160 * 90)
        );
        // The square is there: bright in the middle of it, dark away from it.
        assert!(picture.luma.pixels[37 * 160 + 62] > 200);
        assert!(picture.luma.pixels[80 * 160 + 10] < 100);
    }
}
