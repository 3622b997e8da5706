//! The motion detector's cost per frame on its working picture (160x90: a 720p frame
//! decoded at 1/8 scale). Decoding is not included.

use criterion::{Criterion, criterion_group, criterion_main};
use remotecam::motion::{Detector, DetectorSettings, Gray};

fn frames() -> Vec<Gray> {
    let mut x: u32 = 0x9E37_79B9;
    (0..16)
        .map(|f| {
            let pixels = (0..160 * 90)
                .map(|i| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    let moving = (i % 160) / 20 == f % 8 && (i / 160) / 30 == 1;
                    if moving {
                        230
                    } else {
                        ((i % 160) / 2 + (x & 7) as usize) as u8
                    }
                })
                .collect();
            Gray {
                width: 160,
                height: 90,
                pixels,
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let frames = frames();
    let mut detector = Detector::new(DetectorSettings::default());
    for f in &frames {
        detector.score(f);
    }
    let mut i = 0;
    c.bench_function("motion score 160x90", |b| {
        b.iter(|| {
            i = (i + 1) % frames.len();
            detector.score(std::hint::black_box(&frames[i]))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
