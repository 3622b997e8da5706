//! How the light changed between the detector's background and a frame, as a tone
//! curve: the shift to add to a background level to get that level in the frame's
//! light. Daylight coming and going, gamma and contrast changes, dark or bright parts
//! clipping, a camera's exposure settling: each moves every pixel of a given level about
//! the same way, so the curve is learnt from the picture itself, band of levels by band,
//! and what it does not explain is what changed in the scene.
//!
//! Robust by construction: each band's shift is the median of its pixels' differences
//! (an object covering less than half of a band does not move it), a band that stands
//! out from both of its neighbours by more than a band's width is overruled by them (an
//! object filling a band with few pixels is no change of light), and bands with too few pixels to say take the curve
//! from the bands around them.

/// Background levels per band.
const BAND: usize = 16;
const BANDS: usize = 256 / BAND;
/// Differences from -255 to 255, one bin per level.
const SPAN: usize = 511;
/// One pixel in this many is taken to fit the curve.
const SAMPLE_EVERY: usize = 3;

#[derive(Debug, Clone)]
pub(super) struct ToneCurve {
    /// Per band, the histogram of differences (frame - background): `BANDS x SPAN`.
    histograms: Vec<u32>,
    /// The shift at each whole background level 0..=255 (a level's fraction would move
    /// it by less than a hundredth of the noise level).
    shifts: [f32; 256],
    /// The median difference over the picture: the light's jump as a whole.
    overall: f32,
}

impl ToneCurve {
    pub(super) fn new() -> ToneCurve {
        ToneCurve {
            histograms: vec![0; BANDS * SPAN],
            shifts: [0.0; 256],
            overall: 0.0,
        }
    }

    /// Learns the curve from a frame and its background (to the nearest level), leaving
    /// out `skipped` pixels.
    pub(super) fn fit(&mut self, frame: &[u8], background: &[u8], skipped: &[bool]) {
        self.histograms.fill(0);
        let mut sums = [0u32; BANDS];
        let mut counts = [0u32; BANDS];
        // Every third pixel says as much of the light (a few thousand in a working
        // picture, still some hundreds per band) at a third of the cost.
        let n = frame.len().min(background.len()).min(skipped.len());
        for i in (0..n).step_by(SAMPLE_EVERY) {
            if skipped[i] {
                continue;
            }
            // A whole difference, from -255 (bin 0) to 255.
            let b = usize::from(background[i]);
            let band = b / BAND;
            let d = usize::from(frame[i]) + 255 - b;
            self.histograms[band * SPAN + d] += 1;
            sums[band] += b as u32;
            counts[band] += 1;
        }
        let total: u32 = counts.iter().sum();
        let enough = (total / 64).max(16);
        // (where the band's pixels lie, its shift) for bands with enough pixels.
        let mut points: Vec<(f32, f32)> = (0..BANDS)
            .filter(|&band| counts[band] >= enough)
            .map(|band| {
                let histogram = &self.histograms[band * SPAN..][..SPAN];
                (
                    sums[band] as f32 / counts[band] as f32,
                    median(histogram, counts[band]),
                )
            })
            .collect();
        let shifts: Vec<f32> = points.iter().map(|p| p.1).collect();
        for i in 1..points.len().saturating_sub(1) {
            let (before, after) = (shifts[i - 1], shifts[i + 1]);
            // A knee of the curve (where bright parts start to clip) bends it by less
            // than a band's width; an object filling a band stands out by more.
            if (shifts[i] - (before + after) / 2.0).abs() > BAND as f32 {
                points[i].1 = median_of_three(before, shifts[i], after);
            }
        }
        self.interpolate(&points);
        let mut summed = [0u32; SPAN];
        for histogram in self.histograms.chunks_exact(SPAN) {
            for (sum, &count) in summed.iter_mut().zip(histogram) {
                *sum += count;
            }
        }
        self.overall = if total == 0 {
            0.0
        } else {
            median(&summed, total)
        };
    }

    /// The curve through `points` (level, shift), straight between them and level
    /// beyond the first and the last; no shift without points.
    fn interpolate(&mut self, points: &[(f32, f32)]) {
        let at = |x: f32| match points.iter().position(|p| p.0 > x) {
            None => points.last().map_or(0.0, |p| p.1),
            Some(0) => points[0].1,
            Some(i) => {
                let ((x0, y0), (x1, y1)) = (points[i - 1], points[i]);
                y0 + (y1 - y0) * (x - x0) / (x1 - x0)
            }
        };
        for (level, shift) in self.shifts.iter_mut().enumerate() {
            *shift = at(level as f32);
        }
    }

    /// The shift of a background level.
    pub(super) fn shift(&self, level: u8) -> f32 {
        self.shifts[usize::from(level)]
    }

    /// The median shift of the whole picture.
    pub(super) fn overall(&self) -> f32 {
        self.overall
    }
}

/// The median difference of a histogram of `count` differences (bin 0 is -255), placed
/// within its bin by the share of the counts below and in it.
fn median(histogram: &[u32], count: u32) -> f32 {
    let half = count as f32 / 2.0;
    let mut below = 0u32;
    for (bin, &c) in histogram.iter().enumerate() {
        if c > 0 && (below + c) as f32 >= half {
            let within = (half - below as f32) / c as f32;
            return bin as f32 - 255.0 - 0.5 + within;
        }
        below += c;
    }
    0.0
}

fn median_of_three(a: f32, b: f32, c: f32) -> f32 {
    a.max(b).min(a.min(b).max(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A picture of every level, its background, and the shifts the curve finds.
    fn fitted(light: impl Fn(f32) -> f32) -> ToneCurve {
        let background: Vec<u8> = (0..256 * 40).map(|i| (i % 256) as u8).collect();
        let frame: Vec<u8> = background
            .iter()
            .map(|&b| light(f32::from(b)).round().clamp(0.0, 255.0) as u8)
            .collect();
        let mut curve = ToneCurve::new();
        curve.fit(&frame, &background, &vec![false; frame.len()]);
        curve
    }

    #[test]
    fn a_uniform_change_is_one_shift() {
        let curve = fitted(|b| b + 20.0);
        for level in [40, 128, 200] {
            assert!((curve.shift(level) - 20.0).abs() < 1.0, "{level}");
        }
        assert!((curve.overall() - 20.0).abs() < 1.0);
    }

    #[test]
    fn a_gain_with_clipping_follows_the_levels() {
        let curve = fitted(|b| b * 1.5);
        for level in [20u8, 60, 120, 160, 240] {
            let expected = (f32::from(level) * 1.5).min(255.0) - f32::from(level);
            assert!(
                (curve.shift(level) - expected).abs() < 3.0,
                "{level}: {} for {expected}",
                curve.shift(level)
            );
        }
    }

    #[test]
    fn an_object_in_a_band_is_no_change_of_light() {
        // One band's pixels all changed (a bright object over the levels 96 to 111):
        // its neighbours overrule it.
        let curve = fitted(|b| if (96.0..112.0).contains(&b) { 250.0 } else { b });
        assert!(curve.shift(104).abs() < 1.0, "{}", curve.shift(104));
    }

    #[test]
    fn no_pixels_no_shift() {
        let mut curve = ToneCurve::new();
        curve.fit(&[], &[], &[]);
        assert_eq!(curve.shift(100), 0.0);
        assert_eq!(curve.overall(), 0.0);
    }

    #[test]
    fn medians_of_histograms() {
        let mut histogram = vec![0; SPAN];
        histogram[255 + 3] = 10;
        assert!((median(&histogram, 10) - 3.0).abs() <= 0.5);
        assert_eq!(median_of_three(1.0, 9.0, 5.0), 5.0);
        assert_eq!(median_of_three(9.0, 1.0, 0.0), 1.0);
    }
}
