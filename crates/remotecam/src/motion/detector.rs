//! The motion detector. It works on a small grayscale picture (about 160 pixels wide:
//! a JPEG decoded at 1/8 scale), so its cost does not depend on the camera's resolution.
//!
//! Per frame:
//! 1. The light's change since the background, as a tone curve (`tone.rs`): for each
//!    band of background levels, the shift most of its pixels took. Daylight, a gamma or
//!    contrast change, dark parts clipping to black, a camera's exposure settling: all
//!    are a change of the tone curve, and cancel out.
//! 2. The difference of each pixel to its background carried through that curve. A
//!    pixel counts as changed when it passes the noise level (a fixed one, or three
//!    standard deviations of the scene's noise, estimated from the median difference of
//!    each frame) and it *jumped* (changed from one frame to the next by more than
//!    [`JUMP`] times the noise level, beyond the curve) within the last
//!    [`MOTION_MEMORY`] frames. Objects move in jumps; light, however non-uniform,
//!    changes gradually and never counts. An object that stops, or the ghost of one
//!    that stood in the first picture, stops counting after that memory.
//! 3. Changed pixels with fewer than three changed neighbours are specks and removed.
//! 4. The score is the changed share of the picture in percent (so independent of the
//!    resolution). A share above `global_limit`, or above 10% with a jump of the light,
//!    is a change of the whole picture the curve does not explain (a lamp lighting part
//!    of a room), not motion: the score is reported as zero and the detector learns
//!    again from the new picture ([`WARMUP_FRAMES`], as at the start).
//! 5. The background takes the new light at once (through the curve), then follows each
//!    unchanged pixel fast, so that a change slower than objects move (a cloud's shadow
//!    passing) never builds up, and changed pixels very slowly, so that a moving object
//!    does not melt into it. While learning, it follows every pixel alike.
//!
//! The work per pixel is laid out for the compiler to vectorize: the curve's lookup in
//! a pass of its own, no float-to-integer conversions (see [`nearest_level`]), and the
//! noise histogram and curve fitted from every third pixel.
//!
//! Mask zones (polygons) are left out of everything: a change there never counts and the
//! share is of the watched part of the picture.

use super::tone::ToneCurve;

/// Whether (x, y) is inside `polygon` (even-odd rule).
fn inside(polygon: &[(f32, f32)], x: f32, y: f32) -> bool {
    let mut result = false;
    let mut j = polygon.len().wrapping_sub(1);
    for i in 0..polygon.len() {
        let (xi, yi) = polygon[i];
        let (xj, yj) = polygon[j];
        if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
            result = !result;
        }
        j = i;
    }
    result
}

/// `x` (-0.5 to 255.5) to the nearest whole level without a conversion instruction:
/// adding 1.5 x 2^23 leaves the rounded value in the float's low bits. Unlike `as`
/// (which saturates, and is done a lane at a time without AVX-512), this runs on whole
/// vectors.
fn nearest_level(x: f32) -> u8 {
    (x + 12_582_912.0).to_bits() as u8
}

/// The detector's grayscale picture (one byte per pixel, rows without padding), made
/// from any luma by one rule (`remotecam_core::luma`).
pub use remotecam_core::luma::Luma as Gray;

/// A polygon in picture coordinates from 0 to 1 (x right, y down), so that it fits any
/// resolution.
pub type Polygon = Vec<(f32, f32)>;

#[derive(Debug, Clone, PartialEq)]
pub struct DetectorSettings {
    /// Fixed noise level (0 to 255); `None` learns it from the scene.
    pub noise_level: Option<f32>,
    /// Changed share (percent) above which the whole picture is taken to have changed.
    pub global_limit: f32,
    /// Areas to ignore (a tree in the wind, a road): changes inside never count, and the
    /// share is of the rest of the picture.
    pub mask: Vec<Polygon>,
}

impl Default for DetectorSettings {
    fn default() -> DetectorSettings {
        DetectorSettings {
            noise_level: None,
            global_limit: 60.0,
            mask: Vec::new(),
        }
    }
}

/// What the detector says about one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    /// Changed share of the picture, percent (0 for a whole-picture change).
    pub changed_percent: f32,
    /// The noise level in use.
    pub noise_level: f32,
    /// The whole picture changed (light switch): ignored as motion.
    pub global_change: bool,
}

/// Floor for the learnt noise level: even a perfectly clean picture has JPEG ringing.
const MIN_NOISE: f32 = 4.0;
/// A learnt noise level starts here and needs this many quiet frames to settle.
const WARMUP_FRAMES: u32 = 10;
/// A jump: a change from one frame to the next of this many times the noise level,
/// beyond the change of light. Objects move in jumps; light changes gradually.
const JUMP: f32 = 1.5;
/// Frames a pixel stays changed after it last jumped. A change that came gradually
/// (light) never counts; an object that stops, or the ghost of one that stood in the
/// first picture, melts into the background after this.
const MOTION_MEMORY: u8 = 25;

/// How far the background moves toward a pixel per frame (share of the difference).
/// An unchanged pixel is followed fast: a change of light slower than the noise level a
/// frame never builds up into a difference.
const FOLLOW_UNCHANGED: f32 = 0.8;
/// A changed pixel, very slowly: a moving object does not melt into the background.
const FOLLOW_CHANGED: f32 = 0.005;
/// Every pixel, while the detector learns (its first frames).
const FOLLOW_LEARNING: f32 = 0.3;

#[derive(Debug, Clone)]
pub struct Detector {
    settings: DetectorSettings,
    background: Vec<f32>,
    width: usize,
    height: usize,
    /// Running estimate of the noise's standard deviation.
    noise: f32,
    frames: u32,
    tone: ToneCurve,
    changed: Vec<bool>,
    /// Per pixel: the previous frame's level.
    previous: Vec<u8>,
    /// Per pixel: this frame's difference to the background (whole levels, at most 255).
    differences: Vec<u8>,
    /// Per pixel: the background to the nearest level, for the tone curve.
    levels: Vec<u8>,
    /// Per pixel: the shift of light at its background level (scratch of each frame).
    shifts: Vec<f32>,
    /// Per pixel: frames since it last jumped (changed by more than the noise level from
    /// one frame to the next, beyond the change of light).
    since_jump: Vec<u8>,
    /// Per pixel of the working picture: inside a mask polygon.
    masked: Vec<bool>,
    /// Pixels outside the mask.
    watched: usize,
}

impl Detector {
    pub fn new(settings: DetectorSettings) -> Detector {
        Detector {
            settings,
            background: Vec::new(),
            width: 0,
            height: 0,
            noise: MIN_NOISE / 3.0,
            frames: 0,
            tone: ToneCurve::new(),
            changed: Vec::new(),
            previous: Vec::new(),
            differences: Vec::new(),
            levels: Vec::new(),
            shifts: Vec::new(),
            since_jump: Vec::new(),
            masked: Vec::new(),
            watched: 0,
        }
    }

    fn reset(&mut self, frame: &Gray) {
        self.width = frame.width;
        self.height = frame.height;
        self.background = frame.pixels.iter().map(|&p| f32::from(p)).collect();
        self.changed = vec![false; frame.pixels.len()];
        self.previous = frame.pixels.clone();
        self.differences = vec![0; frame.pixels.len()];
        self.shifts = vec![0.0; frame.pixels.len()];
        self.levels = frame.pixels.clone();
        self.since_jump = vec![u8::MAX; frame.pixels.len()];
        let (w, h) = (frame.width, frame.height);
        self.masked = (0..w * h)
            .map(|i| {
                let (x, y) = (
                    ((i % w) as f32 + 0.5) / w as f32,
                    ((i / w) as f32 + 0.5) / h as f32,
                );
                self.settings.mask.iter().any(|p| inside(p, x, y))
            })
            .collect();
        self.watched = self.masked.iter().filter(|m| !**m).count();
    }

    /// Scores `frame` against the background, then learns from it.
    pub fn score(&mut self, frame: &Gray) -> Score {
        let n = frame.pixels.len();
        if n == 0 || n != frame.width * frame.height {
            return Score {
                changed_percent: 0.0,
                noise_level: self.noise_level(),
                global_change: false,
            };
        }
        if (frame.width, frame.height) != (self.width, self.height) {
            self.reset(frame);
        }
        self.frames = self.frames.saturating_add(1);
        let learning = self.frames <= WARMUP_FRAMES;
        let level = self.noise_level();
        self.tone.fit(&frame.pixels, &self.levels, &self.masked);
        // The background in the frame's light, and each pixel's difference to it.
        let jump = JUMP * level;
        let tone = &self.tone;
        // Slices of one length, so that the loop has no bounds checks.
        let pixels = &frame.pixels[..n];
        let background = &mut self.background[..n];
        let previous = &self.previous[..n];
        let since_jump = &mut self.since_jump[..n];
        let changed = &mut self.changed[..n];
        let masked = &self.masked[..n];
        // The background then follows the frame (the module's point 5) in the same pass:
        // after a whole-picture change it is learnt again from the frame anyway.
        let (follow_changed, follow_unchanged) = if learning {
            (FOLLOW_LEARNING, FOLLOW_LEARNING)
        } else {
            (FOLLOW_CHANGED, FOLLOW_UNCHANGED)
        };
        // Each pixel's shift of light, looked up in a pass of its own: the pass after it
        // then has no table lookups and runs on whole vectors.
        let shifts = &mut self.shifts[..n];
        for (shift, &level) in shifts.iter_mut().zip(self.levels.iter()) {
            *shift = tone.shift(level);
        }
        let levels = &mut self.levels[..n];
        let differences = &mut self.differences[..n];
        for i in 0..n {
            let shift = shifts[i];
            let b = background[i] + shift;
            let p = f32::from(pixels[i]);
            let d = (p - b).abs();
            differences[i] = nearest_level(d.min(255.0) - 0.5); // whole levels below d
            let step = p - f32::from(previous[i]) - shift;
            // Without branches: 0 after a jump, one more frame since otherwise.
            let since = since_jump[i].saturating_add(1) * u8::from(step.abs() <= jump);
            since_jump[i] = since;
            let is_changed = (d > level) & (since <= MOTION_MEMORY) & !masked[i];
            changed[i] = is_changed;
            let follow = if is_changed {
                follow_changed
            } else {
                follow_unchanged
            };
            let followed = b + (p - b) * follow;
            background[i] = followed;
            levels[i] = nearest_level(followed.clamp(0.0, 255.0));
        }
        if learning {
            // Nothing has jumped while the background is still forming (and after a jump
            // of light, a camera's exposure settles and clipped parts come back).
            self.since_jump.fill(u8::MAX);
        }
        self.previous.copy_from_slice(&frame.pixels);
        // The differences' histogram, for the noise, from every third pixel (the median
        // of a few thousand is as good), in four parts filled in turn: successive pixels
        // often fall in the same bin, and one histogram would make each count wait for
        // the previous one.
        let mut parts = [[0u32; 256]; 4];
        let sampled = self.differences.iter().step_by(3);
        for (i, &d) in sampled.enumerate() {
            parts[i % 4][usize::from(d)] += 1;
        }
        let histogram: [u32; 256] = std::array::from_fn(|v| parts.iter().map(|h| h[v]).sum());
        let changed = self.count_without_specks();
        let percent = if learning || self.watched == 0 {
            0.0
        } else {
            changed as f32 * 100.0 / self.watched as f32
        };
        // A whole-picture change the tone curve does not explain: most of the picture
        // changed, or much of it did together with a jump of the light (a lamp lighting
        // one side of a room).
        let jump = self.tone.overall().abs() > (2.0 * level).max(10.0);
        if !learning && (percent > self.settings.global_limit || (percent > 10.0 && jump)) {
            self.reset(frame);
            // Learn the new picture as the first: a camera's exposure often settles after
            // a jump of the light, and parts that were clipped say little of the scene.
            self.frames = 0;
            return Score {
                changed_percent: 0.0,
                noise_level: level,
                global_change: true,
            };
        }
        if self.settings.noise_level.is_none() {
            self.learn_noise(&histogram, n.div_ceil(3), learning);
        }
        Score {
            changed_percent: percent,
            noise_level: level,
            global_change: false,
        }
    }

    /// Updates the noise estimate from the histogram of a frame's `n` differences: their
    /// median, which for normal noise is 0.6745 sigma.
    fn learn_noise(&mut self, histogram: &[u32; 256], n: usize, learning: bool) {
        let mut seen = 0u32;
        let median = histogram
            .iter()
            .position(|&c| {
                seen += c;
                seen as usize * 2 >= n
            })
            .unwrap_or(0) as f32
            + 0.5;
        let mut sigma = median / 0.6745;
        if !learning {
            // The noise changes slowly; a sudden rise is the scene, not the sensor.
            sigma = sigma.min(self.noise * 1.5);
        }
        let rate = if learning { 0.3 } else { 0.05 };
        self.noise += (sigma - self.noise) * rate;
    }

    /// The per-pixel difference a change must pass.
    pub fn noise_level(&self) -> f32 {
        self.settings
            .noise_level
            .unwrap_or_else(|| (self.noise * 3.0).max(MIN_NOISE))
    }

    /// Changed pixels with at least three changed neighbours (of eight): each pixel's
    /// 3x3 neighbourhood counted from column sums, three rows at a time.
    fn count_without_specks(&self) -> usize {
        let (w, h) = (self.width, self.height);
        let row = |y: usize| &self.changed[y * w..][..w];
        // Per column, the changed pixels in rows y-1..=y+1 (outside the picture: none).
        let mut columns = vec![0u8; w + 2];
        let mut count = 0;
        for y in 0..h {
            for (x, c) in columns[1..=w].iter_mut().enumerate() {
                let above = y > 0 && row(y - 1)[x];
                let below = y + 1 < h && row(y + 1)[x];
                *c = u8::from(above) + u8::from(row(y)[x]) + u8::from(below);
            }
            count += row(y)
                .iter()
                .zip(columns.windows(3))
                .filter(|(on, c)| **on && c[0] + c[1] + c[2] > 3)
                .count();
        }
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_levels() {
        for (x, level) in [
            (-0.5, 0),
            (0.2, 0),
            (0.6, 1),
            (127.4, 127),
            (254.9, 255),
            (255.0, 255),
        ] {
            assert_eq!(nearest_level(x), level, "{x}");
        }
    }

    #[test]
    fn point_in_polygon() {
        let square = vec![(0.0, 0.0), (0.5, 0.0), (0.5, 0.5), (0.0, 0.5)];
        assert!(inside(&square, 0.25, 0.25));
        assert!(!inside(&square, 0.75, 0.25));
        let triangle = vec![(0.0, 0.0), (1.0, 0.0), (0.0, 1.0)];
        assert!(inside(&triangle, 0.2, 0.2));
        assert!(!inside(&triangle, 0.8, 0.8));
        assert!(!inside(&[], 0.5, 0.5));
    }

    /// Specks removed as defined: a changed pixel counts when at least three of its
    /// eight neighbours (inside the picture) changed too.
    #[test]
    fn specks_are_pixels_with_fewer_than_three_changed_neighbours() {
        let mut x: u32 = 0x1234_5678;
        for (w, h, density) in [(1, 1, 2), (5, 1, 2), (1, 7, 2), (17, 9, 2), (40, 23, 4)] {
            let mut d = Detector::new(DetectorSettings::default());
            (d.width, d.height) = (w, h);
            d.changed = (0..w * h)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x.is_multiple_of(density)
                })
                .collect();
            let mut expected = 0;
            for y in 0..h as i32 {
                for xx in 0..w as i32 {
                    let on = |x: i32, y: i32| {
                        x >= 0
                            && y >= 0
                            && x < w as i32
                            && y < h as i32
                            && d.changed[(y * w as i32 + x) as usize]
                    };
                    let neighbours = (-1..=1)
                        .flat_map(|dy| (-1..=1).map(move |dx| (dx, dy)))
                        .filter(|&(dx, dy)| (dx, dy) != (0, 0) && on(xx + dx, y + dy))
                        .count();
                    if on(xx, y) && neighbours >= 3 {
                        expected += 1;
                    }
                }
            }
            assert_eq!(d.count_without_specks(), expected, "{w}x{h}");
        }
    }
}
