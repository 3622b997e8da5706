"""Recordings in a real browser: a phone-like publisher (Chromium's fake camera, whose
picture moves) triggers motion; the clip is saved, listed in the gallery page, and its
`<video>` plays in Chromium to the end."""

from conftest import WAIT, shoot, start_publishing, wait_until


def recording_phone(make_hub, browser_with, max_clip_s):
    """A hub recording Chromium's fake camera (whose picture never stops moving) in clips
    of `max_clip_s`; gives the hub and the browser context."""
    hub = make_hub()
    context = browser_with()
    start_publishing(context.new_page(), hub, "phone")
    hub.api("/api/cameras/phone/motion", "PUT",
            {"enabled": True, "threshold": 0.05, "max_clip_s": max_clip_s, "pre_roll_s": 0})
    return hub, context


def clips(hub, in_progress):
    return [c for c in hub.api("/api/recordings?camera=phone") if c["in_progress"] == in_progress]


def test_a_recorded_clip_plays_to_its_end_in_the_gallery(make_hub, browser_with):
    hub, context = recording_phone(make_hub, browser_with, max_clip_s=3)
    clip = wait_until(lambda: clips(hub, False), "no clip was saved", timeout=60)[-1]
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
    hub, context = recording_phone(make_hub, browser_with, max_clip_s=120)
    # A few whole fragments (about a second each) written.
    clip = wait_until(lambda: [c for c in clips(hub, True) if c["frames"] >= 60],
                      "no clip got under way", timeout=60)[0]

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


def test_the_gallery_has_a_timeline_clip_details_and_deletes_several(make_hub, browser_with):
    hub, context = recording_phone(make_hub, browser_with, max_clip_s=2)
    done = wait_until(lambda: len(clips(hub, False)) >= 3 and clips(hub, False),
                      "three clips saved", timeout=60)
    gallery = context.new_page()
    gallery.on("dialog", lambda dialog: dialog.accept())
    gallery.goto(hub.https_url(f"/recordings?token={hub.token}"))
    gallery.wait_for_selector(f".clip[data-id='{done[0]['id']}']", timeout=WAIT * 1000)
    listed = [c["id"] for c in hub.api("/api/recordings?camera=phone")]

    # No broken picture: a clip without its thumbnail yet shows the camera's newest frame.
    gallery.wait_for_function(
        "() => [...document.querySelectorAll('.clip img')].every((i) => i.complete && i.naturalWidth > 0)",
        timeout=WAIT * 1000)

    # The day's timeline: a mark per clip of the camera, at its time; a click plays it.
    marks = gallery.eval_on_selector_all(".timeline .row[data-camera='phone'] .mark",
                                         "els => els.map(e => +e.dataset.id)")
    assert set(done_id["id"] for done_id in done) <= set(marks) <= set(listed) | set(marks), marks
    clip = done[0]
    # (Clips seconds apart overlap on a 24-hour axis: this one's mark is clicked as such.)
    gallery.dispatch_event(f".timeline .mark[data-id='{clip['id']}']", "click")
    gallery.wait_for_function(
        f"() => document.getElementById('video').src.endsWith('/api/recordings/{clip['id']}.mp4')",
        timeout=WAIT * 1000)
    # The player says when as the card does.
    card = gallery.locator(f".clip[data-id='{clip['id']}']")
    when = card.locator(".name").inner_text().split(" · ")[0]
    assert when in gallery.text_content("#playing"), (when, gallery.text_content("#playing"))
    assert f"{clip['motion_frames']} motion frames" in card.inner_text(), card.inner_text()
    assert "peak" in card.inner_text()
    shoot(gallery, "recordings")

    # Two ticked, one button: both gone.
    gone = [c["id"] for c in done[:2]]
    for clip_id in gone:
        gallery.check(f".clip[data-id='{clip_id}'] input.pick")
    assert gallery.text_content("#delete-selected") == "Delete 2 selected"
    gallery.click("#delete-selected")
    for clip_id in gone:
        gallery.wait_for_selector(f".clip[data-id='{clip_id}']", state="detached",
                                  timeout=WAIT * 1000)
    left = [c["id"] for c in hub.api("/api/recordings?camera=phone")]
    assert not set(gone) & set(left), left
    assert done[2]["id"] in left, "only the ticked clips are deleted"
