//! Pictures the hub draws itself: the "no signal" image that MJPEG viewers get while a
//! camera is offline (the old tool showed an image with a message, not a frozen frame).

use bytes::Bytes;

pub use remotecam_core::canvas::Canvas;

/// The "no signal" JPEG for `camera` at `width` x `height`.
pub fn no_signal(camera: &str, width: u16, height: u16) -> Bytes {
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
}
