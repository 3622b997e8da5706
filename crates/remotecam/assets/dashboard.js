import { openViewer, api } from "/assets/viewer.js";
import { canPlay, openVideo } from "/assets/video.js";

const grid = document.getElementById("cameras");
const empty = document.getElementById("empty");
const error = document.getElementById("error");
const cards = new Map();

function card(cam) {
  const el = document.createElement("article");
  el.className = "card";
  el.dataset.camera = cam.name;
  el.innerHTML = `
    <a class="view" href="/cameras/${encodeURIComponent(cam.name)}"><img alt="">
      <div class="badges"><span class="overlay" hidden>OFFLINE</span>
        <span class="badge motion" hidden>MOTION</span><span class="badge rec" hidden>● REC</span></div></a>
    <div class="meta"><span class="dot"></span><span class="name"></span>
      <span class="size muted"></span><span class="fps muted"></span><span class="viewers muted"></span>
      <span class="source muted"></span><span class="detect muted"></span>
      <button class="quiet delete forget" hidden>Forget</button></div>
    <div class="problem" hidden></div>`;
  el.querySelector(".name").textContent = cam.name;
  const img = el.querySelector("img");
  img.alt = `live view of ${cam.name}`;
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

// An H.264 or H.265 camera's tile plays its video where the browser can.
function playVideo(entry, cam) {
  if (entry.video || cam.codec === "jpeg" || !canPlay(cam.codec_string)) return;
  entry.stop();
  const img = entry.el.querySelector("img");
  const video = document.createElement("video");
  video.setAttribute("aria-label", img.alt);
  img.replaceWith(video);
  entry.stop = openVideo(cam.name, video, cam.codec_string);
  entry.video = true;
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
  q(".forget").hidden = cam.online || !SELF_PUBLISHED.includes(cam.source);
  playVideo(entry, cam);
  q(".problem").hidden = !cam.error;
  if (cam.error) q(".problem").textContent = cam.error;
}

async function refresh() {
  try {
    const cameras = await api("/api/cameras");
    error.hidden = true;
    const seen = new Set();
    for (const cam of cameras) {
      seen.add(cam.name);
      let entry = cards.get(cam.name);
      if (!entry) {
        entry = card(cam);
        cards.set(cam.name, entry);
        grid.append(entry.el);
      }
      update(entry, cam);
    }
    for (const [name, entry] of cards) {
      if (!seen.has(name)) { entry.stop(); entry.el.remove(); cards.delete(name); }
    }
    empty.hidden = cameras.length > 0;
  } catch (e) {
    error.textContent = `Cannot reach the hub: ${e.message}`;
    error.hidden = false;
  }
}

refresh();
setInterval(refresh, 2000);
