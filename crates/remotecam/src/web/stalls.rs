//! What viewers that stopped reading may hold, in all. A viewer gets no queue, but the
//! frame it was handed last stays alive until its connection takes it: a viewer that
//! never reads keeps that frame (and the camera moves on to others), so sixty of them on
//! a camera of 8 MB frames would hold half a gigabyte until the idle rule drops them.
//!
//! Each stream viewer (MJPEG, MP4, WebSocket) says when it hands a frame over and when it
//! is asked for the next ([`Pin`]); one handed over [`STALLED_AFTER`] ago and not yet
//! followed is stalled, holding that frame. Every [`CHECK_EVERY`] the stalled viewers'
//! frames are summed, each frame once however many hold it (viewers share a frame's
//! bytes) and, over [`BUDGET`], the viewers stalled the longest are closed first until
//! the rest fit. A viewer that reads, however slowly, is asked for the next frame and
//! holds nothing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// Closes the connection a request came on, at once (a stream viewer that holds too
/// much). The listener puts one on every request; a WebSocket, once upgraded, has left
/// the connection and closes itself.
#[derive(Debug, Clone, Default)]
pub struct Closer(pub Arc<Notify>);

/// What stalled viewers may hold in all.
pub const BUDGET: usize = 32 << 20;
/// A frame handed over this long ago and not followed makes its viewer stalled.
pub const STALLED_AFTER: Duration = Duration::from_millis(300);
const CHECK_EVERY: Duration = Duration::from_millis(100);

/// Every stream viewer, by number.
#[derive(Debug)]
pub struct Stalls {
    viewers: Mutex<HashMap<u64, Viewer>>,
    next: AtomicU64,
    /// When the registry was made: viewers' times are counted from it.
    epoch: Instant,
    budget: usize,
}

#[derive(Debug)]
struct Viewer {
    pin: Arc<PinState>,
    /// Closes the viewer's connection (or WebSocket).
    close: Arc<Notify>,
}

#[derive(Debug, Default)]
struct PinState {
    /// Bytes of the frame handed over and not yet followed (0: none).
    bytes: AtomicUsize,
    /// Which bytes: where they are (the same frame handed to several viewers is the
    /// same memory).
    at: AtomicUsize,
    /// When it was handed over, in milliseconds from the registry's epoch.
    at_ms: AtomicU64,
}

/// One viewer's place in the registry, for as long as it lives.
#[derive(Debug)]
pub struct Pin {
    id: u64,
    state: Arc<PinState>,
    stalls: Arc<Stalls>,
}

impl Default for Stalls {
    fn default() -> Stalls {
        Stalls::with_budget(BUDGET)
    }
}

impl Stalls {
    pub fn with_budget(budget: usize) -> Stalls {
        Stalls {
            viewers: Mutex::default(),
            next: AtomicU64::new(0),
            epoch: Instant::now(),
            budget,
        }
    }

    /// Registers a viewer, which `close` closes.
    pub fn viewer(self: &Arc<Self>, close: Arc<Notify>) -> Pin {
        let id = self.next.fetch_add(1, Relaxed);
        let state = Arc::new(PinState::default());
        let pin = Arc::clone(&state);
        self.viewers
            .lock()
            .expect("stalls lock")
            .insert(id, Viewer { pin, close });
        Pin {
            id,
            state,
            stalls: Arc::clone(self),
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Closes the viewers stalled the longest while those stalled hold more than the
    /// budget (each frame counted once); how many it closed.
    pub fn check(&self) -> usize {
        let now = self.now_ms();
        let stalled_after = STALLED_AFTER.as_millis() as u64;
        let viewers = self.viewers.lock().expect("stalls lock");
        // (since, frame, viewer's close), and each frame's bytes and holders.
        let mut stalled = Vec::new();
        let mut frames: HashMap<usize, (usize, usize)> = HashMap::new();
        for v in viewers.values() {
            let bytes = v.pin.bytes.load(Relaxed);
            let since = v.pin.at_ms.load(Relaxed);
            if bytes > 0 && now.saturating_sub(since) >= stalled_after {
                let frame = v.pin.at.load(Relaxed);
                stalled.push((since, frame, &v.close));
                frames.entry(frame).or_insert((bytes, 0)).1 += 1;
            }
        }
        let mut held: usize = frames.values().map(|(bytes, _)| bytes).sum();
        stalled.sort_unstable_by_key(|(since, _, _)| *since);
        let mut closed = 0;
        for (_, frame, close) in stalled {
            if held <= self.budget {
                break;
            }
            close.notify_one();
            closed += 1;
            let (bytes, holders) = frames.get_mut(&frame).expect("counted");
            *holders -= 1;
            if *holders == 0 {
                held -= *bytes;
            }
        }
        closed
    }

    /// Checks every [`CHECK_EVERY`], for as long as the hub runs.
    pub async fn run(self: Arc<Self>) {
        let mut every = tokio::time::interval(CHECK_EVERY);
        loop {
            every.tick().await;
            let closed = self.check();
            if closed > 0 {
                tracing::info!(
                    closed,
                    "closed the viewers stalled the longest: stalled viewers held more than {} MB",
                    self.budget >> 20
                );
            }
        }
    }
}

impl Pin {
    /// A frame was handed over, its bytes shared: held until [`Pin::asked`].
    pub fn handed(&self, frame: &bytes::Bytes) {
        self.hold(frame.as_ptr() as usize, frame.len());
    }

    /// A frame of `bytes` was handed over as a copy of this viewer's own (a WebSocket's
    /// output buffer): held until [`Pin::asked`].
    pub fn handed_copy(&self, bytes: usize) {
        self.hold(Arc::as_ptr(&self.state) as usize, bytes);
    }

    fn hold(&self, at: usize, bytes: usize) {
        self.state.at_ms.store(self.stalls.now_ms(), Relaxed);
        self.state.at.store(at, Relaxed);
        self.state.bytes.store(bytes, Relaxed);
    }

    /// The viewer was asked for more: what it was handed is taken.
    pub fn asked(&self) {
        self.state.bytes.store(0, Relaxed);
    }
}

impl Drop for Pin {
    fn drop(&mut self) {
        self.stalls
            .viewers
            .lock()
            .expect("stalls lock")
            .remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;

    #[tokio::test(start_paused = true)]
    async fn the_viewers_stalled_the_longest_are_closed_until_the_rest_fit() {
        let stalls = Arc::new(Stalls::with_budget(20));
        let frames: Vec<bytes::Bytes> = (0..4).map(|_| bytes::Bytes::from(vec![0; 10])).collect();
        let viewer = |frame: &bytes::Bytes| {
            let close = Arc::new(Notify::new());
            let pin = stalls.viewer(Arc::clone(&close));
            pin.handed(frame);
            (pin, close)
        };
        let (_oldest, oldest) = viewer(&frames[0]);
        tokio::time::advance(Duration::from_millis(100)).await;
        let (_middle, middle) = viewer(&frames[1]);
        tokio::time::advance(Duration::from_millis(100)).await;
        let (reading, _) = viewer(&frames[2]);
        let (_newest, newest) = viewer(&frames[3]);
        // Three more on the newest frame: its bytes count once.
        let sharing: Vec<_> = (0..3).map(|_| viewer(&frames[3])).collect();
        assert_eq!(stalls.check(), 0, "nobody stalled yet");
        tokio::time::advance(STALLED_AFTER).await;
        reading.asked();
        // Three frames of 10 bytes held by stalled viewers, 20 allowed: the oldest goes.
        assert_eq!(stalls.check(), 1);
        let closed = |n: &Arc<Notify>| n.notified().now_or_never().is_some();
        assert!(closed(&oldest));
        assert!(!closed(&middle) && !closed(&newest));
        assert!(sharing.iter().all(|(_, close)| !closed(close)));
    }

    #[test]
    fn a_viewer_leaves_the_registry_when_it_ends() {
        let stalls = Arc::new(Stalls::default());
        let pin = stalls.viewer(Arc::new(Notify::new()));
        assert_eq!(stalls.viewers.lock().unwrap().len(), 1);
        drop(pin);
        assert!(stalls.viewers.lock().unwrap().is_empty());
    }
}
