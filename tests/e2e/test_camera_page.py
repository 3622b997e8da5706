"""The camera page's motion panel in a real Chromium over HTTPS (HTTP/2, as a phone
opens it), driven as a person would: turn detection on, watch the level graph move
against the threshold line, change the threshold (it applies at once), draw an ignored
zone on the picture."""

from conftest import VIEWPORTS, WAIT, fits_the_width, shoot, start_publishing, wait_until


def motion(hub, name):
    return hub.api(f"/api/cameras/{name}/motion")


def test_motion_panel_turns_detection_on_graphs_the_level_and_sets_zones(make_hub, browser_with):
    hub = make_hub()
    context = browser_with()
    start_publishing(context.new_page(), hub, "phone")
    page = context.new_page()
    page.goto(hub.https_url(f"/cameras/phone?token={hub.token}"))
    page.wait_for_function("() => document.getElementById('live').naturalWidth === 640",
                           timeout=WAIT * 1000)
    assert not motion(hub, "phone")["enabled"]

    page.check("#m-enabled")
    wait_until(lambda: motion(hub, "phone")["enabled"], "detection is turned on")
    # Chromium's fake camera moves all the time: the level rises above zero, the graph
    # draws it, and the detector's own CPU time per frame is shown.
    page.wait_for_function("() => +document.getElementById('m-level').textContent > 0",
                           timeout=WAIT * 1000)
    page.wait_for_function("() => +document.getElementById('m-cpu').textContent > 0",
                           timeout=WAIT * 1000)
    drawn = page.evaluate(
        "() => { const c = document.getElementById('m-graph');"
        " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let blue = 0, red = 0;"
        " for (let i = 0; i < d.length; i += 4) {"
        "   if (d[i + 2] > 150 && d[i] < 100) blue++;"
        "   if (d[i] > 150 && d[i + 2] < 100) red++; }"
        " return { blue, red }; }")
    assert drawn["blue"] > 50 and drawn["red"] > 50, f"level line and threshold line: {drawn}"

    # A new threshold applies at once.
    page.fill("#m-threshold", "2.5")
    page.dispatch_event("#m-threshold", "change")
    wait_until(lambda: motion(hub, "phone")["threshold"] == 2.5, "the threshold is set")

    # An ignored zone: three corners clicked on the picture, then Finish zone.
    page.click("#mask-edit")
    box = page.locator("#mask").bounding_box()
    for fx, fy in [(0.1, 0.1), (0.5, 0.1), (0.1, 0.5)]:
        page.mouse.click(box["x"] + fx * box["width"], box["y"] + fy * box["height"])
    page.click("#mask-done")
    page.wait_for_function("() => document.getElementById('mask-count').textContent === '1'",
                           timeout=WAIT * 1000)
    zone = motion(hub, "phone")["mask"]
    assert len(zone) == 1 and len(zone[0]) == 3, zone
    for (x, y), (fx, fy) in zip(zone[0], [(0.1, 0.1), (0.5, 0.1), (0.1, 0.5)]):
        assert abs(x - fx) < 0.02 and abs(y - fy) < 0.02, zone

    page.click("#mask-clear")
    page.wait_for_function("() => document.getElementById('mask-count').textContent === 'none'",
                           timeout=WAIT * 1000)
    assert motion(hub, "phone")["mask"] == []


def test_graph_starts_full_every_setting_round_trips_and_plain_http_addresses(make_hub, browser_with):
    hub = make_hub()
    context = browser_with()
    start_publishing(context.new_page(), hub, "phone")
    hub.api("/api/cameras/phone/motion", "PUT", {"enabled": True})
    # The hub keeps the levels while no page is open.
    wait_until(lambda: len(hub.api("/api/cameras/phone/motion/history")["samples"]) >= 12,
               "three seconds of levels kept")
    page = context.new_page()
    opened_ms = page.evaluate("() => Date.now()")
    page.goto(hub.https_url(f"/cameras/phone?token={hub.token}"))
    # The first draw already has what came before the page was opened, on a stable
    # percent scale (a whole step: 1, 2, 5, 10...).
    page.wait_for_function("() => +document.getElementById('m-graph').dataset.samples >= 12",
                           timeout=WAIT * 1000)
    graph = page.evaluate("() => ({...document.getElementById('m-graph').dataset})")
    assert int(graph["oldest"]) < opened_ms - 2000, graph
    assert int(graph["scale"]) in (1, 2, 5, 10, 20, 50, 100), graph

    # Every setting is on the page, and what is typed there is what the hub has.
    values = {"#m-calm": ("calm_frames", "33"), "#m-min": ("min_motion_frames", "4"),
              "#m-preroll": ("pre_roll_s", "3.5"), "#m-maxclip": ("max_clip_s", "120"),
              "#m-gap": ("min_gap_s", "7"), "#m-noise": ("noise_level", "12")}
    for selector, (key, value) in values.items():
        page.fill(selector, value)
        page.dispatch_event(selector, "change")
        wait_until(lambda: motion(hub, "phone")[key] == float(value), f"{key} is set")
    # Clicked as an element, not at its place on the screen: the panel's text changes
    # as the hub answers, and a click at coordinates can land beside the box then.
    page.eval_on_selector("#m-record", "e => e.click()")
    wait_until(lambda: motion(hub, "phone")["record"] is False, "recording is turned off")
    page.eval_on_selector("#m-continuous", "e => e.click()")
    wait_until(lambda: motion(hub, "phone")["continuous"] is True, "recording all the time is on")
    page.fill("#m-noise", "")
    page.dispatch_event("#m-noise", "change")
    wait_until(lambda: motion(hub, "phone")["noise_level"] is None, "the noise level is learnt again")
    page.fill("#m-calm", "0")
    page.dispatch_event("#m-calm", "change")
    page.wait_for_selector("#m-settingproblem:not([hidden])", timeout=WAIT * 1000)
    assert "calm_frames" in page.text_content("#m-settingproblem")
    page.reload()
    page.wait_for_function("() => document.getElementById('m-calm').value === '33'",
                           timeout=WAIT * 1000)
    assert page.input_value("#m-preroll") == "3.5" and not page.is_checked("#m-record")
    assert page.is_checked("#m-continuous")

    # Opened over HTTPS, the page gives the plain-HTTP addresses too (players refuse the
    # self-signed certificate).
    page.wait_for_selector("#urls a", timeout=WAIT * 1000)
    links = page.eval_on_selector_all("#urls a", "els => els.map(e => e.textContent)")
    assert hub.url("/api/cameras/phone/stream.mjpg") in links, links
    assert hub.https_url("/api/cameras/phone/stream.mjpg") in links, links
    for size in VIEWPORTS.values():
        page.set_viewport_size(size)
        assert fits_the_width(page), size
    shoot(page, "camera")


def test_addresses_carry_the_token_unless_the_clients_address_is_trusted(make_hub, browser_with):
    """On the hub's own machine the addresses need no token; with --trust-loopback false
    they do, and the page opened with it puts it in them."""
    context = browser_with()
    for args, wanted in [((), ""), (("--trust-loopback", "false"), "?token=")]:
        hub = make_hub(*args)
        page = context.new_page()
        page.goto(hub.url(f"/cameras/door?token={hub.token}"))
        page.wait_for_selector("#urls a", timeout=WAIT * 1000)
        links = page.eval_on_selector_all("#urls a", "els => els.map(e => e.textContent)")
        suffix = f"?token={hub.token}" if wanted else ""
        assert hub.url(f"/api/cameras/door/stream.mjpg{suffix}") in links, (args, links)
        assert hub.url(f"/api/cameras/door/stream.mp4{suffix}") in links, (args, links)
        # RTSP, for NVRs and Home Assistant: the token as the URL's password.
        password = f"remotecam:{hub.token}@" if wanted else ""
        codes = page.eval_on_selector_all("#urls code", "els => els.map(e => e.textContent)")
        assert f"rtsp://{password}127.0.0.1:{hub.rtsp_port}/door" in codes, (args, codes)
        page.close()
