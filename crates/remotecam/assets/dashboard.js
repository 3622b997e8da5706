import { openViewer, api } from "/assets/viewer.js";

const grid = document.getElementById("cameras");
const empty = document.getElementById("empty");
const error = document.getElementById("error");
const cards = new Map();

function card(cam) {
  const el = document.createElement("article");
  el.className = "card";
  el.dataset.camera = cam.name;
  el.innerHTML = `
    <a class="view" href="/cameras/${encodeURIComponent(cam.name)}"><img alt=""><div class="overlay" hidden>OFFLINE</div></a>
    <div class="meta"><span class="dot"></span><span class="name"></span>
      <span class="size muted"></span><span class="fps muted"></span><span class="viewers muted"></span>
      <span class="source muted"></span></div>
    <div class="problem" hidden></div>`;
  el.querySelector(".name").textContent = cam.name;
  const img = el.querySelector("img");
  img.alt = `live view of ${cam.name}`;
  // Until the first frame arrives (or while offline): the newest frame or "no signal".
  img.src = `/api/cameras/${encodeURIComponent(cam.name)}/snapshot.jpg`;
  const overlay = el.querySelector(".overlay");
  const stop = openViewer(cam.name, img, {
    onStatus: (online) => { overlay.hidden = online !== false; },
  });
  return { el, stop };
}

function update(entry, cam) {
  const q = (s) => entry.el.querySelector(s);
  q(".dot").className = `dot ${cam.online ? "on" : "off"}`;
  q(".dot").title = cam.online ? "online" : "offline";
  q(".size").textContent = cam.width ? `${cam.width}×${cam.height}` : "";
  q(".fps").textContent = cam.online ? `${cam.fps.toFixed(1)} fps` : cam.state;
  q(".source").textContent = cam.source;
  q(".problem").hidden = !cam.error;
  q(".problem").textContent = cam.error || "";
  q(".viewers").textContent = `${cam.viewers} viewer${cam.viewers === 1 ? "" : "s"}`;
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
