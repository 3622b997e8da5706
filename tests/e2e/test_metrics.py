"""`GET /metrics`, read by Prometheus's own Python client's text parser, moving as a
camera streams, is watched and records."""

import urllib.error
import urllib.request

from conftest import WAIT, scrape, value, wait_until


def test_metrics_move_as_a_camera_streams_is_watched_and_records(make_hub):
    hub = make_hub("--demo")
    info = [(dict(labels), v) for (name, labels), v in scrape(hub).items()
            if name == "remotecam_build_info"]
    assert info == [({"version": hub.api("/api/info")["version"]}, 1.0)], info
    wait_until(lambda: (value(scrape(hub), "remotecam_camera_fps", camera="demo") or 0) > 5,
               "the demo camera's rate")
    frames = value(scrape(hub), "remotecam_camera_frames_total", camera="demo")
    assert value(scrape(hub), "remotecam_camera_source_state", camera="demo", state="live") == 1
    wait_until(lambda: value(scrape(hub), "remotecam_camera_frames_total", camera="demo") > frames,
               "frames counted")

    # A viewer is counted while it watches.
    with urllib.request.urlopen(hub.url("/api/cameras/demo/stream.mjpg"), timeout=WAIT) as res:
        res.read(1024)
        assert value(scrape(hub), "remotecam_camera_viewers", camera="demo") == 1
        assert value(scrape(hub), "remotecam_viewers", camera="demo", kind="mjpeg") == 1
        assert value(scrape(hub), "remotecam_connections_open") >= 2
    wait_until(lambda: value(scrape(hub), "remotecam_camera_viewers", camera="demo") == 0,
               "the viewer left")
    after = scrape(hub)
    assert value(after, "remotecam_viewers", camera="demo", kind="mjpeg") == 0
    assert value(after, "remotecam_viewer_frames_total", camera="demo", kind="mjpeg") >= 1
    assert value(after, "remotecam_sent_bytes_total", camera="demo", kind="mjpeg") >= 1024

    # Recording all the time, in 1 s clips: the recorder's state, the clips' events and bytes.
    hub.api("/api/cameras/demo/motion", "PUT",
            {"enabled": True, "record": True, "continuous": True, "max_clip_s": 1})
    wait_until(lambda: value(scrape(hub), "remotecam_recorder_state", camera="demo",
                             state="recording") == 1, "the recorder records")
    assert value(scrape(hub), "remotecam_motion_enabled", camera="demo") == 1
    wait_until(lambda: (value(scrape(hub), "remotecam_events_total", camera="demo",
                              event="clip_saved") or 0) >= 1, "a clip saved, counted")
    assert value(scrape(hub), "remotecam_recordings_bytes") > 0
    assert value(scrape(hub), "remotecam_recorder_encode_seconds_count", camera="demo") > 0
    assert value(scrape(hub), "remotecam_recordings_disk_free_bytes") > 0

    # A request for a name the hub does not answer to is refused, and counted.
    req = urllib.request.Request(hub.url("/api/cameras"), headers={"Host": "evil.example"})
    try:
        urllib.request.urlopen(req, timeout=WAIT)
        raise AssertionError("an unknown host name was let in")
    except urllib.error.HTTPError as e:
        assert e.code == 421
    assert value(scrape(hub), "remotecam_requests_refused_total", reason="unknown_host") == 1
