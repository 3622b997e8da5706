//! A publisher of H.264 as the publisher page's WebCodecs encoder is one: a decoder
//! configuration (avcC), then access units with 4-byte NAL lengths and no parameter sets
//! in them, each behind its metadata; and the pieces hostile ones are made of.

use std::path::Path;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use super::{Hub, WAIT, Ws, next_text};

/// A stream as WebCodecs gives it: its configuration and its units.
pub struct H264Stream {
    pub avcc: Vec<u8>,
    /// NAL units each behind a 4-byte length: slices and SEI, no delimiters or
    /// parameter sets.
    pub units: Vec<Vec<u8>>,
}

/// `frames` frames of ffmpeg's test picture at `width` x `height`, a keyframe every
/// `gop`, as [`H264Stream`].
pub fn h264_stream(dir: &Path, width: u32, height: u32, frames: u32, gop: u32) -> H264Stream {
    let units = super::h264_gop(dir, width, height, frames, gop);
    let find = |kind: u8| {
        units[0]
            .iter()
            .find(|n| n[0] & 0x1F == kind)
            .expect("the first unit has its parameter sets")
            .clone()
    };
    let avcc = avcc(&find(7), &find(8));
    let units = units
        .iter()
        .map(|nals| {
            let mut unit = Vec::new();
            for nal in nals.iter().filter(|n| !matches!(n[0] & 0x1F, 7..=9)) {
                unit.extend_from_slice(&(nal.len() as u32).to_be_bytes());
                unit.extend_from_slice(nal);
            }
            unit
        })
        .collect();
    H264Stream { avcc, units }
}

/// The decoder configuration record of one SPS and one PPS (NAL headers included), as
/// the hub writes one.
pub fn avcc(sps: &[u8], pps: &[u8]) -> Vec<u8> {
    remotecam::video::avcc::record(sps, pps)
}

/// A Baseline SPS (NAL header first) of `width_mbs` x `height_mbs` macroblocks at
/// `level_idc`: whatever size and level a hostile publisher cares to claim.
pub fn sps_claiming(width_mbs: u32, height_mbs: u32, level_idc: u8) -> Vec<u8> {
    let mut bits = Bits::default();
    bits.put(66, 8); // profile_idc: Baseline
    bits.put(0xC0, 8); // constraint flags
    bits.put(u32::from(level_idc), 8);
    bits.ue(0); // seq_parameter_set_id
    bits.ue(0); // log2_max_frame_num_minus4
    bits.ue(2); // pic_order_cnt_type
    bits.ue(1); // max_num_ref_frames
    bits.put(0, 1); // gaps_in_frame_num_value_allowed_flag
    bits.ue(width_mbs - 1);
    bits.ue(height_mbs - 1);
    bits.put(1, 1); // frame_mbs_only_flag
    bits.put(1, 1); // direct_8x8_inference_flag
    bits.put(0, 1); // frame_cropping_flag
    bits.put(0, 1); // vui_parameters_present_flag
    bits.put(1, 1); // rbsp_stop_one_bit
    let mut out = vec![0x67];
    out.extend(emulation_prevented(&bits.finish()));
    out
}

#[derive(Default)]
struct Bits {
    bytes: Vec<u8>,
    used: u32,
}

impl Bits {
    fn put(&mut self, value: u32, count: u32) {
        for i in (0..count).rev() {
            if self.used.is_multiple_of(8) {
                self.bytes.push(0);
            }
            let bit = ((value >> i) & 1) as u8;
            *self.bytes.last_mut().unwrap() |= bit << (7 - self.used % 8);
            self.used += 1;
        }
    }

    /// Exp-Golomb, unsigned.
    fn ue(&mut self, value: u32) {
        let v = u64::from(value) + 1;
        let len = 64 - v.leading_zeros();
        self.put(0, len - 1);
        for i in (0..len).rev() {
            self.put(((v >> i) & 1) as u32, 1);
        }
    }

    fn finish(self) -> Vec<u8> {
        self.bytes
    }
}

/// RBSP to NAL payload: a 3 after two zeros where the next byte would look like a start
/// code.
fn emulation_prevented(rbsp: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rbsp.len() + 4);
    let mut zeros = 0;
    for &b in rbsp {
        if zeros == 2 && b <= 3 {
            out.push(3);
            zeros = 0;
        }
        out.push(b);
        zeros = if b == 0 { zeros + 1 } else { 0 };
    }
    out
}

/// When the units [`VideoPublisher::unit`] sends say they were taken: from this Unix
/// millisecond on, by their times.
pub const CAPTURED_FROM: i64 = 1_700_000_000_000;

/// A publisher of H.264 over the publish WebSocket.
pub struct VideoPublisher {
    pub ws: Ws,
}

impl VideoPublisher {
    /// Connected as the JPEG [`super::Publisher`] is (its hello read).
    pub async fn connect(hub: &Hub, camera: &str) -> VideoPublisher {
        VideoPublisher {
            ws: super::Publisher::connect(hub, camera).await.ws,
        }
    }

    /// Sends the decoder configuration.
    pub async fn configure(&mut self, avcc: &[u8]) {
        self.send(r#"{"kind":"avcc"}"#.into(), avcc).await;
    }

    /// Sends a unit of time `timestamp_us`, taken at [`CAPTURED_FROM`] plus that time,
    /// and waits for its ack (a keyframe asked for meanwhile is counted in `asks`); the
    /// sequence number the hub gave it.
    pub async fn unit(&mut self, unit: &[u8], timestamp_us: i64, asks: &mut u32) -> u64 {
        let captured = CAPTURED_FROM + timestamp_us / 1000;
        let meta =
            format!(r#"{{"kind":"h264","timestamp_us":{timestamp_us},"capture_ms":{captured}}}"#);
        self.send(meta, unit).await;
        loop {
            let answer = next_text(&mut self.ws).await;
            match answer["type"].as_str() {
                Some("ack") => return answer["seq"].as_u64().unwrap(),
                Some("keyframe") => *asks += 1,
                _ => panic!("unexpected answer {answer}"),
            }
        }
    }

    /// Sends `meta` and the binary message after it, without waiting.
    pub async fn send(&mut self, meta: String, data: &[u8]) {
        assert!(
            self.try_send(meta, data).await,
            "the hub closed the connection"
        );
    }

    /// [`VideoPublisher::send`]; false once the connection is closed.
    pub async fn try_send(&mut self, meta: String, data: &[u8]) -> bool {
        let data = Bytes::copy_from_slice(data);
        self.ws.send(Message::Text(meta.into())).await.is_ok()
            && self.ws.send(Message::Binary(data)).await.is_ok()
    }

    /// The close code and reason the hub ends the session with (other messages before
    /// it skipped).
    pub async fn closed(&mut self) -> (u16, String) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Ok(Some(Ok(Message::Close(Some(frame))))) => {
                    return (u16::from(frame.code), frame.reason.to_string());
                }
                Ok(Some(Ok(_))) => {}
                other => panic!("no close frame: {other:?}"),
            }
        }
    }
}
