//! The session description a DESCRIBE answers with (RFC 4566): one video stream, its
//! codec and parameter sets as RFC 6184 (H.264) and RFC 7798 (H.265) name them, so a
//! client can open its decoder before the first keyframe.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::rtp::PAYLOAD_TYPE;
use crate::video::{Codec, VideoParams};

/// The control URL of the one stream, after the camera's URL.
pub const TRACK: &str = "trackID=0";

/// The description of `camera`'s video, with `params` as its parameter sets; `control`
/// is the stream's URL.
pub fn describe(camera: &str, control: &str, session_id: u64, params: &VideoParams) -> String {
    let (encoding, fmtp) = match params.codec {
        Codec::H265 => ("H265", h265_fmtp(params)),
        _ => ("H264", h264_fmtp(params)),
    };
    let pt = PAYLOAD_TYPE;
    format!(
        "v=0\r\n\
         o=- {session_id} 1 IN IP4 0.0.0.0\r\n\
         s={camera}\r\n\
         c=IN IP4 0.0.0.0\r\n\
         t=0 0\r\n\
         a=tool:remotecam\r\n\
         a=control:*\r\n\
         m=video 0 RTP/AVP {pt}\r\n\
         a=rtpmap:{pt} {encoding}/90000\r\n\
         a=fmtp:{pt} {fmtp}\r\n\
         a=control:{control}\r\n",
    )
}

fn h264_fmtp(params: &VideoParams) -> String {
    let of = |kind: u8| {
        params
            .parameter_sets
            .iter()
            .filter(move |s| s.first().is_some_and(|h| h & 0x1F == kind))
    };
    let mut fmtp = String::from("packetization-mode=1");
    if let Some(sps) = of(7).next().filter(|s| s.len() >= 4) {
        fmtp.push_str(&format!(
            ";profile-level-id={:02X}{:02X}{:02X}",
            sps[1], sps[2], sps[3]
        ));
    }
    let sets: Vec<String> = of(7).chain(of(8)).map(|s| STANDARD.encode(s)).collect();
    if !sets.is_empty() {
        fmtp.push_str(";sprop-parameter-sets=");
        fmtp.push_str(&sets.join(","));
    }
    fmtp
}

fn h265_fmtp(params: &VideoParams) -> String {
    let of = |kind: u8| -> Vec<String> {
        params
            .parameter_sets
            .iter()
            .filter(|s| s.first().is_some_and(|h| (h >> 1) & 0x3F == kind))
            .map(|s| STANDARD.encode(s))
            .collect()
    };
    let parts: Vec<String> = [("vps", 32), ("sps", 33), ("pps", 34)]
        .into_iter()
        .map(|(name, kind)| format!("sprop-{name}={}", of(kind).join(",")))
        .collect();
    parts.join(";")
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn params(codec: Codec, sets: &[&'static [u8]]) -> VideoParams {
        VideoParams::new(
            codec,
            (1280, 720),
            String::new(),
            Bytes::new(),
            sets.iter().map(|s| Bytes::from_static(s)).collect(),
        )
    }

    #[test]
    fn h264_names_its_profile_and_parameter_sets() {
        let p = params(Codec::H264, &[b"\x67\x64\x00\x1f\xac", b"\x68\xee\x3c\x80"]);
        let sdp = describe("door", "rtsp://h/door/trackID=0", 42, &p);
        assert!(sdp.starts_with("v=0\r\no=- 42 1 IN IP4 0.0.0.0\r\ns=door\r\n"));
        assert!(sdp.contains("a=rtpmap:96 H264/90000\r\n"));
        assert!(sdp.contains(
            "a=fmtp:96 packetization-mode=1;profile-level-id=64001F;\
             sprop-parameter-sets=Z2QAH6w=,aO48gA==\r\n"
        ));
        assert!(sdp.ends_with("a=control:rtsp://h/door/trackID=0\r\n"));
    }

    #[test]
    fn h265_names_its_three_parameter_sets() {
        let p = params(
            Codec::H265,
            &[b"\x40\x01\x0c", b"\x42\x01\x01", b"\x44\x01\xc1"],
        );
        let sdp = describe("yard", TRACK, 1, &p);
        assert!(sdp.contains("a=rtpmap:96 H265/90000\r\n"));
        assert!(sdp.contains("a=fmtp:96 sprop-vps=QAEM;sprop-sps=QgEB;sprop-pps=RAHB\r\n"));
    }
}
