//! A tap on a video bus: the one consumer that gets every unit the bus takes, handed
//! over inside the publisher's call without waking anyone, and taken in batches when
//! the consumer wants them. It is the recorder's (a few times a second, and before each
//! message of the motion task): a camera recorded costs no wake-up per unit, and a
//! reader of the bus would lose the end of a group it was late for.
//!
//! Bounded: past [`MAX_WAITING`] units not taken (a recorder stuck on a slow disk), units
//! are dropped up to the next keyframe (the ones in between could not be decoded) and
//! counted. The publisher only takes a lock for a push.

use std::sync::{Arc, Mutex};

use super::AccessUnit;

/// Units that may wait for the consumer (8 s at 30 fps).
pub const MAX_WAITING: usize = 240;

#[derive(Debug, Default)]
pub struct UnitTap {
    waiting: Mutex<Waiting>,
}

#[derive(Debug, Default)]
struct Waiting {
    units: Vec<Arc<AccessUnit>>,
    /// Units are dropped until the next keyframe.
    dropping: bool,
    /// Dropped since the last take.
    dropped: u64,
}

impl UnitTap {
    /// The publisher's next unit.
    pub(super) fn push(&self, unit: &Arc<AccessUnit>) {
        let mut waiting = self.waiting.lock().expect("tap lock");
        if (waiting.dropping && !unit.keyframe) || waiting.units.len() >= MAX_WAITING {
            waiting.dropping = true;
            waiting.dropped += 1;
            return;
        }
        waiting.dropping = false;
        waiting.units.push(Arc::clone(unit));
    }

    /// Moves the units waiting, in order, to the end of `into`; returns how many were
    /// dropped since the last take.
    pub fn take(&self, into: &mut Vec<Arc<AccessUnit>>) -> u64 {
        let mut waiting = self.waiting.lock().expect("tap lock");
        into.append(&mut waiting.units);
        std::mem::take(&mut waiting.dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::video::tests::unit;

    fn taken(tap: &UnitTap) -> (Vec<u64>, u64) {
        let mut units = Vec::new();
        let dropped = tap.take(&mut units);
        (units.iter().map(|u| u.seq).collect(), dropped)
    }

    #[test]
    fn every_unit_is_taken_in_order() {
        let tap = UnitTap::default();
        for seq in 1..=5 {
            tap.push(&Arc::new(unit(seq, seq == 1, 10)));
        }
        assert_eq!(taken(&tap), (vec![1, 2, 3, 4, 5], 0));
        assert_eq!(taken(&tap), (vec![], 0));
    }

    #[test]
    fn a_consumer_that_does_not_take_loses_units_up_to_a_keyframe() {
        let tap = UnitTap::default();
        let total = MAX_WAITING as u64 + 10;
        for seq in 0..total {
            tap.push(&Arc::new(unit(seq, false, 10)));
        }
        let (units, dropped) = taken(&tap);
        assert_eq!((units.len(), dropped), (MAX_WAITING, 10));
        // Room again, but the next units cannot be decoded without their keyframe.
        tap.push(&Arc::new(unit(total, false, 10)));
        tap.push(&Arc::new(unit(total + 1, true, 10)));
        tap.push(&Arc::new(unit(total + 2, false, 10)));
        assert_eq!(taken(&tap), (vec![total + 1, total + 2], 1));
    }
}
