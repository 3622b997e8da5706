//! RTSP cameras against a real RTSP server (GStreamer's, `common/rtsp_server.py`):
//! SMPTE colour bars with the running time drawn over them, as H.264 or H.265.

mod common;

use common::*;
use shiguredo_mp4::Decode;
use shiguredo_mp4::boxes::MoofBox;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn config(dir: &tempfile::TempDir, text: &str) -> String {
    let path = dir.path().join("rtsp.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

/// A hub with the RTSP camera `door` at `url` and a test pattern camera `ok` beside it.
fn hub_with(url: &str) -> Hub {
    hub_with_flags(url, &[])
}

/// [`hub_with`], with more flags.
fn hub_with_flags(url: &str, flags: &[&str]) -> Hub {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        &dir,
        &format!(
            "[cameras.door]\nsource = \"{url}\"\nread_timeout_s = 2\n\
             [cameras.ok]\nsource = \"test:?width=160&height=120&fps=30\"\n"
        ),
    );
    let mut args = vec!["--config", &cfg];
    args.extend_from_slice(flags);
    Hub::builder().dir(dir).args(&args).start()
}

/// The seven bars of the SMPTE pattern, left to right, at full intensity.
const BARS: [[u8; 3]; 7] = [
    [255, 255, 255],
    [255, 255, 0],
    [0, 255, 255],
    [0, 255, 0],
    [255, 0, 255],
    [255, 0, 0],
    [0, 0, 255],
];

/// Decodes `jpeg` and checks it is the pattern: its size, and each bar's colour in the
/// middle of the bar (within what H.264 and JPEG lose).
fn assert_shows_the_bars(jpeg: &[u8], width: usize, height: usize) {
    let mut decoder =
        zune_jpeg::JpegDecoder::new(zune_jpeg::zune_core::bytestream::ZCursor::new(jpeg));
    let rgb = decoder.decode().expect("a JPEG");
    assert_eq!(decoder.dimensions(), Some((width, height)));
    let y = height / 4;
    for (i, want) in BARS.iter().enumerate() {
        let x = (2 * i + 1) * width / 14;
        let got = &rgb[(y * width + x) * 3..][..3];
        let off = got
            .iter()
            .zip(want)
            .map(|(g, w)| (i32::from(*g) - i32::from(*w)).abs())
            .max()
            .unwrap();
        assert!(off <= 24, "bar {i} at x={x}: {got:?}, not {want:?}");
    }
}

async fn snapshot(hub: &Hub, name: &str) -> reqwest::Response {
    let res = reqwest::get(hub.url(&format!("/api/cameras/{name}/snapshot.jpg")))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res
}

#[tokio::test]
async fn an_h264_camera_is_live_as_mjpeg_and_snapshots_of_its_own_picture() {
    let camera = RtspCamera::start();
    let hub = hub_with(&camera.url_with_user());
    hub.wait_camera("door", |c| {
        c["state"] == "live" && c["keyframe_interval_ms"].as_u64().is_some()
    })
    .await;
    let status = hub.camera("door").await;
    assert_eq!(status["source"], "rtsp");
    assert_eq!(status["codec"], "h264");
    assert_eq!(
        (status["width"].as_u64(), status["height"].as_u64()),
        (Some(640), Some(360))
    );
    let interval = status["keyframe_interval_ms"].as_u64().unwrap();
    assert!(
        (900..=1100).contains(&interval),
        "a keyframe a second: {interval} ms"
    );
    assert!(status["fps"].as_f64().unwrap() > 20.0, "{status}");
    assert_eq!(hub.camera("ok").await["codec"], "jpeg");

    // Nobody wanted JPEG yet: the snapshot is made of the newest frame there and then,
    // not an old one and not after the next keyframe.
    let newest = hub.camera("door").await["seq"].as_u64().unwrap();
    let res = snapshot(&hub, "door").await;
    assert_eq!(res.headers()["x-camera-online"], "true");
    let seq: u64 = res.headers()["x-frame-seq"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        seq >= newest,
        "snapshot of frame {seq}, the camera was at {newest}"
    );
    assert_shows_the_bars(&res.bytes().await.unwrap(), 640, 360);

    // MJPEG: every part the pattern, the running time moving, sequence numbers rising.
    let mut mjpeg = MjpegReader::open(&hub.url("/api/cameras/door/stream.mjpg")).await;
    let mut parts = Vec::new();
    for _ in 0..10 {
        parts.push(mjpeg.next_part().await);
    }
    for part in &parts {
        assert_shows_the_bars(&part.body, 640, 360);
    }
    let seqs: Vec<u64> = parts
        .iter()
        .map(|p| p.header("x-frame-seq").unwrap().parse().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert_ne!(parts[0].body, parts[9].body, "the running time moves");

    // The decoder's own messages, if any, went into the hub's log.
    assert!(
        !hub.log().iter().any(|l| l.starts_with("[OpenH264]")),
        "{:?}",
        hub.log()
    );
}

#[tokio::test]
async fn a_wrong_password_is_reported_and_retried() {
    let camera = RtspCamera::start();
    let hub = hub_with(&camera.url.replacen("rtsp://", "rtsp://user:wrong@", 1));
    hub.wait_camera("door", |c| {
        c["state"] == "retrying"
            && c["error"]
                .as_str()
                .is_some_and(|e| e.contains("refused access (RTSP 401)"))
    })
    .await;
    assert_eq!(hub.camera("door").await["online"], false);
    let res = snapshot(&hub, "ok").await;
    assert_eq!(res.headers()["x-camera-online"], "true");
}

#[tokio::test]
async fn a_wrong_path_is_reported_and_retried() {
    let camera = RtspCamera::start();
    let url = camera
        .url_with_user()
        .replace("/cam", "/Streaming/Channels/102");
    let hub = hub_with(&url);
    hub.wait_camera("door", |c| {
        c["state"] == "retrying"
            && c["error"]
                == "the camera has no stream at this path (RTSP 404): check the path in the URL"
    })
    .await;
}

#[tokio::test]
async fn a_camera_that_goes_away_is_retried_and_comes_back_live() {
    let camera = RtspCamera::start();
    let hub = hub_with(&camera.url_with_user());
    hub.wait_camera("door", |c| c["state"] == "live").await;
    let mut mjpeg = MjpegReader::open(&hub.url("/api/cameras/door/stream.mjpg")).await;
    assert_shows_the_bars(&mjpeg.next_part().await.body, 640, 360);
    let mut other = MjpegReader::open(&hub.url("/api/cameras/ok/stream.mjpg")).await;

    let options = camera.kill();
    hub.wait_camera("door", |c| {
        c["state"] == "retrying" && c["error"].as_str().is_some_and(|e| !e.is_empty())
    })
    .await;
    // The viewer stays connected and is shown the no-signal picture.
    loop {
        if mjpeg.next_part().await.header("x-frame-seq").is_none() {
            break;
        }
    }
    // The other camera goes on.
    let a = other.next_part().await.body;
    let b = other.next_part().await.body;
    assert_ne!(a, b);

    let mut camera = RtspCamera::with(options);
    hub.wait_camera("door", |c| c["state"] == "live" && c["online"] == true)
        .await;
    // The same viewer sees the camera again.
    seen_again(&mut mjpeg).await;

    // Twice more: the hub's memory stays about where it was after the first time. The
    // bound is loose because the allocator's per-thread arenas still grow over the
    // first reconnections (each decode may run on another blocking thread); a group of
    // pictures or a decoder kept per reconnection would pass it within a few.
    let rss = hub.rss_kib();
    for _ in 0..2 {
        let options = camera.kill();
        hub.wait_camera("door", |c| c["state"] == "retrying").await;
        camera = RtspCamera::with(options);
        hub.wait_camera("door", |c| c["state"] == "live").await;
        seen_again(&mut mjpeg).await;
    }
    let grown = hub.rss_kib().saturating_sub(rss);
    assert!(
        grown < 8192,
        "two reconnections grew the hub by {grown} KiB"
    );
}

/// The `detect_source` lost: the camera stays live with the error, its own video goes
/// on; back, the pictures come again (the substream's, at its size).
#[tokio::test]
async fn a_lost_substream_leaves_the_camera_live_and_comes_back() {
    let main = RtspCamera::start();
    let sub = RtspCamera::with(RtspOptions {
        width: 320,
        height: 180,
        ..RtspOptions::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        &dir,
        &format!(
            "[cameras.door]\nsource = \"{}\"\ndetect_source = \"{}\"\nread_timeout_s = 2\n",
            main.url_with_user(),
            sub.url_with_user()
        ),
    );
    let hub = Hub::builder().dir(dir).args(&["--config", &cfg]).start();
    hub.wait_camera("door", |c| c["state"] == "live").await;
    let mut mjpeg = MjpegReader::open(&hub.url("/api/cameras/door/stream.mjpg")).await;
    assert_shows_the_bars(&mjpeg.next_part().await.body, 320, 180);
    let mut video = Boxes::new(get_raw(&hub, "/api/cameras/door/stream.mp4").await);
    video.fragment().await;

    let options = sub.kill();
    hub.wait_camera("door", |c| {
        c["state"] == "live"
            && c["error"]
                .as_str()
                .is_some_and(|e| e.starts_with("detect_source: "))
    })
    .await;
    // The camera's own video goes on, to its viewers and in the API.
    let seq = hub.camera("door").await["seq"].as_u64().unwrap();
    for _ in 0..30 {
        video.fragment().await;
    }
    assert!(hub.camera("door").await["seq"].as_u64().unwrap() > seq);

    // The pictures stopped at the one shown last.
    let last: u64 = snapshot(&hub, "door").await.headers()["x-frame-seq"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let _sub = RtspCamera::with(options);
    hub.wait_camera("door", |c| c["state"] == "live" && c["error"].is_null())
        .await;
    loop {
        let part = mjpeg.next_part().await;
        if part
            .header("x-frame-seq")
            .is_some_and(|s| s.parse::<u64>().unwrap() > last)
        {
            assert_shows_the_bars(&part.body, 320, 180);
            break;
        }
    }
    let failed = hub.log_lines_with("picture not made");
    assert!(
        failed.is_empty(),
        "every unit of the substream decodes: {failed:?}"
    );
}

/// Reads the viewer until a frame of the camera (not the no-signal picture) comes.
async fn seen_again(mjpeg: &mut MjpegReader) {
    loop {
        let part = mjpeg.next_part().await;
        if part.header("x-frame-seq").is_some() {
            assert_shows_the_bars(&part.body, 640, 360);
            return;
        }
    }
}

#[tokio::test]
async fn an_h265_camera_says_what_it_is_and_is_decoded_for_its_jpeg_views() {
    let camera = RtspCamera::with(RtspOptions {
        codec: "h265",
        ..RtspOptions::default()
    });
    let hub = hub_with(&camera.url_with_user());
    hub.wait_camera("door", |c| c["state"] == "live" && c["codec"] == "h265")
        .await;
    // x265 starts each group of pictures after the first at a CRA picture: a keyframe
    // too, a second after the one before.
    hub.wait_camera("door", |c| c["keyframe_interval_ms"].is_u64())
        .await;
    let status = hub.camera("door").await;
    assert_eq!(status["keyframe_interval_ms"], 1000, "{status}");
    assert_eq!(
        (status["width"].as_u64(), status["height"].as_u64()),
        (Some(640), Some(360))
    );
    assert!(
        status["codec_string"]
            .as_str()
            .unwrap()
            .starts_with("hvc1."),
        "{status}"
    );

    // Decoded like H.264: its JPEG views are the camera's picture.
    assert_shows_the_bars(
        &snapshot(&hub, "door").await.bytes().await.unwrap(),
        640,
        360,
    );
    let mut mjpeg = MjpegReader::open(&hub.url("/api/cameras/door/stream.mjpg")).await;
    assert_shows_the_bars(&mjpeg.next_part().await.body, 640, 360);

    // Its own video plays for those who can: stream.mp4 says hvc1.
    let mut video = Boxes::new(get_raw(&hub, "/api/cameras/door/stream.mp4").await);
    video.next().await;
    let (kind, moov) = video.next().await;
    assert_eq!(&kind, b"moov");
    assert!(
        moov.windows(4).any(|w| w == b"hvc1"),
        "an hvc1 sample entry"
    );
}

/// `GET path` as HTTP/1.0 (so the body is the bytes as sent, not chunked).
async fn get_raw(hub: &Hub, path: &str) -> tokio::net::TcpStream {
    let mut stream = tokio::net::TcpStream::connect(hub.http).await.unwrap();
    let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    stream
}

/// Reads MP4 top-level boxes off a `stream.mp4` response: the HTTP head first, then
/// box by box.
struct Boxes {
    stream: tokio::net::TcpStream,
    buffer: Vec<u8>,
    head_read: bool,
}

impl Boxes {
    fn new(stream: tokio::net::TcpStream) -> Boxes {
        Boxes {
            stream,
            buffer: Vec::new(),
            head_read: false,
        }
    }

    async fn fill(&mut self) {
        let mut chunk = [0u8; 65536];
        let n = tokio::time::timeout(WAIT, self.stream.read(&mut chunk))
            .await
            .expect("the stream goes on")
            .unwrap();
        assert!(n > 0, "the hub ended the stream");
        self.buffer.extend_from_slice(&chunk[..n]);
    }

    /// The next box: its type and bytes.
    async fn next(&mut self) -> ([u8; 4], Vec<u8>) {
        while !self.head_read {
            if let Some(end) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buffer[..end]).to_string();
                assert!(
                    head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
                    "{head}"
                );
                assert!(
                    head.to_ascii_lowercase()
                        .contains("content-type: video/mp4"),
                    "{head}"
                );
                self.buffer.drain(..end + 4);
                self.head_read = true;
            } else {
                self.fill().await;
            }
        }
        loop {
            if self.buffer.len() >= 8 {
                let size = u32::from_be_bytes(self.buffer[..4].try_into().unwrap()) as usize;
                if self.buffer.len() >= size {
                    let kind = self.buffer[4..8].try_into().unwrap();
                    let bytes = self.buffer.drain(..size).collect();
                    return (kind, bytes);
                }
            }
            self.fill().await;
        }
    }

    /// The next fragment: its sequence number (the frame's) and whether it is a keyframe.
    async fn fragment(&mut self) -> (u32, bool) {
        loop {
            let (kind, bytes) = self.next().await;
            if &kind == b"moof" {
                let (moof, _) = MoofBox::decode(&bytes).unwrap();
                let flags = moof.traf_boxes[0].trun_boxes[0].samples[0].flags.unwrap();
                return (
                    moof.mfhd_box.sequence_number,
                    flags.get() & 0x0001_0000 == 0,
                );
            }
        }
    }
}

#[tokio::test]
async fn stream_mp4_is_the_cameras_own_video_and_a_stalled_viewer_skips_to_a_keyframe() {
    // Noise at 40 Mbit/s: the sockets' buffers fill within a second or two.
    let camera = RtspCamera::with(RtspOptions {
        pattern: "snow",
        bitrate: 40_000,
        gop: 15,
        ..RtspOptions::default()
    });
    let hub = hub_with(&camera.url_with_user());
    hub.wait_camera("door", |c| c["state"] == "live").await;

    // ffprobe reads the camera's own H.264 (its High profile) from the endless stream.
    let url = hub.url("/api/cameras/door/stream.mp4");
    let probe = tokio::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-read_intervals",
            "%+1",
            "-count_frames",
            "-select_streams",
            "v:0",
        ])
        .args([
            "-show_entries",
            "stream=codec_name,profile,width,height,nb_read_frames",
        ])
        .args(["-of", "default=noprint_wrappers=1", &url])
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&probe.stdout);
    for want in ["codec_name=h264", "profile=High", "width=640", "height=360"] {
        assert!(
            text.contains(want),
            "{want} in {text} ({})",
            String::from_utf8_lossy(&probe.stderr)
        );
    }
    let frames: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("nb_read_frames="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(frames >= 15, "{frames} frames in a second");

    // Viewers that stop reading: the hub holds nothing for them beyond their sockets.
    let rss_before = hub.rss_kib();
    let mut stalled = Vec::new();
    for _ in 0..20 {
        stalled.push(get_raw(&hub, "/api/cameras/door/stream.mp4").await);
    }
    let mut watched = Boxes::new(get_raw(&hub, "/api/cameras/door/stream.mp4").await);
    let (kind, _) = watched.next().await;
    assert_eq!(&kind, b"ftyp");
    let (first, keyframe) = watched.fragment().await;
    assert!(keyframe, "the stream starts at a keyframe");
    // Five seconds of video go by (ten groups of pictures) while nobody reads.
    let until = u64::from(first) + 150;
    hub.wait_camera("door", |c| c["seq"].as_u64() >= Some(until))
        .await;
    let grown = hub.rss_kib().saturating_sub(rss_before);
    assert!(
        grown < 16 * 1024,
        "21 stalled viewers grew the hub by {grown} KiB"
    );

    // Reading again: what was in the socket, then a jump to a newer keyframe.
    let mut last = first;
    loop {
        let (seq, keyframe) = watched.fragment().await;
        if seq > last + 1 {
            assert!(
                keyframe,
                "after falling behind, fragment {seq} is a keyframe"
            );
            assert!(
                u64::from(seq) + 30 >= until,
                "skipped to a recent keyframe: {seq}"
            );
            break;
        }
        assert_eq!(seq, last + 1, "fragments in order until the skip");
        last = seq;
    }
    // The skip is counted, for Prometheus.
    let skipped = hub
        .metric("remotecam_viewer_skipped_frames_total{camera=\"door\",kind=\"mp4\"}")
        .await;
    assert!(skipped > Some(0.0), "{skipped:?}");
}

#[tokio::test]
async fn the_decoder_runs_only_while_someone_wants_jpeg() {
    let camera = RtspCamera::start();
    let hub = hub_with(&camera.url_with_user());
    hub.wait_camera("door", |c| c["state"] == "live").await;
    assert_eq!(
        hub.camera("door").await["decoding"],
        false,
        "nobody wants JPEG"
    );
    // A video viewer wants none either.
    let mut video = Boxes::new(get_raw(&hub, "/api/cameras/door/stream.mp4").await);
    video.fragment().await;
    assert_eq!(hub.camera("door").await["decoding"], false);

    let mut mjpeg = MjpegReader::open(&hub.url("/api/cameras/door/stream.mjpg")).await;
    mjpeg.next_part().await;
    assert_eq!(hub.camera("door").await["decoding"], true);
    drop(mjpeg);
    // It stops 10 s after the last JPEG viewer left (the bound on waits is 20 s).
    hub.wait_camera("door", |c| c["decoding"] == false).await;
    video.fragment().await;
}

#[tokio::test]
async fn a_camera_beyond_the_frame_limits_is_refused_with_the_flag_to_change() {
    let camera = RtspCamera::start();
    let hub = hub_with_flags(&camera.url_with_user(), &["--max-frame-pixels", "100000"]);
    hub.wait_camera("door", |c| {
        c["state"] == "retrying"
            && c["error"].as_str().is_some_and(|e| {
                e.contains("640x360") && e.contains("100000 pixels (--max-frame-pixels)")
            })
    })
    .await;
    // The relay cuts the unit while its packets come (tests/rtsp_bad_input.rs).
    let hub = hub_with_flags(&camera.url_with_user(), &["--max-frame-bytes", "2000"]);
    hub.wait_camera("door", |c| {
        c["state"] == "retrying"
            && c["error"].as_str().is_some_and(|e| {
                e.contains("access unit above the limit of 2000 bytes (--max-frame-bytes)")
            })
    })
    .await;
}

#[tokio::test]
async fn rtp_over_udp_is_asked_for_in_the_urls_fragment() {
    let camera = RtspCamera::start();
    let hub = hub_with(&format!("{}#transport=udp", camera.url_with_user()));
    hub.wait_camera("door", |c| {
        c["state"] == "live" && c["seq"].as_u64() > Some(30)
    })
    .await;
    let mut mjpeg = MjpegReader::open(&hub.url("/api/cameras/door/stream.mjpg")).await;
    assert_shows_the_bars(&mjpeg.next_part().await.body, 640, 360);
    // The RTP comes in on UDP sockets of the hub's (a hub on TCP has none).
    assert!(udp_sockets(hub.pid()) >= 1, "the hub receives RTP over UDP");
}

#[tokio::test]
async fn a_10_bit_h265_camera_is_decoded_for_its_jpeg_views() {
    let camera = RtspCamera::with(RtspOptions {
        codec: "h265",
        bits: 10,
        ..RtspOptions::default()
    });
    let hub = hub_with(&camera.url_with_user());
    hub.wait_camera("door", |c| c["state"] == "live").await;
    // Main 10: the codec string's profile is 2.
    let status = hub.camera("door").await;
    assert!(
        status["codec_string"]
            .as_str()
            .unwrap()
            .starts_with("hvc1.2."),
        "{status}"
    );
    assert_shows_the_bars(
        &snapshot(&hub, "door").await.bytes().await.unwrap(),
        640,
        360,
    );
    let status = hub.camera("door").await;
    assert_eq!(status["error"], serde_json::Value::Null, "{status}");
}

/// How many UDP sockets process `pid` has open (its descriptors against /proc/net/udp).
fn udp_sockets(pid: u32) -> usize {
    let inodes: std::collections::HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().to_string();
            Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_owned())
        })
        .collect();
    ["/proc/net/udp", "/proc/net/udp6"]
        .iter()
        .filter_map(|t| std::fs::read_to_string(t).ok())
        .flat_map(|t| {
            t.lines()
                .skip(1)
                .filter_map(|l| l.split_whitespace().nth(9).map(str::to_owned))
                .collect::<Vec<_>>()
        })
        .filter(|inode| inodes.contains(inode))
        .count()
}

/// A self-signed certificate for 127.0.0.1, as cameras make their own: its PEM file
/// (certificate and key) in `dir` and its SHA-256 fingerprint in hex.
fn camera_certificate(dir: &std::path::Path) -> (std::path::PathBuf, String) {
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let path = dir.join("camera.pem");
    let pem = format!("{}{}", made.cert.pem(), made.signing_key.serialize_pem());
    std::fs::write(&path, pem).unwrap();
    let print = ring::digest::digest(&ring::digest::SHA256, made.cert.der());
    let hex = print.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    (path, hex)
}

fn rtsps_camera(pem: std::path::PathBuf) -> RtspCamera {
    RtspCamera::with(RtspOptions {
        tls_pem: Some(pem),
        ..RtspOptions::default()
    })
}

#[tokio::test]
async fn an_rtsps_camera_pinned_by_its_certificate_is_live() {
    let dir = tempfile::tempdir().unwrap();
    let (pem, print) = camera_certificate(dir.path());
    let camera = rtsps_camera(pem);
    assert!(camera.url.starts_with("rtsps://"), "{}", camera.url);
    let hub = hub_with(&format!("{}#fingerprint={print}", camera.url_with_user()));
    hub.wait_camera("door", |c| c["state"] == "live").await;
    let mut mjpeg = MjpegReader::open(&hub.url("/api/cameras/door/stream.mjpg")).await;
    seen_again(&mut mjpeg).await;
}

#[tokio::test]
async fn an_rtsps_camera_with_a_certificate_nobody_signed_is_refused_with_its_fingerprint() {
    let dir = tempfile::tempdir().unwrap();
    let (pem, print) = camera_certificate(dir.path());
    let camera = rtsps_camera(pem);
    let hub = hub_with(&camera.url_with_user());
    let says = format!("add #fingerprint={print} to the URL");
    hub.wait_camera("door", |c| {
        c["state"] == "retrying"
            && c["error"].as_str().is_some_and(|e| {
                e.starts_with("the camera's TLS certificate is not trusted") && e.contains(&says)
            })
    })
    .await;
    // Another certificate's fingerprint is refused too, naming the one shown.
    let other = "00".repeat(32);
    let hub = hub_with(&format!("{}#fingerprint={other}", camera.url_with_user()));
    hub.wait_camera("door", |c| {
        c["state"] == "retrying"
            && c["error"]
                .as_str()
                .is_some_and(|e| e.contains(&format!("its SHA-256 fingerprint is {print}")))
    })
    .await;
}
