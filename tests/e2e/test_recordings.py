"""Recordings in a real browser: a phone-like publisher (Chromium's fake camera, whose
picture moves) triggers motion; the clip is saved, listed in the gallery page, and its
`<video>` plays in Chromium to the end."""

import time

from conftest import WAIT, start_publishing


def test_a_recorded_clip_plays_to_its_end_in_the_gallery(make_hub, browser_with):
    hub = make_hub()
    context = browser_with()
    page = context.new_page()
    start_publishing(page, hub, "phone")
    # The fake camera's picture never stops moving: clips are cut every 3 s.
    hub.api("/api/cameras/phone/motion", "PUT",
        {"enabled": True, "threshold": 0.05, "max_clip_s": 3, "pre_roll_s": 0})

    deadline = time.monotonic() + 60
    while True:
        done = [c for c in hub.api("/api/recordings?camera=phone") if not c["in_progress"]]
        if done:
            clip = done[-1]
            break
        assert time.monotonic() < deadline, "no clip was saved"
        time.sleep(0.2)
    assert clip["frames"] > 10, clip

    gallery = context.new_page()
    gallery.goto(hub.https_url(f"/recordings?token={hub.token}"))
    card = gallery.wait_for_selector(f".clip[data-id='{clip['id']}']", timeout=WAIT * 1000)
    gallery.wait_for_function(
        f"() => document.querySelector(\".clip[data-id='{clip['id']}'] img\").naturalWidth > 0",
        timeout=WAIT * 1000,
    )
    card.query_selector("a.view").click()
    gallery.wait_for_function("() => document.getElementById('video').ended", timeout=WAIT * 1000)
    played = gallery.evaluate(
        "() => { const v = document.getElementById('video');"
        " return { duration: v.duration, width: v.videoWidth, height: v.videoHeight }; }")
    assert (played["width"], played["height"]) == (640, 480), played
    assert abs(played["duration"] - clip["duration_s"]) < 0.2, (played, clip)

    # Deleting it from the gallery (after the page's confirmation) removes it for good.
    gallery.on("dialog", lambda dialog: dialog.accept())
    gallery.locator(f".clip[data-id='{clip['id']}'] button.delete").click()
    gallery.wait_for_selector(f".clip[data-id='{clip['id']}']", state="detached",
                              timeout=WAIT * 1000)
    assert all(c["id"] != clip["id"] for c in hub.api("/api/recordings?camera=phone"))


def test_a_clip_being_recorded_plays_in_the_gallery(make_hub, browser_with):
    """A clip still being written is listed as recording, with its thumbnail, and what
    is written of it already plays."""
    hub = make_hub()
    context = browser_with()
    page = context.new_page()
    start_publishing(page, hub, "phone")
    hub.api("/api/cameras/phone/motion", "PUT",
        {"enabled": True, "threshold": 0.05, "max_clip_s": 120, "pre_roll_s": 0})

    # Wait for a few whole fragments (about a second each) to be written.
    deadline = time.monotonic() + 60
    while True:
        open_clips = [c for c in hub.api("/api/recordings?camera=phone") if c["in_progress"]]
        if open_clips and open_clips[0]["frames"] >= 60:
            clip = open_clips[0]
            break
        assert time.monotonic() < deadline, "no clip got under way"
        time.sleep(0.2)

    gallery = context.new_page()
    gallery.goto(hub.https_url(f"/recordings?token={hub.token}"))
    card = gallery.locator(f".clip[data-id='{clip['id']}']")
    card.wait_for(timeout=WAIT * 1000)
    assert "recording" in card.inner_text(), card.inner_text()
    assert card.locator("button.delete").is_disabled(), "an open clip cannot be deleted"
    gallery.wait_for_function(
        f"() => document.querySelector(\".clip[data-id='{clip['id']}'] img\").naturalWidth > 0",
        timeout=WAIT * 1000,
    )
    card.locator("a.view").click()
    # It plays through what was written when it was opened (60 frames: 2 s or more).
    gallery.wait_for_function(
        "() => { const v = document.getElementById('video');"
        " return v.currentTime > 1.5 && v.videoWidth === 640; }",
        timeout=WAIT * 1000,
    )
    still_open = hub.api(f"/api/recordings/{clip['id']}")
    assert still_open["in_progress"], "the clip was still being recorded while it played"
