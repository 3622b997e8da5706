"""Python's first frame of an RTSP camera is of now: after the camera's decoder stopped
(10 s after the last viewer of JPEG left), a new `RemoteCam` gets a picture of the
camera's newest unit, not the one made when someone last watched."""

import time

from remotecam import RemoteCam

from conftest import wait_until


def test_the_first_frame_python_gets_is_fresh(make_hub, rtsp_camera, tmp_path):
    url = rtsp_camera()
    config = tmp_path / "fresh.toml"
    config.write_text(f'[cameras.door]\nsource = "{url}"\n')
    hub = make_hub("--config", str(config))
    wait_until(lambda: hub.api("/api/cameras/door")["state"] == "live", "the camera is not live")

    # Someone reads a frame and leaves; the decoder stops 10 s later.
    with RemoteCam("door", url=hub.url(""), timeout=10.0, on_timeout="raise") as cam:
        cam.get_frame()
    wait_until(lambda: not hub.api("/api/cameras/door")["decoding"], "the decoder did not stop",
               timeout=30)

    with RemoteCam("door", url=hub.url(""), timeout=10.0, on_timeout="raise") as cam:
        frame = cam.get_frame()
        age = time.time() - cam.last_info.hub_received_at
    assert frame.shape == (360, 640, 3)
    assert age < 1.0, f"the first frame was {age:.1f} s old"
