"""The drop-in URLs as the tools that use them read them: OpenCV on go2rtc's and
mjpg-streamer's MJPEG paths (what OctoPrint and dashboards are set up with), curl on
their snapshots and Frigate's, from another machine's point of view (the token in the
URL)."""

import subprocess

import cv2
import numpy as np

from conftest import WAIT, wait_until


def curl(url):
    """curl's body and content type of `url`."""
    done = subprocess.run(["curl", "-sS", "--max-time", str(int(WAIT)), "-o", "-", "-w",
                           "\n%{content_type}", url], capture_output=True, check=True)
    body, _, kind = done.stdout.rpartition(b"\n")
    return body, kind.decode()


def test_opencv_and_curl_read_the_drop_in_urls(make_hub):
    hub = make_hub("--trust-loopback", "false", "--demo")
    token = hub.token
    demo = wait_until(lambda: next((c for c in hub.cameras() if c["name"] == "demo"
                                    and c["width"]), None), "the demo camera has no frame")
    for path in [f"/api/stream.mjpeg?src=demo&token={token}", f"/?action=stream&token={token}"]:
        cap = cv2.VideoCapture(hub.url(path))
        ok, frame = cap.read()
        cap.release()
        assert ok, path
        assert frame.shape[:2] == (demo["height"], demo["width"]), (path, frame.shape)
    for path in [f"/api/frame.jpeg?src=demo&token={token}", f"/?action=snapshot&token={token}",
                 f"/api/demo/latest.jpg?token={token}"]:
        body, kind = curl(hub.url(path))
        assert kind == "image/jpeg", (path, kind)
        picture = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
        assert picture.shape[:2] == (demo["height"], demo["width"]), path
    body, kind = curl(hub.url("/api/frame.jpeg?src=demo"))
    assert kind.startswith("application/json") and b"token" in body, (kind, body)
