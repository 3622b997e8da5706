//! The hub's own JPEG decoding (`remotecam_core::planar`) on arbitrary bytes: it must
//! never panic, and what it returns must be as large as it says.
#![no_main]

use libfuzzer_sys::fuzz_target;
use remotecam_core::planar::{Decoder, luma_eighth};

fuzz_target!(|data: &[u8]| {
    if let Ok(picture) = Decoder::new().decode(data) {
        for p in &picture.planes {
            assert!(p.width <= p.stride && p.data.len() >= p.stride * p.height);
        }
    }
    let mut small = Vec::new();
    if let Ok((w, h)) = luma_eighth(data, &mut small) {
        assert_eq!(small.len(), w * h);
    }
});
