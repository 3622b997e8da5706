"""Two hubs in Chromium: hub A lists hub B as a peer (with a viewer token of B's, B
trusting no one without one); A's dashboard shows B's camera live beside its own, marked
by hub, and A's gallery plays B's clips."""

import subprocess

from conftest import BIN, WAIT, shoot, start_publishing, wait_until


def viewer_token(hub):
    """A viewer token of `hub`, made as its owner makes one (`remotecam token add`)."""
    out = subprocess.run(
        [str(BIN), "--bind", "127.0.0.1", "--port", str(hub.port), "--https-port",
         str(hub.https_port), "--data-dir", str(hub.data_dir), "token", "add", "--role", "viewer"],
        check=True, capture_output=True, text=True, timeout=WAIT).stdout
    return out.splitlines()[1].strip()


def test_a_dashboard_and_gallery_show_a_peers_cameras_and_clips(make_hub, browser_with, tmp_path):
    b = make_hub("--demo", "--trust-loopback", "false")
    b.api("/api/cameras/demo/motion", "PUT",
          {"enabled": True, "record": True, "continuous": True, "max_clip_s": 1})
    config = tmp_path / "a.toml"
    config.write_text(f'[[peers]]\nname = "b"\nurl = "http://127.0.0.1:{b.port}"\n'
                      f'token = "{viewer_token(b)}"\n')
    a = make_hub("--config", str(config))
    context = browser_with()
    start_publishing(context.new_page(), a, "phone")

    page = context.new_page()
    page.goto(a.https_url(f"/?token={a.token}"))
    page.wait_for_selector(".card[data-camera='phone']:not([data-hub])", timeout=WAIT * 1000)
    tile = ".card[data-hub='b'][data-camera='demo']"
    page.wait_for_selector(tile, timeout=WAIT * 1000)
    assert page.text_content(f"{tile} .name") == "demo · b"
    page.wait_for_function(f"() => document.querySelector(\"{tile} img\").naturalWidth === 640",
                           timeout=WAIT * 1000)
    # Live: the tile's picture keeps being replaced by newer ones.
    first = page.get_attribute(f"{tile} img", "src")
    page.wait_for_function(
        f"() => {{ const i = document.querySelector(\"{tile} img\");"
        f" return i.complete && i.naturalWidth > 0 && i.getAttribute('src') !== {first!r}; }}",
        timeout=WAIT * 1000)
    shoot(page, "dashboard-with-a-peer")

    # A clip B has finished (the one it is recording grows, and never ends playing).
    clip = wait_until(lambda: next((c for c in b.api("/api/recordings") if not c["in_progress"]), None),
                      "hub B saved no clip", timeout=60)
    gallery = context.new_page()
    gallery.goto(a.https_url("/recordings"))
    card = gallery.wait_for_selector(f".clip[data-id='b:{clip['id']}']", timeout=WAIT * 1000)
    assert "demo · b" in card.query_selector(".name").text_content()
    assert card.query_selector("button.delete").is_hidden(), "deleted on its own hub only"
    card.query_selector("a.view").click()
    gallery.wait_for_function("() => document.getElementById('video').ended", timeout=WAIT * 1000)
    assert gallery.evaluate("() => document.getElementById('video').videoWidth") == 640
