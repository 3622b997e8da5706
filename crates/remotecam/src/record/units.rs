//! The recorder's pre-roll of a video camera's own access units.
//!
//! A clip of an H.264 or H.265 camera is the camera's own video, so it must start at a
//! keyframe: the one at or before the pre-roll time. The buffer therefore keeps, behind
//! the newest unit, at least the pre-roll and back to the keyframe before it: from the
//! newest keyframe that is at least the pre-roll old. Capped in bytes: past the cap the
//! oldest group of pictures goes first.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::video::AccessUnit;

/// The most one camera's pre-roll of video may hold (a minute of 4 Mbit/s).
pub const MAX_BYTES: usize = 32 << 20;

#[derive(Debug)]
pub struct UnitBuffer {
    /// From a keyframe on.
    units: VecDeque<Arc<AccessUnit>>,
    /// The place of `units[0]` among all the units pushed.
    first: u64,
    /// The places of the keyframes held (the first is `first`): where the buffer may
    /// start, found without a scan.
    keys: VecDeque<u64>,
    bytes: usize,
    pre_roll: Duration,
    max_bytes: usize,
}

impl UnitBuffer {
    pub fn new(pre_roll: Duration) -> UnitBuffer {
        UnitBuffer::with_cap(pre_roll, MAX_BYTES)
    }

    pub fn with_cap(pre_roll: Duration, max_bytes: usize) -> UnitBuffer {
        UnitBuffer {
            units: VecDeque::new(),
            first: 0,
            keys: VecDeque::new(),
            bytes: 0,
            pre_roll,
            max_bytes,
        }
    }

    pub fn set_pre_roll(&mut self, pre_roll: Duration) {
        self.pre_roll = pre_roll;
    }

    /// Adds the camera's next unit and lets go of what no clip can start from any more.
    /// A unit after a gap that is not a keyframe cannot be decoded: it is kept only if
    /// the buffer has a keyframe to start from.
    pub fn push(&mut self, unit: Arc<AccessUnit>) {
        if self.units.is_empty() && !unit.keyframe {
            return;
        }
        if unit.keyframe {
            self.keys.push_back(self.first + self.units.len() as u64);
        }
        self.bytes += unit.held_bytes();
        let newest = unit.received;
        self.units.push_back(unit);
        // Drop the first group while the next keyframe is itself old enough to start
        // from, or while over the cap.
        while let Some(&next_key) = self.keys.get(1) {
            let at = (next_key - self.first) as usize;
            let old_enough =
                newest.saturating_duration_since(self.units[at].received) >= self.pre_roll;
            if !old_enough && self.bytes <= self.max_bytes {
                break;
            }
            for unit in self.units.drain(..at) {
                self.bytes -= unit.held_bytes();
            }
            self.first = next_key;
            self.keys.pop_front();
        }
        if self.bytes > self.max_bytes {
            self.clear();
        }
    }

    /// The units a clip whose first frame came at `at` is made of: from the newest
    /// keyframe that came at or before it (the oldest one held if none did), to the
    /// newest unit. By time, not by number: the frame may be a picture of the camera's
    /// other stream (its `detect_source`), numbered on its own.
    pub fn from(&self, at: Instant) -> impl Iterator<Item = &Arc<AccessUnit>> {
        let start = self
            .units
            .iter()
            .rposition(|u| u.keyframe && u.received <= at)
            .unwrap_or(0);
        self.units.iter().skip(start)
    }

    pub fn clear(&mut self) {
        self.first += self.units.len() as u64;
        self.units.clear();
        self.keys.clear();
        self.bytes = 0;
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::video::tests::unit;

    /// Unit `seq` received `seq` tenths of a second after `t0`, a keyframe every 10.
    fn at(t0: Instant, seq: u64) -> Arc<AccessUnit> {
        let mut u = unit(seq, seq.is_multiple_of(10), 100);
        u.received = t0 + Duration::from_millis(seq * 100);
        Arc::new(u)
    }

    /// The units of a clip whose first frame came with unit `from` (a picture has its
    /// unit's time).
    fn seqs(buffer: &UnitBuffer, t0: Instant, from: u64) -> Vec<u64> {
        let at = t0 + Duration::from_millis(from * 100);
        buffer.from(at).map(|u| u.seq).collect()
    }

    #[test]
    fn a_clip_starts_at_the_keyframe_at_or_before_its_pre_roll() {
        let t0 = Instant::now();
        let mut buffer = UnitBuffer::new(Duration::from_secs(2));
        for seq in 5..=45 {
            buffer.push(at(t0, seq)); // 5 to 9 come before any keyframe: not kept
        }
        // Pre-roll of 2 s before unit 45 is unit 25: kept from keyframe 20 on.
        assert_eq!(seqs(&buffer, t0, 0).first(), Some(&20));
        assert_eq!(seqs(&buffer, t0, 25).first(), Some(&20));
        assert_eq!(seqs(&buffer, t0, 30).first(), Some(&30));
        assert_eq!(seqs(&buffer, t0, 44), (40..=45).collect::<Vec<_>>());
        // A picture of the other stream, made between units 31 and 32.
        let between = t0 + Duration::from_millis(3150);
        assert_eq!(buffer.from(between).next().unwrap().seq, 30);
    }

    #[test]
    fn the_cap_lets_the_oldest_groups_go() {
        let t0 = Instant::now();
        let each = at(t0, 0).held_bytes();
        let mut buffer = UnitBuffer::with_cap(Duration::from_secs(60), 19 * each + each / 2);
        for seq in 0..=30 {
            buffer.push(at(t0, seq));
        }
        // Twenty units pass the cap: the groups from 0 and 10 went.
        assert_eq!(seqs(&buffer, t0, 0).first(), Some(&20));
        assert_eq!(buffer.bytes(), 11 * each);
    }

    #[test]
    fn one_group_over_the_cap_is_let_go_whole() {
        let t0 = Instant::now();
        let each = at(t0, 0).held_bytes();
        let mut buffer = UnitBuffer::with_cap(Duration::from_secs(60), 4 * each + each / 2);
        for seq in 0..=5 {
            buffer.push(at(t0, seq));
        }
        assert_eq!(buffer.bytes(), 0);
        buffer.push(at(t0, 6));
        assert_eq!(seqs(&buffer, t0, 0).len(), 0, "waits for the next keyframe");
        buffer.push(at(t0, 10));
        assert_eq!(seqs(&buffer, t0, 10), [10]);
    }
}
