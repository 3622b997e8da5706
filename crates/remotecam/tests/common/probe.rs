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
