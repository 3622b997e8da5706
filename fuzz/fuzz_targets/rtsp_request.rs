//! The RTSP listener's request reader on arbitrary bytes, fed in arbitrary chunks: it
//! must never panic, never hand out more than its limits allow, and never need the
//! caller to hold more than a head and a body.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use remotecam_core::rtsp::reader::{MAX_BODY, MAX_HEAD, MAX_HEADERS};
use remotecam_core::rtsp::{Incoming, RequestReader, transport};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the chunk size.
    let Some((&control, stream)) = data.split_first() else { return };
    let chunk = usize::from(control & 0x3F) + 1;
    let mut reader = RequestReader::default();
    let mut buf = BytesMut::new();
    for piece in stream.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            match reader.read(&mut buf) {
                Ok(Some(Incoming::Request(r))) => {
                    assert!(r.headers.len() <= MAX_HEADERS);
                    assert!(r.body.len() <= MAX_BODY);
                    let _ = (r.cseq(), r.path(), r.query());
                    if let Some(t) = r.header("Transport") {
                        assert!(transport::offers(t).len() <= 16);
                    }
                }
                Ok(Some(Incoming::Interleaved { .. })) => {}
                Ok(None) => break,
                Err(_) => return,
            }
        }
        assert!(buf.len() <= MAX_HEAD + MAX_BODY + 4 + chunk);
    }
});
