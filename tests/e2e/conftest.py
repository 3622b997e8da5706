"""Harness for the end-to-end tests: the real hub binary, started on free ports."""

import json
import os
import queue
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest
from playwright.sync_api import sync_playwright
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("REMOTECAM_BIN", ROOT / "target" / "debug" / "remotecam"))
WAIT = 30.0


class Hub:
    """One `remotecam` process. `restart()` brings it back on the same ports and data dir."""

    def __init__(self, data_dir, *args, port=0, https_port=0):
        self.data_dir = Path(data_dir)
        self.args = list(args)
        self._start(port, https_port)

    def _start(self, port, https_port):
        cmd = [str(BIN), "--bind", "127.0.0.1", "--port", str(port), "--https-port",
               str(https_port), "--rtsp-port", str(getattr(self, "rtsp_port", None) or 0),
               "--data-dir", str(self.data_dir), *self.args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True,
                                     env={**os.environ, "RUST_LOG": "warn"})
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(l) for l in self.proc.stdout], daemon=True).start()
        self.port = self.https_port = self.rtsp_port = self.token = None
        while None in (self.port, self.https_port, self.rtsp_port, self.token):
            line = lines.get(timeout=WAIT)
            if line.startswith("RTSP  listening on "):
                self.rtsp_port = int(line.rsplit(":", 1)[1])
            if line.startswith("HTTP  listening on "):
                self.port = int(line.rsplit(":", 1)[1])
            elif line.startswith("HTTPS listening on "):
                self.https_port = int(line.rsplit(":", 1)[1])
            elif line.strip().startswith("Access token: "):
                self.token = line.split()[2]

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def https_url(self, path):
        return f"https://127.0.0.1:{self.https_port}{path}"

    def stop(self):
        self.proc.kill()
        self.proc.wait()

    def restart(self):
        self.stop()
        self._start(self.port, self.https_port)

    def api(self, path, method="GET", body=None):
        """The JSON answer to an API request with the token (a JSON body if given)."""
        req = urllib.request.Request(
            self.url(path), method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=WAIT) as res:
            return json.load(res)

    def cameras(self):
        return self.api("/api/cameras")


@pytest.fixture
def hub(tmp_path):
    h = Hub(tmp_path / "data")
    yield h
    h.stop()


@pytest.fixture
def make_hub(tmp_path):
    hubs = []

    def make(*args):
        h = Hub(tmp_path / f"data{len(hubs)}", *args)
        hubs.append(h)
        return h

    yield make
    for h in hubs:
        h.stop()


def mjpeg_frames(url, count, timeout=WAIT):
    """Reads `count` parts of an MJPEG stream; returns them decoded (BGR arrays)."""
    frames = []
    deadline = time.monotonic() + timeout
    with urllib.request.urlopen(url, timeout=timeout) as res:
        assert res.headers["Content-Type"].startswith("multipart/x-mixed-replace")
        while len(frames) < count:
            assert time.monotonic() < deadline, f"only {len(frames)} frames in {timeout} s"
            line = res.readline()
            if not line.startswith(b"--"):
                continue
            headers = {}
            while (line := res.readline().strip()):
                k, v = line.decode().split(":", 1)
                headers[k.strip().lower()] = v.strip()
            body = res.read(int(headers["content-length"]))
            if "x-frame-seq" not in headers:
                continue  # the "no signal" picture
            frames.append(cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR))
    return frames


# Screenshots of the pages, at a phone's size and a desktop's, for a person to look at.
SHOTS = ROOT / "target" / "screenshots"
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}


def shoot(page, name):
    """Screenshots `page` at both sizes into SHOTS (`<name>-phone.png`, `<name>-desktop.png`);
    leaves it at the desktop size."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for label, size in VIEWPORTS.items():
        page.set_viewport_size(size)
        page.screenshot(path=str(SHOTS / f"{name}-{label}.png"), full_page=True)


def pytest_terminal_summary(terminalreporter):
    if SHOTS.is_dir() and any(SHOTS.iterdir()):
        terminalreporter.write_line(f"screenshots of the pages (phone and desktop): {SHOTS}")


def fits_the_width(page):
    """Nothing on the page is wider than the window (no sideways scrolling), and no
    select cuts its chosen option's text."""
    return page.evaluate("""() => {
      const cut = [...document.querySelectorAll('select')].filter((s) => {
        if (!s.offsetParent) return false;
        const ctx = document.createElement('canvas').getContext('2d');
        ctx.font = getComputedStyle(s).font;
        const text = s.options[s.selectedIndex]?.text || '';
        return ctx.measureText(text).width + 28 > s.clientWidth;  // 28: padding and arrow
      }).map((s) => s.id);
      return { wide: document.documentElement.scrollWidth > window.innerWidth, cut };
    }""") == {"wide": False, "cut": []}


CHROMIUM = "/usr/bin/chromium"
BASE_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
]


@pytest.fixture
def browser_with():
    """Launches Chromium with extra flags; closes everything at the end."""
    with sync_playwright() as p:
        browsers = []

        def launch(*extra):
            b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=BASE_ARGS + list(extra))
            browsers.append(b)
            return b.new_context(ignore_https_errors=True)

        yield launch
        for b in browsers:
            b.close()


def wait_until(check, what, timeout=WAIT):
    """Polls `check` until it gives something true, and returns that; fails with `what`."""
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, what
        time.sleep(0.05)
    return found


def start_publishing(page, hub, name, resolution="640x480", fps=None, encoding=None):
    # The address the hub prints for phones: HTTPS with the token.
    page.goto(hub.https_url(f"/publish?token={hub.token}"))
    assert page.url == hub.https_url("/publish"), "token moved into a cookie"
    page.fill("#name", name)
    page.select_option("#resolution", resolution)
    if fps:
        page.fill("#fps", str(fps))
    if encoding:
        page.select_option("#encoding", encoding)
    page.click("#start")
    page.wait_for_selector("#status.ok", timeout=WAIT * 1000)


def scrape(hub, token=True):
    """The samples of one scrape, by (name, frozen labels)."""
    req = urllib.request.Request(hub.url("/metrics"))
    if token:
        req.add_header("Authorization", f"Bearer {hub.token}")
    with urllib.request.urlopen(req, timeout=WAIT) as res:
        assert res.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = res.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


RTSP_SERVER = ROOT / "crates" / "remotecam" / "tests" / "common" / "rtsp_server.py"


@pytest.fixture
def rtsp_camera():
    """Starts an RTSP camera (GStreamer's RTSP server, as the Rust tests start it);
    `start(*args)` gives its URL (with its user)."""
    servers = []

    def start(*args):
        proc = subprocess.Popen(["/usr/bin/python3", str(RTSP_SERVER), "--user", "u", "--password", "p", *args],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        servers.append(proc)
        url = proc.stdout.readline().strip()
        assert url.startswith("rtsp://"), url
        return url.replace("rtsp://", "rtsp://u:p@", 1)

    yield start
    for proc in servers:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def hd_footage(tmp_path_factory):
    """Real footage (a street scene) at 1280x720, 30 fps, as a y4m Chromium's fake camera
    plays (`--use-file-for-fake-video-capture`)."""
    path = tmp_path_factory.mktemp("footage") / "bikes-720p.y4m"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-i", str(ROOT / "target" / "footage" / "bikes.mp4"),
         "-t", "4", "-vf", "scale=1280:720,fps=30", "-pix_fmt", "yuv420p", str(path)],
        check=True,
    )
    return path
