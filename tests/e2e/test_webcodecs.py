"""The publisher page sending H.264 with WebCodecs, from Debian's Chromium with a fake
camera playing real footage at 1280x720, 30 fps, over HTTPS: the camera is H.264, the
page sends a few Mbit/s, its clips are the units the page sent (nothing encoded by the
hub), its stream.mp4 plays on the camera page, and its pictures reach snapshots, MJPEG
and Python. The same page forced to JPEG, or in a browser without VideoEncoder, sends
JPEG as before."""

import time
import urllib.request

import hashlib

import av
import cv2
import numpy as np
from remotecam import RemoteCam

from conftest import WAIT, mjpeg_frames, scrape, start_publishing, value, wait_until


# Every H.264 unit the page sends, as the SHA-256 of its bytes, in order (the page's
# own WebSocket, watched from inside the page).
RECORD_UNITS = """
(() => {
  const send = WebSocket.prototype.send;
  window.__units = [];
  let kind = null;
  WebSocket.prototype.send = function (data) {
    if (typeof data === "string") {
      try { kind = JSON.parse(data).kind || "jpeg"; } catch { kind = null; }
    } else if (kind === "h264") {
      window.__units.push(crypto.subtle.digest("SHA-256", data.slice(0)));
    }
    return send.call(this, data);
  };
})();
"""

UNIT_HASHES = """
async () => (await Promise.all(window.__units)).map((d) =>
  [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join(""))
"""


def camera(hub, name):
    return next((c for c in hub.cameras() if c["name"] == name), None)


def received_bytes(hub, name):
    return value(scrape(hub), "remotecam_received_bytes_total", camera=name) or 0


def test_the_page_sends_h264_recorded_as_it_came(make_hub, browser_with, hd_footage, tmp_path):
    hub = make_hub()
    context = browser_with(f"--use-file-for-fake-video-capture={hd_footage}")
    context.add_init_script(RECORD_UNITS)
    page = context.new_page()
    start_publishing(page, hub, "phone", "1280x720", fps=30)
    cam = wait_until(lambda: (c := camera(hub, "phone")) and c["seq"] > 0 and c, "no video")
    assert (cam["codec"], cam["width"], cam["height"]) == ("h264", 1280, 720), cam
    assert cam["codec_string"].startswith("avc1."), cam
    page.wait_for_function("() => document.getElementById('s-mode').textContent.startsWith('H.264, ')")
    hub.api("/api/cameras/phone/motion", "PUT", {"record": True, "continuous": True, "max_clip_s": 3})

    # What the page sends over 10 s: a few Mbit/s (JPEG of the same picture is over 20).
    start, t0 = received_bytes(hub, "phone"), time.monotonic()
    time.sleep(10)
    mbits = (received_bytes(hub, "phone") - start) * 8 / (time.monotonic() - t0) / 1e6
    assert 0.3 < mbits <= 4.0, f"{mbits:.2f} Mbit/s"
    print(f"H.264 from the page at 1280x720: {mbits:.2f} Mbit/s")
    cam = camera(hub, "phone")
    assert cam["fps"] > 20 and 0.3e6 < cam["bitrate_bps"] <= 4.5e6, cam

    # Its pictures, decoded by the hub: a snapshot, MJPEG, Python.
    with urllib.request.urlopen(hub.url(f"/api/cameras/phone/snapshot.jpg?token={hub.token}"), timeout=WAIT) as res:
        snap = cv2.imdecode(np.frombuffer(res.read(), np.uint8), cv2.IMREAD_COLOR)
    assert snap.shape == (720, 1280, 3)
    frames = mjpeg_frames(hub.url(f"/api/cameras/phone/stream.mjpg?token={hub.token}"), 3)
    assert all(f.shape == (720, 1280, 3) for f in frames)
    frame = RemoteCam("phone", url=hub.url("")).get_frame()
    assert frame.shape == (720, 1280, 3)

    # Its stream.mp4 plays on the camera page, through Media Source Extensions.
    viewer = context.new_page()
    viewer.goto(hub.https_url("/cameras/phone"))
    viewer.wait_for_function(
        "() => { const v = document.getElementById('live-video');"
        " return v && !v.hidden && v.videoWidth === 1280 && v.currentTime > 0.5; }",
        timeout=WAIT * 1000,
    )
    viewer.wait_for_function("() => /^H\\.264, [0-9.]+ Mbit\\/s \\(avc1\\./.test(document.getElementById('codec').textContent)")
    viewer.close()

    # A clip: the units the page sent, one for one, none encoded by the hub.
    clip = wait_until(
        lambda: next((c for c in hub.api("/api/recordings") if not c["in_progress"]), None),
        "no clip finished", timeout=WAIT * 2)
    path = tmp_path / "clip.mp4"
    with urllib.request.urlopen(hub.url(clip["video_url"] + f"?token={hub.token}"), timeout=WAIT) as res:
        path.write_bytes(res.read())
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.width, stream.height) == ("h264", 1280, 720)
        packets = [bytes(p) for p in container.demux(stream) if p.size]
    assert len(packets) >= 60, f"{len(packets)} samples"
    sent = page.evaluate(UNIT_HASHES)
    recorded = [hashlib.sha256(p).hexdigest() for p in packets]
    first = sent.index(recorded[0])
    assert recorded == sent[first:first + len(recorded)], "the clip is not the units the page sent"
    samples = scrape(hub)
    encoded = value(samples, "remotecam_recorder_encode_seconds_count", camera="phone")
    assert not encoded, f"the hub encoded {encoded} frames"


def test_jpeg_when_chosen_or_when_the_browser_has_no_encoder(make_hub, browser_with):
    hub = make_hub()
    context = browser_with()
    chosen = context.new_page()
    start_publishing(chosen, hub, "chosen", encoding="jpeg")

    older = browser_with()
    older.add_init_script("delete window.VideoEncoder;")
    page = older.new_page()
    start_publishing(page, hub, "older")

    for name, p in (("chosen", chosen), ("older", page)):
        cam = wait_until(lambda: (c := camera(hub, name)) and c["seq"] > 0 and c, f"{name}: no frames")
        assert cam["codec"] == "jpeg", cam
        p.wait_for_function("() => document.getElementById('s-mode').textContent.startsWith('JPEG, ')")
        frames = mjpeg_frames(hub.url(f"/api/cameras/{name}/stream.mjpg?token={hub.token}"), 3)
        assert all(f.shape == (480, 640, 3) for f in frames)


# A phone on battery, at 12%.
LOW_BATTERY = """
navigator.getBattery = async () => ({
  level: 0.12, charging: false, addEventListener() {},
});
"""

HIDE_THE_PAGE = """
() => {
  Object.defineProperty(document, "visibilityState", { value: "hidden", configurable: true });
  document.dispatchEvent(new Event("visibilitychange"));
}
"""


def test_the_phones_health_reaches_the_api_and_the_dashboard(make_hub, browser_with):
    hub = make_hub()
    context = browser_with()
    context.add_init_script(LOW_BATTERY)
    page = context.new_page()
    start_publishing(page, hub, "phone")
    assert page.is_visible("#front"), "the page asks to stay in front"
    health = wait_until(lambda: (camera(hub, "phone") or {}).get("health"), "no health report")
    assert (health["page_hidden"], health["battery"], health["charging"]) == (False, 0.12, False), health

    dash = context.new_page()
    dash.goto(hub.https_url("/"))
    tile = 'article[data-camera="phone"] .health'
    dash.wait_for_selector(tile, timeout=WAIT * 1000)
    assert "battery is at 12%" in dash.text_content(tile)

    page.evaluate(HIDE_THE_PAGE)
    wait_until(lambda: camera(hub, "phone")["health"]["page_hidden"], "the hidden page was not reported")
    dash.wait_for_function(
        f"() => document.querySelector('{tile}').textContent.includes('page is hidden')",
        timeout=WAIT * 1000)

    # The publisher gone, nothing is known of the phone.
    page.close()
    wait_until(lambda: not camera(hub, "phone")["online"], "the camera stayed online")
    assert camera(hub, "phone")["health"] is None
