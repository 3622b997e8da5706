//! The per-frame cost of ingest checks and of building the viewers' frame message.

use criterion::{Criterion, criterion_group, criterion_main};
use remotecam_core::canvas::Canvas;
use remotecam_core::jpeg::inspect;
use remotecam_core::wire::{FrameMeta, encode_frame};

/// A 1280x720 JPEG with sensor-like noise, about the size a webcam sends.
fn frame() -> bytes::Bytes {
    let mut canvas = Canvas::new(1280, 720, [0, 0, 0]);
    let mut x: u32 = 0x2545_F491;
    for (i, b) in canvas.rgb.iter_mut().enumerate() {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = ((i / 3 % 1280) as u32 / 5 + (x & 31)) as u8;
    }
    canvas.to_jpeg(80)
}

fn bench(c: &mut Criterion) {
    let jpeg = frame();
    c.bench_function("inspect 720p jpeg", |b| {
        b.iter(|| inspect(std::hint::black_box(&jpeg)))
    });
    let meta = FrameMeta {
        seq: 1,
        width: 1280,
        height: 720,
        captured_ms: Some(1.7e12),
        received_ms: 1.7e12,
        bytes: jpeg.len(),
    };
    c.bench_function("viewer frame message 720p", |b| {
        b.iter(|| encode_frame(std::hint::black_box(&meta), &jpeg))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
