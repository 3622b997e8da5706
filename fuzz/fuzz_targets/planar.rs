//! The hub's luma at 1/8 (`remotecam_core::planar::luma_eighth`) on arbitrary bytes: it
//! must never panic, what it returns must be as large as it says, and where
//! libjpeg-turbo reads the same bytes at 1/8 scale (its scaled inverse DCT keeps only
//! the DC coefficients, as ours does) every block must agree within a level (but those
//! clamped to black or white).
#![no_main]

use libfuzzer_sys::fuzz_target;
use remotecam_core::planar::luma_eighth;

fuzz_target!(|data: &[u8]| {
    let mut small = Vec::new();
    let Ok((w, h)) = luma_eighth(data, &mut small) else {
        return;
    };
    assert_eq!(small.len(), w * h);
    let Ok(mut turbo) = turbojpeg::Decompressor::new() else {
        return;
    };
    let _ = turbo.set_scaling_factor(turbojpeg::ScalingFactor::ONE_EIGHTH);
    let Ok(header) = turbo.read_header(data) else {
        return;
    };
    let (tw, th) = (header.width.div_ceil(8), header.height.div_ceil(8));
    if tw < w || th < h {
        panic!("libjpeg-turbo reads {tw}x{th} blocks where we read {w}x{h}");
    }
    let mut gray = vec![0u8; tw * th];
    let image = turbojpeg::Image {
        pixels: &mut gray[..],
        width: tw,
        pitch: tw,
        height: th,
        format: turbojpeg::PixelFormat::GRAY,
    };
    if turbo.decompress(data, image).is_ok() {
        // Blocks we clamp to black or white are left out: beyond the range a real
        // picture's DC reaches, libjpeg-turbo's range limit wraps instead of clamping.
        for i in (0..w * h).filter(|&i| small[i] != 0 && small[i] != 255) {
            let theirs = gray[(i / w) * tw + i % w];
            assert!(
                small[i].abs_diff(theirs) <= 1,
                "block {i}: ours {} libjpeg-turbo {theirs}",
                small[i]
            );
        }
    }
});
