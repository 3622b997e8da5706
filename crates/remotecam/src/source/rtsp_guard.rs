//! What an RTSP camera may send the hub over TCP, checked byte by byte before retina
//! reads it (`rtsp_link.rs` relays the connection through here): RTSP message heads and
//! bodies within their bounds, and every access unit retina puts together from RTP
//! packets within `--max-frame-bytes`, whatever NAL units it is made of.

use std::sync::{Arc, OnceLock};

use crate::video::Codec;

/// Longest RTSP message head the camera may send (requests and answers are a few
/// hundred bytes).
const MAX_HEAD: usize = 64 << 10;
/// Longest RTSP message body (a session description is a few KiB).
const MAX_BODY: usize = 1 << 20;

/// Reads the camera's side of an RTSP connection as it comes (RTSP messages and `$`
/// interleaved packets, RFC 2326 10.12) and refuses it once a message head, a body's
/// claimed length or an access unit is above its bound.
///
/// An access unit is counted as retina puts it together (RFC 6184 5.1, RFC 7798): from
/// a packet with a new timestamp to one with the marker bit, except that a unit whose
/// last NAL unit cannot end it (a parameter set, an H.264 SEI: they come before a
/// picture) goes on across markers and timestamps. A camera that marks every SEI as a
/// unit's end would otherwise grow one unit in retina without bound.
pub(super) struct Guard {
    max_unit: usize,
    /// The URL allows Basic authentication (`#auth=basic`).
    basic_auth: bool,
    /// The video's codec, once the stream is chosen: until then every NAL unit is
    /// taken as one that may end a unit.
    codec: Arc<OnceLock<Codec>>,
    at: At,
    /// The part of a message head, or the packet, read so far.
    head: Vec<u8>,
    /// Per channel: the unit being put together.
    units: Box<[Unit; 256]>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Unit {
    timestamp: u32,
    bytes: usize,
    /// Its last NAL unit cannot end it: it goes on whatever comes.
    open: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum At {
    /// Between messages.
    Start,
    /// In a message head.
    Head,
    /// In a message body, with this many bytes left.
    Body(usize),
    /// After a packet's `$`, reading its channel and length.
    PacketHeader,
    /// In a packet on this channel, with this many bytes left.
    Packet { channel: u8, left: usize },
}

/// The fixed RTP header (RFC 3550 5.1).
const RTP_HEAD: usize = 12;

impl Guard {
    pub(super) fn new(max_unit: usize, basic_auth: bool, codec: Arc<OnceLock<Codec>>) -> Guard {
        Guard {
            max_unit,
            basic_auth,
            codec,
            at: At::Start,
            head: Vec::new(),
            units: Box::new([Unit::default(); 256]),
        }
    }

    pub(super) fn check(&mut self, mut data: &[u8]) -> Result<(), String> {
        while let Some(&byte) = data.first() {
            match self.at {
                At::Start => {
                    self.head.clear();
                    match byte {
                        b'$' => {
                            self.at = At::PacketHeader;
                            data = &data[1..];
                        }
                        b'\r' | b'\n' => data = &data[1..],
                        _ => self.at = At::Head,
                    }
                }
                At::Head => {
                    let end = data
                        .iter()
                        .position(|&b| b == b'\n')
                        .map_or(data.len(), |i| i + 1);
                    self.head.extend_from_slice(&data[..end]);
                    data = &data[end..];
                    if self.head.len() > MAX_HEAD {
                        return Err(format!(
                            "the camera sent an RTSP message head above {} KiB",
                            MAX_HEAD >> 10
                        ));
                    }
                    if self.head.ends_with(b"\r\n\r\n") || self.head.ends_with(b"\n\n") {
                        if !self.basic_auth {
                            refuse_basic(&self.head)?;
                        }
                        let body = content_length(&self.head)?;
                        self.at = if body == 0 { At::Start } else { At::Body(body) };
                    }
                }
                At::Body(left) => {
                    let n = left.min(data.len());
                    data = &data[n..];
                    self.at = if n == left {
                        At::Start
                    } else {
                        At::Body(left - n)
                    };
                }
                At::PacketHeader => {
                    let n = (3 - self.head.len()).min(data.len());
                    self.head.extend_from_slice(&data[..n]);
                    data = &data[n..];
                    if self.head.len() == 3 {
                        let len = usize::from(u16::from_be_bytes([self.head[1], self.head[2]]));
                        let channel = self.head[0];
                        self.head.clear();
                        self.at = if len == 0 {
                            At::Start
                        } else {
                            At::Packet { channel, left: len }
                        };
                    }
                }
                At::Packet { channel, left } => {
                    // A packet is at most 64 KiB: it is read whole, then counted.
                    let n = left.min(data.len());
                    self.head.extend_from_slice(&data[..n]);
                    data = &data[n..];
                    if n == left {
                        self.count(channel)?;
                        self.at = At::Start;
                    } else {
                        self.at = At::Packet {
                            channel,
                            left: left - n,
                        };
                    }
                }
            }
        }
        Ok(())
    }

    /// Counts the packet in `head`, received on `channel`.
    fn count(&mut self, channel: u8) -> Result<(), String> {
        let packet = &self.head;
        if packet.len() < RTP_HEAD || packet[0] >> 6 != 2 || is_rtcp(packet[1]) {
            // Not RTP (retina tells what is wrong with it), or a control report.
            return Ok(());
        }
        let marker = packet[1] & 0x80 != 0;
        let timestamp = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
        let ends = match (self.codec.get(), payload(packet)) {
            (Some(&codec), Some(payload)) => {
                last_nal(codec, payload).is_none_or(|header| codec.may_end_unit(header))
            }
            _ => true,
        };
        let unit = &mut self.units[usize::from(channel)];
        if unit.timestamp != timestamp && !unit.open {
            unit.bytes = 0;
        }
        unit.timestamp = timestamp;
        unit.bytes += packet.len() - RTP_HEAD;
        if unit.bytes > self.max_unit {
            return Err(format!(
                "the camera sent an access unit above the limit of {} bytes (--max-frame-bytes)",
                self.max_unit
            ));
        }
        unit.open = !ends;
        if marker && ends {
            unit.bytes = 0;
        }
        Ok(())
    }
}

/// RTCP's packet types (200 to 204, RFC 5761 4) where RTP has its marker and type.
fn is_rtcp(second: u8) -> bool {
    matches!(second, 200..=204)
}

/// An RTP packet's payload: after its CSRCs and header extension, before its padding.
fn payload(packet: &[u8]) -> Option<&[u8]> {
    let csrcs = usize::from(packet[0] & 0x0F) * 4;
    let mut start = RTP_HEAD + csrcs;
    if packet[0] & 0x10 != 0 {
        let words = packet.get(start + 2..start + 4)?;
        start += 4 + usize::from(u16::from_be_bytes([words[0], words[1]])) * 4;
    }
    let padding = if packet[0] & 0x20 != 0 {
        usize::from(*packet.last()?)
    } else {
        0
    };
    packet.get(start..packet.len().checked_sub(padding)?)
}

/// The first header byte of the last NAL unit (or fragment's unit) in an H.264 (RFC
/// 6184) or H.265 (RFC 7798) RTP payload; `None` for a payload retina refuses.
fn last_nal(codec: Codec, payload: &[u8]) -> Option<u8> {
    let first = *payload.first()?;
    match codec {
        Codec::H264 => match first & 0x1F {
            1..=23 => Some(first),
            // STAP-A: 16-bit sizes, each before its unit.
            24 => last_aggregated(&payload[1..]),
            // FU-A: the unit's type in the fragment header.
            28 => Some((first & 0xE0) | (payload.get(1)? & 0x1F)),
            _ => None,
        },
        Codec::H265 => match (first >> 1) & 0x3F {
            48 => last_aggregated(payload.get(2..)?),
            49 => Some((first & 0x81) | ((payload.get(2)? & 0x3F) << 1)),
            50.. => None,
            _ => Some(first),
        },
        Codec::Jpeg => None,
    }
}

/// The first byte of the last unit of an aggregation packet's units.
fn last_aggregated(mut units: &[u8]) -> Option<u8> {
    let mut last = None;
    while let Some((size, rest)) = units.split_first_chunk::<2>() {
        let size = usize::from(u16::from_be_bytes(*size));
        let unit = rest.get(..size)?;
        last = unit.first().copied().or(last);
        units = &rest[size..];
    }
    last
}

/// Refuses a challenge (`WWW-Authenticate`) that offers Basic authentication only: the
/// password would go as it is, to whatever device answers at the camera's address.
fn refuse_basic(head: &[u8]) -> Result<(), String> {
    let head = String::from_utf8_lossy(head);
    let schemes: Vec<&str> = head
        .lines()
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("www-authenticate")
                .then(|| value.trim())
        })
        .collect();
    let digest = |s: &&str| s.get(..6).is_some_and(|w| w.eq_ignore_ascii_case("digest"));
    if schemes.is_empty() || schemes.iter().any(digest) {
        return Ok(());
    }
    Err(
        "the camera asks for Basic authentication, which sends the password in the clear: \
         add #auth=basic to the URL to allow it"
            .into(),
    )
}

/// A message head's `Content-Length`, within [`MAX_BODY`].
fn content_length(head: &[u8]) -> Result<usize, String> {
    let head = String::from_utf8_lossy(head);
    let Some(value) = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-length")
            .then_some(value.trim())
    }) else {
        return Ok(0);
    };
    match value.parse::<u64>() {
        Ok(n) if n <= MAX_BODY as u64 => Ok(n as usize),
        Ok(n) => Err(format!(
            "the camera announced an RTSP message body of {n} bytes, above {} MiB",
            MAX_BODY >> 20
        )),
        Err(_) => Err(format!(
            "the camera sent a bad Content-Length: {}",
            crate::excerpt::of(value)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An interleaved RTP packet on `channel` whose payload is `payload`.
    fn rtp_of(channel: u8, timestamp: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
        let len = RTP_HEAD + payload.len();
        let mut p = vec![b'$', channel];
        p.extend_from_slice(&(len as u16).to_be_bytes());
        p.extend_from_slice(&[0x80, if marker { 0xE0 } else { 0x60 }, 0, 0]);
        p.extend_from_slice(&timestamp.to_be_bytes());
        p.extend_from_slice(&[0; 4]);
        p.extend_from_slice(payload);
        p
    }

    /// A packet of `payload` bytes of an H.264 P slice.
    fn rtp(channel: u8, timestamp: u32, marker: bool, payload: usize) -> Vec<u8> {
        let mut slice = vec![0x41];
        slice.resize(payload, 0xAB);
        rtp_of(channel, timestamp, marker, &slice)
    }

    fn h264() -> Arc<OnceLock<Codec>> {
        Arc::new(OnceLock::from(Codec::H264))
    }

    /// Feeds `bytes` to a guard in pieces of `piece` bytes.
    fn check_in_pieces(max_unit: usize, bytes: &[u8], piece: usize) -> Result<(), String> {
        let mut guard = Guard::new(max_unit, false, h264());
        bytes.chunks(piece).try_for_each(|c| guard.check(c))
    }

    #[test]
    fn a_camera_within_bounds_passes_however_its_bytes_are_cut() {
        let mut bytes = b"RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Length: 5\r\n\r\n$$$$$".to_vec();
        for ts in 0..5 {
            // A unit of three packets, 3000 bytes of payload.
            bytes.extend(rtp(0, ts, false, 1000));
            // An RTCP sender report on the next channel.
            let mut report = vec![b'$', 1, 0, 28, 0x80, 200, 0, 6];
            report.resize(32, 7);
            bytes.extend(report);
            bytes.extend(rtp(0, ts, false, 1000));
            bytes.extend(rtp(0, ts, true, 1000));
        }
        bytes.extend(b"\r\nRTSP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n");
        for piece in [1, 2, 3, 7, 13, 100, bytes.len()] {
            check_in_pieces(3000, &bytes, piece).unwrap();
        }
    }

    #[test]
    fn an_access_unit_without_end_is_refused_at_its_bound() {
        let mut bytes = Vec::new();
        for _ in 0..4 {
            bytes.extend(rtp(0, 9, false, 1000));
        }
        for piece in [1, 5, bytes.len()] {
            let e = check_in_pieces(3000, &bytes, piece).unwrap_err();
            assert!(e.contains("above the limit of 3000 bytes"), "{e}");
        }
        // A new timestamp after a slice starts a new unit, as retina counts.
        let mut bytes = Vec::new();
        for ts in 0..10 {
            bytes.extend(rtp(0, ts, false, 1000));
        }
        check_in_pieces(1000, &bytes, 17).unwrap();
    }

    #[test]
    fn sei_marked_as_ends_with_new_timestamps_make_one_unit_as_in_retina() {
        let mut sei = vec![0x06];
        sei.resize(1400, 0x55);
        let mut bytes = rtp(0, 0, true, 1000);
        for ts in 1..=10 {
            bytes.extend(rtp_of(0, ts * 3000, true, &sei));
        }
        let e = check_in_pieces(10_000, &bytes, 1000).unwrap_err();
        assert!(e.contains("above the limit of 10000 bytes"), "{e}");
        // Parameter sets, in a STAP-A and as FU-A fragments, go on too.
        let stap = [24, 0, 2, 0x67, 1, 0, 2, 0x68, 1];
        let fu = [0x7C, 0x47, 9, 9, 9, 9];
        let mut bytes = Vec::new();
        for ts in 0..1000 {
            bytes.extend(rtp_of(0, ts, true, if ts % 2 == 0 { &stap } else { &fu }));
        }
        assert!(check_in_pieces(5000, &bytes, 999).is_err());
        // Until the codec is known, every unit may end.
        let mut guard = Guard::new(10_000, false, Arc::new(OnceLock::new()));
        guard.check(&bytes).unwrap();
    }

    #[test]
    fn a_picture_after_parameter_sets_ends_the_unit() {
        let mut bytes = Vec::new();
        for ts in 0..100 {
            // SPS and PPS marked (as some cameras do), then the picture.
            bytes.extend(rtp_of(0, ts, true, &[0x67, 1, 2, 3]));
            bytes.extend(rtp_of(0, ts, true, &[0x68, 1, 2]));
            bytes.extend(rtp(0, ts, true, 900));
        }
        check_in_pieces(1000, &bytes, 64).unwrap();
        // H.265: a VPS marked, then a TRAIL_R picture in an aggregation packet.
        let mut guard = Guard::new(1000, false, Arc::new(OnceLock::from(Codec::H265)));
        for ts in 0..100 {
            guard
                .check(&rtp_of(0, ts, true, &[32 << 1, 1, 9, 9]))
                .unwrap();
            let ap = [48 << 1, 1, 0, 3, 39 << 1, 1, 7, 0, 3, 2, 1, 7];
            guard.check(&rtp_of(0, ts, true, &ap)).unwrap();
        }
    }

    #[test]
    fn basic_authentication_only_when_the_url_allows_it() {
        let basic = b"RTSP/1.0 401 Unauthorized\r\nCSeq: 2\r\nWWW-Authenticate: Basic realm=\"cam\"\r\n\r\n";
        let e = check_in_pieces(1000, basic, 7).unwrap_err();
        assert!(e.contains("add #auth=basic"), "{e}");
        Guard::new(1000, true, h264()).check(basic).unwrap();
        let both = b"RTSP/1.0 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"c\"\r\n\
                     www-authenticate: Digest realm=\"c\", nonce=\"1\"\r\n\r\n";
        check_in_pieces(1000, both, 5).unwrap();
    }

    #[test]
    fn a_huge_body_or_endless_head_is_refused_before_it_comes() {
        let e = check_in_pieces(
            1,
            b"RTSP/1.0 200 OK\r\nContent-Length: 99999999999\r\n\r\n",
            4,
        )
        .unwrap_err();
        assert!(e.contains("99999999999 bytes, above 1 MiB"), "{e}");
        let e = check_in_pieces(1, b"RTSP/1.0 200 OK\r\nContent-Length: x\r\n\r\n", 4).unwrap_err();
        assert!(e.contains("bad Content-Length"), "{e}");
        let mut head = b"RTSP/1.0 200 OK\r\n".to_vec();
        head.extend(std::iter::repeat_n(b'a', MAX_HEAD));
        let e = check_in_pieces(1, &head, 1000).unwrap_err();
        assert!(e.contains("head above 64 KiB"), "{e}");
    }
}
