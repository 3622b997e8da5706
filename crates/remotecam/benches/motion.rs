//! Motion detection and recording, per 720p frame:
//! - `motion score 160x90`: the detector on its working picture (a 720p frame reduced to
//!   160x90), decoding excluded;
//! - `motion decode+score 720p`: what the hub spends per frame with detection on
//!   (luma decode of the JPEG, reduction, score);
//! - `record decode 720p`, `record encode 720p`: its two parts apart;
//! - `record 720p frame`: what the recorder spends per frame (JPEG to I420, H.264 encode
//!   at the hub's settings; a keyframe a second at 30 fps), file writing excluded.

use criterion::{Criterion, criterion_group, criterion_main};
use remotecam::motion::picture::small_gray;
use remotecam::motion::{Detector, DetectorSettings, Gray};
use remotecam::picture::I420;
use remotecam::placeholder::Canvas;
use remotecam::video::encoder::VideoEncoder;

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

/// 1280x720 camera-like JPEGs (texture, sensor noise) with a moving square, ~100 kB.
fn jpegs() -> Vec<bytes::Bytes> {
    let mut x: u32 = 0x2545_F491;
    (0..30)
        .map(|f| {
            let mut c = Canvas::new(1280, 720, [0, 0, 0]);
            for y in 0..720 {
                for px in 0..1280 {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    let base = 60 + (px / 10 + y / 12) % 90 + (x % 12) as usize;
                    let inside = (f * 30..f * 30 + 160).contains(&px) && (200..360).contains(&y);
                    let v = if inside { 235 } else { base as u8 as usize };
                    c.rgb[(y * 1280 + px) * 3..][..3].copy_from_slice(&[
                        v as u8,
                        (v as u8).saturating_add(10),
                        v as u8,
                    ]);
                }
            }
            c.to_jpeg(85)
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

    let jpegs = jpegs();
    let mut detector = Detector::new(DetectorSettings::default());
    let mut i = 0;
    c.bench_function("motion decode+score 720p", |b| {
        b.iter(|| {
            i = (i + 1) % jpegs.len();
            let gray = small_gray(&jpegs[i]).expect("decodes");
            detector.score(&gray)
        })
    });

    let mut picture = I420::default();
    let mut n = 0usize;
    c.bench_function("record decode 720p", |b| {
        b.iter(|| {
            n = (n + 1) % jpegs.len();
            picture.decode_jpeg(&jpegs[n]).expect("decodes");
        })
    });

    let pictures: Vec<I420> = jpegs
        .iter()
        .map(|jpeg| {
            let mut p = I420::default();
            p.decode_jpeg(jpeg).expect("decodes");
            p
        })
        .collect();
    let mut encoder = VideoEncoder::new(1280, 720).expect("encoder");
    let mut n = 0u64;
    c.bench_function("record encode 720p", |b| {
        b.iter(|| {
            let picture = &pictures[(n % pictures.len() as u64) as usize];
            let out = encoder
                .encode(picture, n * 33, n.is_multiple_of(30))
                .expect("encodes");
            n += 1;
            out
        })
    });

    let mut encoder = VideoEncoder::new(1280, 720).expect("encoder");
    let mut picture = I420::default();
    let mut n = 0u64;
    c.bench_function("record 720p frame", |b| {
        b.iter(|| {
            let jpeg = &jpegs[(n % jpegs.len() as u64) as usize];
            picture.decode_jpeg(jpeg).expect("decodes");
            let out = encoder
                .encode(&picture, n * 33, n.is_multiple_of(30))
                .expect("encodes");
            n += 1;
            out
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
