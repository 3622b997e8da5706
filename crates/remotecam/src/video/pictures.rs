//! JPEG pictures from H.264 access units: FFmpeg's decoder (libavcodec), libjpeg-turbo's
//! encoder.
//!
//! One per camera, and only while someone needs pictures (the camera's decoder stage
//! decides when: `stage/decoder.rs`). It runs on a blocking thread: a 720p access unit costs a few
//! milliseconds to decode, and a JPEG as many to encode. Every unit must be decoded (the
//! next depends on it), but a picture is made only of the newest: a decoder catching up
//! through a group of pictures makes one of its last unit only. A picture is the
//! detector's working picture, and a JPEG when someone wants one, or a thumbnail-sized
//! JPEG (for a clip's thumbnail, at keyframes): a 720p JPEG costs as much as a few units'
//! decoding, one of 320 px a tenth of that.
//!
//! libavcodec rather than OpenH264's decoder (the hub's encoder): it decodes a 720p
//! camera in about half the time on one thread (`benches/video.rs`). While no JPEG is
//! wanted (motion detection alone, which reads a picture averaged down to 160 px wide),
//! its loop filter is skipped, a further tenth; a viewer who comes in the middle of a
//! group of pictures then sees it a little blockier up to the next keyframe.

use std::sync::{Arc, Once};

use bytes::Bytes;
use ffmpeg::codec::threading;
use ffmpeg::format::Pixel;
use ffmpeg_next as ffmpeg;

use super::{AccessUnit, Codec, VideoParams};
use crate::picture::{self, JpegEncoder, PictureError, Yuv420};
use remotecam_core::luma::Luma;

/// Why a unit gave no picture.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// No decoder of the stream's codec could be opened.
    #[error("{0}")]
    NoDecoder(String),
    /// A stream the hub does not decode (its decoder would hold too much, or its
    /// pictures are of a kind the hub does not make pictures of): its video is still
    /// served and recorded.
    #[error("{0}")]
    NotDecoded(String),
    /// This unit could not be decoded: decoding goes on at the next keyframe.
    #[error("{0}")]
    Broken(String),
    #[error(transparent)]
    Picture(#[from] PictureError),
}

/// What JPEG a picture comes with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jpeg {
    /// None: motion detection reads the luma only.
    No,
    /// One at most [`THUMB_WIDTH`] wide, scaled down by a whole factor.
    Thumbnail,
    /// One of the whole picture, for viewers and snapshots.
    Full,
}

/// The motion detector's working picture of an access unit, and its JPEG if asked.
#[derive(Debug)]
pub struct Picture {
    /// The whole picture's JPEG ([`Jpeg::Full`]).
    pub jpeg: Option<Bytes>,
    /// A thumbnail-sized JPEG ([`Jpeg::Thumbnail`]).
    pub thumbnail: Option<Bytes>,
    pub width: u16,
    pub height: u16,
    pub luma: Arc<Luma>,
}

/// Decodes one camera's H.264 stream and makes JPEG pictures of it.
pub struct PictureMaker {
    decoder: Option<(Arc<VideoParams>, ffmpeg::decoder::Video)>,
    /// The decoder's newest picture, and the one it is asked to fill next (a call that
    /// gives none empties it), both reused.
    frame: ffmpeg::frame::Video,
    next: ffmpeg::frame::Video,
    encoder: JpegEncoder,
    /// A 10-bit picture's planes brought to 8 bits (Y, U, V), reused.
    eight: [Vec<u8>; 3],
    /// After a unit failed to decode, units are skipped up to the next keyframe (the ones
    /// between refer to what was lost).
    broken: bool,
    /// A stream whose decoder would hold too much (`dpb.rs`): not decoded.
    refused: Option<Arc<VideoParams>>,
}

impl std::fmt::Debug for PictureMaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PictureMaker")
            .field("broken", &self.broken)
            .finish()
    }
}

/// A new decoder of `codec` on one thread (each camera's runs on a blocking thread of its
/// own; frame threads would add a frame of delay per thread).
fn decoder(codec: Codec) -> Result<ffmpeg::decoder::Video, DecodeError> {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        // Errors come back from each call, into the hub's log; libavcodec's own lines
        // on stderr would bypass it.
        ffmpeg::util::log::set_level(ffmpeg::util::log::Level::Quiet);
    });
    let id = match codec {
        Codec::H264 => ffmpeg::codec::Id::H264,
        Codec::H265 => ffmpeg::codec::Id::HEVC,
        Codec::Jpeg => return Err(DecodeError::NoDecoder("JPEG is not video".into())),
    };
    let found = ffmpeg::decoder::find(id).ok_or_else(|| {
        DecodeError::NoDecoder(format!("this FFmpeg has no {} decoder", codec.name()))
    })?;
    let mut context = ffmpeg::codec::Context::new_with_codec(found);
    context.set_threading(threading::Config::count(1));
    context
        .decoder()
        .video()
        .map_err(|e| DecodeError::NoDecoder(format!("{} decoder: {e}", codec.name())))
}

impl PictureMaker {
    pub fn new() -> Result<PictureMaker, DecodeError> {
        let encoder = JpegEncoder::new(picture::QUALITY)?;
        Ok(PictureMaker {
            decoder: None,
            frame: ffmpeg::frame::Video::empty(),
            next: ffmpeg::frame::Video::empty(),
            encoder,
            eight: Default::default(),
            broken: true,
            refused: None,
        })
    }

    /// Decodes `unit`, and with `picture` makes a [`Picture`] of it, with the JPEG
    /// `jpeg` says. `Ok(None)` when none was asked or none came out (the decoder wants
    /// more, or the unit was skipped after a loss). An error is for this unit only:
    /// decoding goes on at the next keyframe.
    pub fn decode(
        &mut self,
        unit: &AccessUnit,
        picture: bool,
        jpeg: Jpeg,
    ) -> Result<Option<Picture>, DecodeError> {
        let codec = unit.params.codec;
        if unit.keyframe {
            self.broken = false;
            let same = self
                .decoder
                .as_ref()
                .is_some_and(|(params, _)| Arc::ptr_eq(params, &unit.params));
            if !same {
                self.decoder = None;
                // A stream refused once is not looked at again (nor said again).
                if self
                    .refused
                    .as_ref()
                    .is_some_and(|p| Arc::ptr_eq(p, &unit.params))
                {
                    self.broken = true;
                    return Ok(None);
                }
                if let Err(e) = super::dpb::check(&unit.params) {
                    self.refused = Some(Arc::clone(&unit.params));
                    self.broken = true;
                    return Err(DecodeError::NotDecoded(e.to_string()));
                }
                self.decoder = Some((Arc::clone(&unit.params), decoder(codec)?));
            }
        }
        if self.broken {
            return Ok(None);
        }
        let Some((params, decoder)) = self.decoder.as_mut() else {
            return Ok(None);
        };
        // A thumbnail, scaled down four times or more, shows no blocks either.
        decoder.skip_loop_filter(if jpeg == Jpeg::Full {
            ffmpeg::Discard::Default
        } else {
            ffmpeg::Discard::All
        });
        let sent = unit.annex_b().map_err(|e| e.to_string()).and_then(|bytes| {
            decoder
                .send_packet(&ffmpeg::Packet::copy(&bytes))
                .map_err(|e| e.to_string())
        });
        if let Err(e) = sent {
            self.broken = true;
            return Err(DecodeError::Broken(format!(
                "undecodable {} (frame {}): {e}",
                codec.name(),
                unit.seq
            )));
        }
        // One unit in, at most one picture out (a stream that reorders its pictures
        // gives each a few units later).
        let mut decoded = false;
        while decoder.receive_frame(&mut self.next).is_ok() {
            std::mem::swap(&mut self.frame, &mut self.next);
            decoded = true;
        }
        if !decoded || !picture {
            return Ok(None);
        }
        let yuv = &self.frame;
        let (width, height) = (yuv.width() as usize, yuv.height() as usize);
        if (width, height) != (usize::from(params.width), usize::from(params.height)) {
            self.broken = true;
            return Err(DecodeError::Broken(format!(
                "the picture decoded at {width}x{height}, not the {}x{} its parameters say",
                params.width, params.height
            )));
        }
        // 8-bit planes as decoded, or a 10-bit picture's (Main 10 H.265) brought to 8.
        let (planes, strides) = match yuv.format() {
            Pixel::YUV420P | Pixel::YUVJ420P => (
                [yuv.data(0), yuv.data(1), yuv.data(2)],
                [yuv.stride(0), yuv.stride(1), yuv.stride(2)],
            ),
            Pixel::YUV420P10LE => {
                let sizes = [
                    (width, height),
                    (width.div_ceil(2), height.div_ceil(2)),
                    (width.div_ceil(2), height.div_ceil(2)),
                ];
                for (i, (out, (w, h))) in self.eight.iter_mut().zip(sizes).enumerate() {
                    to_8_bits(yuv.data(i), yuv.stride(i), w, h, out);
                }
                let [y, u, v] = &self.eight;
                (
                    [&y[..], &u[..], &v[..]],
                    [width, width.div_ceil(2), width.div_ceil(2)],
                )
            }
            other => {
                self.broken = true;
                return Err(DecodeError::NotDecoded(format!(
                    "the camera's pictures are {other:?}; the hub makes pictures of 4:2:0 video (8 or 10 bits) only"
                )));
            }
        };
        let view = Yuv420 {
            planes,
            strides,
            width,
            height,
        };
        let mut picture = Picture {
            jpeg: None,
            thumbnail: None,
            width: params.width,
            height: params.height,
            luma: Arc::new(view.working_picture()),
        };
        match jpeg {
            Jpeg::No => {}
            Jpeg::Full => picture.jpeg = Some(self.encoder.encode(view)?),
            Jpeg::Thumbnail => {
                picture.thumbnail = Some(picture::thumbnail(view, &mut self.encoder)?)
            }
        }
        Ok(Some(picture))
    }
}

/// A plane of 10-bit samples (two bytes each, little-endian, rows `stride` bytes apart)
/// as 8-bit samples, `w x h`, into `out`.
fn to_8_bits(plane: &[u8], stride: usize, w: usize, h: usize, out: &mut Vec<u8>) {
    out.clear();
    out.reserve(w * h);
    for row in plane.chunks(stride).take(h) {
        let Some(row) = row.get(..2 * w) else { break };
        out.extend(
            row.chunks_exact(2)
                .map(|s| (u16::from_le_bytes([s[0], s[1]]) >> 2) as u8),
        );
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
        let picture = maker
            .decode(&unit, true, Jpeg::Full)
            .unwrap()
            .expect("a picture");
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

    #[test]
    fn a_keyframe_thumbnail_is_the_picture_scaled_to_thumbnail_width() {
        let unit = keyframe();
        let mut maker = PictureMaker::new().unwrap();
        let picture = maker
            .decode(&unit, true, Jpeg::Thumbnail)
            .unwrap()
            .expect("a picture");
        assert!(picture.jpeg.is_none(), "no whole JPEG was asked");
        let thumbnail = picture.thumbnail.expect("a thumbnail");
        let info = remotecam_core::jpeg::inspect(&thumbnail).unwrap();
        assert_eq!((info.width, info.height), (320, 180));
        // Its luma at 1/8 (40x22): the square (x 400-600, y 200-400 at full size) is
        // bright, the gradient's dark corner is not.
        let mut eighth = Vec::new();
        let (width, _) = remotecam_core::planar::luma_eighth(&thumbnail, &mut eighth).unwrap();
        assert_eq!(width, 40);
        assert!(
            eighth[9 * 40 + 15] > 200,
            "inside the square: {}",
            eighth[9 * 40 + 15]
        );
        assert!(
            eighth[2 * 40 + 2] < 60,
            "the dark corner: {}",
            eighth[2 * 40 + 2]
        );
    }
}
