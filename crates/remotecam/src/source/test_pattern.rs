//! `test:` a moving test pattern: colour bars sliding by, a box bouncing, the camera's
//! name, the time (UTC) and a frame counter. Made and encoded by the hub, off the async
//! threads, at the configured size and rate.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use remotecam_core::canvas::Canvas;

use super::TestPattern;
use crate::camera::{Camera, SourceState};

const BARS: [[u8; 3]; 8] = [
    [235, 235, 235],
    [235, 235, 16],
    [16, 235, 235],
    [16, 235, 16],
    [235, 16, 235],
    [235, 16, 16],
    [16, 16, 235],
    [16, 16, 16],
];

/// One frame of the pattern as JPEG.
pub fn render(camera: &str, width: u16, height: u16, frame: u64, now: SystemTime) -> Bytes {
    let (w, h) = (usize::from(width), usize::from(height));
    let mut canvas = Canvas::new(w, h, [0, 0, 0]);
    let bar_w = w.div_ceil(BARS.len()).max(1);
    let shift = (frame as usize * 4) % w.max(1);
    for y in 0..h * 2 / 3 {
        for x in 0..w {
            let colour = BARS[((x + shift) % w) / bar_w % BARS.len()];
            let i = (y * w + x) * 3;
            canvas.rgb[i..i + 3].copy_from_slice(&colour);
        }
    }
    // A box that bounces along the bottom third, so motion is visible at a glance.
    let size = (h / 6).max(4);
    let span = w.saturating_sub(size).max(1);
    let pos = (frame as usize * 6) % (2 * span);
    let bx = if pos < span { pos } else { 2 * span - pos };
    for y in h * 2 / 3 + size / 4..(h * 2 / 3 + size / 4 + size).min(h) {
        for x in bx..(bx + size).min(w) {
            let i = (y * w + x) * 3;
            canvas.rgb[i..i + 3].copy_from_slice(&[255, 140, 0]);
        }
    }
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs() % 86_400;
    let clock = format!(
        "{:02}:{:02}:{:02}.{:03} UTC",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        since.subsec_millis()
    );
    let scale = (w / 320).clamp(1, 4);
    let line = 10 * scale;
    let top = h * 2 / 3 + size / 4 + size + line / 2;
    let white = [255, 255, 255];
    canvas.text(
        line,
        top.min(h.saturating_sub(3 * line)),
        camera,
        scale,
        white,
    );
    canvas.text(
        line,
        (top + line).min(h.saturating_sub(2 * line)),
        &clock,
        scale,
        white,
    );
    canvas.text(
        line,
        (top + 2 * line).min(h.saturating_sub(line)),
        &format!("frame {frame}"),
        scale,
        white,
    );
    canvas.to_jpeg(80)
}

/// Publishes the pattern until the hub stops; returns only on an internal error.
pub(super) async fn run(camera: &Arc<Camera>, pattern: &TestPattern) -> String {
    let lease = camera.claim_publisher();
    camera.set_source_state(SourceState::Live, None);
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / pattern.fps));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let (width, height) = (pattern.width, pattern.height);
    let mut frame = 0u64;
    loop {
        tick.tick().await;
        let name = lease.camera().name().to_owned();
        let now = SystemTime::now();
        let jpeg =
            match tokio::task::spawn_blocking(move || render(&name, width, height, frame, now))
                .await
            {
                Ok(jpeg) => jpeg,
                Err(e) => return format!("test pattern renderer failed: {e}"),
            };
        match remotecam_core::jpeg::inspect(&jpeg) {
            Ok(info) => {
                lease.publish(jpeg, info, Some(now));
            }
            Err(e) => return format!("test pattern made a bad JPEG: {e}"),
        }
        frame += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_have_the_size_and_differ() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let a = render("demo", 320, 240, 0, now);
        let b = render("demo", 320, 240, 1, now);
        let info = remotecam_core::jpeg::inspect(&a).unwrap();
        assert_eq!((info.width, info.height), (320, 240));
        assert_ne!(a, b, "the pattern moves");
        // Odd sizes and tiny sizes render too.
        assert!(remotecam_core::jpeg::inspect(&render("x", 16, 16, 99, now)).is_ok());
    }
}
