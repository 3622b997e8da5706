//! The ingest check on arbitrary bytes: it must never panic, and any size it reports is
//! not zero.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(info) = remotecam_core::jpeg::inspect(data) {
        assert!(info.width > 0 && info.height > 0);
    }
});
