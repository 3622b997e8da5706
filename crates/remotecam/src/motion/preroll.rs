//! The motion task's frame buffer: every frame from the bus waits here to be scored,
//! to be part of a clip's pre-roll, and to be handed to the recorder. Pure bookkeeping
//! (no I/O, no tasks), so its rules are tested on their own:
//!
//! - a frame is buffered once, however often the bus shows it;
//! - frames older than the pre-roll (plus [`SLACK`] for frames not yet scored) go, and
//!   so does the oldest frame whenever the buffer holds more than [`MAX_BYTES`] or
//!   [`MAX_FRAMES`], whatever the settings;
//! - a clip starts at a time: the frames from there on are handed on, each exactly
//!   once, in order, up to the newest scored frame.

use std::collections::VecDeque;
use std::time::Duration;

use crate::camera::Shown;

/// Frames kept beyond the pre-roll, so that frames not yet scored are there.
pub(super) const SLACK: Duration = Duration::from_secs(1);
/// The most the buffer holds, whatever the settings (a fast camera with big frames).
pub(super) const MAX_BYTES: usize = 96 << 20;
pub(super) const MAX_FRAMES: usize = 2_000;

/// A frame waiting in the buffer.
#[derive(Debug)]
pub(super) struct Buffered {
    pub(super) frame: Shown,
    /// Since the task started, by the frame's arrival.
    pub(super) t: Duration,
    pub(super) score: Option<f32>,
}

#[derive(Debug, Default)]
pub(super) struct PreRoll {
    frames: VecDeque<Buffered>,
    bytes: usize,
    /// The newest frame buffered, and the newest handed on.
    last_seq: u64,
    sent_seq: u64,
}

impl PreRoll {
    /// A buffer that takes frames newer than `last_seq` (what the bus held before).
    pub(super) fn new(last_seq: u64) -> PreRoll {
        PreRoll {
            last_seq,
            ..PreRoll::default()
        }
    }

    /// Buffers a frame that came at `t`, keeping `pre_roll` of frames behind it; false
    /// when the frame was buffered already.
    pub(super) fn push(&mut self, frame: Shown, t: Duration, pre_roll: Duration) -> bool {
        if frame.seq() <= self.last_seq {
            return false;
        }
        self.last_seq = frame.seq();
        self.bytes += frame.held_bytes();
        self.frames.push_back(Buffered {
            frame,
            t,
            score: None,
        });
        self.trim(pre_roll + SLACK);
        true
    }

    fn trim(&mut self, keep: Duration) {
        let Some(newest) = self.frames.back().map(|b| b.t) else {
            return;
        };
        while let Some(old) = self.frames.front() {
            let too_old = newest.saturating_sub(old.t) > keep && old.score.is_some();
            if too_old || self.bytes > MAX_BYTES || self.frames.len() > MAX_FRAMES {
                self.bytes -= old.frame.held_bytes();
                self.frames.pop_front();
            } else {
                break;
            }
        }
    }

    pub(super) fn newest(&self) -> Option<&Buffered> {
        self.frames.back()
    }

    /// Notes the score of frame `seq`; the frame's time, unless it has left the buffer.
    pub(super) fn scored(&mut self, seq: u64, score: f32) -> Option<Duration> {
        let b = self.frames.iter_mut().find(|b| b.frame.seq() == seq)?;
        b.score = Some(score);
        Some(b.t)
    }

    /// A clip starts at `from`: the frames from then on are to be handed on.
    pub(super) fn clip_from(&mut self, from: Duration) {
        self.sent_seq = self
            .frames
            .iter()
            .take_while(|b| b.t < from)
            .last()
            .map_or(0, |b| b.frame.seq());
    }

    /// Hands each frame not handed on yet, up to `upto` (a sequence number), to `to`.
    pub(super) fn hand_on(&mut self, upto: u64, mut to: impl FnMut(&Buffered)) {
        let after = self.sent_seq;
        for b in self
            .frames
            .iter()
            .filter(|b| b.frame.seq() > after && b.frame.seq() <= upto)
        {
            to(b);
            self.sent_seq = b.frame.seq();
        }
    }

    /// Empties the buffer.
    pub(super) fn clear(&mut self) {
        self.bytes = 0;
        self.frames.clear();
    }

    #[cfg(test)]
    fn seqs(&self) -> Vec<u64> {
        self.frames.iter().map(|b| b.frame.seq()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn frame(seq: u64, bytes: usize) -> Shown {
        let jpeg = vec![0; bytes].into();
        Shown::Frame(Arc::new(crate::frame::Frame::new(seq, jpeg, 8, 8, None)))
    }

    fn ms(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn a_frame_is_buffered_once() {
        let mut ring = PreRoll::new(3);
        assert!(
            !ring.push(frame(3, 10), ms(0), ms(1000)),
            "seen before the task"
        );
        assert!(ring.push(frame(4, 10), ms(0), ms(1000)));
        assert!(!ring.push(frame(4, 10), ms(10), ms(1000)));
        assert_eq!(ring.seqs(), [4]);
    }

    #[test]
    fn scored_frames_older_than_the_pre_roll_go_unscored_ones_stay() {
        let mut ring = PreRoll::new(0);
        let pre_roll = ms(500);
        for seq in 1..=20 {
            ring.push(frame(seq, 10), ms(seq * 100), pre_roll);
            if seq <= 5 {
                ring.scored(seq, 0.0).unwrap();
            }
        }
        // Frames 1..=4 were scored and are more than 1.5 s older than frame 20 (5 is
        // just 1.5 s older); 6 and after were never scored (a slow detector).
        assert_eq!(ring.seqs(), (5..=20).collect::<Vec<_>>());
        for seq in 6..=20 {
            ring.scored(seq, 0.0).unwrap();
        }
        // Scored now: frame 6 (600 ms) is more than 1.5 s older than frame 22.
        ring.push(frame(21, 10), ms(2100), pre_roll);
        ring.push(frame(22, 10), ms(2200), pre_roll);
        assert_eq!(ring.seqs(), (7..=22).collect::<Vec<_>>());
    }

    #[test]
    fn the_caps_hold_whatever_the_pre_roll() {
        let mut ring = PreRoll::new(0);
        let big = MAX_BYTES / 4 + 1;
        for seq in 1..=10 {
            ring.push(frame(seq, big), ms(seq), Duration::from_secs(3600));
        }
        assert!(ring.bytes <= MAX_BYTES);
        assert_eq!(ring.seqs(), [8, 9, 10]);
        let mut ring = PreRoll::new(0);
        for seq in 1..=(MAX_FRAMES as u64 + 50) {
            ring.push(frame(seq, 1), ms(seq), Duration::from_secs(3600));
        }
        assert_eq!(ring.seqs().len(), MAX_FRAMES);
        assert_eq!(ring.seqs()[0], 51);
    }

    #[test]
    fn a_clip_gets_its_frames_from_its_start_each_once_in_order() {
        let mut ring = PreRoll::new(0);
        for seq in 1..=10 {
            ring.push(frame(seq, 10), ms(seq * 100), ms(2000));
        }
        ring.clip_from(ms(450));
        let mut handed = Vec::new();
        ring.hand_on(7, |b| handed.push(b.frame.seq()));
        ring.hand_on(7, |b| handed.push(b.frame.seq()));
        ring.hand_on(10, |b| handed.push(b.frame.seq()));
        assert_eq!(handed, [5, 6, 7, 8, 9, 10]);
        // A clip from before the oldest frame starts with the oldest.
        ring.clip_from(ms(0));
        let mut again = Vec::new();
        ring.hand_on(3, |b| again.push(b.frame.seq()));
        assert_eq!(again, [1, 2, 3]);
    }
}
