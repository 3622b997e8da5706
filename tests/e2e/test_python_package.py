"""The `remotecam` Python package against the real hub."""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

import remotecam
from remotecam import (AuthError, CameraNotFoundError, HubUnreachableError, Publisher,
                       RemoteCam)

from conftest import WAIT


def solid(color, w=320, h=240):
    frame = np.zeros((h, w, 3), np.uint8)
    frame[:] = color
    return frame


class Feeder:
    """Publishes frames of one colour in a thread."""

    def __init__(self, hub, camera, color, fps=60):
        self.stop = threading.Event()
        self.pub = Publisher(camera, url=hub.url(""))
        self.color = color
        self.thread = threading.Thread(target=self._run, args=(fps,), daemon=True)
        self.thread.start()

    def _run(self, fps):
        while not self.stop.is_set():
            self.pub.send(solid(self.color))
            self.stop.wait(1 / fps)

    def close(self):
        self.stop.set()
        self.thread.join(WAIT)
        self.pub.close()


def test_a_pure_red_frame_is_red_in_bgr(hub):
    pub = Publisher("red", url=hub.url(""), quality=90)
    pub.send(solid((0, 0, 255)))
    pub.flush()
    cam = RemoteCam("red", url=hub.url(""))
    frame = cam.get_frame()
    assert frame.dtype == np.uint8 and frame.shape == (240, 320, 3)
    assert np.abs(frame.astype(int) - [0, 0, 255]).max() <= 4, frame[120, 160]
    info = cam.last_info
    assert (info.seq, info.width, info.height) == (pub.last_seq, 320, 240)
    assert not info.placeholder
    assert abs(info.hub_received_at - time.time()) < 60


def test_never_the_same_frame_twice_then_the_timeout_image(hub):
    feeder = Feeder(hub, "seq", (255, 0, 0))
    cam = RemoteCam("seq", url=hub.url(""), timeout=2.0)
    seqs = []
    for _ in range(30):
        cam.get_frame()
        seqs.append(cam.last_info.seq)
    assert all(b > a for a, b in zip(seqs, seqs[1:])), seqs
    cam2 = RemoteCam("seq", url=hub.url(""), timeout=0.3)
    raising = RemoteCam("seq", url=hub.url(""), timeout=0.3, on_timeout="raise")
    cam2.get_frame()
    raising.get_frame()
    feeder.close()
    # Take what came before the publisher stopped; then nothing new comes: the message
    # image, at the size of the last frame.
    cam2.get_frame()
    last_seq = cam2.last_info.seq  # that frame's, or (a timeout image) the one before
    start = time.monotonic()
    image = cam2.get_frame()
    assert time.monotonic() - start >= 0.29
    assert image.shape == (240, 320, 3)
    assert (image > 200).any(axis=2).sum() > 300, "a message is drawn"
    # The program can tell: the info says placeholder, and still names the last frame.
    info = cam2.last_info
    assert info.placeholder and info.seq == last_seq, info
    assert cam2.read() == (False, None)
    with pytest.raises(TimeoutError, match="no frame from camera 'seq'"):
        while True:  # at most one frame left from before the stop
            raising.get_frame()


def test_unknown_camera_wrong_token_and_no_hub_raise_clear_errors(make_hub):
    hub = make_hub("--trust-loopback", "false")
    with pytest.raises(CameraNotFoundError, match="no camera named 'nope'") as e:
        RemoteCam("nope", url=hub.url(""), token=hub.token)
    assert isinstance(e.value, LookupError)
    with pytest.raises(AuthError, match="wrong access token") as e:
        RemoteCam("nope", url=hub.url(""), token="wrong")
    assert isinstance(e.value, PermissionError)
    with pytest.raises(AuthError, match="access token required"):
        RemoteCam("nope", url=hub.url(""))
    url = hub.url("")
    hub.stop()
    with pytest.raises(HubUnreachableError, match="hub not reachable") as e:
        RemoteCam("nope", url=url)
    assert isinstance(e.value, ConnectionError)
    with pytest.raises(ValueError, match="http://"):
        RemoteCam("x", url="https://127.0.0.1:8443")


def test_the_same_object_delivers_again_after_the_hub_restarts(hub):
    feeder = Feeder(hub, "phoenix", (0, 255, 0))
    cam = RemoteCam("phoenix", url=hub.url(""), timeout=0.2)
    assert cam.get_frame().shape == (240, 320, 3)
    feeder.stop.set()
    feeder.thread.join(WAIT)
    hub.restart()
    feeder = Feeder(hub, "phoenix", (0, 0, 255))
    deadline = time.monotonic() + WAIT
    while True:
        ok, frame = cam.read()
        if ok and frame[120, 160, 2] > 200:  # red: a frame from after the restart
            break
        assert time.monotonic() < deadline, "no frame after the restart"
    feeder.close()


def test_two_cameras_four_threads(hub):
    colours = {"left": (255, 0, 0), "right": (0, 0, 255)}
    feeders = [Feeder(hub, name, c) for name, c in colours.items()]
    cams = {name: RemoteCam(name, url=hub.url(""), timeout=5.0) for name in colours}
    taken = {name: [] for name in colours}
    errors = []

    def reader(name):
        try:
            for _ in range(25):
                frame = cams[name].get_frame()
                assert np.abs(frame[120, 160].astype(int) - colours[name]).max() <= 8
                taken[name].append(cams[name].last_info.seq)
        except Exception as e:  # reported below, from the main thread
            errors.append(e)

    threads = [threading.Thread(target=reader, args=(n,)) for n in colours for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    for f in feeders:
        f.close()
    assert not errors, errors
    for name, seqs in taken.items():
        assert len(seqs) == 50
        # Two threads share one object: still never the same frame twice.
        assert len(set(seqs)) == 50, f"{name}: a frame was returned twice"


def test_opencv_style_api(hub):
    feeder = Feeder(hub, "cv", (10, 20, 200))
    with RemoteCam("cv", url=hub.url(""), timeout=5.0) as cam:
        ok, frame = cam.read()
        assert ok and frame.shape == (240, 320, 3)
        assert cam.getFrame().shape == (240, 320, 3)
        infos = []
        for frame in cam:
            assert frame.shape == (240, 320, 3)
            infos.append(cam.last_info)
            if len(infos) == 3:
                break
        # Each frame says how many came between it and the one taken before it.
        for before, after in zip(infos, infos[1:]):
            assert after.skipped == after.seq - before.seq - 1, (before, after)
        jpeg = cam.get_jpeg()
        assert jpeg[:2] == b"\xff\xd8"
    with pytest.raises(remotecam.RemoteCamError, match="closed"):
        cam.get_frame()
    feeder.close()


def test_publisher_frames_appear_on_the_mjpeg_url(hub):
    feeder = Feeder(hub, "shown", (0, 200, 0), fps=30)
    cap = cv2.VideoCapture(hub.url("/api/cameras/shown/stream.mjpg"))
    ok, frame = cap.read()
    cap.release()
    feeder.close()
    assert ok and frame.shape == (240, 320, 3)
    assert np.abs(frame[120, 160].astype(int) - [0, 200, 0]).max() <= 8


def test_command_line_snapshot_and_view(hub, tmp_path):
    feeder = Feeder(hub, "cli", (200, 0, 0))
    out = tmp_path / "snap.jpg"
    run = subprocess.run([sys.executable, "-m", "remotecam", "snapshot", "cli", str(out),
                          "--url", hub.url("")], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    image = cv2.imread(str(out))
    assert image.shape == (240, 320, 3)
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    run = subprocess.run([sys.executable, "-m", "remotecam", "view", "cli", "--url", hub.url("")],
                         capture_output=True, text=True, timeout=60, env=env)
    assert run.returncode != 0
    assert "needs a display" in run.stderr
    run = subprocess.run([sys.executable, "-m", "remotecam", "snapshot", "nope", str(out),
                          "--url", hub.url("")], capture_output=True, text=True, timeout=60)
    assert run.returncode != 0 and "no camera named 'nope'" in run.stderr
    feeder.close()


def test_wheel_installs_into_a_fresh_venv_and_needs_only_numpy(hub, tmp_path):
    wheel = os.environ.get("REMOTECAM_WHEEL")
    if not wheel:
        wheels = sorted(Path(__file__).resolve().parents[2].glob("target/wheels/remotecam-*.whl"))
        assert wheels, "build the wheel first (scripts/test.sh does)"
        wheel = str(wheels[-1])
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", wheel],
                   check=True, timeout=600)
    listing = subprocess.run([str(py), "-m", "pip", "list", "--format=freeze",
                              "--exclude", "pip", "--exclude", "setuptools"],
                             capture_output=True, text=True).stdout
    installed = {line.split("==")[0].lower() for line in listing.split()}
    assert installed == {"numpy", "remotecam"}, installed
    # The installed package does the whole round trip with nothing else.
    script = f"""
import sys
import numpy as np
from remotecam import Publisher, RemoteCam
pub = Publisher("fresh", url={hub.url("")!r})
pub.send(np.full((48, 64, 3), (0, 0, 255), np.uint8))
pub.flush()
frame = RemoteCam("fresh", url={hub.url("")!r}).get_frame()
assert frame.shape == (48, 64, 3), frame.shape
assert "cv2" not in sys.modules
print("ok", frame[24, 32].tolist())
"""
    run = subprocess.run([str(py), "-c", script], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("ok"), run.stdout
