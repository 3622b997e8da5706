"""The publisher page's two paths, JPEG and H.264 (WebCodecs), on the same footage.

Debian's Chromium, headless, with a fake camera playing real footage (the street scene of
target/footage/bikes.mp4, scaled) at 30 fps, publishes to a hub over HTTPS. For each size
and each path, after 4 s of warm-up, over WINDOW seconds:
- what the page sent: the hub's `remotecam_received_bytes_total`, in Mbit/s;
- the hub's CPU per frame received (user + system, all its threads, over the frames its
  `seq` counted), with motion detection on and recording all the time at its lowest
  threshold (`continuous`): for H.264, the decoder for detection and the units into the
  clip; for JPEG, detection from the JPEG and the hub's encoder for the clip.
- glass to NumPy: `RemoteCam.get_frame()` 100 times, each frame's age when it came out
  (now less its `captured_at`, the page's clock when it took the picture: the same
  machine), p50 and p90.
Then, once, the hub's encoder alone: a test pattern of 1280x720 at 30 fps watched by one
`stream.mp4` viewer, its `remotecam_recorder_encode_seconds` (decode and encode per
frame) over WINDOW seconds.

Chromium runs on the same machine (its encoder too): the hub's figures are its own
process's. Run after ./scripts/test.sh: .venv/bin/python bench/publish-paths.py [WINDOW]
(FOOTAGE and SIZES, e.g. SIZES=1280x720, choose other input).
"""

import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from conftest import BASE_ARGS, CHROMIUM, Hub, scrape, start_publishing, value  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402
from remotecam import RemoteCam  # noqa: E402

WINDOW = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
# What the fake camera plays: the real footage, or FOOTAGE (any ffmpeg input; a numbered
# JPEG sequence such as bench/make-frames.sh makes, f%03d.jpg, is read at 30 fps).
FOOTAGE = os.environ.get("FOOTAGE", str(ROOT / "target" / "footage" / "bikes.mp4"))
SIZES = [tuple(map(int, s.split("x"))) for s in os.environ.get("SIZES", "1280x720,1920x1080").split(",")]
TICKS = 100  # clock ticks a second (/proc/<pid>/stat)


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def camera(hub, name):
    return next(c for c in hub.cameras() if c["name"] == name)


def footage(tmp, w, h):
    path = Path(tmp) / f"bikes-{h}p.y4m"
    rate = ["-framerate", "30"] if "%" in FOOTAGE else []
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *rate, "-i", FOOTAGE, "-t", "4",
                    "-vf", f"scale={w}:{h},fps=30", "-pix_fmt", "yuv420p", str(path)], check=True)
    return path


def measure(p, tmp, size, encoding):
    w, h = size
    hub = Hub(Path(tmp) / f"data-{h}-{encoding}")
    try:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=BASE_ARGS + [f"--use-file-for-fake-video-capture={footage(tmp, w, h)}"])
        context = browser.new_context(ignore_https_errors=True)
        page = context.new_page()
        start_publishing(page, hub, "phone", f"{w}x{h}", fps=30, encoding=encoding)
        hub.api("/api/cameras/phone/motion", "PUT",
                {"enabled": True, "record": True, "continuous": True, "threshold": 0.01})
        time.sleep(4)
        bytes0 = value(scrape(hub), "remotecam_received_bytes_total", camera="phone")
        seq0, cpu0, t0 = camera(hub, "phone")["seq"], cpu_seconds(hub.proc.pid), time.monotonic()
        time.sleep(WINDOW)
        bytes1 = value(scrape(hub), "remotecam_received_bytes_total", camera="phone")
        cam = camera(hub, "phone")
        seq1, cpu1, t1 = cam["seq"], cpu_seconds(hub.proc.pid), time.monotonic()
        ages = []
        cam_reader = RemoteCam("phone", url=hub.url(""))
        for _ in range(100):
            cam_reader.get_frame()
            captured = cam_reader.last_info.captured_at
            if captured:
                ages.append((time.time() - captured) * 1000)
        browser.close()
        ages.sort()
        frames = seq1 - seq0
        return {
            "p50_ms": ages[len(ages) // 2] if ages else float("nan"),
            "p90_ms": ages[len(ages) * 9 // 10] if ages else float("nan"),
            "codec": cam["codec"],
            "mbit_s": (bytes1 - bytes0) * 8 / (t1 - t0) / 1e6,
            "fps": frames / (t1 - t0),
            "cpu_ms_per_frame": (cpu1 - cpu0) * 1000 / max(frames, 1),
        }
    finally:
        hub.stop()


def encoder_alone(tmp):
    (Path(tmp) / "pattern.toml").write_text(
        '[cameras.pattern]\nsource = "test:?width=1280&height=720&fps=30"\n')
    hub = Hub(Path(tmp) / "data-pattern", "--config", str(Path(tmp) / "pattern.toml"))
    try:
        with urllib.request.urlopen(hub.url("/api/cameras/pattern/stream.mp4"), timeout=30) as res:
            res.read(100_000)
            time.sleep(3)
            s0 = scrape(hub)
            cpu0 = cpu_seconds(hub.proc.pid)
            deadline = time.monotonic() + WINDOW
            while time.monotonic() < deadline:
                res.read(65536)
            s1 = scrape(hub)
            cpu1 = cpu_seconds(hub.proc.pid)
        name = "remotecam_recorder_encode_seconds"
        count = value(s1, f"{name}_count", camera="pattern") - value(s0, f"{name}_count", camera="pattern")
        total = value(s1, f"{name}_sum", camera="pattern") - value(s0, f"{name}_sum", camera="pattern")
        return {"frames": count, "encode_ms_per_frame": total * 1000 / count,
                "hub_cpu_ms_per_frame": (cpu1 - cpu0) * 1000 / count}
    finally:
        hub.stop()


with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
    for size in SIZES:
        for encoding in ["jpeg", "auto"]:
            r = measure(p, tmp, size, encoding)
            print(f"{size[0]}x{size[1]} {r['codec']:>4}: {r['mbit_s']:5.2f} Mbit/s, {r['fps']:4.1f} fps, "
                  f"hub {r['cpu_ms_per_frame']:5.2f} ms CPU a frame (detected and recorded), "
                  f"glass to NumPy p50 {r['p50_ms']:.0f} ms, p90 {r['p90_ms']:.0f} ms")
    r = encoder_alone(tmp)
    print(f"the hub's encoder, a 1280x720 test pattern watched as video: {r['encode_ms_per_frame']:.2f} ms "
          f"a frame (decode and encode; {r['frames']:.0f} frames), the hub {r['hub_cpu_ms_per_frame']:.2f} ms "
          f"CPU a frame in all (the pattern's own drawing and JPEG included)")
