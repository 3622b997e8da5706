"""Every camera is video: a test pattern and an MJPEG camera play on their camera page in
Chromium's <video> (Media Source Extensions), from the stream.mp4 the hub's encoder
makes while they are watched; a viewer who prefers JPEG gets the camera's own frames."""

from conftest import WAIT, wait_until

PLAYS = """
() => { const v = document.getElementById('live-video');
  return !v.hidden && v.videoWidth === 320 && v.videoHeight === 240 && v.currentTime > 0.5; }
"""


def config(tmp_path, text):
    path = tmp_path / "cameras.toml"
    path.write_text(text)
    return str(path)


def test_a_test_pattern_and_an_mjpeg_camera_play_as_video(make_hub, browser_with, tmp_path):
    pattern = make_hub("--config", config(
        tmp_path, '[cameras.pattern]\nsource = "test:?width=320&height=240&fps=15"\n'))
    mjpeg_url = pattern.url("/api/cameras/pattern/stream.mjpg")
    (tmp_path / "relay").mkdir()
    relay = make_hub("--config", config(tmp_path / "relay", f'[cameras.relay]\nsource = "{mjpeg_url}"\n'))
    page = browser_with().new_page()
    for hub, name in ((pattern, "pattern"), (relay, "relay")):
        wait_until(lambda: hub.api(f"/api/cameras/{name}")["seq"] > 0, f"{name} is not live")
        page.goto(hub.url(f"/cameras/{name}"))
        page.wait_for_function(PLAYS, timeout=WAIT * 1000)
        assert page.is_hidden("#live"), "no JPEG view beside the video"
        cam = hub.api(f"/api/cameras/{name}")
        assert (cam["codec"], cam["encoding"]) == ("jpeg", True), cam
        assert cam["video_codec_string"].startswith("avc1.42"), cam

    # The least delay: the camera's own JPEG frames, and the encoder stops.
    page.select_option("#live-mode", "jpeg")
    page.wait_for_function("() => { const i = document.getElementById('live');"
                           " return !i.hidden && i.naturalWidth === 320; }", timeout=WAIT * 1000)
    assert page.is_hidden("#live-video")
    wait_until(lambda: not relay.api("/api/cameras/relay")["encoding"], "the encoder went on")
