use std::cell::RefCell;

use remotecam_core::canvas::Canvas;
use turbojpeg::{Compressor, Decompressor, PixelFormat, Subsamp};

use crate::Error;

/// A decoded picture: `height` rows of `width` pixels, 3 bytes each in B, G, R order
/// (OpenCV's order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub width: usize,
    pub height: usize,
    pub bgr: Vec<u8>,
}

/// Largest picture decoded, per side: a bound on what a malformed header can make us
/// allocate.
const MAX_SIDE: usize = 16_384;

thread_local! {
    // libjpeg-turbo handles are reused per thread: making one costs an allocation of
    // its working state.
    static DECOMPRESSOR: RefCell<Option<Decompressor>> = const { RefCell::new(None) };
    static COMPRESSOR: RefCell<Option<Compressor>> = const { RefCell::new(None) };
}

fn turbo_err(e: turbojpeg::Error) -> Error {
    Error::Decode(e.to_string())
}

/// Decodes a JPEG to BGR (grayscale JPEGs are expanded to three equal channels).
pub fn decode_bgr(jpeg: &[u8]) -> Result<Image, Error> {
    DECOMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        let decompressor = match slot.as_mut() {
            Some(d) => d,
            None => slot.insert(Decompressor::new().map_err(turbo_err)?),
        };
        let header = decompressor.read_header(jpeg).map_err(turbo_err)?;
        let (width, height) = (header.width, header.height);
        if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
            return Err(Error::Decode(format!(
                "unlikely picture size {width}x{height}"
            )));
        }
        let mut image = turbojpeg::Image {
            pixels: vec![0u8; width * height * 3],
            width,
            pitch: width * 3,
            height,
            format: PixelFormat::BGR,
        };
        decompressor
            .decompress(jpeg, image.as_deref_mut())
            .map_err(turbo_err)?;
        Ok(Image {
            width,
            height,
            bgr: image.pixels,
        })
    })
}

/// Encodes a BGR picture as JPEG at `quality` (1 to 100), 4:2:0 like cameras do.
pub fn encode_bgr(bgr: &[u8], width: usize, height: usize, quality: u8) -> Result<Vec<u8>, Error> {
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(Error::Decode(format!(
            "cannot encode a {width}x{height} picture"
        )));
    }
    if bgr.len() != width * height * 3 {
        return Err(Error::Decode(format!(
            "{} bytes is not a {width}x{height} BGR picture",
            bgr.len()
        )));
    }
    COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        let compressor = match slot.as_mut() {
            Some(c) => c,
            None => slot.insert(Compressor::new().map_err(turbo_err)?),
        };
        compressor
            .set_quality(i32::from(quality.clamp(1, 100)))
            .map_err(turbo_err)?;
        compressor.set_subsamp(Subsamp::Sub2x2).map_err(turbo_err)?;
        let image = turbojpeg::Image {
            pixels: bgr,
            width,
            pitch: width * 3,
            height,
            format: PixelFormat::BGR,
        };
        compressor.compress_to_vec(image).map_err(turbo_err)
    })
}

/// The picture a program gets when no frame came in time, as the old tool did: dark,
/// with a message naming the camera and the wait.
pub fn timeout_image(camera: &str, error: &Error, width: usize, height: usize) -> Image {
    let (w, h) = (width.clamp(16, 8192), height.clamp(16, 8192));
    let mut canvas = Canvas::new(w, h, [30, 26, 24]);
    let mut y = h * 3 / 10;
    y += canvas.centred(y, "NO FRAME", 5, [80, 120, 240]);
    y += h / 16;
    y += canvas.centred(y, &format!("camera {camera}"), 3, [240, 240, 240]);
    y += h / 24;
    canvas.centred(y, &error.to_string(), 2, [170, 170, 170]);
    Image {
        width: w,
        height: h,
        bgr: canvas.rgb,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bgr_round_trip_keeps_colours() {
        // Pure red in BGR order.
        let bgr: Vec<u8> = [0u8, 0, 255].repeat(32 * 16);
        let jpeg = encode_bgr(&bgr, 32, 16, 90).unwrap();
        let image = decode_bgr(&jpeg).unwrap();
        assert_eq!((image.width, image.height), (32, 16));
        let px = &image.bgr[..3];
        assert!(px[0] < 10 && px[1] < 10 && px[2] > 245, "{px:?}");
    }

    #[test]
    fn grayscale_jpegs_become_three_equal_channels() {
        let gray = [77u8; 16 * 8];
        let mut c = Compressor::new().unwrap();
        c.set_subsamp(Subsamp::Gray).unwrap();
        let jpeg = c
            .compress_to_vec(turbojpeg::Image {
                pixels: &gray[..],
                width: 16,
                pitch: 16,
                height: 8,
                format: PixelFormat::GRAY,
            })
            .unwrap();
        let image = decode_bgr(&jpeg).unwrap();
        assert_eq!(image.bgr.len(), 16 * 8 * 3);
        assert!(
            image
                .bgr
                .chunks(3)
                .all(|p| p[0] == p[1] && p[1] == p[2] && p[0].abs_diff(77) <= 2)
        );
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(decode_bgr(b"not a jpeg").is_err());
        assert!(encode_bgr(&[0; 5], 2, 2, 80).is_err());
        assert!(encode_bgr(&[], 0, 0, 80).is_err());
    }

    #[test]
    fn timeout_image_has_text() {
        let err = Error::Timeout {
            camera: "door".into(),
            waited: std::time::Duration::from_secs(1),
            why: None,
        };
        let image = timeout_image("door", &err, 640, 480);
        assert_eq!(image.bgr.len(), 640 * 480 * 3);
        assert!(image.bgr.chunks(3).filter(|p| p[0] > 200).count() > 200);
    }

    /// Every line of the picture is whole, at every size a program may ask for: no ink in
    /// the outer columns, and the title as far from the left edge as from the right.
    #[test]
    fn timeout_image_text_is_never_cut_at_the_edges() {
        let err = Error::Timeout {
            camera: "front-door-of-the-garage".into(),
            waited: std::time::Duration::from_secs(5),
            why: Some("the camera is offline".into()),
        };
        for (w, h) in [
            (64, 48),
            (100, 400),
            (160, 120),
            (320, 240),
            (640, 480),
            (1920, 1080),
        ] {
            let image = timeout_image("front-door-of-the-garage", &err, w, h);
            let background = [30, 26, 24];
            let ink = |x: usize, y: usize| image.bgr[(y * w + x) * 3..][..3] != background;
            for y in 0..h {
                assert!(!ink(0, y) && !ink(w - 1, y), "{w}x{h}: text cut at row {y}");
            }
            // The title's columns (it is the only red: B < R in BGR order).
            let title: Vec<usize> = (0..w)
                .filter(|&x| {
                    (0..h).any(|y| {
                        let p = &image.bgr[(y * w + x) * 3..][..3];
                        u16::from(p[2]) > u16::from(p[0]) + 60
                    })
                })
                .collect();
            let (left, right) = (title[0], w - 1 - title[title.len() - 1]);
            assert!(
                left.abs_diff(right) <= 8,
                "{w}x{h}: title at {left}..{right}"
            );
        }
    }
}
