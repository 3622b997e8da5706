"""The publisher page in a real headless Chromium with a fake camera, over HTTPS, with
the token flow a phone uses (open the printed ?token= address, then the cookie)."""

import subprocess
import time

import numpy as np
import pytest

from conftest import WAIT, mjpeg_frames, start_publishing

def stream_url(hub, name):
    return hub.url(f"/api/cameras/{name}/stream.mjpg?token={hub.token}")


def wait_online(hub, name):
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if any(c["name"] == name and c["online"] and c["seq"] > 0 for c in hub.cameras()):
            return
        time.sleep(0.05)
    raise AssertionError(f"camera {name} did not come online: {hub.cameras()}")


def test_fake_camera_streams_640x480_and_reconnects_after_hub_restart(make_hub, browser_with):
    # Loopback is not trusted here, so the page works only through the token cookie.
    hub = make_hub("--trust-loopback", "false")
    context = browser_with()
    page = context.new_page()
    start_publishing(page, hub, "e2e")

    frames = mjpeg_frames(stream_url(hub, "e2e"), 10)
    assert all(f.shape == (480, 640, 3) for f in frames), [f.shape for f in frames]
    cam = next(c for c in hub.cameras() if c["name"] == "e2e")
    assert (cam["width"], cam["height"], cam["source"]) == (640, 480, "browser")

    # The page reports what it sends.
    page.wait_for_function("() => +document.getElementById('s-fps').textContent > 0")
    assert page.text_content("#s-size") == "640×480"

    # The dashboard shows it live (its player uses the same cookie).
    dash = context.new_page()
    dash.goto(hub.https_url("/"))
    # The page sends H.264 (WebCodecs): the tile plays it as video.
    dash.wait_for_function(
        "() => { const v = document.querySelector('article[data-camera=\"e2e\"] video');"
        " return v && v.videoWidth === 640 && v.videoHeight === 480; }",
        timeout=WAIT * 1000,
    )
    dash.close()

    # The hub goes away and comes back on the same ports: the page reconnects by itself.
    hub.restart()
    wait_online(hub, "e2e")
    frames = mjpeg_frames(stream_url(hub, "e2e"), 5)
    assert all(f.shape == (480, 640, 3) for f in frames)


def test_camera_from_a_video_file(make_hub, browser_with, tmp_path):
    # A file the test makes: red left half, blue right half, 640x480.
    video = tmp_path / "fake.y4m"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-filter_complex",
         "color=c=red:s=320x480:r=15[a];color=c=blue:s=320x480:r=15[b];[a][b]hstack",
         "-frames:v", "30", "-pix_fmt", "yuv420p", str(video)],
        check=True,
    )
    hub = make_hub()
    context = browser_with(f"--use-file-for-fake-video-capture={video}")
    page = context.new_page()
    start_publishing(page, hub, "filecam")

    for frame in mjpeg_frames(stream_url(hub, "filecam"), 5):
        assert frame.shape == (480, 640, 3)
        left = frame[:, 20:300].reshape(-1, 3).mean(axis=0)
        right = frame[:, 340:620].reshape(-1, 3).mean(axis=0)
        # BGR: the left half is red, the right half blue, as in the file.
        assert left[2] > 180 and left[0] < 70, left
        assert right[0] > 180 and right[2] < 70, right


def test_second_page_with_the_same_name_takes_over(make_hub, browser_with):
    hub = make_hub()
    context = browser_with()
    first = context.new_page()
    start_publishing(first, hub, "twin")
    second = context.new_page()
    start_publishing(second, hub, "twin")
    first.wait_for_selector("#status.error", timeout=WAIT * 1000)
    assert "another publisher" in first.text_content("#status")
    assert first.text_content("#start") == "Start streaming", "the replaced page stops instead of fighting"
    frames = mjpeg_frames(stream_url(hub, "twin"), 3)
    assert all(f.shape == (480, 640, 3) for f in frames)
