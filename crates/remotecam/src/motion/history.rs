//! The last minutes of a camera's motion level, so that the camera page's graph starts
//! full instead of empty at every load: one sample per [`STEP_MS`] (the highest level
//! scored in it, and whether an event was going on), for [`KEEP_MS`]. Bounded by
//! construction: at most `KEEP_MS / STEP_MS` samples per camera.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::Serialize;

/// Time each sample covers, milliseconds.
pub const STEP_MS: u64 = 250;
/// How far back the history goes, milliseconds (5 minutes).
pub const KEEP_MS: u64 = 5 * 60 * 1000;

/// One step of the history.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sample {
    /// Start of the step, Unix milliseconds (hub clock).
    pub at_ms: u64,
    /// The highest level scored in the step, percent.
    pub level: f32,
    /// A motion event was going on in the step.
    pub in_event: bool,
}

#[derive(Debug, Default)]
pub struct LevelHistory {
    samples: Mutex<VecDeque<Sample>>,
}

impl LevelHistory {
    /// Adds a scored frame's level.
    pub fn record(&self, at_ms: u64, level: f32, in_event: bool) {
        let step = at_ms - at_ms % STEP_MS;
        let mut samples = self.samples.lock().expect("history lock");
        match samples.back_mut() {
            Some(last) if last.at_ms == step => {
                last.level = last.level.max(level);
                last.in_event |= in_event;
            }
            // A clock stepped back: start again rather than keep steps out of order.
            Some(last) if last.at_ms > step => {
                samples.clear();
                samples.push_back(Sample {
                    at_ms: step,
                    level,
                    in_event,
                });
            }
            _ => samples.push_back(Sample {
                at_ms: step,
                level,
                in_event,
            }),
        }
        while samples.front().is_some_and(|s| s.at_ms + KEEP_MS <= step) {
            samples.pop_front();
        }
    }

    /// The samples after `since_ms` (all with 0), oldest first. The newest may still
    /// grow: a caller asking again since the one before it gets it again.
    pub fn since(&self, since_ms: u64) -> Vec<Sample> {
        let samples = self.samples.lock().expect("history lock");
        samples
            .iter()
            .filter(|s| s.at_ms > since_ms)
            .copied()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_sample_per_step_with_the_peak_and_five_minutes_kept() {
        let history = LevelHistory::default();
        history.record(1_000_000, 1.0, false);
        history.record(1_000_100, 3.0, true);
        history.record(1_000_200, 2.0, false);
        history.record(1_000_300, 0.5, false);
        let all = history.since(0);
        assert_eq!(all.len(), 2);
        assert_eq!(
            all[0],
            Sample {
                at_ms: 1_000_000,
                level: 3.0,
                in_event: true
            }
        );
        assert_eq!(history.since(1_000_000).len(), 1);
        // Ten minutes at 10 fps: only the last five are kept.
        for i in 0..6000 {
            history.record(2_000_000 + i * 100, 0.1, false);
        }
        let kept = history.since(0);
        assert_eq!(kept.len() as u64, KEEP_MS / STEP_MS);
        assert!(kept.windows(2).all(|w| w[1].at_ms == w[0].at_ms + STEP_MS));
    }
}
