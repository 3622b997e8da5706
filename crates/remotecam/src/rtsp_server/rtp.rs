//! An RTP stream of a camera's access units, interleaved as in an RTSP connection (RFC
//! 2326 10.12), sans I/O: H.264 per RFC 6184 (single NAL unit packets and FU-A), H.265
//! per RFC 7798 (single NAL unit packets and FU), RTCP sender reports (RFC 3550 6.4.1)
//! with the CNAME. `shared.rs` makes one per camera and puts each unit's packets in one
//! buffer, which all its clients write.
//!
//! A unit's packets go into one buffer, its bytes copied once for all the camera's
//! clients, each of which writes the buffer as it is.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{BufMut, Bytes, BytesMut};

use crate::video::{AccessUnit, Codec};

/// The most payload in one RTP packet: under a 1500-byte Ethernet frame, what clients
/// that relay the packets over UDP (go2rtc, Frigate's restream) expect.
pub const MAX_PAYLOAD: usize = 1400;
/// The RTP payload type of the video (dynamic, named by the SDP's `rtpmap`).
pub const PAYLOAD_TYPE: u8 = 96;
/// How often a sender report goes out, by the units' clock.
const REPORT_EVERY: Duration = Duration::from_secs(5);

/// Where a camera's RTP stream is: RTP on interleaved channel 0, RTCP on 1 (a client
/// that asked for others gets them moved, `shared::on_channel`).
#[derive(Debug)]
pub struct RtpStream {
    ssrc: u32,
    /// The next packet's sequence number.
    seq: u16,
    /// The RTP timestamp of the first unit sent.
    base: u32,
    /// The first unit's presentation time, by the camera's clock (90 kHz).
    start: Option<i64>,
    packets: u32,
    octets: u32,
    last_report: Option<SystemTime>,
    cname: String,
}

/// A unit's packets, interleaved one after the other, and a sender report when one is
/// due.
#[derive(Debug)]
pub struct Packets {
    pub bytes: Bytes,
    /// The first packet's sequence number and the unit's RTP time (a PLAY's `RTP-Info`).
    pub first_seq: u16,
    pub timestamp: u32,
}

impl RtpStream {
    /// A stream starting at sequence number `seq` and RTP time `base`.
    pub fn new(ssrc: u32, seq: u16, base: u32, cname: String) -> RtpStream {
        RtpStream {
            ssrc,
            seq,
            base,
            start: None,
            packets: 0,
            octets: 0,
            last_report: None,
            cname,
        }
    }

    /// The RTP timestamp of a unit presented at `pts` (90 kHz, the camera's clock).
    fn timestamp(&mut self, pts: i64) -> u32 {
        let start = *self.start.get_or_insert(pts);
        self.base.wrapping_add(pts.wrapping_sub(start) as u32)
    }

    /// The packets of `unit`: its NAL units, behind the parameter sets on a keyframe
    /// that does not carry them (a decoder that joins there needs them in-band, and
    /// so does one after the camera changed them); the last packet marked. A sender
    /// report follows the first unit and one every [`REPORT_EVERY`].
    pub fn unit(&mut self, unit: &AccessUnit) -> Packets {
        let codec = unit.params.codec;
        let timestamp = self.timestamp(unit.pts);
        let sets = match unit.keyframe && !carries_parameter_sets(codec, &unit.data) {
            true => &unit.params.parameter_sets[..],
            false => &[],
        };
        let mut nals = sets
            .iter()
            .cloned()
            .chain(nal_units(&unit.data))
            .filter(|n| !n.is_empty())
            .peekable();
        let packets = unit.data.len() / MAX_PAYLOAD + 4;
        let mut out = BytesMut::with_capacity(unit.data.len() + 20 * packets + 64);
        let first_seq = self.seq;
        while let Some(nal) = nals.next() {
            let last = nals.peek().is_none();
            self.nal(&mut out, codec, &nal, timestamp, last);
        }
        let at = unit.captured_at.unwrap_or(unit.received_at);
        let due = self
            .last_report
            .is_none_or(|last| at.duration_since(last).unwrap_or_default() >= REPORT_EVERY);
        if due {
            self.last_report = Some(at);
            self.sender_report(&mut out, at, timestamp);
        }
        Packets {
            bytes: out.freeze(),
            first_seq,
            timestamp,
        }
    }

    /// One NAL unit as one packet, or as fragments when it does not fit.
    fn nal(&mut self, out: &mut BytesMut, codec: Codec, nal: &[u8], timestamp: u32, last: bool) {
        if nal.len() <= MAX_PAYLOAD {
            self.header(out, nal.len(), timestamp, last, &[]);
            out.extend_from_slice(nal);
            return;
        }
        // The fragmentation unit's header(s) replace the NAL unit's own: H.264's FU-A
        // (RFC 6184 5.8), H.265's FU (RFC 7798 4.4.3).
        let (indicator, kind, skip) = match codec {
            Codec::H265 => (
                [(nal[0] & 0x81) | (49 << 1), nal[1]],
                (nal[0] >> 1) & 0x3F,
                2,
            ),
            _ => ([(nal[0] & 0xE0) | 28, 0], nal[0] & 0x1F, 1),
        };
        let body = &nal[skip.min(nal.len())..];
        let room = MAX_PAYLOAD - skip - 1;
        let pieces = body.len().div_ceil(room);
        for i in 0..pieces {
            let piece = &body[i * room..((i + 1) * room).min(body.len())];
            let start = if i == 0 { 0x80 } else { 0 };
            let end = if i + 1 == pieces { 0x40 } else { 0 };
            let mut fu = [0u8; 3];
            fu[..skip].copy_from_slice(&indicator[..skip]);
            fu[skip] = start | end | kind;
            let fu = &fu[..=skip];
            self.header(out, fu.len() + piece.len(), timestamp, last && end != 0, fu);
            out.extend_from_slice(piece);
        }
    }

    /// Writes the interleaved frame's and the RTP packet's headers (RFC 3550 5.1), and
    /// `extra` (a fragmentation unit's header), for a packet of `payload` bytes.
    fn header(
        &mut self,
        b: &mut BytesMut,
        payload: usize,
        timestamp: u32,
        marker: bool,
        extra: &[u8],
    ) {
        let [len_hi, len_lo] = ((12 + payload) as u16).to_be_bytes();
        let [seq_hi, seq_lo] = self.seq.to_be_bytes();
        let [t0, t1, t2, t3] = timestamp.to_be_bytes();
        let [s0, s1, s2, s3] = self.ssrc.to_be_bytes();
        let marked = u8::from(marker) << 7 | PAYLOAD_TYPE;
        b.extend_from_slice(&[
            b'$', 0, len_hi, len_lo, 0x80, marked, seq_hi, seq_lo, t0, t1, t2, t3, s0, s1, s2, s3,
        ]);
        b.extend_from_slice(extra);
        self.seq = self.seq.wrapping_add(1);
        self.packets = self.packets.wrapping_add(1);
        self.octets = self.octets.wrapping_add(payload as u32);
    }

    /// A sender report and the source's CNAME (a compound RTCP packet, RFC 3550 6.1),
    /// interleaved on the RTCP channel: the wall-clock time of RTP time `timestamp`.
    fn sender_report(&self, b: &mut BytesMut, at: SystemTime, timestamp: u32) {
        let cname = &self.cname.as_bytes()[..self.cname.len().min(255)];
        // SDES: header, SSRC, CNAME item (type, length, text), END, padded to 32 bits.
        let sdes_len = (4 + 4 + 2 + cname.len() + 1).div_ceil(4) * 4;
        let rtcp_len = 28 + sdes_len;
        let begin = b.len();
        b.put_u8(b'$');
        b.put_u8(1);
        b.put_u16(rtcp_len as u16);
        b.put_u8(0x80);
        b.put_u8(200);
        b.put_u16(6);
        b.put_u32(self.ssrc);
        b.put_u64(ntp(at));
        b.put_u32(timestamp);
        b.put_u32(self.packets);
        b.put_u32(self.octets);
        b.put_u8(0x81);
        b.put_u8(202);
        b.put_u16((sdes_len / 4 - 1) as u16);
        b.put_u32(self.ssrc);
        b.put_u8(1);
        b.put_u8(cname.len() as u8);
        b.put_slice(cname);
        b.put_bytes(0, begin + 4 + rtcp_len - b.len());
    }
}

/// A unit's NAL units (4-byte lengths), as slices of it; up to one whose length runs
/// past its end.
fn nal_units(data: &Bytes) -> impl Iterator<Item = Bytes> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        let len = u32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?) as usize;
        let start = at + 4;
        let end = start.checked_add(len).filter(|&end| end <= data.len())?;
        at = end;
        Some(data.slice(start..end))
    })
}

/// Whether a unit (4-byte lengths) holds its own sequence parameter set.
fn carries_parameter_sets(codec: Codec, data: &[u8]) -> bool {
    let mut rest = data;
    while let Some((len, tail)) = rest.split_first_chunk::<4>() {
        let len = u32::from_be_bytes(*len) as usize;
        let Some(nal) = tail.get(..len) else {
            return false;
        };
        match (codec, nal.first()) {
            (Codec::H264, Some(h)) if h & 0x1F == 7 => return true,
            (Codec::H265, Some(h)) if (h >> 1) & 0x3F == 33 => return true,
            _ => {}
        }
        rest = &tail[len..];
    }
    false
}

/// A wall-clock time as a 64-bit NTP timestamp (seconds since 1900, 32.32 fixed point).
fn ntp(at: SystemTime) -> u64 {
    const UNIX_TO_NTP: u64 = 2_208_988_800;
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let fraction = (u64::from(since.subsec_nanos()) << 32) / 1_000_000_000;
    (since.as_secs() + UNIX_TO_NTP) << 32 | fraction
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::video::VideoParams;
    use std::sync::Arc;

    fn params(codec: Codec) -> Arc<VideoParams> {
        let sets = match codec {
            Codec::H265 => vec![
                Bytes::from_static(&[0x40, 1, 0xAA]),
                Bytes::from_static(&[0x42, 1, 0xBB]),
                Bytes::from_static(&[0x44, 1, 0xCC]),
            ],
            _ => vec![
                Bytes::from_static(&[0x67, 0x64, 0, 0x1F]),
                Bytes::from_static(&[0x68, 0xEE]),
            ],
        };
        Arc::new(VideoParams::new(
            codec,
            (64, 48),
            String::new(),
            Bytes::new(),
            sets,
        ))
    }

    fn unit(codec: Codec, keyframe: bool, pts: i64, nals: &[Vec<u8>]) -> AccessUnit {
        let mut data = Vec::new();
        for nal in nals {
            data.extend_from_slice(&(nal.len() as u32).to_be_bytes());
            data.extend_from_slice(nal);
        }
        AccessUnit::new(1, Bytes::from(data), keyframe, (pts, 3000), params(codec))
    }

    /// The RTP packets (without the interleaved framing) on channel 0, put back together.
    fn packets(out: &Packets) -> Vec<Vec<u8>> {
        let frames = frames(out).into_iter();
        frames.filter(|(c, _)| *c == 0).map(|(_, p)| p).collect()
    }

    /// Every interleaved frame: its channel and packet; nothing else in between.
    fn frames(out: &Packets) -> Vec<(u8, Vec<u8>)> {
        let mut rest = &out.bytes[..];
        let mut got = Vec::new();
        while let [b'$', channel, a, b, tail @ ..] = rest {
            let len = usize::from(u16::from_be_bytes([*a, *b]));
            got.push((*channel, tail[..len].to_vec()));
            rest = &tail[len..];
        }
        assert!(rest.is_empty());
        got
    }

    /// Depacketizes as a client would: NAL units from single packets and fragments.
    fn depacketize(codec: Codec, packets: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let mut nals = Vec::new();
        let mut partial: Option<Vec<u8>> = None;
        for p in packets {
            let payload = &p[12..];
            match codec {
                Codec::H265 if (payload[0] >> 1) & 0x3F == 49 => {
                    let fu = payload[2];
                    if fu & 0x80 != 0 {
                        let kind = fu & 0x3F;
                        partial = Some(vec![(payload[0] & 0x81) | (kind << 1), payload[1]]);
                    }
                    partial.as_mut().unwrap().extend_from_slice(&payload[3..]);
                    if fu & 0x40 != 0 {
                        nals.push(partial.take().unwrap());
                    }
                }
                Codec::H264 if payload[0] & 0x1F == 28 => {
                    let fu = payload[1];
                    if fu & 0x80 != 0 {
                        partial = Some(vec![(payload[0] & 0xE0) | (fu & 0x1F)]);
                    }
                    partial.as_mut().unwrap().extend_from_slice(&payload[2..]);
                    if fu & 0x40 != 0 {
                        nals.push(partial.take().unwrap());
                    }
                }
                _ => nals.push(payload.to_vec()),
            }
        }
        nals
    }

    #[test]
    fn h264_units_come_back_whole_behind_their_parameter_sets_marked_at_the_end() {
        let big: Vec<u8> = std::iter::once(0x65)
            .chain((0..5000).map(|i| i as u8))
            .collect();
        let sei = vec![0x06, 5, 1];
        let mut stream = RtpStream::new(0xDEAD_BEEF, 65534, 1000, "cam".into());
        let key = unit(Codec::H264, true, 90_000, &[sei.clone(), big.clone()]);
        let got = packets(&stream.unit(&key));
        assert_eq!(
            depacketize(Codec::H264, &got),
            [vec![0x67, 0x64, 0, 0x1F], vec![0x68, 0xEE], sei, big]
        );
        assert!(got.iter().all(|p| p.len() <= 12 + MAX_PAYLOAD));
        let markers: Vec<bool> = got.iter().map(|p| p[1] & 0x80 != 0).collect();
        assert_eq!(markers.iter().filter(|m| **m).count(), 1);
        assert!(markers[markers.len() - 1], "the last packet is marked");
        let seqs: Vec<u16> = got
            .iter()
            .map(|p| u16::from_be_bytes([p[2], p[3]]))
            .collect();
        assert_eq!(&seqs[..3], [65534, 65535, 0], "sequence numbers wrap");
        let ts = |p: &Vec<u8>| u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
        assert!(
            got.iter().all(|p| ts(p) == 1000),
            "the first unit is at the base"
        );
        let next = unit(Codec::H264, false, 93_000, &[vec![0x41, 9]]);
        let got = packets(&stream.unit(&next));
        assert_eq!(got.len(), 1, "no parameter sets on other units");
        assert_eq!(ts(&got[0]), 4000, "times by the camera's clock");
    }

    #[test]
    fn a_keyframe_that_carries_its_parameter_sets_is_sent_as_it_is() {
        let mut stream = RtpStream::new(1, 0, 0, "cam".into());
        let own = vec![vec![0x67, 1, 2], vec![0x68, 3], vec![0x65, 4]];
        let key = unit(Codec::H264, true, 0, &own);
        assert_eq!(depacketize(Codec::H264, &packets(&stream.unit(&key))), own);
    }

    #[test]
    fn h265_fragments_keep_the_layer_and_temporal_ids() {
        let big: Vec<u8> = [0x26, 0x01]
            .into_iter()
            .chain((0..3000).map(|i| (i * 7) as u8))
            .collect();
        let mut stream = RtpStream::new(1, 0, 0, "cam".into());
        let key = unit(Codec::H265, true, 0, std::slice::from_ref(&big));
        let got = packets(&stream.unit(&key));
        let nals = depacketize(Codec::H265, &got);
        assert_eq!(nals.len(), 4, "VPS, SPS, PPS, the IDR");
        assert_eq!(nals[3], big);
    }

    #[test]
    fn sender_reports_say_the_wall_clock_of_an_rtp_time_every_five_seconds() {
        let mut stream = RtpStream::new(7, 0, 500, "remotecam door".into());
        let t0 = UNIX_EPOCH + Duration::from_millis(1_700_000_000_250);
        let mut report = |pts: i64, after: Duration| {
            let mut u = unit(Codec::H264, false, pts, &[vec![0x41, 1]]);
            u.captured_at = Some(t0 + after);
            let out = stream.unit(&u);
            let (_, report) = frames(&out)
                .into_iter()
                .find(|(channel, _)| *channel == 1)?;
            Some(report)
        };
        let sr = report(0, Duration::ZERO).expect("a report after the first unit");
        assert_eq!(&sr[..4], [0x80, 200, 0, 6]);
        let ntp = u64::from_be_bytes(sr[8..16].try_into().unwrap());
        assert_eq!(ntp >> 32, 1_700_000_000 + 2_208_988_800);
        assert_eq!(((ntp & 0xFFFF_FFFF) * 1000) >> 32, 250, "a quarter second");
        assert_eq!(u32::from_be_bytes(sr[16..20].try_into().unwrap()), 500);
        assert_eq!(
            u32::from_be_bytes(sr[20..24].try_into().unwrap()),
            1,
            "packets"
        );
        assert_eq!(sr[29], 202, "the CNAME follows");
        assert_eq!(sr.len() % 4, 0);
        assert!(report(90_000, Duration::from_secs(1)).is_none());
        let later = report(450_000, Duration::from_secs(5)).unwrap();
        assert_eq!(
            u32::from_be_bytes(later[16..20].try_into().unwrap()),
            500 + 450_000
        );
    }
}
