"""Publish-to-NumPy latency and the frame rate one consumer sustains, for the remotecam
Python package (RemoteCam) and for cv2.VideoCapture on the same MJPEG URL, side by side.

Frames: the benchmark's 1280x720 JPEGs with their index drawn on them as a row of black
and white blocks, so that both consumers can tell which frame they got from the pixels;
latency = time the consumer has the array - time the frame was handed to the publisher.

The third run is a program that spends 100 ms on each frame: RemoteCam hands it the
newest frame, OpenCV the next one in its buffer.

Usage: .venv/bin/python bench/python-client.py   (after scripts/test.sh or a release
build of the hub, and the wheel installed into .venv)
"""

import argparse
import glob
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import cv2
import numpy as np

from remotecam import Publisher, RemoteCam

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BITS, BLOCK = 12, 40


def marked_frames(src_dir, count):
    sources = sorted(glob.glob(os.path.join(src_dir, "*.jpg")))
    frames = []
    for i in range(count):
        img = cv2.imread(sources[i % len(sources)])
        for b in range(BITS):
            on = (i >> b) & 1
            img[0:BLOCK, b * BLOCK:(b + 1) * BLOCK] = 255 if on else 0
        frames.append(cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes())
    return frames


def index_of(frame):
    bits = [frame[8:BLOCK - 8, b * BLOCK + 8:(b + 1) * BLOCK - 8].mean() > 128 for b in range(BITS)]
    return sum(1 << b for b, on in enumerate(bits) if on)


class Feed:
    def __init__(self, url, camera, frames, fps):
        self.sent = [0.0] * len(frames)
        self.stop = threading.Event()
        self.pub = Publisher(camera, url=url)
        self.frames, self.fps = frames, fps
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        period, next_t, i = 1 / self.fps, time.perf_counter(), 0
        while not self.stop.is_set():
            k = i % len(self.frames)
            self.sent[k] = time.perf_counter()
            self.pub.send_jpeg(self.frames[k])
            i += 1
            next_t += period
            time.sleep(max(0, next_t - time.perf_counter()))

    def close(self):
        self.stop.set()
        self.thread.join()


def consume(read, feed, seconds, work=0.0):
    """Calls read() for `seconds`, spending `work` seconds on each frame (a program that
    processes what it reads); returns (frames per second, latencies in ms)."""
    lat, n = [], 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        frame = read()
        if frame is None:
            continue
        now = time.perf_counter()
        k = index_of(frame)
        if k < len(feed.sent) and feed.sent[k]:
            lat.append((now - feed.sent[k]) * 1000)
        n += 1
        if work:
            time.sleep(work)
    return n / seconds, lat


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round((len(values) - 1) * p)))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hub", default=os.path.join(ROOT, "target", "release", "remotecam"))
    ap.add_argument("--seconds", type=float, default=10)
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "remotecam"], cwd=ROOT, check=True)
    work = tempfile.mkdtemp()
    subprocess.run([os.path.join(ROOT, "bench", "make-frames.sh"), os.path.join(work, "src")],
                   check=True, stdout=subprocess.DEVNULL)
    frames = marked_frames(os.path.join(work, "src"), 600)
    hub = subprocess.Popen([args.hub, "--bind", "127.0.0.1", "--port", "0", "--https-port", "0", "--rtsp-port", "0",
                            "--data-dir", os.path.join(work, "data")], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
    port = None
    for line in hub.stdout:
        if line.startswith("HTTP  listening on "):
            port = int(line.rsplit(":", 1)[1])
            break
    url = f"http://127.0.0.1:{port}"
    print(f"frames: 1280x720, {statistics.mean(map(len, frames)) / 1000:.0f} kB on average; "
          f"{args.seconds:.0f} s per run")
    try:
        # (published fps, seconds of work per frame in the consumer)
        for fps, work in ((30, 0.0), (120, 0.0), (30, 0.1)):
            cam_name = f"bench{fps}w{int(work * 1000)}"
            feed = Feed(url, cam_name, frames, fps)
            time.sleep(0.5)  # the camera exists before the readers open it
            label = f"{fps:>3} fps, {int(work * 1000):>3} ms work"
            cam = RemoteCam(cam_name, url=url, timeout=1.0, on_timeout="raise")
            got, lat = consume(cam.get_frame, feed, args.seconds, work)
            print(f"{label} | RemoteCam.get_frame         | {got:6.1f} fps | "
                  f"latency p50 {pct(lat, .5):7.2f} ms  p99 {pct(lat, .99):7.2f} ms")
            cam.close()
            cap = cv2.VideoCapture(f"{url}/api/cameras/{cam_name}/stream.mjpg")

            def read_cv():
                ok, frame = cap.read()
                return frame if ok else None

            got, lat = consume(read_cv, feed, args.seconds, work)
            print(f"{label} | cv2.VideoCapture(mjpg).read | {got:6.1f} fps | "
                  f"latency p50 {pct(lat, .5):7.2f} ms  p99 {pct(lat, .99):7.2f} ms")
            cap.release()
            feed.close()
    finally:
        hub.kill()


if __name__ == "__main__":
    sys.exit(main())
