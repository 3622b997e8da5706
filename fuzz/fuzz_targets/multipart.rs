//! The MJPEG multipart parser on arbitrary bytes, fed in arbitrary chunks: it must never
//! panic, never hand out a part over its limit, and never hold more than it allows.
#![no_main]

use libfuzzer_sys::fuzz_target;
use remotecam_core::multipart::MultipartParser;

const MAX_PART: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the chunk size and whether a boundary is announced.
    let Some((&control, stream)) = data.split_first() else { return };
    let chunk = usize::from(control & 0x3F) + 1;
    let boundary = if control & 0x40 != 0 { Some("frame") } else { None };
    let mut parser = MultipartParser::new(boundary, MAX_PART);
    for piece in stream.chunks(chunk) {
        parser.push(piece);
        loop {
            match parser.next_part() {
                Ok(Some(part)) => assert!(part.len() <= MAX_PART + 2),
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
});
