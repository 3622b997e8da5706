//! A camera's frame rate and bitrate, over the last [`RATE_WINDOW`]: what the API shows
//! of what a camera sends ("H.264, 2.4 Mbit/s").

use std::collections::VecDeque;
use std::time::{Duration, Instant};

const RATE_WINDOW: Duration = Duration::from_secs(2);
/// The frames remembered: 2 s at 120 fps.
const RATE_SAMPLES: usize = 256;

#[derive(Debug, Default)]
pub(super) struct RateMeter {
    /// When each recent frame came, and its bytes.
    frames: VecDeque<(Instant, usize)>,
}

impl RateMeter {
    pub(super) fn record(&mut self, t: Instant, bytes: usize) {
        if self.frames.len() == RATE_SAMPLES {
            self.frames.pop_front();
        }
        self.frames.push_back((t, bytes));
    }

    /// Frames a second and bits a second, over the frames of the last [`RATE_WINDOW`]
    /// (zero for fewer than two).
    pub(super) fn rates(&self, now: Instant) -> (f64, u64) {
        let recent: Vec<&(Instant, usize)> = self
            .frames
            .iter()
            .filter(|(t, _)| now.duration_since(*t) <= RATE_WINDOW)
            .collect();
        let (Some(first), Some(last)) = (recent.first(), recent.last()) else {
            return (0.0, 0);
        };
        let span = last.0.duration_since(first.0).as_secs_f64();
        if recent.len() < 2 || span <= 0.0 {
            return (0.0, 0);
        }
        // The bytes of the frames after the first, over the time they took.
        let bytes: usize = recent.iter().skip(1).map(|(_, b)| b).sum();
        (
            (recent.len() - 1) as f64 / span,
            (bytes as f64 * 8.0 / span) as u64,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_of_recent_frames() {
        let mut meter = RateMeter::default();
        let start = Instant::now();
        for i in 0..31 {
            meter.record(start + Duration::from_millis(i * 33), 10_000);
        }
        let (fps, bps) = meter.rates(start + Duration::from_millis(1000));
        assert!((fps - 30.3).abs() < 0.5, "fps {fps}");
        assert!((bps as f64 - 2_424_242.0).abs() < 40_000.0, "bps {bps}");
        assert_eq!(meter.rates(start + Duration::from_secs(10)), (0.0, 0));
    }
}
