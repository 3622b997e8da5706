"""How far behind the newest frame it has received Chromium's player on the camera page
plays an H.264 RTSP camera: `buffered.end - currentTime` of its <video>, sampled 20
times over 5 s after 3 s of playing; prints the median and the largest.

The camera is GStreamer's RTSP server (tests/common/rtsp_server.py, 640x360 at 30 fps);
the hub is target/debug/remotecam (or REMOTECAM_BIN). Run after ./scripts/test.sh (it
makes .venv with Playwright): .venv/bin/python bench/mse-lag.py
"""

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from conftest import BASE_ARGS, CHROMIUM, Hub  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

server = subprocess.Popen(["/usr/bin/python3", str(ROOT / "crates/remotecam/tests/common/rtsp_server.py")],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
url = server.stdout.readline().strip()
data = Path(tempfile.mkdtemp())
(data / "lag.toml").write_text(f'[cameras.door]\nsource = "{url}"\n')
hub = Hub(data / "data", "--config", str(data / "lag.toml"))
try:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=BASE_ARGS)
        page = browser.new_page()
        page.goto(hub.url("/cameras/door"))
        page.wait_for_selector("#live-video:not([hidden])", timeout=30000)
        time.sleep(3)
        lags = []
        for _ in range(20):
            lags.append(page.evaluate("() => { const v = document.getElementById('live-video');"
                                      " return v.buffered.end(v.buffered.length - 1) - v.currentTime; }"))
            time.sleep(0.25)
        lags.sort()
        print(f"behind the newest frame received: median {lags[10]:.3f} s, largest {lags[-1]:.3f} s")
        browser.close()
finally:
    hub.stop()
    server.kill()
