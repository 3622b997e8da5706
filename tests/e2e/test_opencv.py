"""OpenCV reads the hub's MJPEG URL, as a computer-vision user's program would."""

import json
import subprocess
import threading
import time

import cv2
import numpy as np
from websockets.sync.client import connect


def publish_until(hub, name, stop, color):
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[:] = color
    with connect(f"ws://127.0.0.1:{hub.port}/api/cameras/{name}/publish") as ws:
        ws.recv()  # hello
        i = 0
        while not stop.is_set():
            img = frame.copy()
            cv2.putText(img, str(i), (20, 60), cv2.FONT_HERSHEY_SIMPLEX, 2, (255, 255, 255), 3)
            ok, jpeg = cv2.imencode(".jpg", img)
            ws.send(jpeg.tobytes())
            ws.recv()  # ack: one frame in flight, as the publisher page does
            stop.wait(1 / 30)
            i += 1


def start_publisher(hub, name, color):
    stop = threading.Event()
    t = threading.Thread(target=publish_until, args=(hub, name, stop, color), daemon=True)
    t.start()
    # The camera must exist before a client opens its URL.
    deadline = time.monotonic() + 30
    while not any(c["name"] == name and c["seq"] > 0 for c in hub.cameras()):
        assert time.monotonic() < deadline, "publisher did not start"
        time.sleep(0.05)
    return stop, t


def test_opencv_videocapture_reads_the_mjpeg_url(hub):
    color = (200, 40, 10)  # BGR
    stop, t = start_publisher(hub, "cv", color)
    try:
        cap = cv2.VideoCapture(f"http://127.0.0.1:{hub.port}/api/cameras/cv/stream.mjpg")
        assert cap.isOpened()
        for _ in range(10):
            ok, frame = cap.read()
            assert ok
            assert frame.shape == (480, 640, 3)
            mean = frame[200:, :].reshape(-1, 3).mean(axis=0)
            assert np.allclose(mean, color, atol=12), mean
        cap.release()
    finally:
        stop.set()
        t.join(5)


def test_ffmpeg_reads_the_mjpeg_url(hub):
    stop, t = start_publisher(hub, "ff", (10, 200, 10))
    try:
        url = f"http://127.0.0.1:{hub.port}/api/cameras/ff/stream.mjpg"
        probe = subprocess.run(
            ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
             "stream=codec_name,width,height", "-of", "json", url],
            capture_output=True, text=True, timeout=60, check=True,
        )
        stream = json.loads(probe.stdout)["streams"][0]
        assert (stream["codec_name"], stream["width"], stream["height"]) == ("mjpeg", 640, 480)
        run = subprocess.run(
            ["ffmpeg", "-v", "error", "-i", url, "-frames:v", "20", "-f", "null", "-"],
            capture_output=True, text=True, timeout=60,
        )
        assert run.returncode == 0, run.stderr
        assert run.stderr == "", run.stderr
    finally:
        stop.set()
        t.join(5)
