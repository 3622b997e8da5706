//! `v4l2:///dev/videoN` USB webcams (Video4Linux2).
//!
//! The device layer is thin and behind the [`Devices`] trait (for test injection): the
//! real one ([`super::v4l2_linux`]) enumerates formats and reads frames with the
//! `linuxvideo` crate; everything around it, format negotiation, YUYV to JPEG, the
//! capture loop and recovery after unplugging, is plain code tested against a fake.
//! **No V4L2 device exists on the machines that run CI, so the real device path is not
//! exercised there.**
//!
//! MJPEG from the camera is passed through untouched (with the standard Huffman tables
//! added when a frame lacks them); YUYV is encoded to JPEG on the capture thread.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use remotecam_core::jpeg;

use crate::camera::{Camera, SourceState};

/// Pixel formats the hub takes from a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelKind {
    /// Motion JPEG: each frame a JPEG, passed through.
    Mjpeg,
    /// YUYV 4:2:2, encoded to JPEG by the hub.
    Yuyv,
}

impl PixelKind {
    pub fn name(self) -> &'static str {
        match self {
            PixelKind::Mjpeg => "mjpeg",
            PixelKind::Yuyv => "yuyv",
        }
    }
}

/// One frame size a device offers in one format, with its frame rates.
#[derive(Debug, Clone, PartialEq)]
pub struct Mode {
    pub kind: PixelKind,
    pub width: u32,
    pub height: u32,
    /// Frames per second the device offers at this size (may be empty if unknown).
    pub fps: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeviceInfo {
    pub path: String,
    pub name: String,
    pub modes: Vec<Mode>,
}

/// What a `v4l2:` source URL asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct V4l2Spec {
    pub device: String,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    pub format: Option<PixelKind>,
}

/// What the hub will ask the device for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Chosen {
    pub kind: PixelKind,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
}

/// An open capture stream: blocking reads of whole frames.
pub trait Capture: Send {
    /// The next frame's bytes (a JPEG for MJPEG, packed YUYV otherwise).
    fn next_frame(&mut self) -> io::Result<Vec<u8>>;
}

/// The device layer, for test injection: the real one talks to `/dev/video*`.
pub trait Devices: Send + Sync + std::fmt::Debug {
    fn list(&self) -> io::Result<Vec<DeviceInfo>>;
    fn describe(&self, path: &str) -> io::Result<DeviceInfo>;
    fn open(&self, path: &str, chosen: &Chosen) -> io::Result<Box<dyn Capture>>;
}

/// Where the platform has no V4L2.
#[derive(Debug, Default)]
pub struct NoDevices;

impl Devices for NoDevices {
    fn list(&self) -> io::Result<Vec<DeviceInfo>> {
        Ok(Vec::new())
    }

    fn describe(&self, _path: &str) -> io::Result<DeviceInfo> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "V4L2 exists only on Linux",
        ))
    }

    fn open(&self, _path: &str, _chosen: &Chosen) -> io::Result<Box<dyn Capture>> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "V4L2 exists only on Linux",
        ))
    }
}

/// Parses the part of a source URL after `v4l2://`.
pub fn parse(rest: &str) -> Result<V4l2Spec, String> {
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if !path.starts_with('/') {
        return Err(format!(
            "v4l2: needs a device path, like v4l2:///dev/video0 (got {rest:?})"
        ));
    }
    let mut spec = V4l2Spec {
        device: path.to_owned(),
        width: 1280,
        height: 720,
        fps: 30.0,
        format: None,
    };
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("v4l2: option {pair:?} needs a value"))?;
        let number = |max: f64| {
            value
                .parse::<f64>()
                .ok()
                .filter(|v| *v > 0.0 && *v <= max)
                .ok_or_else(|| {
                    format!("v4l2: {key} must be a number above 0 and at most {max}, not {value:?}")
                })
        };
        match key {
            "width" => spec.width = number(16_384.0)? as u32,
            "height" => spec.height = number(16_384.0)? as u32,
            "fps" => spec.fps = number(1000.0)?,
            "format" => {
                spec.format = Some(match value {
                    "mjpeg" | "mjpg" => PixelKind::Mjpeg,
                    "yuyv" => PixelKind::Yuyv,
                    _ => return Err(format!("v4l2: format must be mjpeg or yuyv, not {value:?}")),
                });
            }
            other => {
                return Err(format!(
                    "v4l2: has no option {other:?} (it takes width, height, fps and format)"
                ));
            }
        }
    }
    Ok(spec)
}

/// Picks the device mode nearest to what was asked: the asked format if any, else MJPEG
/// (no encoding needed) unless only YUYV has the size; the size with the nearest pixel
/// count (larger on a tie), then the nearest frame rate it offers.
pub fn negotiate(modes: &[Mode], want: &V4l2Spec) -> Option<Chosen> {
    let area = |w: u32, h: u32| f64::from(w) * f64::from(h);
    let wanted = area(want.width, want.height);
    let size_cost = |m: &Mode| {
        (
            (area(m.width, m.height) - wanted).abs(),
            -area(m.width, m.height),
        )
    };
    let candidates: Vec<&Mode> = modes
        .iter()
        .filter(|m| want.format.is_none_or(|k| m.kind == k))
        .collect();
    let best = candidates.iter().min_by(|a, b| {
        let (ca, cb) = (size_cost(a), size_cost(b));
        ca.partial_cmp(&cb)
            .unwrap_or(std::cmp::Ordering::Equal)
            // Same size: MJPEG first.
            .then_with(|| (a.kind != PixelKind::Mjpeg).cmp(&(b.kind != PixelKind::Mjpeg)))
    })?;
    let fps = best
        .fps
        .iter()
        .copied()
        .min_by(|a, b| (a - want.fps).abs().total_cmp(&(b - want.fps).abs()))
        .unwrap_or(want.fps);
    Some(Chosen {
        kind: best.kind,
        width: best.width,
        height: best.height,
        fps,
    })
}

/// Packed YUYV 4:2:2 to a JPEG at `quality`.
pub fn yuyv_to_jpeg(yuyv: &[u8], width: u32, height: u32, quality: u8) -> Result<Bytes, String> {
    let (w, h) = (width as usize, height as usize);
    if w % 2 != 0 || yuyv.len() < w * h * 2 {
        return Err(format!(
            "a YUYV frame of {width}x{height} needs {} bytes, got {}",
            w * h * 2,
            yuyv.len()
        ));
    }
    if w < 2 || h < 2 || w > usize::from(u16::MAX) || h > usize::from(u16::MAX) {
        return Err(format!("frame size {width}x{height} cannot be a JPEG"));
    }
    // 4:2:0 planes, as every picture the hub encodes: each YUYV pair shares its chroma,
    // and two rows' chroma is averaged into one.
    let (ew, eh) = (w & !1, h & !1);
    let mut y = Vec::with_capacity(ew * eh);
    let mut u = Vec::with_capacity(ew * eh / 4);
    let mut v = Vec::with_capacity(ew * eh / 4);
    for row in 0..eh {
        let line = &yuyv[row * w * 2..][..ew * 2];
        y.extend(line.iter().step_by(2));
        if row % 2 == 1 {
            let above = &yuyv[(row - 1) * w * 2..][..ew * 2];
            for (a, b) in above.chunks_exact(4).zip(line.chunks_exact(4)) {
                u.push((u16::from(a[1]) + u16::from(b[1])).div_ceil(2) as u8);
                v.push((u16::from(a[3]) + u16::from(b[3])).div_ceil(2) as u8);
            }
        }
    }
    let planes = crate::picture::Yuv420 {
        planes: [&y, &u, &v],
        strides: [ew, ew / 2, ew / 2],
        width: ew,
        height: eh,
    };
    crate::picture::JpegEncoder::new(i32::from(quality))
        .and_then(|mut encoder| encoder.encode(planes))
        .map_err(|e| e.to_string())
}

/// Runs the device until it fails (unplugged, busy, ...); returns why. Stops when the
/// returned future is dropped (the capture thread checks a flag between frames).
pub(super) async fn run(
    camera: &Arc<Camera>,
    spec: &V4l2Spec,
    devices: Arc<dyn Devices>,
) -> String {
    let stop = Arc::new(AtomicBool::new(false));
    struct StopOnDrop(Arc<AtomicBool>);
    impl Drop for StopOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let _stop_guard = StopOnDrop(Arc::clone(&stop));
    let camera = Arc::clone(camera);
    let spec = spec.clone();
    match tokio::task::spawn_blocking(move || capture_loop(&camera, &spec, devices.as_ref(), &stop))
        .await
    {
        Ok(reason) => reason,
        Err(e) => format!("the capture thread failed: {e}"),
    }
}

fn capture_loop(
    camera: &Arc<Camera>,
    spec: &V4l2Spec,
    devices: &dyn Devices,
    stop: &AtomicBool,
) -> String {
    let info = match devices.describe(&spec.device) {
        Ok(info) => info,
        Err(e) => return format!("cannot open {}: {e}", spec.device),
    };
    let Some(chosen) = negotiate(&info.modes, spec) else {
        return format!(
            "{} offers no MJPEG or YUYV mode{}",
            spec.device,
            spec.format
                .map(|k| format!(" in {}", k.name()))
                .unwrap_or_default()
        );
    };
    if (chosen.width, chosen.height) != (spec.width, spec.height)
        || (chosen.fps - spec.fps).abs() > 0.01
    {
        tracing::info!(
            camera = camera.name(),
            asked = %format!("{}x{} at {} fps", spec.width, spec.height, spec.fps),
            using = %format!("{}x{} at {} fps ({})", chosen.width, chosen.height, chosen.fps, chosen.kind.name()),
            "the device does not offer what was asked: using the nearest"
        );
    }
    let mut capture = match devices.open(&spec.device, &chosen) {
        Ok(c) => c,
        Err(e) => return format!("cannot start {}: {e}", spec.device),
    };
    let lease = camera.claim_publisher();
    camera.set_source_state(SourceState::Live, None);
    let mut bad = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let raw = match capture.next_frame() {
            Ok(raw) => raw,
            Err(e) => return format!("{} stopped: {e}", spec.device),
        };
        let frame = match chosen.kind {
            PixelKind::Mjpeg => Ok(jpeg::with_huffman_tables(Bytes::from(raw))),
            PixelKind::Yuyv => yuyv_to_jpeg(&raw, chosen.width, chosen.height, 85),
        };
        match frame.and_then(|f| {
            jpeg::inspect(&f)
                .map(|info| (f, info))
                .map_err(|e| e.to_string())
        }) {
            Ok((jpeg, info)) => {
                lease.publish(jpeg, info, Some(std::time::SystemTime::now()));
            }
            Err(e) => {
                bad += 1;
                camera.set_source_state(
                    SourceState::Live,
                    Some(format!("skipped {bad} bad frame(s), last: {e}")),
                );
            }
        }
    }
    "stopped".into()
}

#[cfg(test)]
pub(crate) mod fake {
    //! A scripted device: the modes it offers, how many frames it gives before it
    //! "unplugs", and how many opens fail while it is unplugged.

    use std::sync::Mutex;

    use super::*;

    #[derive(Debug)]
    pub(crate) struct FakeDevices {
        pub(crate) modes: Vec<Mode>,
        /// Frames per session before the device disappears (ENODEV).
        pub(crate) frames_per_session: usize,
        /// Opens that fail (device absent) after each unplug.
        pub(crate) absent_for: usize,
        pub(crate) state: Mutex<FakeState>,
    }

    #[derive(Debug, Default)]
    pub(crate) struct FakeState {
        pub(crate) absent_left: usize,
        pub(crate) opened: Vec<Chosen>,
    }

    struct FakeCapture {
        chosen: Chosen,
        left: usize,
        n: u8,
    }

    impl Capture for FakeCapture {
        fn next_frame(&mut self) -> io::Result<Vec<u8>> {
            if self.left == 0 {
                return Err(io::Error::from_raw_os_error(19)); // ENODEV
            }
            self.left -= 1;
            self.n = self.n.wrapping_add(1);
            let (w, h) = (self.chosen.width as usize, self.chosen.height as usize);
            // A grey YUYV picture whose brightness changes per frame.
            Ok([self.n, 128, self.n, 128].repeat(w * h / 2))
        }
    }

    impl Devices for FakeDevices {
        fn list(&self) -> io::Result<Vec<DeviceInfo>> {
            Ok(vec![self.describe("/dev/video0")?])
        }

        fn describe(&self, path: &str) -> io::Result<DeviceInfo> {
            let mut state = self.state.lock().unwrap();
            if state.absent_left > 0 {
                state.absent_left -= 1;
                return Err(io::Error::from_raw_os_error(2)); // ENOENT
            }
            Ok(DeviceInfo {
                path: path.to_owned(),
                name: "Fake Camera".into(),
                modes: self.modes.clone(),
            })
        }

        fn open(&self, _path: &str, chosen: &Chosen) -> io::Result<Box<dyn Capture>> {
            let mut state = self.state.lock().unwrap();
            state.opened.push(*chosen);
            state.absent_left = self.absent_for;
            Ok(Box::new(FakeCapture {
                chosen: *chosen,
                left: self.frames_per_session,
                n: 0,
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::fake::*;
    use super::*;
    use crate::camera::SourceKind;

    fn mode(kind: PixelKind, width: u32, height: u32, fps: &[f64]) -> Mode {
        Mode {
            kind,
            width,
            height,
            fps: fps.to_vec(),
        }
    }

    fn want(width: u32, height: u32, fps: f64, format: Option<PixelKind>) -> V4l2Spec {
        V4l2Spec {
            device: "/dev/video0".into(),
            width,
            height,
            fps,
            format,
        }
    }

    fn webcam() -> Vec<Mode> {
        vec![
            mode(PixelKind::Yuyv, 640, 480, &[30.0, 15.0]),
            mode(PixelKind::Yuyv, 1280, 720, &[10.0, 5.0]),
            mode(PixelKind::Mjpeg, 640, 480, &[30.0]),
            mode(PixelKind::Mjpeg, 1280, 720, &[30.0, 15.0]),
            mode(PixelKind::Mjpeg, 1920, 1080, &[30.0]),
        ]
    }

    #[test]
    fn urls() {
        let spec = parse("/dev/video2?width=640&height=480&fps=15&format=yuyv").unwrap();
        assert_eq!(
            spec,
            want(640, 480, 15.0, Some(PixelKind::Yuyv)).with_device("/dev/video2")
        );
        assert!(parse("dev/video0").unwrap_err().contains("device path"));
        assert!(
            parse("/dev/video0?format=h264")
                .unwrap_err()
                .contains("mjpeg or yuyv")
        );
        assert!(
            parse("/dev/video0?zoom=2")
                .unwrap_err()
                .contains("no option")
        );
    }

    impl V4l2Spec {
        fn with_device(mut self, device: &str) -> Self {
            self.device = device.into();
            self
        }
    }

    #[test]
    fn negotiation_prefers_mjpeg_at_the_asked_size() {
        let c = negotiate(&webcam(), &want(1280, 720, 30.0, None)).unwrap();
        assert_eq!(
            (c.kind, c.width, c.height, c.fps),
            (PixelKind::Mjpeg, 1280, 720, 30.0)
        );
    }

    #[test]
    fn negotiation_takes_the_nearest_size_and_rate() {
        let c = negotiate(&webcam(), &want(1024, 768, 24.0, None)).unwrap();
        assert_eq!((c.width, c.height), (1280, 720));
        assert_eq!(c.fps, 30.0);
        let c = negotiate(&webcam(), &want(1280, 720, 12.0, Some(PixelKind::Yuyv))).unwrap();
        assert_eq!((c.kind, c.fps), (PixelKind::Yuyv, 10.0));
        assert!(
            negotiate(
                &webcam()[..2],
                &want(640, 480, 30.0, Some(PixelKind::Mjpeg))
            )
            .is_none()
        );
        let tiny = negotiate(&webcam(), &want(16, 16, 1.0, None)).unwrap();
        assert_eq!(
            (tiny.kind, tiny.width, tiny.fps),
            (PixelKind::Mjpeg, 640, 30.0)
        );
    }

    #[test]
    fn yuyv_becomes_a_jpeg_of_the_same_picture() {
        // Left half dark, right half bright, neutral chroma.
        let (w, h) = (64usize, 32usize);
        let mut yuyv = Vec::new();
        for _ in 0..h {
            for x in (0..w).step_by(2) {
                let y = if x < w / 2 { 30 } else { 220 };
                yuyv.extend_from_slice(&[y, 128, y, 128]);
            }
        }
        let jpeg = yuyv_to_jpeg(&yuyv, w as u32, h as u32, 90).unwrap();
        let mut decoder = zune_jpeg::JpegDecoder::new(std::io::Cursor::new(jpeg.to_vec()));
        let rgb = decoder.decode().unwrap();
        let px = |x: usize, y: usize| &rgb[(y * w + x) * 3..][..3];
        assert!(px(4, 16).iter().all(|&c| c < 50), "{:?}", px(4, 16));
        assert!(px(60, 16).iter().all(|&c| c > 200), "{:?}", px(60, 16));
        assert!(yuyv_to_jpeg(&yuyv[..100], 64, 32, 90).is_err());
        assert!(yuyv_to_jpeg(&yuyv, 63, 32, 90).is_err());
    }

    #[tokio::test]
    async fn unplug_and_replug_recover_by_themselves() {
        let devices = Arc::new(FakeDevices {
            modes: vec![mode(PixelKind::Yuyv, 64, 48, &[30.0])],
            frames_per_session: 5,
            absent_for: 2,
            state: Default::default(),
        });
        let camera = Arc::new(Camera::new("cam".into(), SourceKind::V4l2));
        let spec = super::super::SourceSpec::V4l2(want(64, 48, 30.0, None));
        let mut ctx = super::super::SourceContext::new(Default::default());
        ctx.v4l2 = devices.clone();
        ctx.first_retry = Duration::from_millis(10);
        let task = tokio::spawn(super::super::supervise(
            Arc::clone(&camera),
            spec,
            ctx,
            None,
        ));
        // Three sessions of five frames: 15 frames, with two unplugs in between.
        let mut rx = camera.subscribe();
        tokio::time::timeout(
            Duration::from_secs(20),
            rx.wait_for(|l| l.frame.as_ref().is_some_and(|f| f.seq >= 15)),
        )
        .await
        .expect("frames again after each unplug")
        .unwrap();
        task.abort();
        let opened = devices.state.lock().unwrap().opened.len();
        assert!(opened >= 3, "opened {opened} times");
        let frame = camera.latest().frame.unwrap();
        assert_eq!((frame.width, frame.height), (64, 48));
    }
}
