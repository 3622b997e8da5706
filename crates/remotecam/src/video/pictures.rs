//! JPEG pictures from H.264 access units: OpenH264's decoder, libjpeg-turbo's encoder.
//!
//! One per camera, and only while someone needs JPEG (the async side decides when:
//! `source/pictures.rs`). It runs on a blocking thread: a 720p access unit costs a few
//! milliseconds to decode, and a JPEG as many to encode. Every unit must be decoded (the
//! next depends on it), but a JPEG is made only of the newest: a decoder catching up
//! through a group of pictures encodes its last unit only.

use std::sync::Arc;

use bytes::Bytes;
use openh264::decoder::Decoder;
use openh264::formats::YUVSource;
use turbojpeg::{Compressor, Subsamp, YuvPlanesImage};

use super::{AccessUnit, Codec, VideoParams};

/// JPEG quality of the pictures made from video: the look of a camera's own MJPEG.
const QUALITY: i32 = 80;

/// A JPEG made from an access unit.
#[derive(Debug)]
pub struct Picture {
    pub jpeg: Bytes,
    pub width: u16,
    pub height: u16,
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

    /// Decodes `unit`, and with `encode` makes a JPEG of the picture. `Ok(None)` when no
    /// picture came out (the decoder wants more, or the unit was skipped after a loss).
    /// An error is for this unit only: decoding goes on at the next keyframe.
    pub fn decode(&mut self, unit: &AccessUnit, encode: bool) -> Result<Option<Picture>, String> {
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
        let decoded = match decoder.decode(&unit.annex_b()) {
            Ok(decoded) => decoded,
            Err(e) => {
                self.broken = true;
                return Err(format!("undecodable H.264 (frame {}): {e}", unit.seq));
            }
        };
        let Some(yuv) = decoded.filter(|_| encode) else {
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
            jpeg: Bytes::copy_from_slice(&jpeg),
            width: params.width,
            height: params.height,
        }))
    }
}
