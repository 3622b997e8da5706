//! The hub's own JPEG decoding against libjpeg-turbo (the `turbojpeg` crate the client
//! uses) on the motion benchmark's frames, for both of the hub's uses:
//!
//! - the detector's picture: luma at 1/8 scale (the hub reads only the DC coefficients;
//!   libjpeg-turbo scales by 1/8 in its inverse DCT, to gray or to YUV planes);
//! - the recorder's picture: YUV planes as coded (4:2:0 for these frames). The hub had
//!   its own decoder for this too, until this benchmark found libjpeg-turbo 1.28 times
//!   faster (BENCHMARKS.md, measured at commit 7da4ad9); libjpeg-turbo's figure is kept.
//!
//! Each iteration decodes all 60 frames (`bench/make-frames.sh`'s 1280x720 frames with
//! sensor-like noise, about 124 kB each, made into `target/bench-frames` on first run;
//! needs ffmpeg): divide by 60 for a frame.
//!
//! cargo bench -p remotecam-core --bench decoders

use std::path::{Path, PathBuf};

use criterion::{Criterion, criterion_group, criterion_main};
use remotecam_core::planar::luma_eighth;
use turbojpeg::{Decompressor, Image, PixelFormat, ScalingFactor, Subsamp, YuvImage};

fn frames() -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir: PathBuf = root.join("target/bench-frames");
    if !dir.join("f060.jpg").exists() {
        let made = std::process::Command::new("bash")
            .arg(root.join("bench/make-frames.sh"))
            .arg(&dir)
            .status()
            .expect("run bench/make-frames.sh (needs ffmpeg)");
        assert!(made.success(), "bench/make-frames.sh failed");
    }
    (1..=60)
        .map(|i| std::fs::read(dir.join(format!("f{i:03}.jpg"))).expect("a frame"))
        .collect()
}

fn bench(c: &mut Criterion) {
    let frames = frames();
    let header = turbojpeg::read_header(&frames[0]).expect("a JPEG");
    let (w, h) = (header.width, header.height);

    let mut group = c.benchmark_group("60 frames of 1280x720");
    group.sample_size(20);

    // The detector's picture.
    let mut small = Vec::new();
    group.bench_function("luma 1/8: hub (DC coefficients)", |b| {
        b.iter(|| {
            for jpeg in &frames {
                luma_eighth(std::hint::black_box(jpeg), &mut small).expect("decodes");
            }
        })
    });
    let eighth = ScalingFactor::ONE_EIGHTH;
    let (sw, sh) = (eighth.scale(w), eighth.scale(h));
    let mut turbo = Decompressor::new().expect("libjpeg-turbo");
    turbo.set_scaling_factor(eighth).expect("1/8");
    let mut gray = vec![0u8; sw * sh];
    group.bench_function("luma 1/8: libjpeg-turbo (scaled IDCT, gray)", |b| {
        b.iter(|| {
            for jpeg in &frames {
                let out = Image {
                    pixels: &mut gray[..],
                    width: sw,
                    pitch: sw,
                    height: sh,
                    format: PixelFormat::GRAY,
                };
                turbo
                    .decompress(std::hint::black_box(jpeg), out)
                    .expect("decodes");
            }
        })
    });
    let mut yuv_small =
        vec![0u8; turbojpeg::yuv_pixels_len(sw, 1, sh, Subsamp::Sub2x2).expect("size")];
    group.bench_function("luma 1/8: libjpeg-turbo (scaled IDCT, YUV planes)", |b| {
        b.iter(|| {
            for jpeg in &frames {
                let out = YuvImage {
                    pixels: &mut yuv_small[..],
                    width: sw,
                    align: 1,
                    height: sh,
                    subsamp: Subsamp::Sub2x2,
                };
                turbo
                    .decompress_to_yuv(std::hint::black_box(jpeg), out)
                    .expect("decodes");
            }
        })
    });

    // The recorder's picture.
    let mut full = Decompressor::new().expect("libjpeg-turbo");
    let mut yuv = vec![0u8; turbojpeg::yuv_pixels_len(w, 1, h, Subsamp::Sub2x2).expect("size")];
    group.bench_function("I420 planes: libjpeg-turbo", |b| {
        b.iter(|| {
            for jpeg in &frames {
                let out = YuvImage {
                    pixels: &mut yuv[..],
                    width: w,
                    align: 1,
                    height: h,
                    subsamp: Subsamp::Sub2x2,
                };
                full.decompress_to_yuv(std::hint::black_box(jpeg), out)
                    .expect("decodes");
            }
        })
    });
    group.finish();

    // A decoded video picture's luma (an RTSP camera's) to the detector's picture.
    let plane: Vec<u8> = (0..w * h).map(|i| (i * 7 % 251) as u8).collect();
    c.bench_function("working picture of a 1280x720 luma plane", |b| {
        b.iter(|| remotecam_core::luma::working_picture(std::hint::black_box(&plane), w, w, h))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
