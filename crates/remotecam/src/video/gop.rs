//! The video bus of one camera: its newest group of pictures.
//!
//! "Latest frame wins" does not work for inter-coded video: a consumer that skipped a
//! frame cannot decode the ones after it until the next keyframe. So the bus keeps the
//! access units from the newest keyframe on (one group of pictures), and "latest group
//! of pictures wins": a consumer starts at the newest keyframe, reads every unit after
//! it, and when it falls so far behind that its next unit is gone (a newer keyframe
//! replaced the group), it skips to the newest keyframe and counts what it missed.
//!
//! **Architecture invariant:** the publisher never waits for a consumer, and the memory
//! held is one group of pictures per camera, capped at [`MAX_GOP_BYTES`] (each unit
//! counted with its overhead) and [`MAX_GOP_UNITS`], whatever the
//! number of consumers and however slowly they read. A group that grows past the cap
//! (a camera that sends keyframes too rarely) is dropped whole, and the bus waits for the
//! next keyframe.
//!
//! One consumer may instead hold the bus's tap (`tap.rs`), which gets every unit
//! published, inside the publisher's call: the recorder, which must not lose any.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::watch;

use super::AccessUnit;
use super::tap::UnitTap;

/// The most one camera's group of pictures may hold: 10 s of a 12 Mbit/s stream. Each
/// unit counts with its overhead ([`AccessUnit::held_bytes`]).
pub const MAX_GOP_BYTES: usize = 16 << 20;
/// The most units one group may hold: a minute at 60 frames a second.
pub const MAX_GOP_UNITS: usize = 3600;

/// The newest group of pictures of one camera.
#[derive(Debug)]
pub struct VideoBus {
    gop: Mutex<Gop>,
    /// The sequence number of the newest access unit, to wake consumers.
    newest: watch::Sender<u64>,
    max_bytes: usize,
    /// The tap, while its holder lives.
    tap: Mutex<Weak<UnitTap>>,
    /// Counts the times a consumer wanted a keyframe sooner than the camera's next: a
    /// publisher that can make one (the publisher page) watches it.
    keyframe_asks: watch::Sender<u64>,
}

#[derive(Debug, Default)]
struct Gop {
    /// From a keyframe on.
    units: VecDeque<Arc<AccessUnit>>,
    bytes: usize,
    /// Units are dropped until the next keyframe (at the start, after a reset or after
    /// the cap was passed).
    waiting_for_keyframe: bool,
    /// Time between the last two keyframes, by the camera's clock.
    keyframe_interval: Option<Duration>,
    last_keyframe_pts: Option<i64>,
    /// The newest unit's parameters, kept while the camera is away.
    params: Option<Arc<super::VideoParams>>,
}

impl Default for VideoBus {
    fn default() -> VideoBus {
        VideoBus::with_cap(MAX_GOP_BYTES)
    }
}

impl VideoBus {
    pub fn with_cap(max_bytes: usize) -> VideoBus {
        VideoBus {
            gop: Mutex::new(Gop {
                waiting_for_keyframe: true,
                ..Gop::default()
            }),
            newest: watch::Sender::new(0),
            max_bytes,
            tap: Mutex::new(Weak::new()),
            keyframe_asks: watch::Sender::new(0),
        }
    }

    /// Asks the publisher for a keyframe (a consumer started, or fell behind).
    pub fn ask_keyframe(&self) {
        self.keyframe_asks.send_modify(|n| *n += 1);
    }

    /// The count of keyframes asked for, to wait on.
    pub fn watch_keyframe_asks(&self) -> watch::Receiver<u64> {
        self.keyframe_asks.subscribe()
    }

    /// Adds the camera's next access unit. A keyframe starts a new group; units before
    /// the first keyframe, or after the group passed the cap, are dropped (no consumer
    /// could decode them).
    pub fn push(&self, unit: Arc<AccessUnit>) {
        let seq = unit.seq;
        if let Some(tap) = self.tap.lock().expect("tap lock").upgrade() {
            tap.push(&unit);
        }
        {
            let mut gop = self.gop.lock().expect("gop lock");
            if unit.keyframe {
                if let Some(last) = gop.last_keyframe_pts {
                    let ticks = u64::try_from(unit.pts - last).unwrap_or(0);
                    gop.keyframe_interval = Some(Duration::from_micros(ticks * 100 / 9));
                }
                gop.last_keyframe_pts = Some(unit.pts);
                gop.units.clear();
                gop.bytes = 0;
                gop.waiting_for_keyframe = false;
            } else if gop.waiting_for_keyframe {
                return;
            }
            if !gop
                .params
                .as_ref()
                .is_some_and(|p| Arc::ptr_eq(p, &unit.params))
            {
                gop.params = Some(Arc::clone(&unit.params));
            }
            gop.bytes += unit.held_bytes();
            gop.units.push_back(unit);
            if gop.bytes > self.max_bytes || gop.units.len() > MAX_GOP_UNITS {
                tracing::warn!(
                    bytes = gop.bytes,
                    units = gop.units.len(),
                    "a group of pictures passed the cap: dropped, waiting for the next keyframe"
                );
                gop.units.clear();
                gop.bytes = 0;
                gop.waiting_for_keyframe = true;
                drop(gop);
                self.ask_keyframe();
                return;
            }
        }
        self.newest.send_replace(seq);
    }

    /// Forgets the group: the stream ended (a new one starts at its first keyframe,
    /// asked for: an encoder of the hub's may go on across it).
    pub fn reset(&self) {
        let mut gop = self.gop.lock().expect("gop lock");
        *gop = Gop {
            waiting_for_keyframe: true,
            keyframe_interval: gop.keyframe_interval,
            params: gop.params.take(),
            ..Gop::default()
        };
        drop(gop);
        self.ask_keyframe();
    }

    /// The newest access unit, if a group is held.
    pub fn newest(&self) -> Option<Arc<AccessUnit>> {
        self.gop.lock().expect("gop lock").units.back().cloned()
    }

    /// The parameters of the newest unit the bus took, kept across resets: what the
    /// camera sent last.
    pub fn params(&self) -> Option<Arc<super::VideoParams>> {
        self.gop.lock().expect("gop lock").params.clone()
    }

    /// The time between the camera's last two keyframes.
    pub fn keyframe_interval(&self) -> Option<Duration> {
        self.gop.lock().expect("gop lock").keyframe_interval
    }

    /// The bytes held now (for tests and the API).
    pub fn bytes(&self) -> usize {
        self.gop.lock().expect("gop lock").bytes
    }

    /// The tap: every unit published from now on (what the group keeps or not), to
    /// whoever holds it, for as long as they do; a new tap replaces the one before, and
    /// asks for a keyframe.
    pub fn tap(&self) -> Arc<UnitTap> {
        let tap = Arc::new(UnitTap::default());
        *self.tap.lock().expect("tap lock") = Arc::downgrade(&tap);
        // A recorder that joins keeps a pre-roll from the next keyframe: sooner is better.
        self.ask_keyframe();
        tap
    }

    /// Changes with every unit the bus takes: to wait on, for a consumer that reads the
    /// bus through another (`rtsp_server`'s packets, made once for all its clients).
    pub fn watch_newest(&self) -> watch::Receiver<u64> {
        self.newest.subscribe()
    }

    /// A consumer that starts at the newest keyframe (and asks for a newer one).
    pub fn reader(self: &Arc<Self>) -> VideoReader {
        self.ask_keyframe();
        VideoReader {
            bus: Arc::clone(self),
            newest: self.newest.subscribe(),
            next: None,
            skipped: 0,
        }
    }
}

/// One consumer's place in the stream.
#[derive(Debug)]
pub struct VideoReader {
    bus: Arc<VideoBus>,
    newest: watch::Receiver<u64>,
    /// The sequence number of the unit to read next; `None` before the first.
    next: Option<u64>,
    /// Units this reader missed because it fell behind (or because it started late).
    pub skipped: u64,
}

impl VideoReader {
    /// The next access unit, without waiting: the one after the last read, or the
    /// newest keyframe when that one is gone.
    pub fn try_next(&mut self) -> Option<Arc<AccessUnit>> {
        let gop = self.bus.gop.lock().expect("gop lock");
        let first = gop.units.front()?.seq;
        let next = match self.next {
            Some(next) if next >= first => next,
            Some(next) => {
                self.skipped += first - next;
                self.bus.ask_keyframe();
                first
            }
            None => first,
        };
        let unit = gop.units.get(usize::try_from(next - first).ok()?)?;
        self.next = Some(unit.seq + 1);
        Some(Arc::clone(unit))
    }

    /// Whether a unit newer than the last one read is already waiting.
    pub fn behind(&self) -> bool {
        let gop = self.bus.gop.lock().expect("gop lock");
        match (gop.units.back(), self.next) {
            (Some(newest), Some(next)) => newest.seq >= next,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }

    /// The next access unit, waiting for it. Never returns `None` while the bus lives.
    pub async fn next(&mut self) -> Option<Arc<AccessUnit>> {
        loop {
            self.newest.borrow_and_update();
            if let Some(unit) = self.try_next() {
                return Some(unit);
            }
            self.newest.changed().await.ok()?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::video::UNIT_OVERHEAD;
    use crate::video::tests::unit;

    fn push(bus: &VideoBus, seq: u64, keyframe: bool) {
        push_sized(bus, seq, keyframe, 100);
    }

    fn push_sized(bus: &VideoBus, seq: u64, keyframe: bool, len: usize) {
        bus.push(Arc::new(unit(seq, keyframe, len)));
    }

    fn seqs(reader: &mut VideoReader) -> Vec<u64> {
        std::iter::from_fn(|| reader.try_next().map(|u| u.seq)).collect()
    }

    #[test]
    fn a_reader_starts_at_the_newest_keyframe_and_reads_every_unit_after_it() {
        let bus = Arc::new(VideoBus::default());
        push(&bus, 1, false); // before any keyframe: undecodable, dropped
        push(&bus, 2, true);
        push(&bus, 3, false);
        let mut reader = bus.reader();
        assert_eq!(seqs(&mut reader), [2, 3]);
        push(&bus, 4, false);
        push(&bus, 5, true);
        push(&bus, 6, false);
        let mut late = bus.reader();
        assert_eq!(seqs(&mut late), [5, 6]);
        assert_eq!(late.skipped, 0, "starting late is not falling behind");
    }

    #[test]
    fn a_reader_that_falls_behind_skips_to_the_newest_keyframe_and_counts_it() {
        let bus = Arc::new(VideoBus::default());
        push(&bus, 1, true);
        let mut reader = bus.reader();
        assert_eq!(seqs(&mut reader), [1]);
        for seq in 2..=10 {
            push(&bus, seq, seq % 4 == 1); // keyframes at 5 and 9
        }
        assert!(reader.behind());
        assert_eq!(seqs(&mut reader), [9, 10]);
        assert_eq!(reader.skipped, 7, "2 to 8");
        assert!(!reader.behind());
    }

    #[test]
    fn memory_is_one_group_whatever_the_readers_and_capped() {
        // What one unit of the test's weighs, its overhead counted.
        let each = unit(0, false, 100).held_bytes();
        let bus = Arc::new(VideoBus::with_cap(9 * each + each / 2));
        let _stalled = bus.reader();
        push(&bus, 1, true);
        for seq in 2..=9 {
            push(&bus, seq, false);
        }
        assert_eq!(bus.bytes(), 9 * each);
        push(&bus, 10, false); // past the cap, the group is dropped
        assert_eq!(bus.bytes(), 0);
        push(&bus, 11, false);
        assert!(bus.newest().is_none(), "waits for the next keyframe");
        push(&bus, 12, true);
        assert_eq!(bus.bytes(), each);
        assert_eq!(bus.newest().unwrap().seq, 12);
    }

    #[test]
    fn many_tiny_units_are_capped_by_their_count_and_overhead() {
        let bus = Arc::new(VideoBus::default());
        push_sized(&bus, 1, true, 1);
        for seq in 2..=MAX_GOP_UNITS as u64 {
            push_sized(&bus, seq, false, 1);
        }
        assert_eq!(bus.newest().unwrap().seq, MAX_GOP_UNITS as u64);
        assert!(
            bus.bytes() >= MAX_GOP_UNITS * UNIT_OVERHEAD,
            "the overhead counts"
        );
        push_sized(&bus, MAX_GOP_UNITS as u64 + 1, false, 1);
        assert!(bus.newest().is_none(), "one unit too many: dropped");
        assert_eq!(bus.bytes(), 0);
    }

    #[test]
    fn the_keyframe_interval_is_measured_by_the_cameras_clock() {
        let bus = Arc::new(VideoBus::default());
        push(&bus, 1, true);
        assert_eq!(bus.keyframe_interval(), None);
        push(&bus, 31, true); // 30 frames of 3000 ticks: one second at 90 kHz
        assert_eq!(bus.keyframe_interval(), Some(Duration::from_secs(1)));
    }

    #[tokio::test]
    async fn a_waiting_reader_wakes_on_the_next_unit() {
        let bus = Arc::new(VideoBus::default());
        let mut reader = bus.reader();
        let waiting = tokio::spawn(async move { reader.next().await.map(|u| u.seq) });
        tokio::task::yield_now().await;
        push(&bus, 1, true);
        assert_eq!(waiting.await.unwrap(), Some(1));
    }

    #[test]
    fn a_reset_waits_for_the_new_streams_keyframe() {
        let bus = Arc::new(VideoBus::default());
        push(&bus, 1, true);
        push(&bus, 2, false);
        let mut reader = bus.reader();
        assert_eq!(seqs(&mut reader), [1, 2]);
        bus.reset();
        push(&bus, 3, false);
        assert_eq!(seqs(&mut reader), Vec::<u64>::new());
        push(&bus, 4, true);
        assert_eq!(seqs(&mut reader), [4]);
        assert_eq!(reader.skipped, 1);
    }
}
