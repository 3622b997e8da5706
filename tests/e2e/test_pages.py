"""What a person sees on the hub's pages, in Chromium at a phone's size and a desktop's:
the publisher page stops and says why when the hub refuses for good; the dashboard links
to the recordings, shows motion and recording on the tiles, and shows an offline camera
as offline (greyed, when it was last seen) with a way to forget it. Each test writes
screenshots of what it checked (see `conftest.shoot`)."""

import pytest

from conftest import VIEWPORTS, WAIT, fits_the_width, shoot, start_publishing, wait_until


def refused(page, hub, name):
    page.fill("#name", name)
    page.click("#start")
    page.wait_for_function(
        "() => document.getElementById('start').textContent === 'Start streaming'"
        " && document.getElementById('status').textContent.startsWith('Stopped:')",
        timeout=WAIT * 1000,
    )
    assert "error" in page.get_attribute("#status", "class")
    return page.text_content("#status")


@pytest.mark.parametrize("refusal", ["configured name", "hub full", "no token"])
def test_the_publisher_stops_and_says_why_when_refused_for_good(make_hub, browser_with, refusal):
    context = browser_with()
    page = context.new_page()
    if refusal == "configured name":
        hub = make_hub("--demo")
        page.goto(hub.https_url(f"/publish?token={hub.token}"))
        assert page.text_content("#s-size") == "–", "no size before the camera's is known"
        assert "configured source" in refused(page, hub, "demo")
    elif refusal == "hub full":
        hub = make_hub("--demo", "--max-cameras", "1")
        page.goto(hub.https_url(f"/publish?token={hub.token}"))
        assert "the hub is full" in refused(page, hub, "phone")
    else:
        hub = make_hub("--trust-loopback", "false")
        page.goto(hub.https_url(f"/publish?token={hub.token}"))
        context.clear_cookies()  # the token is gone (another browser, a cleared cookie)
        assert "token" in refused(page, hub, "phone")
    assert page.text_content("#s-size") == "–"
    assert fits_the_width(page)
    shoot(page, f"publish-refused-{refusal.replace(' ', '-')}")


def test_the_publisher_form_fits_a_phone(hub, browser_with):
    page = browser_with().new_page()
    page.set_viewport_size(VIEWPORTS["phone"])
    page.goto(hub.https_url(f"/publish?token={hub.token}"))
    page.select_option("#device", "environment")
    page.select_option("#resolution", "1920x1080")
    assert fits_the_width(page), "the form is cut on a phone"
    shoot(page, "publish")


def tile(name):
    return f'article[data-camera="{name}"]'


def test_the_dashboard_shows_motion_recording_and_offline_cameras(hub, browser_with):
    context = browser_with()
    publisher = context.new_page()
    start_publishing(publisher, hub, "phone")
    # Chromium's fake camera moves all the time: with detection on, an event starts and
    # a clip is recorded.
    hub.api("/api/cameras/phone/motion", "PUT", {"enabled": True, "threshold": 0.05,
                                                  "calm_frames": 1000})
    dash = context.new_page()
    dash.goto(hub.https_url("/"))
    dash.wait_for_selector(f"{tile('phone')} .badge.rec:not([hidden])", timeout=WAIT * 1000)
    assert dash.is_visible(f"{tile('phone')} .badge.motion")
    assert "motion detection on" in dash.text_content(f"{tile('phone')} .detect")
    assert not dash.is_visible(f"{tile('phone')} .forget"), "an online camera is not forgotten"
    for size in VIEWPORTS.values():
        dash.set_viewport_size(size)
        assert fits_the_width(dash), size
    shoot(dash, "dashboard-live")

    # The phone goes away: its tile looks offline, says when it was last seen, and
    # offers to forget it.
    publisher.close()
    dash.wait_for_selector(f"{tile('phone')}.offline", timeout=WAIT * 1000)
    dash.wait_for_selector(f"{tile('phone')} .forget:not([hidden])", timeout=WAIT * 1000)
    assert dash.text_content(f"{tile('phone')} .fps").startswith("last seen ")
    assert dash.is_visible(f"{tile('phone')} .overlay")
    assert dash.text_content(f"{tile('phone')} .viewers") == "", "no viewers of an offline camera"
    grey = dash.evaluate(
        f"() => getComputedStyle(document.querySelector('{tile('phone')} .view > :first-child')).filter")
    assert "grayscale" in grey, grey
    shoot(dash, "dashboard-offline")
    dash.click(f"{tile('phone')} .forget")
    dash.wait_for_selector(tile("phone"), state="detached", timeout=WAIT * 1000)
    wait_until(lambda: not hub.cameras(), "the camera is forgotten")

    # The recordings are one click away.
    dash.click("header >> text=Recordings")
    dash.wait_for_url(hub.https_url("/recordings"))
