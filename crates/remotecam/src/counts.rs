//! What was sent of one camera and what happened to it, counted for `/metrics`. Kept
//! beside the camera in the hub (`hub::Entry`), not in the process's metrics recorder,
//! so that a camera the hub forgets takes its series with it: a publisher that makes up
//! name after name cannot grow `/metrics` or the hub's memory.
//!
//! Counting is an atomic add on the frame paths; the scrape reads them all.

use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64};

/// A kind of viewer, as `/metrics` labels it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewerKind {
    Mjpeg,
    Ws,
    Mp4,
    Rtsp,
}

impl ViewerKind {
    pub const ALL: [ViewerKind; 4] = [
        ViewerKind::Mjpeg,
        ViewerKind::Ws,
        ViewerKind::Mp4,
        ViewerKind::Rtsp,
    ];

    pub fn label(self) -> &'static str {
        match self {
            ViewerKind::Mjpeg => "mjpeg",
            ViewerKind::Ws => "ws",
            ViewerKind::Mp4 => "mp4",
            ViewerKind::Rtsp => "rtsp",
        }
    }
}

/// One camera's counts.
#[derive(Debug, Default)]
pub struct Counts {
    viewers: [ViewerCounts; ViewerKind::ALL.len()],
    /// Hub events of the camera, by name (a handful of names).
    events: Mutex<Vec<(&'static str, u64)>>,
    /// Bytes of frames and units its publisher sent.
    received: AtomicU64,
}

/// One kind of viewer's counts (relaxed atomics: figures, not synchronisation).
#[derive(Debug, Default)]
pub struct ViewerCounts {
    pub open: AtomicI64,
    pub frames: AtomicU64,
    pub skipped: AtomicU64,
    pub bytes: AtomicU64,
}

impl Counts {
    pub fn viewers(&self, kind: ViewerKind) -> &ViewerCounts {
        &self.viewers[kind as usize]
    }

    pub fn event(&self, name: &'static str) {
        let mut events = self.events.lock().expect("events lock");
        match events.iter_mut().find(|(n, _)| *n == name) {
            Some((_, count)) => *count += 1,
            None => events.push((name, 1)),
        }
    }

    /// Counts `bytes` of pictures or video received from the camera's publisher.
    pub fn received(&self, bytes: usize) {
        self.received
            .fetch_add(bytes as u64, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn received_bytes(&self) -> u64 {
        self.received.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Events by name, as counted so far.
    pub fn events(&self) -> Vec<(&'static str, u64)> {
        self.events.lock().expect("events lock").clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[test]
    fn events_are_counted_by_name() {
        let counts = Counts::default();
        counts.event("motion_start");
        counts.event("clip_saved");
        counts.event("motion_start");
        assert_eq!(counts.events(), [("motion_start", 2), ("clip_saved", 1)]);
    }

    #[test]
    fn each_kind_of_viewer_has_its_own() {
        let counts = Counts::default();
        counts
            .viewers(ViewerKind::Ws)
            .frames
            .fetch_add(3, Ordering::Relaxed);
        let frames: Vec<u64> = ViewerKind::ALL
            .iter()
            .map(|&k| counts.viewers(k).frames.load(Ordering::Relaxed))
            .collect();
        assert_eq!(frames, [0, 3, 0, 0]);
    }
}
