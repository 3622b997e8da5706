//! The messages of the hub's WebSockets, as both ends read and write them.
//!
//! **API boundary:** these shapes are documented in `docs/api.md` and used by clients
//! outside this repository; add fields, never rename them.

use bytes::{BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Frame metadata, as viewers receive it before each JPEG.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameMeta {
    /// Per camera, increasing by one per published frame. A gap is frames skipped.
    pub seq: u64,
    pub width: u16,
    pub height: u16,
    /// Unix milliseconds by the source's clock, when known.
    #[serde(deserialize_with = "whole_ms::optional")]
    pub captured_ms: Option<u64>,
    /// Unix milliseconds by the hub's clock, when the hub accepted the frame.
    #[serde(deserialize_with = "whole_ms::required")]
    pub received_ms: u64,
    /// Size of the JPEG in bytes.
    pub bytes: usize,
}

/// Whole Unix milliseconds, read from any JSON number (earlier hubs wrote fractions).
mod whole_ms {
    use serde::{Deserialize, Deserializer};

    pub(super) fn required<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        f64::deserialize(d).map(|ms| ms as u64)
    }

    pub(super) fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        Option::<f64>::deserialize(d).map(|ms| ms.map(|ms| ms as u64))
    }
}

/// Text messages of the viewer WebSocket (`/api/cameras/{name}/ws`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ViewerText {
    Hello {
        camera: String,
    },
    Status {
        online: bool,
    },
    /// A message type this side does not know (sent by a newer hub).
    #[serde(other)]
    Unknown,
}

/// Text messages the hub sends on the publish WebSocket (`/api/cameras/{name}/publish`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PublisherText {
    Hello {
        camera: String,
        max_message_bytes: usize,
    },
    /// A frame was accepted and published with sequence number `seq`; `t` echoes the
    /// publisher's `t` from the frame's metadata.
    Ack { seq: u64, t: Option<f64> },
    /// A publisher of video is asked for a keyframe soon (a viewer or the recorder
    /// joined, or a reader fell behind).
    Keyframe,
    #[serde(other)]
    Unknown,
}

/// The optional text message a publisher sends before a frame.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PublishMeta {
    /// Unix milliseconds by the publisher's clock, when the picture was taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture_ms: Option<f64>,
    /// Any number; the hub echoes it in the ack (for measuring round trips).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t: Option<f64>,
    /// What the binary message after this one is (a JPEG when absent).
    #[serde(default, skip_serializing_if = "Payload::is_jpeg")]
    pub kind: Payload,
    /// An H.264 unit's presentation time, microseconds by the publisher's clock
    /// (WebCodecs' `timestamp`), increasing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_us: Option<i64>,
}

/// What a publisher's binary message is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Payload {
    /// One complete JPEG.
    #[default]
    Jpeg,
    /// An H.264 decoder configuration record (ISO/IEC 14496-15 `avcC`: WebCodecs'
    /// `decoderConfig.description`), before the units it describes.
    Avcc,
    /// One H.264 access unit, its NAL units each behind a 4-byte length (WebCodecs'
    /// `avc` format).
    H264,
}

impl Payload {
    pub fn is_jpeg(&self) -> bool {
        *self == Payload::Jpeg
    }
}

/// The binary message of a frame for viewers: a 4-byte big-endian length `n`, `n` bytes
/// of JSON [`FrameMeta`], then the JPEG.
pub fn encode_frame(meta: &FrameMeta, jpeg: &[u8]) -> Bytes {
    let json = serde_json::to_vec(meta).expect("metadata serializes");
    let mut buf = BytesMut::with_capacity(4 + json.len() + jpeg.len());
    buf.put_u32(json.len() as u32);
    buf.put_slice(&json);
    buf.put_slice(jpeg);
    buf.freeze()
}

#[derive(Debug, Error)]
pub enum WireError {
    #[error("frame message shorter than its header")]
    Short,
    #[error("frame metadata is not valid: {0}")]
    Meta(#[from] serde_json::Error),
}

/// Splits a viewer frame message into its metadata and its JPEG (sharing `data`).
pub fn decode_frame(data: &Bytes) -> Result<(FrameMeta, Bytes), WireError> {
    if data.len() < 4 {
        return Err(WireError::Short);
    }
    let n = u32::from_be_bytes([data[0], data[1], data[2], data[3]]) as usize;
    if data.len() < 4 + n {
        return Err(WireError::Short);
    }
    let meta = serde_json::from_slice(&data[4..4 + n])?;
    Ok((meta, data.slice(4 + n..)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_message_round_trips() {
        let meta = FrameMeta {
            seq: 7,
            width: 4,
            height: 2,
            captured_ms: None,
            received_ms: 1_700_000_000_123,
            bytes: 3,
        };
        let msg = encode_frame(&meta, b"abc");
        let (back, jpeg) = decode_frame(&msg).unwrap();
        assert_eq!(back, meta);
        assert_eq!(&jpeg[..], b"abc");
        assert!(decode_frame(&Bytes::from_static(b"\0\0\0\x09{}")).is_err());
        assert!(decode_frame(&Bytes::from_static(b"\0\0")).is_err());
    }

    #[test]
    fn text_messages_have_their_documented_shape() {
        let hello = serde_json::to_value(ViewerText::Hello {
            camera: "door".into(),
        })
        .unwrap();
        assert_eq!(
            hello,
            serde_json::json!({"type": "hello", "camera": "door"})
        );
        let ack: PublisherText =
            serde_json::from_str(r#"{"type":"ack","seq":3,"t":null}"#).unwrap();
        assert_eq!(ack, PublisherText::Ack { seq: 3, t: None });
        let future: ViewerText = serde_json::from_str(r#"{"type":"motion","level":3}"#).unwrap();
        assert_eq!(future, ViewerText::Unknown);
        let meta = serde_json::to_string(&PublishMeta {
            capture_ms: Some(1.0),
            ..PublishMeta::default()
        })
        .unwrap();
        assert_eq!(meta, r#"{"capture_ms":1.0}"#);
    }
}
