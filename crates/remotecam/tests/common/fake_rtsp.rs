//! An RTSP camera that misbehaves on purpose: it answers DESCRIBE, SETUP and PLAY as a
//! camera does (RTP interleaved in the connection), then sends what the test says:
//! nothing, garbage, H.264 without its parameter sets, real H.264 that changes its
//! picture size, or an access unit that never ends; or it answers DESCRIBE with a
//! description that never ends. The H.264 is made by ffmpeg (libx264) from its test source.

use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the camera sends after PLAY.
#[derive(Clone)]
pub enum Sends {
    /// Nothing at all: a stalled camera.
    Nothing,
    /// Interleaved packets of random bytes.
    Garbage,
    /// H.264 slices with their SPS and PPS left out (and none in the SDP).
    NoParameterSets(Vec<Vec<Vec<u8>>>),
    /// These access units (NAL units without start codes), in a loop, at 30 fps.
    Video(Vec<Vec<Vec<u8>>>),
    /// [`Sends::Video`] whose clock jumps 6 hours ahead after its first 1.5 s.
    ClockJumping(Vec<Vec<Vec<u8>>>),
    /// FU-A fragments of one NAL unit, as fast as they are taken, never its last.
    EndlessUnit,
    /// A DESCRIBE answer claiming 4 GB of session description, and sending it.
    EndlessDescription,
    /// The first of these access units (a keyframe), then 1,400-byte SEI NAL units, each
    /// marked as a unit's end with a timestamp of its own, as fast as they are taken,
    /// with a sender report every 0.5 s: a unit that never ends, to retina.
    SeiFlood(Vec<Vec<Vec<u8>>>),
    /// The first of these access units (a keyframe), then one-byte P slices, each a unit
    /// of its own, as fast as they are taken: millions of tiny units.
    TinyUnits(Vec<Vec<Vec<u8>>>),
    /// A session description whose parameter sets are 900 KB of nonsense, then nothing.
    HugeParameterSets,
    /// The first of these access units, then units that show nothing (a delimiter and
    /// filler data, marked) at 100 a second, with a sender report every 0.5 s.
    NoPictures(Vec<Vec<Vec<u8>>>),
}

/// Access units of an H.264 stream of `width` x `height`, `frames` long, a keyframe
/// every 15 frames with its SPS and PPS before it, as ffmpeg's libx264 makes it.
pub fn h264(dir: &Path, width: u32, height: u32, frames: u32) -> Vec<Vec<Vec<u8>>> {
    h264_gop(dir, width, height, frames, 15)
}

/// [`h264`] with a keyframe every `gop` frames.
pub fn h264_gop(dir: &Path, width: u32, height: u32, frames: u32, gop: u32) -> Vec<Vec<Vec<u8>>> {
    h264_with(dir, (width, height, frames), &["-g", &gop.to_string()])
}

/// [`h264`] whose SPS has room for `refs` reference frames, made fast (x264's
/// ultrafast preset), a keyframe every 10 frames.
pub fn h264_refs(dir: &Path, width: u32, height: u32, frames: u32, refs: u32) -> Vec<Vec<Vec<u8>>> {
    let refs = refs.to_string();
    let args = ["-preset", "ultrafast", "-refs", &refs, "-g", "10"];
    h264_with(dir, (width, height, frames), &args)
}

/// Large access units: `frames` keyframes of noise of `width` x `height`, lossless (a
/// 2880x1620 one is about 7 MB).
pub fn h264_noise(dir: &Path, width: u32, height: u32, frames: u32) -> Vec<Vec<Vec<u8>>> {
    let source = format!("nullsrc=s={width}x{height}:r=30,geq=lum='random(1)*255':cb=128:cr=128");
    let args = ["-preset", "ultrafast", "-qp", "0", "-g", "1"];
    h264_of(dir, &source, frames, &args)
}

/// The access units of `frames` frames of `width` x `height` made by ffmpeg's libx264
/// with `args`.
fn h264_with(
    dir: &Path,
    (width, height, frames): (u32, u32, u32),
    args: &[&str],
) -> Vec<Vec<Vec<u8>>> {
    let source = format!("testsrc2=size={width}x{height}:rate=30");
    h264_of(dir, &source, frames, args)
}

/// The access units of `frames` frames of the lavfi `source` made by ffmpeg's libx264
/// with `args`.
fn h264_of(dir: &Path, source: &str, frames: u32, args: &[&str]) -> Vec<Vec<Vec<u8>>> {
    let name: String = format!("{source}{}", args.join(""))
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let path = dir.join(format!("{name}.h264"));
    let status = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i", source])
        .args(["-frames:v", &frames.to_string(), "-c:v", "libx264"])
        .args(args)
        .args([
            "-bf",
            "0",
            "-x264-params",
            "aud=1:repeat-headers=1",
            "-f",
            "h264",
        ])
        .arg(&path)
        .status()
        .expect("run ffmpeg");
    assert!(status.success());
    let stream = std::fs::read(&path).unwrap();
    let nals = shiguredo_mp4::bitstream::h264::parse_annexb_nal_units(&stream).unwrap();
    // An access unit delimiter (type 9) starts each unit.
    let mut units: Vec<Vec<Vec<u8>>> = Vec::new();
    for nal in nals {
        if nal.data[0] & 0x1F == 9 || units.is_empty() {
            units.push(Vec::new());
        }
        units.last_mut().unwrap().push(nal.data.to_vec());
    }
    units
}

/// Starts the camera on a free port; its URL is `rtsp://127.0.0.1:PORT/cam`.
pub async fn fake_rtsp_camera(sends: Sends) -> (String, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("rtsp://{}/cam", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(session(stream, sends.clone()));
        }
    });
    (url, task)
}

async fn session(mut stream: TcpStream, sends: Sends) {
    let mut buffer = Vec::new();
    loop {
        let Some(request) = read_request(&mut stream, &mut buffer).await else {
            return;
        };
        let method = request.split_whitespace().next().unwrap_or("").to_owned();
        let cseq = request
            .lines()
            .find_map(|l| l.strip_prefix("CSeq:").or_else(|| l.strip_prefix("Cseq:")))
            .unwrap_or("1")
            .trim()
            .to_owned();
        let url = request.split_whitespace().nth(1).unwrap_or("").to_owned();
        let (headers, body) = match method.as_str() {
            "OPTIONS" => (
                "Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN\r\n".to_owned(),
                String::new(),
            ),
            "DESCRIBE" => {
                let sprop = match sends {
                    Sends::HugeParameterSets => {
                        format!(";sprop-parameter-sets={}", "Z0KAHpWgLA".repeat(90_000))
                    }
                    _ => String::new(),
                };
                let sdp = format!(
                    "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=fake\r\nt=0 0\r\n\
                     m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\
                     a=fmtp:96 packetization-mode=1{sprop}\r\na=control:track1\r\n"
                );
                (
                    format!("Content-Type: application/sdp\r\nContent-Base: {url}/\r\n"),
                    sdp,
                )
            }
            "SETUP" => (
                "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\nSession: 12345678\r\n"
                    .to_owned(),
                String::new(),
            ),
            "PLAY" => ("Session: 12345678\r\n".to_owned(), String::new()),
            _ => ("Session: 12345678\r\n".to_owned(), String::new()),
        };
        let endless = method == "DESCRIBE" && matches!(sends, Sends::EndlessDescription);
        let length = if endless { 4_000_000_000 } else { body.len() };
        let response = format!(
            "RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\n{headers}Content-Length: {length}\r\n\r\n{body}"
        );
        if stream.write_all(response.as_bytes()).await.is_err() {
            return;
        }
        if endless {
            let line = "a=x-padding:0123456789abcdef\r\n".repeat(1000);
            while stream.write_all(line.as_bytes()).await.is_ok() {}
            return;
        }
        if method == "PLAY" {
            play(stream, sends).await;
            return;
        }
    }
}

/// One RTSP request's head (and nothing of a body: the client sends none here).
async fn read_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<String> {
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).to_string();
            buffer.drain(..end + 4);
            return Some(head);
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

async fn play(mut stream: TcpStream, sends: Sends) {
    let units = match sends {
        Sends::Nothing | Sends::HugeParameterSets => return std::future::pending().await,
        Sends::Garbage => {
            let mut x: u32 = 0x1234_5678;
            loop {
                let mut packet = vec![b'$', 0, 0x02, 0x00];
                for _ in 0..512 {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    packet.push(x as u8);
                }
                if stream.write_all(&packet).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(33)).await;
            }
        }
        Sends::NoParameterSets(units) => units
            .into_iter()
            .map(|u| {
                u.into_iter()
                    .filter(|n| !matches!(n[0] & 0x1F, 7 | 8))
                    .collect()
            })
            .collect(),
        Sends::Video(units) => units,
        Sends::ClockJumping(units) => {
            let ahead = 6 * 3600 * 90_000;
            return video(stream, &units, |i| {
                (i as u32)
                    .wrapping_mul(3000)
                    .wrapping_add(if i >= 45 { ahead } else { 0 })
            })
            .await;
        }
        Sends::EndlessUnit => {
            // An FU-A start (of an IDR slice), then middles, all of one timestamp.
            let mut seq: u16 = 0;
            let mut fragment = vec![0x7C, 0x85];
            fragment.resize(1400, 0x55);
            loop {
                let packet = interleaved(seq, 9000, false, &fragment);
                fragment[1] = 0x05;
                seq = seq.wrapping_add(1);
                if stream.write_all(&packet).await.is_err() {
                    return;
                }
            }
        }
        Sends::EndlessDescription => unreachable!("it never gets to PLAY"),
        Sends::SeiFlood(units) => {
            let mut sei = vec![0x06];
            sei.resize(1400, 0x55);
            return flood(stream, &units[0], &[sei], None).await;
        }
        Sends::TinyUnits(units) => {
            return flood(stream, &units[0], &[vec![0x41, 0x9A]], None).await;
        }
        Sends::NoPictures(units) => {
            let nothing = [vec![0x09, 0xF0], vec![0x0C, 0xFF, 0xFF, 0x80]];
            let pace = Duration::from_millis(10);
            return flood(stream, &units[0], &nothing, Some(pace)).await;
        }
    };
    video(stream, &units, |i| (i as u32).wrapping_mul(3000)).await;
}

/// `units` in a loop at 30 fps, the `i`th at the RTP time `clock(i)`.
async fn video(mut stream: TcpStream, units: &[Vec<Vec<u8>>], clock: impl Fn(usize) -> u32) {
    let mut seq: u16 = 0;
    let mut frame = tokio::time::interval(Duration::from_millis(33));
    for (i, unit) in units.iter().cycle().enumerate() {
        frame.tick().await;
        let timestamp = clock(i);
        for (n, nal) in unit.iter().enumerate() {
            let last = n + 1 == unit.len();
            for payload in packetize(nal) {
                let packet = interleaved(seq, timestamp, last && payload.1, &payload.0);
                seq = seq.wrapping_add(1);
                if stream.write_all(&packet).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// `first` (an access unit), then `then` as an access unit over and over, its last NAL
/// unit marked, each time with a new timestamp, every `pace` (or as fast as taken),
/// and an RTCP sender report on channel 1 every 0.5 s.
async fn flood(mut stream: TcpStream, first: &[Vec<u8>], then: &[Vec<u8>], pace: Option<Duration>) {
    let mut seq: u16 = 0;
    let mut send = async |stream: &mut TcpStream, unit: &[Vec<u8>], timestamp: u32| {
        for (n, nal) in unit.iter().enumerate() {
            for payload in packetize(nal) {
                let last = n + 1 == unit.len() && payload.1;
                let packet = interleaved(seq, timestamp, last, &payload.0);
                seq = seq.wrapping_add(1);
                stream.write_all(&packet).await?;
            }
        }
        std::io::Result::Ok(())
    };
    if send(&mut stream, first, 0).await.is_err() {
        return;
    }
    let mut report = tokio::time::Instant::now();
    for i in 1u32.. {
        if let Some(pace) = pace {
            tokio::time::sleep(pace).await;
        }
        if send(&mut stream, then, i.wrapping_mul(3000)).await.is_err() {
            return;
        }
        if report.elapsed() >= Duration::from_millis(500) {
            report = tokio::time::Instant::now();
            let mut sr = vec![b'$', 1, 0, 28, 0x80, 200, 0, 6];
            sr.extend_from_slice(&0x0bad_cafe_u32.to_be_bytes());
            sr.resize(32, 0);
            if stream.write_all(&sr).await.is_err() {
                return;
            }
        }
    }
}

/// An RTP packet of type 96 on channel 0, as it goes in the RTSP connection.
fn interleaved(seq: u16, timestamp: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
    let mut rtp = vec![0x80, if marker { 0x80 | 96 } else { 96 }];
    rtp.extend_from_slice(&seq.to_be_bytes());
    rtp.extend_from_slice(&timestamp.to_be_bytes());
    rtp.extend_from_slice(&0x0bad_cafe_u32.to_be_bytes());
    rtp.extend_from_slice(payload);
    let mut packet = vec![b'$', 0];
    packet.extend_from_slice(&(rtp.len() as u16).to_be_bytes());
    packet.extend_from_slice(&rtp);
    packet
}

/// RTP payloads for one NAL unit (RFC 6184): whole, or FU-A fragments of 1200 bytes;
/// with whether each is the NAL unit's last.
fn packetize(nal: &[u8]) -> Vec<(Vec<u8>, bool)> {
    if nal.len() <= 1200 {
        return vec![(nal.to_vec(), true)];
    }
    let (header, body) = (nal[0], &nal[1..]);
    let chunks: Vec<&[u8]> = body.chunks(1200).collect();
    chunks
        .iter()
        .enumerate()
        .map(|(i, chunk)| {
            let start = if i == 0 { 0x80 } else { 0 };
            let end = if i + 1 == chunks.len() { 0x40 } else { 0 };
            let mut p = vec![(header & 0xE0) | 28, start | end | (header & 0x1F)];
            p.extend_from_slice(chunk);
            (p, i + 1 == chunks.len())
        })
        .collect()
}
