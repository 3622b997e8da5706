//! The picture the hub draws itself: the "no signal" image that MJPEG viewers get while
//! a camera is offline (the old tool showed an image with a message, not a frozen
//! frame).

use bytes::Bytes;

pub use remotecam_core::canvas::Canvas;

/// The most pixels a picture the hub draws itself may have (1920x1080). A camera's frames
/// may be far larger (up to `--max-frame-pixels`); its no-signal picture is then drawn
/// at a whole fraction of their size ([`size_for`]), so drawing it costs a few
/// megabytes and milliseconds, whatever a source claims.
pub const MAX_PIXELS: u64 = 1920 * 1080;

/// The size of the no-signal picture for frames of `width` x `height`: the same, or
/// divided by the smallest whole number that brings it within [`MAX_PIXELS`].
pub fn size_for(width: u16, height: u16) -> (u16, u16) {
    let pixels = u64::from(width) * u64::from(height);
    let mut f = 1u64;
    while pixels > MAX_PIXELS * f * f {
        f += 1;
    }
    let scale = |side: u16| u16::try_from((u64::from(side) / f).max(16)).unwrap_or(u16::MAX);
    (scale(width), scale(height))
}

/// The "no signal" JPEG for `camera`, for frames of `width` x `height` (see
/// [`size_for`]). It takes milliseconds: call it off the async threads.
pub fn no_signal(camera: &str, width: u16, height: u16) -> Bytes {
    let (width, height) = size_for(width, height);
    let (w, h) = (usize::from(width.max(16)), usize::from(height.max(16)));
    let mut canvas = Canvas::new(w, h, [24, 26, 30]);
    let gray = [150, 150, 150];
    let mut y = h * 3 / 10;
    y += canvas.centred(y, "NO SIGNAL", 6, [230, 80, 70]);
    y += h / 16;
    y += canvas.centred(y, &format!("camera {camera}"), 3, [240, 240, 240]);
    y += h / 24;
    canvas.centred(y, "waiting for the source to come back", 2, gray);
    canvas.to_jpeg(70)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_signal_is_a_jpeg_of_the_requested_size() {
        let jpeg = no_signal("door", 320, 240);
        let info = crate::jpeg::inspect(&jpeg).unwrap();
        assert_eq!((info.width, info.height), (320, 240));
    }

    #[test]
    fn large_frames_get_a_bounded_picture() {
        assert_eq!(size_for(1920, 1080), (1920, 1080));
        assert_eq!(size_for(3840, 2160), (1920, 1080));
        assert_eq!(size_for(7680, 4320), (1920, 1080));
        assert_eq!(size_for(4000, 3000), (1333, 1000));
        for (w, h) in [(65535, 65535), (65535, 1), (1, 65535), (2000, 1100)] {
            let (pw, ph) = size_for(w, h);
            assert!(u64::from(pw) * u64::from(ph) <= MAX_PIXELS, "{w}x{h}");
            assert!(pw >= 16 && ph >= 16);
        }
        let jpeg = no_signal("door", 65535, 65535);
        let info = crate::jpeg::inspect(&jpeg).unwrap();
        assert!(info.pixels() <= MAX_PIXELS);
    }
}
