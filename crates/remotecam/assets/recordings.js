// The recordings gallery: clips by day (the browser's local days), each day with a
// 24-hour timeline per camera (a mark per clip; a click plays it) and the clips' cards
// (thumbnail, length, size, motion frames, peak; select several to delete them at once).
// A click plays the clip in the page. New clips appear as they are saved (the hub's
// event stream).
import { api, fitNav } from "/assets/viewer.js";

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
// One way to say a time, on the cards and in the player alike.
const fmtTime = (d) => d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const fmtDay = (d) => d.toLocaleDateString(undefined, { weekday: "long", year: "numeric", month: "long", day: "numeric" });
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
  const start = new Date(clip.start);
  $("playing").textContent = `${clip.camera} · ${fmtDay(start)} ${fmtTime(start)} · ${fmtDuration(clip.duration_s)}`;
  $("download").href = `${clip.video_url}?download=1`;
  $("player").scrollIntoView({ behavior: "smooth", block: "nearest" });
}
$("close").addEventListener("click", () => { $("video").pause(); $("video").removeAttribute("src"); $("player").hidden = true; });

function showProblem(e) { $("problem").hidden = false; $("problem").textContent = e.message; }

async function remove(clip) {
  const start = new Date(clip.start);
  if (!confirm(`Delete the ${clip.camera} clip of ${fmtDay(start)} ${fmtTime(start)}?`)) return;
  try {
    await api(`/api/recordings/${clip.id}`, { method: "DELETE" });
  } catch (e) { showProblem(e); }
  load();
}

// Several clips at once: those whose boxes are ticked.
const selected = () => [...document.querySelectorAll(".clip input.pick:checked")].map((b) => b.closest(".clip").dataset.id);
function showSelection() {
  const n = selected().length;
  $("delete-selected").hidden = n === 0;
  $("delete-selected").textContent = `Delete ${n} selected`;
}
$("delete-selected").addEventListener("click", async () => {
  const ids = selected();
  if (!ids.length || !confirm(`Delete ${ids.length} clip${ids.length > 1 ? "s" : ""}?`)) return;
  for (const id of ids) {
    try { await api(`/api/recordings/${id}`, { method: "DELETE" }); } catch (e) { showProblem(e); }
  }
  load();
});

function card(clip) {
  const el = document.createElement("div");
  el.className = "card clip";
  el.dataset.id = clip.id;
  const start = new Date(clip.start);
  // The card's shape only: every field of the clip goes in as text or an attribute.
  el.innerHTML = `<a class="view"><img loading="lazy" alt=""></a>
    <div class="meta"><input type="checkbox" class="pick" title="select"><span class="name"></span>
    <span class="muted what"></span><span class="muted motion"></span>
    <span class="actions"><a download>Download</a> <button class="quiet delete">Delete</button></span></div>`;
  el.querySelector("a.view").href = clip.video_url;
  const img = el.querySelector("img");
  img.alt = `${clip.camera} at ${fmtTime(start)}`;
  // A clip just started has no thumbnail yet: show its camera's newest frame meanwhile.
  if (!clip.hub) img.addEventListener("error", () => {
    img.src = `/api/cameras/${encodeURIComponent(clip.camera)}/snapshot.jpg`;
  }, { once: true });
  img.src = clip.thumbnail_url;
  el.querySelector(".name").textContent = `${fmtTime(start)} · ${clip.camera}`;
  el.querySelector(".what").textContent = clip.in_progress
    ? "recording…" : `${fmtDuration(clip.duration_s)} · ${fmtBytes(clip.bytes)}`;
  el.querySelector(".motion").textContent = clip.motion_frames
    ? `${clip.motion_frames} motion frames · peak ${clip.peak.toFixed(1)}%` : "";
  el.querySelector("a[download]").href = `${clip.video_url}?download=1`;
  el.querySelector("a.view").addEventListener("click", (e) => { e.preventDefault(); play(clip); });
  const del = el.querySelector(".delete");
  const pick = el.querySelector(".pick");
  del.disabled = pick.disabled = clip.in_progress;
  // A peer's clips are deleted on their own hub.
  if (clip.hub) del.hidden = pick.hidden = true;
  del.addEventListener("click", () => remove(clip));
  pick.addEventListener("change", showSelection);
  return el;
}

// A day's clips of each camera as marks on a 24-hour axis (the browser's local time);
// a mark is as wide as its clip (at least a few pixels) and plays it when clicked.
function timeline(day, list) {
  const [y, m, d] = day.split("-").map(Number);
  const midnight = new Date(y, m - 1, d).getTime(), dayMs = 86400000;
  const el = document.createElement("div");
  el.className = "timeline";
  const byCamera = new Map();
  for (const c of list) (byCamera.get(c.camera) || byCamera.set(c.camera, []).get(c.camera)).push(c);
  for (const [camera, clips] of [...byCamera].sort()) {
    const row = document.createElement("div");
    row.className = "row";
    row.dataset.camera = camera;
    const label = document.createElement("span");
    label.className = "muted";
    label.textContent = camera;
    const axis = document.createElement("div");
    axis.className = "axis";
    for (const h of [0, 6, 12, 18]) {
      const tick = document.createElement("span");
      tick.className = "tick";
      tick.style.left = `${(h / 24) * 100}%`;
      tick.textContent = `${String(h).padStart(2, "0")}:00`;
      axis.append(tick);
    }
    for (const c of clips) {
      const startMs = new Date(c.start).getTime() - midnight;
      const mark = document.createElement("button");
      mark.className = `mark${c.in_progress ? " open" : ""}`;
      mark.dataset.id = c.id;
      mark.style.left = `${Math.max(0, (startMs / dayMs) * 100)}%`;
      mark.style.width = `${(Math.max(0, c.duration_s || 0) * 1000 / dayMs) * 100}%`;
      mark.title = `${fmtTime(new Date(c.start))} · ${c.in_progress ? "recording…" : fmtDuration(c.duration_s)}`;
      mark.addEventListener("click", () => play(c));
      axis.append(mark);
    }
    row.append(label, axis);
    el.append(row);
  }
  return el;
}

// The other hubs this one lists ([[peers]]): their clips are shown beside this hub's,
// marked by hub, played and downloaded through this hub, deleted only on their own.
let peers = [];
try { peers = await api("/api/peers"); } catch {}

// A peer's clip as the gallery shows it: its camera marked by hub, its files through
// this hub. A peer is another machine: only the fields the gallery uses are taken, each
// of its type, and its files only at the paths the API gives them (anything else, such
// as another site's address or a `javascript:` one, and the clip is left out).
const clipFile = /^\/api\/recordings\/[A-Za-z0-9_-]+\.(mp4|jpg)$/;
function theirs(peer, clip) {
  const through = (url) => `/api/peers/${encodeURIComponent(peer.name)}/${url.slice("/api/".length)}`;
  const text = (v) => (typeof v === "string" ? v : String(v ?? ""));
  const number = (v) => (Number.isFinite(v) ? v : 0);
  if (!clipFile.test(clip?.video_url) || !clipFile.test(clip?.thumbnail_url)) return null;
  if (Number.isNaN(new Date(clip.start).getTime())) return null;
  return {
    id: `${peer.name}:${text(clip.id)}`, camera: `${text(clip.camera)} · ${peer.name}`, hub: peer.name,
    start: text(clip.start), in_progress: clip.in_progress === true, duration_s: number(clip.duration_s),
    bytes: number(clip.bytes), motion_frames: number(clip.motion_frames), peak: number(clip.peak),
    video_url: through(clip.video_url), thumbnail_url: through(clip.thumbnail_url),
  };
}

async function load() {
  const asked = query();
  const answers = await Promise.allSettled([
    api(`/api/recordings?${asked}`),
    ...peers.map((p) => api(`/api/peers/${encodeURIComponent(p.name)}/recordings?${asked}`)),
  ]);
  if (answers[0].status === "rejected") {
    $("problem").hidden = false; $("problem").textContent = answers[0].reason.message; return;
  }
  let clips = answers[0].value;
  const problems = [];
  answers.slice(1).forEach((answer, i) => {
    if (answer.status !== "fulfilled") problems.push(answer.reason.message);
    else if (!Array.isArray(answer.value)) problems.push(`${peers[i].name}: not a list of clips`);
    else clips.push(...answer.value.map((c) => theirs(peers[i], c)).filter(Boolean));
  });
  clips.sort((a, b) => new Date(b.start) - new Date(a.start));
  $("problem").hidden = problems.length === 0;
  $("problem").textContent = problems.join(" · ");
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
    h.textContent = fmtDay(new Date(`${d}T12:00:00`));
    const grid = document.createElement("div");
    grid.className = "grid";
    for (const c of list) grid.append(card(c));
    root.append(h, timeline(d, list), grid);
  }
  showSelection();
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

fitNav();
await cameras();
await load();
// Saved, discarded or removed clips: reload (a short pause merges bursts).
let pending = null;
const events = new EventSource("/api/events");
for (const kind of ["clip_saved", "clip_discarded", "motion_start"]) {
  events.addEventListener(kind, () => { clearTimeout(pending); pending = setTimeout(load, 300); });
}
