"""Every camera over RTSP, opened as Home Assistant's stream worker opens a stream
source (PyAV, `rtsp_flags=prefer_tcp`), decoded: a phone sending H.264 with WebCodecs
from Chromium (its own units passed through), and a test pattern (encoded by the hub).
Nothing on this machine is trusted: the URL carries the token as its password, as a
person configures it in Home Assistant or Frigate."""

import subprocess

import av
import pytest

from conftest import ROOT, start_publishing, wait_until

FOOTAGE = ROOT / "target" / "footage" / "bikes.mp4"


@pytest.fixture(scope="module")
def footage(tmp_path_factory):
    """Real footage at 1280x720, 30 fps, as Chromium's fake camera plays it."""
    path = tmp_path_factory.mktemp("footage") / "bikes-720p.y4m"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-i", str(FOOTAGE), "-t", "4",
         "-vf", "scale=1280:720,fps=30", "-pix_fmt", "yuv420p", str(path)],
        check=True,
    )
    return path


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


def test_a_webcodecs_phone_plays_over_rtsp_in_pyav(make_hub, browser_with, footage):
    hub = make_hub("--trust-loopback", "false")
    page = browser_with(f"--use-file-for-fake-video-capture={footage}").new_page()
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
