"""VLC (Debian's, 3.0) plays an RTSP camera's `stream.mp4` from the hub, as the docs say
it does: the pictures it shows, saved by its scene filter, are the camera's colour bars
and keep coming."""

import os
import subprocess
import tempfile
from pathlib import Path

import cv2

from conftest import WAIT, wait_until

# The seven SMPTE bars, left to right, as BGR.
BARS = [(255, 255, 255), (0, 255, 255), (255, 255, 0), (0, 255, 0), (255, 0, 255), (0, 0, 255), (255, 0, 0)]


def vlc(url, seconds):
    """Plays `url` in VLC without a window for `seconds`, a picture in 15 saved as PNG;
    returns the pictures (BGR arrays) and VLC's log. VLC refuses to run as root: then it
    runs as `nobody`, in a folder of its own it may write to."""
    with tempfile.TemporaryDirectory() as home:
        shots = Path(home) / "shots"
        shots.mkdir()
        cmd = ["cvlc", "-I", "dummy", "--vout=dummy", "--no-audio", "--video-filter=scene",
               "--scene-format=png", "--scene-ratio=15", f"--scene-path={shots}",
               "--scene-prefix=shot", f"--run-time={seconds}", "--play-and-exit", url]
        if os.geteuid() == 0:
            os.chmod(home, 0o777)
            os.chmod(shots, 0o777)
            cmd = ["runuser", "-u", "nobody", "--", *cmd]
        done = subprocess.run(cmd, env={**os.environ, "HOME": home}, capture_output=True,
                              text=True, timeout=seconds + WAIT)
        pictures = [cv2.imread(str(p)) for p in sorted(shots.iterdir())]
    return pictures, done.stdout + done.stderr


def test_vlc_plays_an_rtsp_cameras_stream_mp4(make_hub, rtsp_camera, tmp_path):
    url = rtsp_camera()
    config = tmp_path / "vlc.toml"
    config.write_text(f'[cameras.door]\nsource = "{url}"\n')
    hub = make_hub("--config", str(config))
    # Ten seconds into the camera's stream: a player joins a stream that runs (VLC 3
    # played the first seconds of it before the fix, then no more).
    wait_until(lambda: hub.api("/api/cameras/door")["seq"] >= 300, "the camera sent no video")

    pictures, log = vlc(hub.url("/api/cameras/door/stream.mp4"), 4)

    # A picture in 15 at 30 fps for 4 s: about 8, from the first on.
    assert len(pictures) >= 4, f"VLC showed {len(pictures)} pictures in 15:\n{log[-3000:]}"
    picture = pictures[-1]
    height, width = picture.shape[:2]
    # VLC's scene filter saves 640x386 of this 640x360 stream (ffprobe reads 640x360 and
    # a square pixel aspect in the same bytes): the width is the stream's.
    assert width == 640, (width, height)
    for i, want in enumerate(BARS):
        got = picture[height // 3, int((i + 0.5) * width / 7)]
        assert all(abs(int(g) - w) < 48 for g, w in zip(got, want)), f"bar {i}: {got} != {want}"
