//! One camera's RTP packets, made once for all its RTSP clients.
//!
//! Each client reading the video bus and packetizing for itself cost every client the
//! headers of every packet and a write of many small pieces. Instead the first client
//! of a camera makes a [`Packetized`] stream of it: one reader of the camera's video
//! bus, each unit put into interleaved RTP packets once (one sequence of numbers, one
//! SSRC and one timeline for the camera), in one buffer, which every client writes as
//! it is. Clients read the packetized units as `stream.mp4` viewers read the bus: from
//! the newest keyframe, every unit after it, skipping to the newest keyframe when they
//! fall behind (the RTP sequence numbers then jump: the packets between were lost to
//! them, as a receiver should be told).
//!
//! Units are packetized in the order the bus took them, by whichever client asks first
//! for one that is not packetized yet: the stream's own reader is the only one that
//! feeds it. The stream holds one group of pictures, as the bus does, within the bus's
//! caps.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, Weak};

use bytes::{Bytes, BytesMut};
use tokio::sync::watch;

use super::rtp::RtpStream;
use crate::camera::Camera;
use crate::video::AccessUnit;
use crate::video::gop::{MAX_GOP_BYTES, MAX_GOP_UNITS, VideoBus, VideoReader};

/// One unit, packetized.
#[derive(Debug)]
pub struct Stamped {
    pub unit: Arc<AccessUnit>,
    /// Its interleaved RTP packets (channel 0) and sender report (channel 1).
    pub packets: Bytes,
    /// Its first packet's sequence number, and its RTP time.
    pub first_seq: u16,
    pub timestamp: u32,
}

/// One camera's packetized stream.
#[derive(Debug)]
pub struct Packetized {
    bus: Arc<VideoBus>,
    ssrc: u32,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    source: VideoReader,
    rtp: RtpStream,
    /// From a keyframe on, as the bus keeps its units.
    units: VecDeque<Arc<Stamped>>,
    bytes: usize,
    /// The group passed the caps: nothing is kept until the next keyframe.
    waiting_for_keyframe: bool,
}

/// One client's place in a packetized stream.
#[derive(Debug)]
pub struct Cursor {
    /// The unit (bus sequence number) to read next; `None` before the first.
    next: Option<u64>,
    /// Units this client missed because it fell behind.
    pub skipped: u64,
    newest: watch::Receiver<u64>,
}

impl Packetized {
    /// The packetized stream of `camera`'s video bus, with random numbers to start from
    /// (RFC 3550 5.1).
    fn new(camera: &Camera, random: [u32; 3]) -> Packetized {
        let bus = Arc::clone(camera.video());
        let [ssrc, seq, base] = random;
        let cname = format!("remotecam {}", camera.name());
        Packetized {
            ssrc,
            inner: Mutex::new(Inner {
                source: bus.reader(),
                rtp: RtpStream::new(ssrc, seq as u16, base, cname),
                units: VecDeque::new(),
                bytes: 0,
                waiting_for_keyframe: false,
            }),
            bus,
        }
    }

    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// A new client's place: at the newest keyframe (and a newer one is asked for).
    pub fn cursor(&self) -> Cursor {
        self.bus.ask_keyframe();
        Cursor {
            next: None,
            skipped: 0,
            newest: self.bus.watch_newest(),
        }
    }

    /// The unit a client's next read will give, if there is one already: where its
    /// stream starts (a PLAY's `RTP-Info`).
    pub fn peek(&self, cursor: &Cursor) -> Option<Arc<Stamped>> {
        let mut inner = self.lock();
        inner.catch_up();
        inner.at(cursor).map(|(s, _)| s)
    }

    /// The client's next unit, without waiting.
    pub fn try_next(&self, cursor: &mut Cursor) -> Option<Arc<Stamped>> {
        let mut inner = self.lock();
        inner.catch_up();
        let (stamped, skipped) = inner.at(cursor)?;
        if skipped > 0 {
            cursor.skipped += skipped;
            self.bus.ask_keyframe();
        }
        cursor.next = Some(stamped.unit.seq + 1);
        Some(stamped)
    }

    /// The client's next unit, waiting for it; `None` once the camera is gone.
    pub async fn next(&self, cursor: &mut Cursor) -> Option<Arc<Stamped>> {
        loop {
            cursor.newest.borrow_and_update();
            if let Some(stamped) = self.try_next(cursor) {
                return Some(stamped);
            }
            cursor.newest.changed().await.ok()?;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("packetized lock")
    }
}

impl Inner {
    /// Packetizes every unit the bus took since the last.
    fn catch_up(&mut self) {
        while let Some(unit) = self.source.try_next() {
            if unit.keyframe {
                self.units.clear();
                self.bytes = 0;
                self.waiting_for_keyframe = false;
            } else if self.waiting_for_keyframe {
                continue;
            }
            let made = self.rtp.unit(&unit);
            let stamped = Stamped {
                unit,
                packets: made.bytes,
                first_seq: made.first_seq,
                timestamp: made.timestamp,
            };
            self.bytes += stamped.packets.len() + crate::video::UNIT_OVERHEAD;
            self.units.push_back(Arc::new(stamped));
            if self.bytes > MAX_GOP_BYTES || self.units.len() > MAX_GOP_UNITS {
                self.units.clear();
                self.bytes = 0;
                self.waiting_for_keyframe = true;
            }
        }
    }

    /// The unit for `cursor`, and how many it skips to get there: the one after its
    /// last, or the group's first when that one is gone.
    fn at(&self, cursor: &Cursor) -> Option<(Arc<Stamped>, u64)> {
        let first = self.units.front()?.unit.seq;
        let (wanted, skipped) = match cursor.next {
            Some(next) if next >= first => (next, 0),
            Some(next) => (first, first - next),
            None => (first, 0),
        };
        let at = self.units.partition_point(|s| s.unit.seq < wanted);
        self.units.get(at).map(|s| (Arc::clone(s), skipped))
    }
}

/// The packetized streams of the cameras that have RTSP clients, each for as long as a
/// client holds it.
#[derive(Debug, Default)]
pub struct Streams {
    by_camera: Mutex<HashMap<String, Weak<Packetized>>>,
}

impl Streams {
    /// `camera`'s packetized stream, made if no client holds one.
    pub fn of(&self, camera: &Camera) -> Arc<Packetized> {
        let mut by_camera = self.by_camera.lock().expect("streams lock");
        by_camera.retain(|_, stream| stream.strong_count() > 0);
        let held = by_camera
            .get(camera.name())
            .and_then(Weak::upgrade)
            .filter(|s| Arc::ptr_eq(&s.bus, camera.video()));
        if let Some(stream) = held {
            return stream;
        }
        let random = [super::random_u64(), super::random_u64()];
        let words = [random[0] as u32, (random[0] >> 32) as u32, random[1] as u32];
        let stream = Arc::new(Packetized::new(camera, words));
        by_camera.insert(camera.name().to_owned(), Arc::downgrade(&stream));
        stream
    }
}

/// The packets as a client that asked for other interleaved channels gets them: each
/// frame's channel moved by `channel` (RTP's 0 to `channel`, RTCP's 1 to `channel + 1`).
pub fn on_channel(packets: &Bytes, channel: u8) -> Bytes {
    if channel == 0 {
        return packets.clone();
    }
    let mut out = BytesMut::from(&packets[..]);
    let mut at = 0;
    while at + 4 <= out.len() && out[at] == b'$' {
        out[at + 1] = out[at + 1].wrapping_add(channel);
        at += 4 + usize::from(u16::from_be_bytes([out[at + 2], out[at + 3]]));
    }
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::camera::SourceKind;
    use crate::video::tests::unit;

    fn camera() -> Arc<Camera> {
        let hub = crate::hub::Hub::new(4);
        hub.get_or_create("door", SourceKind::Rtsp).unwrap()
    }

    fn push(camera: &Camera, seq: u64, keyframe: bool) {
        camera.video().push(Arc::new(unit(seq, keyframe, 3000)));
    }

    fn seq_of(packets: &Bytes) -> u16 {
        u16::from_be_bytes([packets[6], packets[7]])
    }

    #[test]
    fn units_are_packetized_once_for_every_client_in_the_order_the_bus_took_them() {
        let camera = camera();
        let streams = Streams::default();
        let stream = streams.of(&camera);
        assert!(Arc::ptr_eq(&stream, &streams.of(&camera)), "one per camera");
        push(&camera, 1, true);
        push(&camera, 2, false);
        let (mut a, mut b) = (stream.cursor(), stream.cursor());
        let a1 = stream.try_next(&mut a).unwrap();
        let b1 = stream.try_next(&mut b).unwrap();
        assert!(Arc::ptr_eq(&a1, &b1), "the same packets");
        let a2 = stream.try_next(&mut a).unwrap();
        assert_eq!(a2.unit.seq, 2);
        // The keyframe is its two parameter sets and three packets of 3000 bytes: the
        // numbers go on from its last.
        assert_eq!(a2.first_seq, a1.first_seq.wrapping_add(5));
        assert_eq!(seq_of(&a2.packets), a2.first_seq);
        assert!(stream.try_next(&mut a).is_none());
    }

    #[test]
    fn a_client_that_falls_behind_skips_to_the_newest_keyframe() {
        let camera = camera();
        let stream = Streams::default().of(&camera);
        push(&camera, 1, true);
        let mut slow = stream.cursor();
        assert_eq!(stream.try_next(&mut slow).unwrap().unit.seq, 1);
        for seq in 2..=7 {
            push(&camera, seq, seq == 5);
        }
        let mut late = stream.cursor();
        assert_eq!(
            stream.peek(&late).unwrap().unit.seq,
            5,
            "starts at the keyframe"
        );
        assert_eq!(stream.try_next(&mut slow).unwrap().unit.seq, 5);
        assert_eq!(slow.skipped, 3, "2 to 4");
        assert_eq!(stream.try_next(&mut late).unwrap().unit.seq, 5);
        assert_eq!(late.skipped, 0);
    }

    #[test]
    fn another_channel_moves_every_frame() {
        let packets = Bytes::from_static(b"$\x00\x00\x02ab$\x01\x00\x01c");
        assert_eq!(
            &on_channel(&packets, 2)[..],
            b"$\x02\x00\x02ab$\x03\x00\x01c"
        );
        assert_eq!(on_channel(&packets, 0), packets);
    }
}
