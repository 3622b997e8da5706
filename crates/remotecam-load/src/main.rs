//! `remotecam-load`: a load generator for the hub.
//!
//! Publishes N cameras from real JPEG files at a chosen rate over the publish WebSocket,
//! opens M MJPEG and K WebSocket viewers per camera, and after a warm-up reports over a
//! measuring window: per-viewer frame rate (min/median), publish-to-receive latency
//! (p50/p99, from the frame sequence numbers), and the CPU and peak memory of a process
//! (`--pid`, the hub, or another MJPEG server for comparison with `--mjpeg-url`).
//! With `--mp4 N --mp4-url URL` it opens N viewers of an RTSP camera's `stream.mp4`
//! (fragmented MP4, a fragment per frame: their frame rate is fragments per second),
//! and with `--rtsp N --rtsp-url URL` N RTSP clients (RTP over TCP; their latency from
//! the hub's sender reports, the capture time of each frame).
//!
//! It shares the machine with what it measures; the report says how much CPU it used
//! itself, so the reader can judge.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::{Buf, Bytes, BytesMut};
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

mod video;

#[derive(Debug, Parser)]
#[command(
    name = "remotecam-load",
    about = "Load generator for the remotecam hub"
)]
struct Args {
    /// The hub's base URL (plain HTTP).
    #[arg(long, default_value = "http://127.0.0.1:8100")]
    hub: String,
    /// A directory of JPEG files, sent in name order, over and over.
    #[arg(long, required_unless_present_any = ["mjpeg_url", "mp4_url", "rtsp_url"])]
    frames: Option<PathBuf>,
    /// Cameras to publish (0: publish nothing, only view --mjpeg-url or --mp4-url).
    #[arg(long, default_value_t = 1)]
    cameras: usize,
    /// Frames per second per camera.
    #[arg(long, default_value_t = 30.0)]
    fps: f64,
    /// MJPEG viewers per camera.
    #[arg(long, default_value_t = 0)]
    mjpeg: usize,
    /// WebSocket viewers per camera.
    #[arg(long, default_value_t = 0)]
    ws: usize,
    /// Open the --mjpeg viewers on this URL instead of on the published cameras (e.g. a
    /// camera fed by another publisher, or another server restreaming it, for comparison).
    /// No latency is measured then; --cameras may be 0.
    #[arg(long)]
    mjpeg_url: Option<String>,
    /// Viewers of --mp4-url (an RTSP camera's `stream.mp4`).
    #[arg(long, default_value_t = 0)]
    mp4: usize,
    /// The fragmented MP4 stream the --mp4 viewers read.
    #[arg(long)]
    mp4_url: Option<String>,
    /// RTSP clients of --rtsp-url.
    #[arg(long, default_value_t = 0)]
    rtsp: usize,
    /// The `rtsp://` URL the --rtsp clients play (`?token=` if the hub needs one).
    #[arg(long)]
    rtsp_url: Option<String>,
    /// Process to measure CPU time and memory of (the hub, or the server of --mjpeg-url).
    #[arg(long)]
    pid: Option<u32>,
    /// Seconds before measuring.
    #[arg(long, default_value_t = 3.0)]
    warmup: f64,
    /// Seconds of measuring.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Access token, if the hub needs one.
    #[arg(long)]
    token: Option<String>,
    /// Camera name prefix; cameras are PREFIX-0, PREFIX-1, ...
    #[arg(long, default_value = "load")]
    prefix: String,
    /// Print the report as one JSON object too.
    #[arg(long)]
    json: bool,
}

/// Send times of one camera's frames, by sequence number (modulo the ring size).
struct SendTimes {
    start: Instant,
    ring: Vec<AtomicU64>,
    first_seq: AtomicU64,
}

const RING: usize = 1 << 16;

impl SendTimes {
    fn new(start: Instant) -> SendTimes {
        SendTimes {
            start,
            ring: (0..RING).map(|_| AtomicU64::new(0)).collect(),
            first_seq: AtomicU64::new(0),
        }
    }

    fn record(&self, index: u64, at: Instant) {
        let ns = at.duration_since(self.start).as_nanos() as u64;
        self.ring[index as usize % RING].store(ns, Ordering::Relaxed);
    }

    /// When the frame with hub sequence number `seq` was sent.
    fn sent(&self, seq: u64) -> Option<Instant> {
        let first = self.first_seq.load(Ordering::Relaxed);
        if first == 0 || seq < first {
            return None;
        }
        let ns = self.ring[(seq - first) as usize % RING].load(Ordering::Relaxed);
        (ns > 0).then(|| self.start + Duration::from_nanos(ns))
    }
}

#[derive(Debug, Default)]
struct ViewerResult {
    kind: &'static str,
    frames: u64,
    latencies_ms: Vec<f64>,
    error: Option<String>,
}

struct Window {
    open: Instant,
    close: Instant,
}

impl Window {
    fn contains(&self, t: Instant) -> bool {
        t >= self.open && t < self.close
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let frames = match (&args.frames, args.cameras) {
        (_, 0) => Vec::new(),
        (Some(dir), _) => load_frames(dir)?,
        (None, _) => bail!("--frames is needed to publish cameras"),
    };
    let host = args
        .hub
        .strip_prefix("http://")
        .context("--hub must be an http:// URL")?
        .trim_end_matches('/')
        .to_owned();
    let start = Instant::now();
    let window = Arc::new(Window {
        open: start + Duration::from_secs_f64(args.warmup),
        close: start + Duration::from_secs_f64(args.warmup + args.duration),
    });
    let (stop_tx, stop_rx) = watch::channel(false);

    let mut publishers = Vec::new();
    let mut times = Vec::new();
    for i in 0..args.cameras {
        let name = format!("{}-{i}", args.prefix);
        let t = Arc::new(SendTimes::new(start));
        times.push(Arc::clone(&t));
        let url = with_token(
            &format!("ws://{host}/api/cameras/{name}/publish"),
            &args.token,
        );
        let ready = publish(url, frames.clone(), args.fps, t, stop_rx.clone()).await?;
        publishers.push(ready);
    }

    let mut viewers = Vec::new();
    if let Some(url) = &args.mjpeg_url {
        let rest = url
            .strip_prefix("http://")
            .context("--mjpeg-url must be an http:// URL")?;
        let (addr, path) = rest.split_once('/').unwrap_or((rest, ""));
        for _ in 0..args.mjpeg {
            viewers.push(tokio::spawn(mjpeg_viewer(
                addr.to_owned(),
                format!("/{path}"),
                None,
                Arc::clone(&window),
                stop_rx.clone(),
            )));
        }
    }
    if let Some(url) = &args.mp4_url {
        let rest = url
            .strip_prefix("http://")
            .context("--mp4-url must be an http:// URL")?;
        let (addr, path) = rest.split_once('/').unwrap_or((rest, ""));
        for _ in 0..args.mp4 {
            viewers.push(tokio::spawn(video::mp4_viewer(
                addr.to_owned(),
                format!("/{path}"),
                Arc::clone(&window),
                stop_rx.clone(),
            )));
        }
    }
    if let Some(url) = &args.rtsp_url {
        for _ in 0..args.rtsp {
            viewers.push(tokio::spawn(video::rtsp_viewer(
                url.clone(),
                Arc::clone(&window),
                stop_rx.clone(),
            )));
        }
    }
    for (i, t) in times.iter().enumerate() {
        let name = format!("{}-{i}", args.prefix);
        if args.mjpeg_url.is_none() {
            for _ in 0..args.mjpeg {
                let path = with_token(&format!("/api/cameras/{name}/stream.mjpg"), &args.token);
                viewers.push(tokio::spawn(mjpeg_viewer(
                    host.clone(),
                    path,
                    Some(Arc::clone(t)),
                    Arc::clone(&window),
                    stop_rx.clone(),
                )));
            }
        }
        for _ in 0..args.ws {
            let url = with_token(&format!("ws://{host}/api/cameras/{name}/ws"), &args.token);
            viewers.push(tokio::spawn(ws_viewer(
                url,
                Arc::clone(t),
                Arc::clone(&window),
                stop_rx.clone(),
            )));
        }
    }

    let measured = tokio::spawn(measure(args.pid, Arc::clone(&window)));
    let self_cpu_start = cpu_seconds(std::process::id());
    tokio::time::sleep_until(window.close.into()).await;
    let self_cpu = cpu_seconds(std::process::id())
        .zip(self_cpu_start)
        .map(|(b, a)| b - a);
    let _ = stop_tx.send(true);

    let mut results = Vec::new();
    for v in viewers {
        results.push(v.await?);
    }
    let mut published = 0;
    for p in publishers {
        published += p.await??;
    }
    let (cpu, peak_rss_kib) = measured.await?;
    report(&args, &results, published, cpu, peak_rss_kib, self_cpu);
    Ok(())
}

fn with_token(url: &str, token: &Option<String>) -> String {
    match token {
        Some(t) => format!("{url}?token={t}"),
        None => url.to_owned(),
    }
}

fn load_frames(dir: &Path) -> anyhow::Result<Vec<Bytes>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("jpg") || e.eq_ignore_ascii_case("jpeg"))
        })
        .collect();
    paths.sort();
    if paths.is_empty() {
        bail!("no .jpg files in {}", dir.display());
    }
    paths
        .iter()
        .map(|p| {
            std::fs::read(p)
                .map(Bytes::from)
                .with_context(|| format!("reading {}", p.display()))
        })
        .collect()
}

/// Connects a publisher and starts sending; returns a task giving the number of frames
/// sent during the measuring window... and in all.
async fn publish(
    url: String,
    frames: Vec<Bytes>,
    fps: f64,
    times: Arc<SendTimes>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<tokio::task::JoinHandle<anyhow::Result<u64>>> {
    let (ws, _) = tokio_tungstenite::connect_async(&url)
        .await
        .with_context(|| format!("connecting the publisher to {url}"))?;
    let (mut tx, mut rx) = ws.split();
    // Acks tell the sequence number the hub gave the first frame; the rest follow.
    let acks_times = Arc::clone(&times);
    tokio::spawn(async move {
        while let Some(Ok(msg)) = rx.next().await {
            if let Message::Text(t) = msg
                && let Ok(v) = serde_json::from_str::<serde_json::Value>(&t)
                && v["type"] == "ack"
            {
                let seq = v["seq"].as_u64().unwrap_or(0);
                let _ = acks_times.first_seq.compare_exchange(
                    0,
                    seq,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            }
        }
    });
    Ok(tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / fps));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut sent = 0u64;
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                _ = tick.tick() => {
                    let frame = frames[sent as usize % frames.len()].clone();
                    times.record(sent, Instant::now());
                    tx.send(Message::Binary(frame)).await.context("publishing")?;
                    sent += 1;
                }
            }
        }
        let _ = tx.close().await;
        Ok(sent)
    }))
}

/// Reads an MJPEG stream with HTTP/1.0 (so the body is not chunked), counting parts and
/// never copying their bodies.
async fn mjpeg_viewer(
    addr: String,
    path: String,
    times: Option<Arc<SendTimes>>,
    window: Arc<Window>,
    mut stop: watch::Receiver<bool>,
) -> ViewerResult {
    let mut result = ViewerResult {
        kind: "mjpeg",
        ..Default::default()
    };
    let run = read_mjpeg(
        &addr,
        &path,
        times.as_deref(),
        &window,
        &mut result.frames,
        &mut result.latencies_ms,
    );
    tokio::select! {
        _ = stop.changed() => {}
        r = run => if let Err(e) = r { result.error = Some(e.to_string()) },
    }
    result
}

async fn read_mjpeg(
    addr: &str,
    path: &str,
    times: Option<&SendTimes>,
    window: &Window,
    frames: &mut u64,
    latencies_ms: &mut Vec<f64>,
) -> anyhow::Result<()> {
    let mut s = TcpStream::connect(&addr).await?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await?;
    let mut buf = BytesMut::with_capacity(512 * 1024);
    let mut in_body: usize = 0;
    let mut seq: Option<u64> = None;
    let mut headers_done = false;
    loop {
        if in_body > 0 {
            let n = in_body.min(buf.len());
            buf.advance(n);
            in_body -= n;
            if in_body == 0 {
                let now = Instant::now();
                if window.contains(now) {
                    *frames += 1;
                    if let (Some(t), Some(seq)) = (times, seq)
                        && let Some(sent) = t.sent(seq)
                    {
                        latencies_ms.push(now.duration_since(sent).as_secs_f64() * 1e3);
                    }
                }
            }
        }
        if in_body == 0
            && let Some(end) = find(&buf, b"\r\n\r\n")
        {
            let head = std::str::from_utf8(&buf[..end]).unwrap_or("");
            if !headers_done {
                // The HTTP response head.
                if !head.starts_with("HTTP/1.") || !head[9..].starts_with("200") {
                    anyhow::bail!("server answered: {}", head.lines().next().unwrap_or(""));
                }
                headers_done = true;
            } else {
                let mut len = None;
                seq = None;
                for line in head.split("\r\n") {
                    if let Some((k, v)) = line.split_once(':') {
                        if k.eq_ignore_ascii_case("content-length") {
                            len = v.trim().parse().ok();
                        } else if k.eq_ignore_ascii_case("x-frame-seq") {
                            seq = v.trim().parse().ok();
                        }
                    }
                }
                in_body = len.context("an MJPEG part without Content-Length")?;
            }
            buf.advance(end + 4);
            continue;
        }
        if buf.capacity() - buf.len() < 64 * 1024 {
            buf.reserve(256 * 1024);
        }
        if s.read_buf(&mut buf).await? == 0 {
            anyhow::bail!("stream ended");
        }
    }
}

async fn ws_viewer(
    url: String,
    times: Arc<SendTimes>,
    window: Arc<Window>,
    mut stop: watch::Receiver<bool>,
) -> ViewerResult {
    let mut result = ViewerResult {
        kind: "ws",
        ..Default::default()
    };
    let run = async {
        let (mut ws, _) = tokio_tungstenite::connect_async(&url).await?;
        while let Some(msg) = ws.next().await {
            let Message::Binary(data) = msg? else {
                continue;
            };
            let now = Instant::now();
            if !window.contains(now) || data.len() < 4 {
                continue;
            }
            result.frames += 1;
            let n = u32::from_be_bytes([data[0], data[1], data[2], data[3]]) as usize;
            let meta: serde_json::Value = serde_json::from_slice(&data[4..4 + n])?;
            if let Some(sent) = meta["seq"].as_u64().and_then(|s| times.sent(s)) {
                result
                    .latencies_ms
                    .push(now.duration_since(sent).as_secs_f64() * 1e3);
            }
        }
        anyhow::Ok(())
    };
    tokio::select! {
        _ = stop.changed() => {}
        r = run => if let Err(e) = r { result.error = Some(e.to_string()) },
    }
    result
}

/// CPU seconds of `pid` over the window, and its peak resident memory (KiB) sampled
/// during the window.
async fn measure(pid: Option<u32>, window: Arc<Window>) -> (Option<f64>, Option<u64>) {
    let Some(pid) = pid else { return (None, None) };
    tokio::time::sleep_until(window.open.into()).await;
    let start = cpu_seconds(pid);
    let mut peak = 0;
    while Instant::now() < window.close {
        peak = peak.max(rss_kib(pid).unwrap_or(0));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cpu = cpu_seconds(pid).zip(start).map(|(b, a)| b - a);
    (cpu, Some(peak))
}

fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // Clock ticks: 100 per second on Linux.
    Some((utime + stime) / 100.0)
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn report(
    args: &Args,
    results: &[ViewerResult],
    published: u64,
    cpu: Option<f64>,
    peak_rss_kib: Option<u64>,
    self_cpu: Option<f64>,
) {
    let d = args.duration;
    let mut fps: Vec<f64> = results.iter().map(|r| r.frames as f64 / d).collect();
    fps.sort_by(f64::total_cmp);
    let mut lat: Vec<f64> = results
        .iter()
        .flat_map(|r| r.latencies_ms.iter().copied())
        .collect();
    lat.sort_by(f64::total_cmp);
    let delivered: u64 = results.iter().map(|r| r.frames).sum();
    let errors: Vec<&String> = results.iter().filter_map(|r| r.error.as_ref()).collect();
    let kinds = |k: &str| results.iter().filter(|r| r.kind == k).count();
    match args.cameras {
        0 => println!(
            "published: nothing (viewers of {})",
            args.mjpeg_url
                .as_deref()
                .or(args.mp4_url.as_deref())
                .or(args.rtsp_url.as_deref())
                .unwrap_or("-")
        ),
        n => println!(
            "published: {n} camera(s) at {} fps, {published} frames in the whole run",
            args.fps
        ),
    }
    println!(
        "viewers: {} MJPEG + {} WebSocket + {} MP4 + {} RTSP, measured over {d} s",
        kinds("mjpeg"),
        kinds("ws"),
        kinds("mp4"),
        kinds("rtsp")
    );
    println!(
        "viewer fps: min {:.1}  median {:.1}  max {:.1}",
        fps.first().copied().unwrap_or(0.0),
        percentile(&fps, 0.5),
        fps.last().copied().unwrap_or(0.0)
    );
    if !lat.is_empty() {
        println!(
            "latency ms (frame sent or captured, to received): p50 {:.2}  p99 {:.2}  max {:.2}  ({} samples)",
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
            lat.last().unwrap(),
            lat.len()
        );
    }
    if let Some(cpu) = cpu {
        println!(
            "measured process: CPU {:.1}% of one core, {:.1} us per delivered frame",
            cpu / d * 100.0,
            cpu / delivered.max(1) as f64 * 1e6
        );
    }
    if let Some(rss) = peak_rss_kib {
        println!("measured process: peak RSS {:.1} MB", rss as f64 / 1024.0);
    }
    if let Some(c) = self_cpu {
        println!(
            "load generator itself: CPU {:.1}% of one core",
            c / d * 100.0
        );
    }
    if !errors.is_empty() {
        println!("viewer errors ({}): {}", errors.len(), errors[0]);
    }
    if args.json {
        let json = serde_json::json!({
            "cameras": args.cameras, "fps": args.fps,
            "mjpeg_viewers": kinds("mjpeg"), "ws_viewers": kinds("ws"), "mp4_viewers": kinds("mp4"), "rtsp_viewers": kinds("rtsp"),
            "window_s": d, "published": published, "delivered": delivered,
            "viewer_fps_min": fps.first(), "viewer_fps_median": percentile(&fps, 0.5),
            "latency_ms_p50": (!lat.is_empty()).then(|| percentile(&lat, 0.5)),
            "latency_ms_p99": (!lat.is_empty()).then(|| percentile(&lat, 0.99)),
            "cpu_core_share": cpu.map(|c| c / d),
            "cpu_us_per_frame": cpu.map(|c| c / delivered.max(1) as f64 * 1e6),
            "peak_rss_mb": peak_rss_kib.map(|k| k as f64 / 1024.0),
            "loadgen_cpu_core_share": self_cpu.map(|c| c / d),
            "viewer_errors": errors.len(),
        });
        println!("{json}");
    }
}
