use remotecam_core::canvas::Canvas;
use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;

use crate::Error;

/// A decoded picture: `height` rows of `width` pixels, 3 bytes each in B, G, R order
/// (OpenCV's order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub width: usize,
    pub height: usize,
    pub bgr: Vec<u8>,
}

/// Decodes a JPEG to BGR (grayscale JPEGs are expanded to three equal channels).
pub fn decode_bgr(jpeg: &[u8]) -> Result<Image, Error> {
    let options = DecoderOptions::default()
        .jpeg_set_out_colorspace(ColorSpace::BGR)
        .set_max_width(16_384)
        .set_max_height(16_384);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(jpeg), options);
    let bgr = decoder.decode().map_err(|e| Error::Decode(e.to_string()))?;
    let (width, height) = decoder
        .dimensions()
        .ok_or_else(|| Error::Decode("no dimensions".into()))?;
    if bgr.len() != width * height * 3 {
        return Err(Error::Decode(format!(
            "decoded {} bytes for {width}x{height}",
            bgr.len()
        )));
    }
    Ok(Image { width, height, bgr })
}

/// Encodes a BGR picture as JPEG at `quality` (1 to 100).
pub fn encode_bgr(bgr: &[u8], width: usize, height: usize, quality: u8) -> Result<Vec<u8>, Error> {
    let (w, h) = match (u16::try_from(width), u16::try_from(height)) {
        (Ok(w), Ok(h)) if w > 0 && h > 0 => (w, h),
        _ => {
            return Err(Error::Decode(format!(
                "cannot encode a {width}x{height} picture"
            )));
        }
    };
    if bgr.len() != width * height * 3 {
        return Err(Error::Decode(format!(
            "{} bytes is not a {width}x{height} BGR picture",
            bgr.len()
        )));
    }
    let mut out = Vec::with_capacity(bgr.len() / 8);
    jpeg_encoder::Encoder::new(&mut out, quality.clamp(1, 100))
        .encode(bgr, w, h, jpeg_encoder::ColorType::Bgr)
        .map_err(|e| Error::Decode(e.to_string()))?;
    Ok(out)
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
}
