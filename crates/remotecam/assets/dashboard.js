import { openViewer, api, fitNav } from "/assets/viewer.js";
import { openVideo, videoCodec } from "/assets/video.js";

const grid = document.getElementById("cameras");
const empty = document.getElementById("empty");
const error = document.getElementById("error");
const cards = new Map();

// A tile: a camera of this hub, or of a peer (another hub, `peer` its name and address).
function card(cam, peer) {
  const el = document.createElement("article");
  el.className = "card";
  el.dataset.camera = cam.name;
  if (peer) el.dataset.hub = peer.name;
  const page = peer ? `${peer.url}/cameras/${encodeURIComponent(cam.name)}` : `/cameras/${encodeURIComponent(cam.name)}`;
  // The tile's shape only: every name and address goes in as text or an attribute.
  el.innerHTML = `
    <a class="view"><img alt="">
      <div class="badges"><span class="overlay" hidden>OFFLINE</span>
        <span class="badge motion" hidden>MOTION</span><span class="badge rec" hidden>● REC</span></div></a>
    <div class="meta"><span class="dot"></span><span class="name"></span>
      <span class="size muted"></span><span class="fps muted"></span><span class="viewers muted"></span>
      <span class="source muted"></span><span class="detect muted"></span>
      <button class="quiet delete forget" hidden>Forget</button></div>
    <div class="problem" hidden></div><div class="problem health" hidden></div>`;
  el.querySelector("a.view").href = page;
  el.querySelector(".name").textContent = peer ? `${cam.name} · ${peer.name}` : cam.name;
  const img = el.querySelector("img");
  img.alt = `live view of ${cam.name}`;
  if (peer) {
    el.querySelector(".source").title = `on the hub ${peer.name} (${peer.url})`;
    return { el, stop: peerViewer(peer, cam.name, img), video: true, peer };
  }
  // Until the first frame arrives (or while offline): the newest frame or "no signal".
  img.src = `/api/cameras/${encodeURIComponent(cam.name)}/snapshot.jpg`;
  const entry = { el, stop: openViewer(cam.name, img), video: false };
  el.querySelector(".forget").addEventListener("click", async () => {
    try {
      await api(`/api/cameras/${encodeURIComponent(cam.name)}`, { method: "DELETE" });
      refresh();
    } catch (e) {
      const problem = el.querySelector(".problem");
      problem.textContent = `Cannot forget it: ${e.message}`;
      problem.hidden = false;
    }
  });
  return entry;
}

// A peer's camera through this hub: its snapshots one after another, each asked for
// when the last has shown (at most 10 a second), so that a tile holds no connection
// open (a browser opens only six at once to a plain-HTTP hub).
function peerViewer(peer, name, img) {
  const url = `/api/peers/${encodeURIComponent(peer.name)}/cameras/${encodeURIComponent(name)}/snapshot.jpg`;
  let stopped = false, timer = null, asked = 0;
  const next = () => {
    if (stopped) return;
    const wait = Math.max(0, 100 - (performance.now() - asked));
    timer = setTimeout(() => { asked = performance.now(); img.src = `${url}?t=${Date.now()}`; }, wait);
  };
  img.addEventListener("load", next);
  // A peer that does not answer: try again in a while.
  img.addEventListener("error", () => { if (!stopped) timer = setTimeout(next, 2000); });
  asked = performance.now();
  img.src = url;
  return () => { stopped = true; clearTimeout(timer); img.removeAttribute("src"); };
}

// A tile plays the camera's video where the browser can (a JPEG camera's made by the
// hub, unless the viewer chose JPEG on a camera page); JPEG again if that changes.
function playVideo(entry, cam) {
  if (entry.peer || !cam.codec) return;
  const codec = videoCodec(cam);
  const video = !!codec;
  if (video === entry.video) return;
  entry.stop();
  const shown = entry.el.querySelector(entry.video ? "video" : "img");
  const next = document.createElement(video ? "video" : "img");
  next.setAttribute(video ? "aria-label" : "alt", `live view of ${cam.name}`);
  shown.replaceWith(next);
  entry.stop = video ? openVideo(cam.name, next, codec) : openViewer(cam.name, next);
  entry.video = video;
}

// "12 s", "3 min", "2 h", "4 days": how long ago something was.
function ago(ms) {
  const s = ms / 1000;
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86400) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} days`;
}

// Cameras that come by themselves (a browser, a program's Publisher) may be forgotten
// once offline; configured ones come back with their source.
const SELF_PUBLISHED = ["browser", "publisher"];

function update(entry, cam) {
  const q = (s) => entry.el.querySelector(s);
  entry.el.classList.toggle("offline", !cam.online);
  q(".overlay").hidden = cam.online;
  q(".dot").className = `dot ${cam.online ? "on" : "off"}`;
  q(".dot").title = cam.online ? "online" : "offline";
  q(".size").textContent = cam.online && cam.width ? `${cam.width}×${cam.height}` : "";
  if (cam.online) q(".fps").textContent = `${cam.fps.toFixed(1)} fps`;
  else if (cam.last_frame_age_ms != null) q(".fps").textContent = `last seen ${ago(cam.last_frame_age_ms)} ago`;
  else q(".fps").textContent = cam.state === "idle" ? "idle (on demand)" : "never seen";
  // This page is a viewer too: count the others.
  const others = Math.max(0, cam.viewers - 1);
  q(".viewers").textContent = cam.online && others ? `${others} other viewer${others === 1 ? "" : "s"}` : "";
  q(".source").textContent = cam.source;
  q(".detect").textContent = cam.motion_enabled ? "motion detection on" : "";
  q(".badge.motion").hidden = !cam.in_event;
  q(".badge.rec").hidden = cam.recording !== "recording";
  q(".forget").hidden = !!entry.peer || cam.online || !SELF_PUBLISHED.includes(cam.source);
  playVideo(entry, cam);
  q(".problem").hidden = !cam.error;
  if (cam.error) q(".problem").textContent = cam.error;
  // This hub's phones only: a peer's publishers are its own to watch over.
  const warning = entry.peer ? "" : healthWarning(cam);
  q(".health").hidden = !warning;
  q(".health").textContent = warning;
}

// What a phone's publisher page said that puts the camera at risk: a hidden page (the
// browser throttles or stops its camera) or a low battery not charging.
function healthWarning(cam) {
  const h = cam.online && cam.health;
  if (!h) return "";
  const warnings = [];
  if (h.page_hidden) warnings.push("the phone's publisher page is hidden: its browser may pause the camera");
  if (h.battery != null && h.battery < 0.2 && !h.charging) warnings.push(`the phone's battery is at ${Math.round(h.battery * 100)}%`);
  return warnings.join("; ");
}

// The other hubs this one lists ([[peers]]); their cameras come after this hub's own.
let peers = [];
try { peers = await api("/api/peers"); } catch {}

// Each camera's tile, made or updated; `key` is the camera's name, or for a peer's
// camera "<peer>/<name>".
function show(seen, key, cam, peer) {
  seen.add(key);
  let entry = cards.get(key);
  if (!entry) {
    entry = card(cam, peer);
    cards.set(key, entry);
    grid.append(entry.el);
  }
  update(entry, cam);
}

async function refresh() {
  const seen = new Set();
  const problems = [];
  // Asked at once; a peer that is slow to answer holds up only its own tiles.
  const theirs = peers.map((p) => api(`/api/peers/${encodeURIComponent(p.name)}/cameras`));
  try {
    for (const cam of await api("/api/cameras")) show(seen, cam.name, cam);
  } catch (e) {
    problems.push(`Cannot reach the hub: ${e.message}`);
  }
  for (const [i, answer] of (await Promise.allSettled(theirs)).entries()) {
    const peer = peers[i];
    if (answer.status === "rejected") {
      problems.push(answer.reason.message);
      // Its tiles stay, as they were, until it answers again.
      for (const key of cards.keys()) if (key.startsWith(`${peer.name}/`)) seen.add(key);
      continue;
    }
    for (const cam of answer.value) show(seen, `${peer.name}/${cam.name}`, cam, peer);
  }
  for (const [key, entry] of cards) {
    if (!seen.has(key)) { entry.stop(); entry.el.remove(); cards.delete(key); }
  }
  error.textContent = problems.join(" · ");
  error.hidden = problems.length === 0;
  empty.hidden = cards.size > 0 || problems.length > 0;
}

refresh();
fitNav();
setInterval(refresh, 2000);
