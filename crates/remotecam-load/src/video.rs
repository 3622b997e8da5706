//! Viewers of a camera's video: `stream.mp4` over HTTP (a fragment per frame) and RTSP
//! (RTP over TCP, a frame per marked packet), neither copying what it skips.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::{ViewerResult, Window, find};

/// Reads a fragmented MP4 stream with HTTP/1.0, counting its fragments (`moof` boxes)
/// and never copying what they hold.
pub(super) async fn mp4_viewer(
    addr: String,
    path: String,
    window: Arc<Window>,
    mut stop: watch::Receiver<bool>,
) -> ViewerResult {
    let mut result = ViewerResult {
        kind: "mp4",
        ..Default::default()
    };
    let run = read_mp4(&addr, &path, &window, &mut result.frames);
    tokio::select! {
        _ = stop.changed() => {}
        r = run => if let Err(e) = r { result.error = Some(e.to_string()) },
    }
    result
}

async fn read_mp4(addr: &str, path: &str, window: &Window, frames: &mut u64) -> anyhow::Result<()> {
    let mut s = TcpStream::connect(&addr).await?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await?;
    let mut buf = BytesMut::with_capacity(512 * 1024);
    let mut headers_done = false;
    // Bytes of the current box still to skip.
    let mut skip: usize = 0;
    loop {
        if skip > 0 {
            let n = skip.min(buf.len());
            buf.advance(n);
            skip -= n;
        }
        if skip == 0 {
            if !headers_done {
                if let Some(end) = find(&buf, b"\r\n\r\n") {
                    let head = std::str::from_utf8(&buf[..end]).unwrap_or("");
                    if !head.starts_with("HTTP/1.") || !head[9..].starts_with("200") {
                        anyhow::bail!("server answered: {}", head.lines().next().unwrap_or(""));
                    }
                    headers_done = true;
                    buf.advance(end + 4);
                    continue;
                }
            } else if buf.len() >= 8 {
                let size = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
                if size < 8 {
                    anyhow::bail!("a box of {size} bytes");
                }
                if &buf[4..8] == b"moof" && window.contains(Instant::now()) {
                    *frames += 1;
                }
                skip = size;
                continue;
            }
        }
        if buf.capacity() - buf.len() < 64 * 1024 {
            buf.reserve(256 * 1024);
        }
        if s.read_buf(&mut buf).await? == 0 {
            anyhow::bail!("stream ended");
        }
    }
}

/// Plays an RTSP URL over TCP (DESCRIBE, SETUP, PLAY), counting the frames (packets
/// with the marker bit) and each frame's latency: when it arrived against when it was
/// captured, by the hub's sender reports (the RTP time of a wall-clock time).
pub(super) async fn rtsp_viewer(
    url: String,
    window: Arc<Window>,
    mut stop: watch::Receiver<bool>,
) -> ViewerResult {
    let mut result = ViewerResult {
        kind: "rtsp",
        ..Default::default()
    };
    let run = read_rtsp(&url, &window, &mut result);
    tokio::select! {
        _ = stop.changed() => {}
        r = run => if let Err(e) = r { result.error = Some(e.to_string()) },
    }
    result
}

async fn read_rtsp(url: &str, window: &Window, result: &mut ViewerResult) -> anyhow::Result<()> {
    let rest = url
        .strip_prefix("rtsp://")
        .ok_or_else(|| anyhow::anyhow!("not an rtsp:// URL"))?;
    let addr = rest.split(['/', '?']).next().unwrap_or(rest);
    let mut s = TcpStream::connect(addr).await?;
    let mut buf = BytesMut::with_capacity(256 * 1024);
    let describe = request(
        &mut s,
        &mut buf,
        &format!("DESCRIBE {url} RTSP/1.0\r\nCSeq: 1\r\n"),
    )
    .await?;
    let base = header(&describe, "Content-Base").unwrap_or_else(|| format!("{url}/"));
    let setup = format!(
        "SETUP {base}trackID=0 RTSP/1.0\r\nCSeq: 2\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n"
    );
    let setup = request(&mut s, &mut buf, &setup).await?;
    let session = header(&setup, "Session").unwrap_or_default();
    let session = session.split(';').next().unwrap_or("");
    let play = format!("PLAY {base} RTSP/1.0\r\nCSeq: 3\r\nSession: {session}\r\n");
    request(&mut s, &mut buf, &play).await?;
    // The newest sender report: (wall-clock time, RTP time).
    let mut report: Option<(SystemTime, u32)> = None;
    loop {
        while buf.len() >= 4 && buf[0] == b'$' {
            let len = usize::from(u16::from_be_bytes([buf[2], buf[3]]));
            if buf.len() < 4 + len {
                break;
            }
            let channel = buf[1];
            let packet = &buf[4..4 + len];
            if channel == 1 && packet.len() >= 20 && packet[1] == 200 {
                let ntp = u64::from_be_bytes(packet[8..16].try_into()?);
                let rtp = u32::from_be_bytes(packet[16..20].try_into()?);
                report = Some((from_ntp(ntp), rtp));
            } else if channel == 0 && packet.len() >= 12 && packet[1] & 0x80 != 0 {
                let now = Instant::now();
                if window.contains(now) {
                    result.frames += 1;
                    if let Some((at, rtp)) = report {
                        let ts = u32::from_be_bytes(packet[4..8].try_into()?);
                        let ticks = ts.wrapping_sub(rtp) as i32;
                        let captured = at + Duration::from_micros(ticks.max(0) as u64 * 100 / 9);
                        if let Ok(late) = SystemTime::now().duration_since(captured) {
                            result.latencies_ms.push(late.as_secs_f64() * 1e3);
                        }
                    }
                }
            }
            buf.advance(4 + len);
        }
        if !buf.is_empty() && buf[0] != b'$' {
            anyhow::bail!("not an interleaved packet");
        }
        if buf.capacity() - buf.len() < 64 * 1024 {
            buf.reserve(256 * 1024);
        }
        if s.read_buf(&mut buf).await? == 0 {
            anyhow::bail!("stream ended");
        }
    }
}

/// Sends a request (its line and headers, without the blank line) and reads the
/// response's head and body; an error unless it is `200`.
async fn request(s: &mut TcpStream, buf: &mut BytesMut, head: &str) -> anyhow::Result<String> {
    s.write_all(format!("{head}\r\n").as_bytes()).await?;
    loop {
        if let Some(end) = find(buf, b"\r\n\r\n") {
            let text = String::from_utf8_lossy(&buf[..end]).into_owned();
            let len: usize = header(&text, "Content-Length").map_or(Ok(0), |l| l.parse())?;
            if buf.len() >= end + 4 + len {
                buf.advance(end + 4 + len);
                if !text.starts_with("RTSP/1.0 200") {
                    anyhow::bail!("{}", text.lines().next().unwrap_or(""));
                }
                return Ok(text);
            }
        }
        if s.read_buf(buf).await? == 0 {
            anyhow::bail!("closed before the answer");
        }
    }
}

fn header(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_owned())
    })
}

/// A 64-bit NTP timestamp as a wall-clock time.
fn from_ntp(ntp: u64) -> SystemTime {
    const UNIX_TO_NTP: u64 = 2_208_988_800;
    let secs = (ntp >> 32).saturating_sub(UNIX_TO_NTP);
    let nanos = ((ntp & 0xFFFF_FFFF) * 1_000_000_000) >> 32;
    UNIX_EPOCH + Duration::new(secs, nanos as u32)
}
