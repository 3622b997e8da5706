"""An H.264 RTSP camera (GStreamer's RTSP server, as the Rust tests start it) in a real
Chromium: the camera page and the dashboard play it as video through Media Source
Extensions, its pixels are the camera's colour bars, and a recorded clip of it plays to
its end."""

from conftest import WAIT, shoot, wait_until

# The seven SMPTE bars, left to right.
BARS = [(255, 255, 255), (255, 255, 0), (0, 255, 255), (0, 255, 0), (255, 0, 255), (255, 0, 0), (0, 0, 255)]


def config(tmp_path, text):
    path = tmp_path / "rtsp.toml"
    path.write_text(text)
    return str(path)


def video_state(page, selector):
    """The <video>'s playing position, size, and the colour in the middle of each bar."""
    return page.evaluate("""(selector) => {
      const v = document.querySelector(selector);
      if (!v || !v.videoWidth) return null;
      const c = document.createElement('canvas');
      c.width = v.videoWidth; c.height = v.videoHeight;
      const g = c.getContext('2d');
      g.drawImage(v, 0, 0);
      const bars = [];
      for (let i = 0; i < 7; i++) {
        const x = Math.floor((2 * i + 1) * c.width / 14), y = Math.floor(c.height / 4);
        bars.push(Array.from(g.getImageData(x, y, 1, 1).data.slice(0, 3)));
      }
      return { time: v.currentTime, width: v.videoWidth, height: v.videoHeight, bars };
    }""", selector)


def assert_plays_the_bars(page, selector):
    first = wait_until(lambda: video_state(page, selector), f"{selector} shows a picture")
    assert (first["width"], first["height"]) == (640, 360)
    later = wait_until(lambda: (s := video_state(page, selector)) and s["time"] > first["time"] + 1 and s,
                       f"{selector} plays on")
    for i, (got, want) in enumerate(zip(later["bars"], BARS)):
        assert max(abs(g - w) for g, w in zip(got, want)) <= 32, f"bar {i}: {got}, not {want}"


def test_an_h264_camera_plays_as_video_on_its_page_and_the_dashboard(make_hub, browser_with, rtsp_camera, tmp_path):
    url = rtsp_camera()
    hub = make_hub("--config", config(tmp_path, f'[cameras.door]\nsource = "{url}"\n'))
    wait_until(lambda: hub.api("/api/cameras/door").get("codec_string"), "the camera is live")
    page = browser_with().new_page()
    page.goto(hub.url("/cameras/door"))
    page.wait_for_selector("#live-video:not([hidden])", timeout=WAIT * 1000)
    assert_plays_the_bars(page, "#live-video")
    assert page.is_hidden("#live"), "no JPEG view beside the video"
    page.wait_for_function(
        "() => /^H\\.264, [0-9.]+ Mbit\\/s \\(avc1\\./.test(document.getElementById('codec').textContent)")
    # The page watches the video, not JPEG: the hub makes no pictures for it.
    assert hub.api("/api/cameras/door")["viewers"] == 1
    shoot(page, "camera-rtsp")

    page.goto(hub.url("/"))
    assert_plays_the_bars(page, 'article[data-camera="door"] video')
    shoot(page, "dashboard-rtsp")


def test_a_clip_of_an_h264_camera_plays_to_its_end(make_hub, browser_with, rtsp_camera, tmp_path):
    url = rtsp_camera("--pattern", "ball")
    hub = make_hub("--config", config(tmp_path, (
        f'[cameras.door]\nsource = "{url}"\n'
        '[cameras.door.motion]\nenabled = true\nthreshold = 0.1\nmin_motion_frames = 1\nmax_clip_s = 2\n')))
    clip = wait_until(lambda: next((c for c in hub.api("/api/recordings") if not c["in_progress"]), None),
                      "a clip is saved")
    page = browser_with().new_page()
    page.goto(hub.url("/recordings"))
    ended = page.evaluate("""async (src) => {
      const v = document.createElement('video');
      v.muted = true;
      document.body.append(v);
      const ended = new Promise((resolve, reject) => {
        v.onended = () => resolve(v.currentTime);
        v.onerror = () => reject(new Error('cannot play: ' + (v.error && v.error.message)));
      });
      v.src = src;
      await v.play();
      return await ended;
    }""", clip["video_url"])
    assert abs(ended - clip["duration_s"]) < 0.5, f"played to {ended} s of {clip['duration_s']} s"
