//! How often a camera's picture size may cut its clip. A new size needs a new file (a
//! phone turned, a camera switched to its night mode); a camera that changes its size
//! at every frame would make a clip of each, flooding the gallery and the disk. Past
//! [`MAX_CUTS`] in [`WINDOW`], frames of a new size are not recorded (the open clip
//! goes on with the size it has) until the window lets another cut through, and the
//! recorder's status says why.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Cuts for a new picture size let through in a [`WINDOW`].
pub(super) const MAX_CUTS: usize = 6;
pub(super) const WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
pub(super) struct SizeCuts {
    /// When the cuts of the last window were made, oldest first.
    recent: VecDeque<Instant>,
    /// Since when cuts are held back, while they are.
    held: Option<Instant>,
}

impl SizeCuts {
    /// Whether a new picture size may cut the clip at `now` (counted if so).
    fn allow(&mut self, now: Instant) -> bool {
        while self
            .recent
            .front()
            .is_some_and(|&at| now.saturating_duration_since(at) >= WINDOW)
        {
            self.recent.pop_front();
        }
        if self.recent.len() >= MAX_CUTS {
            self.held = Some(now);
            return false;
        }
        self.held = None;
        self.recent.push_back(now);
        true
    }

    /// Whether cuts are held back now, what the status says then: within a window of
    /// the last refusal (a camera that went back to the clip's size asks no more).
    pub(super) fn held_back(&self) -> Option<String> {
        let recent = self.held.filter(|at| at.elapsed() < WINDOW);
        recent.map(|_| {
            format!(
                "the camera changed its picture size {MAX_CUTS} times within {} s: frames of a \
                 new size are not recorded for a while (each size needs a clip of its own)",
                WINDOW.as_secs()
            )
        })
    }
}

impl super::Worker {
    /// Whether a new picture size may cut the clip now; the status says when it may
    /// not.
    pub(super) fn cut_for_new_size(&mut self, now: Instant) -> bool {
        let was_held = self.size_cuts.held_back().is_some();
        // (A refusal renews the hold; the status is told at the first.)
        let allowed = self.size_cuts.allow(now);
        if !allowed && !was_held {
            tracing::warn!(camera = %self.name, "the picture size changes too often: not recorded for a while");
            self.status();
        }
        allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_are_let_through_at_most_six_a_minute() {
        let t0 = Instant::now();
        let mut cuts = SizeCuts::default();
        let at = |s: u64| t0 + Duration::from_millis(s);
        for i in 0..MAX_CUTS as u64 {
            assert!(cuts.allow(at(i * 100)), "cut {i}");
        }
        assert!(!cuts.allow(at(700)));
        assert!(
            cuts.held_back()
                .is_some_and(|s| s.contains("6 times within 60 s"))
        );
        // A minute after the first, one more.
        assert!(cuts.allow(at(60_000)));
        assert!(cuts.held_back().is_none());
        assert!(!cuts.allow(at(60_050)));
    }
}
