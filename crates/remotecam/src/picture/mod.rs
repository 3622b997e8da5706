//! Pictures: 4:2:0 planes and what the hub makes of them, one way each. A JPEG frame is
//! decoded into planes ([`I420::decode_jpeg`]: libjpeg-turbo, zune-jpeg for other
//! samplings); a video frame is decoded into planes by libavcodec (`video/pictures.rs`);
//! either is seen as one [`Yuv420`], of which the hub makes a JPEG ([`JpegEncoder`],
//! libjpeg-turbo), a thumbnail ([`thumbnail`]), the detector's working picture, and
//! H.264 (`video/encoder.rs`).

mod jpeg;
mod planes;

use bytes::Bytes;

pub use jpeg::{JpegEncoder, MAX_PIXELS, general_decoder};
pub use planes::{I420, Yuv420};

/// The widest thumbnail: what a clip's thumbnail is scaled to.
pub const THUMB_WIDTH: usize = 320;

/// JPEG quality of the pictures the hub makes (of video, thumbnails): the look of a
/// camera's own MJPEG.
pub const QUALITY: i32 = 80;

/// Why a picture could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PictureError {
    /// The JPEG is broken, or of a kind no decoder here takes.
    #[error("cannot decode the frame: {0}")]
    Decode(String),
    #[error("picture too small to record ({0}x{1})")]
    TooSmall(usize, usize),
    #[error("picture too large to record ({0}x{1}; at most {MAX_PIXELS} pixels, H.264 level 5.1)")]
    TooLarge(usize, usize),
    #[error("JPEG encoder: {0}")]
    Encode(String),
}

/// A JPEG of `picture` averaged down by the whole factor that brings it to at most
/// [`THUMB_WIDTH`] wide (a picture too flat to be scaled down is its own thumbnail).
pub fn thumbnail(picture: Yuv420<'_>, encoder: &mut JpegEncoder) -> Result<Bytes, PictureError> {
    match picture.scaled_down(THUMB_WIDTH) {
        Some([y, u, v]) => {
            let small = Yuv420 {
                planes: [&y.pixels, &u.pixels, &v.pixels],
                strides: [y.width, u.width, v.width],
                width: y.width,
                height: y.height,
            };
            encoder.encode(small)
        }
        None => encoder.encode(picture),
    }
}
