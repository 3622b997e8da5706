// The recordings gallery: clips by day (the browser's local days) and camera, with
// thumbnails; a click plays the clip in the page. New clips appear as they are saved
// (the hub's event stream).
import { api } from "/assets/viewer.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
if (params.get("camera")) $("camera").add(new Option(params.get("camera"), params.get("camera")));

function fmtBytes(n) {
  return n > 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MB` : `${Math.max(1, Math.round(n / 1024))} kB`;
}
function fmtDuration(s) {
  const m = Math.floor(s / 60), r = Math.round(s % 60);
  return m ? `${m} min ${r} s` : `${r} s`;
}
const localDay = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;

async function cameras() {
  const seen = new Set([...$("camera").options].map((o) => o.value));
  try {
    for (const c of await api("/api/cameras")) {
      if (!seen.has(c.name)) { $("camera").add(new Option(c.name, c.name)); seen.add(c.name); }
    }
  } catch {}
  if (params.get("camera")) $("camera").value = params.get("camera");
}

function query() {
  const q = new URLSearchParams();
  if ($("camera").value) q.set("camera", $("camera").value);
  if ($("day").value) {
    const [y, m, d] = $("day").value.split("-").map(Number);
    q.set("since", new Date(y, m - 1, d).toISOString());
    q.set("until", new Date(y, m - 1, d + 1).toISOString());
  }
  return q.toString();
}

function play(clip) {
  $("player").hidden = false;
  $("video").src = clip.video_url;
  $("video").play().catch(() => {});
  $("playing").textContent = `${clip.camera} · ${new Date(clip.start).toLocaleString()} · ${fmtDuration(clip.duration_s)}`;
  $("download").href = `${clip.video_url}?download=1`;
  $("player").scrollIntoView({ behavior: "smooth", block: "nearest" });
}
$("close").addEventListener("click", () => { $("video").pause(); $("video").removeAttribute("src"); $("player").hidden = true; });

async function remove(clip, card) {
  if (!confirm(`Delete the ${clip.camera} clip of ${new Date(clip.start).toLocaleString()}?`)) return;
  try {
    await api(`/api/recordings/${clip.id}`, { method: "DELETE" });
    card.remove();
  } catch (e) { $("problem").hidden = false; $("problem").textContent = e.message; }
}

function card(clip) {
  const el = document.createElement("div");
  el.className = "card clip";
  el.dataset.id = clip.id;
  const start = new Date(clip.start);
  el.innerHTML = `<a class="view" href="${clip.video_url}"><img loading="lazy" alt=""></a>
    <div class="meta"><span class="name"></span><span class="muted"></span>
    <span class="actions"><a download>Download</a> <button class="quiet delete">Delete</button></span></div>`;
  el.querySelector("img").src = clip.thumbnail_url;
  el.querySelector(".name").textContent = `${start.toLocaleTimeString()} · ${clip.camera}`;
  el.querySelector(".muted").textContent = clip.in_progress
    ? "recording…" : `${fmtDuration(clip.duration_s)} · ${fmtBytes(clip.bytes)}`;
  el.querySelector("a[download]").href = `${clip.video_url}?download=1`;
  el.querySelector("a.view").addEventListener("click", (e) => { e.preventDefault(); play(clip); });
  const del = el.querySelector(".delete");
  del.disabled = clip.in_progress;
  del.addEventListener("click", () => remove(clip, el));
  return el;
}

async function load() {
  let clips;
  try {
    clips = await api(`/api/recordings?${query()}`);
    $("problem").hidden = true;
  } catch (e) {
    $("problem").hidden = false; $("problem").textContent = e.message; return;
  }
  const days = new Map();
  for (const c of clips) {
    const d = localDay(new Date(c.start));
    if (!days.has(d)) days.set(d, []);
    days.get(d).push(c);
  }
  const root = $("days");
  root.replaceChildren();
  for (const [d, list] of days) {
    const h = document.createElement("h2");
    h.className = "day";
    h.textContent = new Date(`${d}T12:00:00`).toLocaleDateString(undefined, { weekday: "long", year: "numeric", month: "long", day: "numeric" });
    const grid = document.createElement("div");
    grid.className = "grid";
    for (const c of list) grid.append(card(c));
    root.append(h, grid);
  }
  const bytes = clips.reduce((n, c) => n + c.bytes, 0);
  $("summary").textContent = clips.length ? `${clips.length} clip${clips.length > 1 ? "s" : ""}, ${fmtBytes(bytes)}` : "";
  $("empty").hidden = clips.length > 0;
}

$("camera").addEventListener("change", () => {
  const u = new URL(location.href);
  $("camera").value ? u.searchParams.set("camera", $("camera").value) : u.searchParams.delete("camera");
  history.replaceState(null, "", u);
  load();
});
$("day").addEventListener("change", load);

await cameras();
await load();
// Saved, discarded or removed clips: reload (a short pause merges bursts).
let pending = null;
const events = new EventSource("/api/events");
for (const kind of ["clip_saved", "clip_discarded", "motion_start"]) {
  events.addEventListener(kind, () => { clearTimeout(pending); pending = setTimeout(load, 300); });
}
