"""Every camera over RTSP, opened as Home Assistant's stream worker opens a stream
source (PyAV, `rtsp_flags=prefer_tcp`), decoded: a phone sending H.264 with WebCodecs
from Chromium (its own units passed through), and a test pattern (encoded by the hub).
Nothing on this machine is trusted: the URL carries the token as its password, as a
person configures it in Home Assistant or Frigate."""

import json
import subprocess
import time

import av
import pytest

from conftest import ROOT, WAIT, start_publishing, wait_until

GST_CLIENT = ROOT / "crates" / "remotecam" / "tests" / "common" / "gst_rtsp_client.py"



def decoded(url, count):
    """`count` pictures of the stream, as Home Assistant's stream worker opens it."""
    options = {"rtsp_flags": "prefer_tcp", "timeout": "5000000"}
    with av.open(url, options=options, timeout=(30, 10)) as container:
        stream = container.streams.video[0]
        frames = []
        for frame in container.decode(stream):
            frames.append(frame)
            if len(frames) == count:
                break
        return stream.codec_context.name, stream.codec_context.profile, frames


def test_a_webcodecs_phone_plays_over_rtsp(make_hub, browser_with, hd_footage, tmp_path):
    hub = make_hub("--trust-loopback", "false")
    page = browser_with(f"--use-file-for-fake-video-capture={hd_footage}").new_page()
    start_publishing(page, hub, "phone", "1280x720", fps=30)
    cam = wait_until(lambda: next((c for c in hub.cameras() if c["name"] == "phone"
                                   and c["codec"] == "h264"), None), "no H.264 from the page")
    url = f"rtsp://homeassistant:{hub.token}@127.0.0.1:{hub.rtsp_port}/phone"
    codec, profile, frames = decoded(url, 45)
    assert codec == "h264"
    # The page's own profile, as its codec string names it (avc1.PPCCLL).
    own = {"42": "Baseline", "4d": "Main", "64": "High"}[cam["codec_string"][5:7].lower()]
    assert own in profile, (profile, cam["codec_string"])
    assert all((f.width, f.height) == (1280, 720) for f in frames)
    # A real picture (the street), not a grey or green frame.
    luma = frames[-1].to_ndarray(format="gray")
    assert 30 < luma.mean() < 220 and luma.std() > 20, (luma.mean(), luma.std())

    # ffprobe, ffmpeg recording 10 s as NVRs and Frigate do, GStreamer's rtspsrc.
    probe = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "stream=codec_name,profile,width,height", "-of", "json", url],
        capture_output=True, check=True, timeout=WAIT).stdout)["streams"][0]
    assert (probe["codec_name"], probe["width"], probe["height"]) == ("h264", 1280, 720), probe
    assert own in probe["profile"], probe
    clip = tmp_path / "phone.mp4"
    seq, started = hub.api("/api/cameras/phone")["seq"], time.monotonic()
    subprocess.run(["ffmpeg", "-v", "error", "-rtsp_transport", "tcp", "-i", url, "-t", "10",
                    "-c", "copy", "-y", str(clip)], check=True, timeout=10 + 2 * WAIT)
    # The rate the page sent at meanwhile (a headless browser on a busy machine may not
    # keep 30 fps).
    fps = (hub.api("/api/cameras/phone")["seq"] - seq) / (time.monotonic() - started)
    counted = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
         "stream=nb_read_frames:format=duration", "-of", "json", str(clip)],
        capture_output=True, check=True, timeout=WAIT).stdout)
    frames_read = int(counted["streams"][0]["nb_read_frames"])
    duration = float(counted["format"]["duration"])
    assert 9.5 <= duration <= 10.5, duration
    assert frames_read / duration >= 0.8 * fps, (frames_read, duration, fps)
    gst = subprocess.run(["/usr/bin/python3", str(GST_CLIENT), url, "--units", "45"],
                         capture_output=True, text=True, timeout=2 * WAIT)
    assert gst.returncode == 0, gst.stdout + gst.stderr
    assert "width=(int)1280,height=(int)720" in gst.stdout, gst.stdout


def test_a_test_pattern_plays_over_rtsp_in_pyav_with_the_token(make_hub):
    hub = make_hub("--trust-loopback", "false", "--demo")
    url = f"rtsp://any:{hub.token}@127.0.0.1:{hub.rtsp_port}/demo"
    first = decoded(url, 10)
    second = decoded(url, 10)
    demo = next(c for c in hub.cameras() if c["name"] == "demo")
    assert demo["video_codec_string"].startswith("avc1."), demo
    for codec, _, frames in (first, second):
        assert codec == "h264"
        assert (frames[0].width, frames[0].height) == (demo["width"], demo["height"])
    with pytest.raises(av.error.HTTPUnauthorizedError):
        decoded(f"rtsp://127.0.0.1:{hub.rtsp_port}/demo", 1)
