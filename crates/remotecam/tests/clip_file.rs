//! The clip file on its own: access units in (made by the hub's encoder of JPEG
//! frames), an MP4 out that `ffprobe` reads as H.264 with the frames and duration that
//! were fed (variable frame rate included), and a file cut short (as a crash leaves it)
//! brought back to its last whole fragment.

mod common;

use std::path::Path;

use common::ffprobe;

use remotecam::picture::I420;
use remotecam::placeholder::Canvas;
use remotecam::record::fmp4::{ClipFile, TIMESCALE, recover};
use remotecam::video::encoder::VideoEncoder;
use remotecam::video::{AccessUnit, avcc};

/// A 320x240 picture with a white square at `x`.
fn picture(x: usize) -> Vec<u8> {
    let mut c = Canvas::new(320, 240, [30, 80, 150]);
    for y in 100..140 {
        for px in x..x + 40 {
            let i = (y * 320 + px.min(319)) * 3;
            c.rgb[i..i + 3].copy_from_slice(&[250, 250, 250]);
        }
    }
    c.to_jpeg(85).to_vec()
}

/// Encodes frames at the given times (seconds), a keyframe every 2 s, into `path`;
/// returns what was written.
fn record(path: &Path, times: &[f64]) -> remotecam::record::fmp4::Written {
    let mut file = ClipFile::create(path).expect("create");
    let mut encoder = VideoEncoder::new(320, 240).expect("encoder");
    let mut yuv = I420::default();
    let mut params = None;
    let ticks = |t: f64| (t * f64::from(TIMESCALE)).round() as u64;
    for (i, &t) in times.iter().enumerate() {
        yuv.decode_jpeg(&picture(i * 3 % 280)).expect("decode");
        let dts = ticks(t - times[0]);
        let key = dts % (2 * u64::from(TIMESCALE)) == 0 || i == 0;
        let enc = encoder
            .encode(&yuv, dts / 90, key)
            .expect("encode")
            .expect("a picture for every frame");
        assert_eq!(enc.keyframe, key, "keyframe where asked, only there");
        let data = avcc::unit_of_annex_b(&enc.annexb, &mut params).expect("a unit");
        let params = std::sync::Arc::clone(params.as_ref().expect("parameters first"));
        let unit = AccessUnit::new(i as u64, data, key, (dts as i64, 3000), params);
        file.push_unit(dts, &unit).expect("push");
    }
    let last = times[times.len() - 1] - times[0];
    let (written, error) = file.finish(ticks(last + 1.0 / 30.0));
    assert!(error.is_none(), "{error:?}");
    written
}

#[test]
fn a_clip_is_h264_with_the_frames_and_duration_fed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.mp4");
    // 3 s at 30 fps, then 2 s at 10 fps: variable frame rate.
    let mut times: Vec<f64> = (0..90).map(|i| i as f64 / 30.0).collect();
    times.extend((0..20).map(|i| 3.0 + i as f64 / 10.0));
    let written = record(&path, &times);
    assert_eq!(written.frames, 110);
    let probe = ffprobe(&path);
    assert_eq!(probe.codec, "h264");
    assert_eq!(probe.frames, 110);
    let fed = 4.9 + 1.0 / 30.0;
    assert!(
        (probe.duration - fed).abs() <= 1.0 / 30.0,
        "duration {} vs {fed}",
        probe.duration
    );
    assert_eq!(written.bytes, std::fs::metadata(&path).unwrap().len());
}

#[test]
fn a_file_cut_short_is_recovered_to_its_last_whole_fragment() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.mp4");
    let times: Vec<f64> = (0..150).map(|i| i as f64 / 30.0).collect();
    record(&path, &times);
    let full = std::fs::read(&path).unwrap();
    // Cut in the middle of the fourth second's fragment, as a crash would.
    let cut = dir.path().join("cut.mp4");
    std::fs::write(&cut, &full[..full.len() * 7 / 10]).unwrap();
    let written = recover(&cut).unwrap().expect("whole fragments left");
    let probe = ffprobe(&cut);
    assert_eq!(probe.frames, written.frames);
    assert_eq!(written.frames % 30, 0, "whole one-second fragments");
    assert!((2..=4).contains(&(written.frames / 30)), "{written:?}");
    assert!((probe.duration - written.seconds()).abs() < 0.05);
    // Nothing whole: nothing to keep.
    let tiny = dir.path().join("tiny.mp4");
    std::fs::write(&tiny, &full[..600]).unwrap();
    assert_eq!(recover(&tiny).unwrap(), None);
}
