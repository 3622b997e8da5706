"""Sharing a camera as a person does it, in Chromium: on the camera's page the owner makes
a link that watches that camera for a week; whoever opens it (another browser) sees the
camera live with its settings shown but not changeable, no other camera and no offer to
publish one; once the link is revoked it opens nothing."""

import urllib.request

from conftest import WAIT, shoot, start_publishing


def test_a_share_link_watches_one_camera_until_revoked(make_hub, browser_with):
    hub = make_hub("--trust-loopback", "false")
    owner = browser_with()
    start_publishing(owner.new_page(), hub, "door")
    start_publishing(owner.new_page(), hub, "yard")
    page = owner.new_page()
    page.goto(hub.https_url(f"/cameras/door?token={hub.token}"))
    page.click("#share-make")
    page.wait_for_selector("#share-link:not([hidden])", timeout=WAIT * 1000)
    link = page.get_attribute("#share-url", "href")
    assert link.startswith(hub.https_url("/cameras/door?token=")), link
    assert hub.token not in link

    friend = browser_with().new_page()
    friend.goto(link)
    assert friend.url == hub.https_url("/cameras/door"), "the token moved into a cookie"
    friend.wait_for_function("() => document.getElementById('live').naturalWidth === 640",
                             timeout=WAIT * 1000)
    friend.wait_for_selector("#m-readonly:not([hidden])", timeout=WAIT * 1000)
    assert friend.evaluate(
        "() => [...document.querySelectorAll('.settings input')].every((i) => i.disabled)")
    assert friend.is_hidden("#share") and friend.is_hidden("#mask-edit")
    publish = 'nav a[href="/publish"]'
    friend.wait_for_selector(publish, state="hidden", timeout=WAIT * 1000)
    assert page.is_visible(publish), "the owner is offered publishing"
    shoot(friend, "shared-camera")

    friend.goto(hub.https_url("/"))
    friend.wait_for_selector(".card .name", timeout=WAIT * 1000)
    assert friend.eval_on_selector_all(".card .name", "els => els.map((e) => e.textContent)") == ["door"]
    friend.wait_for_selector(publish, state="hidden", timeout=WAIT * 1000)

    token = next(t for t in hub.api("/api/tokens") if t["cameras"] == ["door"])
    assert token["role"] == "viewer" and not token["expired"]
    req = urllib.request.Request(hub.url(f"/api/tokens/{token['id']}"), method="DELETE",
                                 headers={"Authorization": f"Bearer {hub.token}"})
    with urllib.request.urlopen(req, timeout=WAIT) as res:
        assert res.status == 204
    answer = friend.goto(hub.https_url("/cameras/door"))
    assert answer.status == 401
    assert "private" in friend.text_content("body")
