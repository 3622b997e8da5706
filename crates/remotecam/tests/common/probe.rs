//! What ffprobe says of a clip file.

use std::path::Path;

pub struct Probe {
    pub codec: String,
    pub frames: u64,
    pub duration: f64,
}

/// What ffprobe says of a video file: codec, decoded frame count, duration.
pub fn ffprobe(path: &Path) -> Probe {
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args([
            "-show_entries",
            "stream=codec_name,nb_read_frames:format=duration",
            "-of",
            "default=noprint_wrappers=1",
        ])
        .arg(path)
        .output()
        .expect("run ffprobe");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "ffprobe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("no {k} in {text}"))
            .to_owned()
    };
    Probe {
        codec: field("codec_name"),
        frames: field("nb_read_frames").parse().expect("frames"),
        duration: field("duration").parse().expect("duration"),
    }
}

/// A clip's samples, in order: (keyframe, bytes).
pub fn clip_samples(path: &Path) -> Vec<(bool, Vec<u8>)> {
    use shiguredo_mp4::demux::{Fmp4FileDemuxer, Input};
    let data = std::fs::read(path).unwrap();
    let mut demuxer = Fmp4FileDemuxer::new();
    let mut out = Vec::new();
    loop {
        // The demuxer asks for the parts of the file it needs next.
        while let Some(required) = demuxer.required_input() {
            let start = required.position as usize;
            let end = required
                .size
                .map_or(data.len(), |n| (start + n).min(data.len()));
            demuxer.handle_input(Input {
                position: required.position,
                data: data.get(start..end).unwrap_or(&[]),
            });
        }
        match demuxer.next_sample() {
            Ok(Some(s)) => {
                let at = s.data_offset as usize;
                out.push((s.keyframe, data[at..at + s.data_size].to_vec()));
            }
            Ok(None) => break,
            Err(e) => assert!(demuxer.required_input().is_some(), "{e}"),
        }
    }
    out
}

/// What ffprobe says of a live stream's video (an `rtsp://` URL): codec, profile, size;
/// its error output when it cannot read it.
pub fn probe_stream(url: &str) -> Result<serde_json::Value, String> {
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-rw_timeout",
            "15000000",
            "-select_streams",
            "v:0",
        ])
        .args(["-show_entries", "stream=codec_name,profile,width,height"])
        .args(["-of", "json", url])
        .output()
        .expect("run ffprobe");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    Ok(json["streams"][0].clone())
}
