//! The per-frame cost of ingest checks, of building the viewers' frame message, and of
//! the hub's luma at 1/8 for the motion detector beside a general decoder's (zune-jpeg)
//! on the same frame.

use criterion::{Criterion, criterion_group, criterion_main};
use remotecam_core::canvas::Canvas;
use remotecam_core::jpeg::inspect;
use remotecam_core::planar::luma_eighth;
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
        captured_ms: Some(1_700_000_000_000),
        received_ms: 1_700_000_000_000,
        bytes: jpeg.len(),
    };
    c.bench_function("viewer frame message 720p", |b| {
        b.iter(|| encode_frame(std::hint::black_box(&meta), &jpeg))
    });
    let mut small = Vec::new();
    c.bench_function("luma at 1/8 (DC only) 720p", |b| {
        b.iter(|| luma_eighth(std::hint::black_box(&jpeg), &mut small).expect("decodes"))
    });
    use zune_jpeg::zune_core::{
        bytestream::ZCursor, colorspace::ColorSpace, options::DecoderOptions,
    };
    for (name, space) in [
        ("zune-jpeg luma 720p", ColorSpace::Luma),
        ("zune-jpeg YCbCr 720p", ColorSpace::YCbCr),
    ] {
        c.bench_function(name, |b| {
            b.iter(|| {
                let options = DecoderOptions::default().jpeg_set_out_colorspace(space);
                zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(&jpeg[..]), options)
                    .decode()
                    .expect("decodes")
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
