"""DNS rebinding in a real Chromium: a page on evil.example, a name the browser resolves
to 127.0.0.1 (as a rebinding attacker's DNS makes it), reads nothing of the hub, changes
nothing and opens no WebSocket, although its requests come from loopback."""

from conftest import WAIT

PROBE = """async (port) => {
    const out = {};
    const list = await fetch('/api/cameras');
    out.list = [list.status, await list.text()];
    out.snapshot = (await fetch('/api/cameras/demo/snapshot.jpg')).status;
    out.put = (await fetch('/api/cameras/demo/motion', {
        method: 'PUT', headers: {'content-type': 'application/json'},
        body: JSON.stringify({enabled: true}),
    })).status;
    out.ws = await new Promise(done => {
        const ws = new WebSocket(`ws://${location.host}/api/cameras/demo/ws`);
        ws.onmessage = () => done('message');
        ws.onerror = () => done('refused');
    });
    return out;
}"""


def test_a_rebound_page_reads_nothing(make_hub, browser_with):
    hub = make_hub("--demo")
    context = browser_with("--host-resolver-rules=MAP evil.example 127.0.0.1")
    page = context.new_page()
    page.set_default_timeout(WAIT * 1000)

    answer = page.goto(f"http://evil.example:{hub.port}/")
    assert answer.status == 421
    assert "does not answer to the name" in page.content()
    seen = page.evaluate(PROBE, hub.port)
    assert seen["list"][0] == 421 and "demo" not in seen["list"][1], seen
    assert seen["snapshot"] == 421, seen
    assert seen["put"] == 421, seen
    assert seen["ws"] == "refused", seen
    assert hub.api("/api/cameras/demo/motion")["enabled"] is False

    # The same page by the hub's own address works (the probe is not broken).
    answer = page.goto(hub.url("/"))
    assert answer.status == 200
    seen = page.evaluate(PROBE, hub.port)
    assert seen["list"][0] == 200 and "demo" in seen["list"][1], seen
    assert seen["ws"] == "message", seen
