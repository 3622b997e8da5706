//! The real V4L2 device layer, with `linuxvideo` (pure Rust, no libclang). Kept to the
//! ioctls: enumerate, open with a format and rate, read frames. **Not exercised in CI:
//! the machines that run it have no video devices.**

use std::io;

use linuxvideo::format::{FrameIntervals, FrameSizes, PixFormat, PixelFormat};
use linuxvideo::stream::ReadStream;
use linuxvideo::{BufType, BufTypes, Device, Fract};

use super::v4l2::{Capture, Chosen, DeviceInfo, Devices, Mode, PixelKind};

/// Sizes tried on devices that describe a range instead of a list.
const RANGE_SIZES: [(u32, u32); 5] = [
    (320, 240),
    (640, 480),
    (1280, 720),
    (1920, 1080),
    (3840, 2160),
];

#[derive(Debug, Default)]
pub(super) struct LinuxDevices;

fn kind_of(format: PixelFormat) -> Option<PixelKind> {
    if format == PixelFormat::MJPG {
        Some(PixelKind::Mjpeg)
    } else if format == PixelFormat::YUYV {
        Some(PixelKind::Yuyv)
    } else {
        None
    }
}

fn pixel_format(kind: PixelKind) -> PixelFormat {
    match kind {
        PixelKind::Mjpeg => PixelFormat::MJPG,
        PixelKind::Yuyv => PixelFormat::YUYV,
    }
}

fn fps_of(f: &Fract) -> f64 {
    if f.numerator() == 0 {
        0.0
    } else {
        f64::from(f.denominator()) / f64::from(f.numerator())
    }
}

fn rates(device: &Device, format: PixelFormat, width: u32, height: u32) -> Vec<f64> {
    match device.frame_intervals(format, width, height) {
        Ok(FrameIntervals::Discrete(list)) => list.iter().map(|i| fps_of(i.fract())).collect(),
        Ok(FrameIntervals::Stepwise(s) | FrameIntervals::Continuous(s)) => {
            vec![fps_of(s.min()), fps_of(s.max())]
        }
        Err(_) => Vec::new(),
    }
}

fn describe_device(device: &Device) -> io::Result<DeviceInfo> {
    let name = device.capabilities()?.card().to_owned();
    let mut modes = Vec::new();
    for desc in device.formats(BufType::VIDEO_CAPTURE) {
        let format = desc?.pixel_format();
        let Some(kind) = kind_of(format) else {
            continue;
        };
        let sizes: Vec<(u32, u32)> = match device.frame_sizes(format)? {
            FrameSizes::Discrete(list) => list.iter().map(|s| (s.width(), s.height())).collect(),
            FrameSizes::Stepwise(s) | FrameSizes::Continuous(s) => RANGE_SIZES
                .iter()
                .copied()
                .filter(|&(w, h)| {
                    (s.min_width()..=s.max_width()).contains(&w)
                        && (s.min_height()..=s.max_height()).contains(&h)
                })
                .collect(),
        };
        for (width, height) in sizes {
            modes.push(Mode {
                kind,
                width,
                height,
                fps: rates(device, format, width, height),
            });
        }
    }
    Ok(DeviceInfo {
        path: device.path()?.display().to_string(),
        name,
        modes,
    })
}

struct LinuxCapture {
    stream: ReadStream,
}

impl Capture for LinuxCapture {
    fn next_frame(&mut self) -> io::Result<Vec<u8>> {
        loop {
            let frame = self
                .stream
                .dequeue(|view| Ok((!view.is_error()).then(|| view.to_vec())))?;
            if let Some(frame) = frame {
                return Ok(frame);
            }
            // A buffer flagged as corrupt by the driver: take the next one.
        }
    }
}

impl Devices for LinuxDevices {
    fn list(&self) -> io::Result<Vec<DeviceInfo>> {
        let mut out = Vec::new();
        for device in linuxvideo::list()? {
            let Ok(device) = device else { continue };
            if !device
                .supported_buf_types()
                .contains(BufTypes::VIDEO_CAPTURE)
            {
                continue;
            }
            if let Ok(info) = describe_device(&device) {
                out.push(info);
            }
        }
        Ok(out)
    }

    fn describe(&self, path: &str) -> io::Result<DeviceInfo> {
        describe_device(&Device::open(path)?)
    }

    fn open(&self, path: &str, chosen: &Chosen) -> io::Result<Box<dyn Capture>> {
        let device = Device::open(path)?;
        let format = PixFormat::new(chosen.width, chosen.height, pixel_format(chosen.kind));
        let capture = device.video_capture(format)?;
        let fps = chosen.fps.max(1.0);
        // Ask for the rate as a fraction with a millisecond-ish precision (29.97 too).
        let _ = capture.set_frame_interval(Fract::new(1000, (fps * 1000.0).round() as u32));
        Ok(Box::new(LinuxCapture {
            stream: capture.into_stream()?,
        }))
    }
}
