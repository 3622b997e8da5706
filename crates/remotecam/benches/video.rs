//! An H.264 camera's pictures, per 720p frame (`video/pictures.rs`):
//! - `video decode 720p`: libavcodec decoding one unit (its loop filter skipped, as
//!   while nobody wants JPEG) and the detector's working picture of it, what motion
//!   detection costs;
//! - `video decode+thumbnail 720p`: the same and a 320 px JPEG of every frame, what a
//!   keyframe costs while nobody wants JPEG (its thumbnail, for clip thumbnails);
//! - `video decode+jpeg 720p`: decoding in full and a JPEG of every frame
//!   (libjpeg-turbo, from the decoded planes), what JPEG viewers of the camera cost;
//! - `video openh264 decode 720p`: OpenH264's decoder on the same units, the one the hub
//!   used before (its encoder is still the recorder's), to keep the choice measured.
//!
//! Input: 30 frames (one group of pictures) of ffmpeg's `testsrc2` at 1280x720 with
//! sensor-like noise, encoded by ffmpeg's libx264 as a camera would (High profile,
//! 4 Mbit/s, no B-frames). Needs ffmpeg (the test suite installs it).

use std::sync::Arc;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use remotecam::video::pictures::{Jpeg, PictureMaker};
use remotecam::video::{AccessUnit, Codec, VideoParams};

/// The access units of the input, with their parameters.
fn units() -> Vec<AccessUnit> {
    let path = std::env::temp_dir().join(format!("remotecam-bench-{}.h264", std::process::id()));
    let status = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc2=size=1280x720:rate=30,noise=alls=8:allf=t")
        .args([
            "-frames:v",
            "30",
            "-c:v",
            "libx264",
            "-profile:v",
            "high",
            "-g",
            "30",
        ])
        .args([
            "-bf",
            "0",
            "-b:v",
            "4M",
            "-x264-params",
            "aud=1",
            "-f",
            "h264",
        ])
        .arg(&path)
        .status()
        .expect("ffmpeg makes the input");
    assert!(status.success());
    let stream = std::fs::read(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    let nals: Vec<&[u8]> = shiguredo_mp4::bitstream::h264::parse_annexb_nal_units(&stream)
        .unwrap()
        .iter()
        .map(|n| n.data)
        .collect();
    let sets: Vec<Bytes> = nals
        .iter()
        .filter(|n| matches!(n[0] & 0x1F, 7 | 8))
        .take(2)
        .map(|n| Bytes::copy_from_slice(n))
        .collect();
    let params = Arc::new(VideoParams::new(
        Codec::H264,
        (1280, 720),
        "avc1.64001f".into(),
        Bytes::new(),
        sets,
    ));
    let mut units = Vec::new();
    let mut data: Vec<u8> = Vec::new();
    let mut keyframe = false;
    let mut push = |data: &mut Vec<u8>, keyframe: bool| {
        if !data.is_empty() {
            let seq = units.len() as u64 + 1;
            let unit = AccessUnit::new(
                seq,
                Bytes::from(std::mem::take(data)),
                keyframe,
                (seq as i64 * 3000, 3000),
                Arc::clone(&params),
            );
            units.push(unit);
        }
    };
    for nal in nals {
        match nal[0] & 0x1F {
            9 => {
                push(&mut data, keyframe);
                keyframe = false;
            }
            7 | 8 => {}
            kind => {
                keyframe |= kind == 5;
                data.extend_from_slice(&(nal.len() as u32).to_be_bytes());
                data.extend_from_slice(nal);
            }
        }
    }
    push(&mut data, keyframe);
    assert_eq!(units.len(), 30);
    units
}

fn bench(c: &mut Criterion) {
    let units = units();
    let mut group = c.benchmark_group("video");
    group.throughput(Throughput::Elements(units.len() as u64));
    for (name, encode) in [
        ("video decode 720p", Jpeg::No),
        ("video decode+thumbnail 720p", Jpeg::Thumbnail),
        ("video decode+jpeg 720p", Jpeg::Full),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut maker = PictureMaker::new().unwrap();
                for unit in &units {
                    let picture = maker.decode(unit, true, encode).unwrap().unwrap();
                    assert_eq!(picture.jpeg.is_some(), encode == Jpeg::Full);
                    assert_eq!(picture.thumbnail.is_some(), encode == Jpeg::Thumbnail);
                }
            })
        });
    }
    group.bench_function("video openh264 decode 720p", |b| {
        b.iter(|| {
            let mut decoder = openh264::decoder::Decoder::new().unwrap();
            for unit in &units {
                assert!(decoder.decode(&unit.annex_b().unwrap()).unwrap().is_some());
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
