//! What a client pays per frame: BGR decode of a 720p JPEG (every frame taken) and BGR
//! encode (every frame a Publisher sends).

use criterion::{Criterion, criterion_group, criterion_main};
use remotecam_client::{decode_bgr, encode_bgr};

/// A 1280x720 BGR picture: gradients plus sensor-like noise.
fn picture() -> Vec<u8> {
    let mut x: u32 = 0x2545_F491;
    (0..1280 * 720 * 3)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            ((i / 3 % 1280) as u32 / 5 + (x & 31)) as u8
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let bgr = picture();
    let jpeg = encode_bgr(&bgr, 1280, 720, 80).unwrap();
    c.bench_function("decode 720p to BGR", |b| {
        b.iter(|| decode_bgr(std::hint::black_box(&jpeg)).unwrap())
    });
    c.bench_function("encode 720p BGR q80", |b| {
        b.iter(|| encode_bgr(std::hint::black_box(&bgr), 1280, 720, 80).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
