"""Clips in object storage, as a person meets them: the hub uploads its clips to an
S3-compatible store (SeaweedFS, started here); once its small disk allowance makes it
free a clip's local copy, the gallery still plays that clip, from the store."""

import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from conftest import WAIT, scrape, value, wait_until

WEED = Path(sys.executable).parent / "weed"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_store(tmp_path):
    """`weed server -s3` with every port its own; the S3 endpoint and the process."""
    ports = [free_port() for _ in range(8)]
    names = ["s3.port", "s3.port.grpc", "master.port", "master.port.grpc", "volume.port",
             "volume.port.grpc", "filer.port", "filer.port.grpc"]
    (tmp_path / "store").mkdir()
    proc = subprocess.Popen(
        [str(WEED), "server", f"-dir={tmp_path / 'store'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
         "-s3", "-iam=false", "-s3.port.iceberg=0", "-s3.port.lance=0", "-metricsPort=0",
         *[f"-{n}={p}" for n, p in zip(names, ports)]],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{ports[0]}"

    def bucket_made():
        try:
            urllib.request.urlopen(urllib.request.Request(f"{endpoint}/clips", method="PUT"),
                                   timeout=2)
            return True
        except OSError:
            return False
    wait_until(bucket_made, "SeaweedFS did not start", timeout=WAIT * 3)
    return endpoint, proc


def test_the_gallery_plays_a_clip_from_the_store_once_its_local_copy_is_gone(
        make_hub, browser_with, tmp_path):
    endpoint, store = start_store(tmp_path)
    try:
        config = tmp_path / "hub.toml"
        config.write_text(f'[recordings.s3]\nendpoint = "{endpoint}"\nbucket = "clips"\n')
        hub = make_hub("--demo", "--config", str(config), "--record-max-total-mb", "0.1")
        hub.api("/api/cameras/demo/motion", "PUT",
                {"enabled": True, "record": True, "continuous": True, "max_clip_s": 1})
        clip = wait_until(
            lambda: next((c for c in hub.api("/api/recordings")
                          if not c["local"] and c["remote"]), None),
            "no clip was uploaded and freed from the disk", timeout=60)
        assert clip["remote"].startswith("s3://clips/remotecam/demo/"), clip
        samples = scrape(hub)
        assert value(samples, "remotecam_uploaded_clips_total") >= 1, samples
        assert value(samples, "remotecam_uploaded_bytes_total") >= clip["bytes"], samples

        gallery = browser_with().new_page()
        gallery.goto(hub.https_url(f"/recordings?token={hub.token}"))
        card = gallery.wait_for_selector(f".clip[data-id='{clip['id']}']", timeout=WAIT * 1000)
        gallery.wait_for_function(
            f"() => document.querySelector(\".clip[data-id='{clip['id']}'] img\").naturalWidth > 0",
            timeout=WAIT * 1000)
        card.query_selector("a.view").click()
        gallery.wait_for_function("() => document.getElementById('video').ended",
                                  timeout=WAIT * 1000)
        assert gallery.evaluate("() => document.getElementById('video').videoWidth") == 640
    finally:
        store.kill()
        store.wait()
