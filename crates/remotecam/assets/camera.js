import { openViewer, api, fitNav } from "/assets/viewer.js";
import { livePreference, openVideo, setLivePreference, videoCodec } from "/assets/video.js";

const name = decodeURIComponent(location.pathname.split("/").filter(Boolean)[1] || "");
const $ = (id) => document.getElementById(id);
$("title").textContent = name;
document.title = `${name} · remotecam`;
const path = `/api/cameras/${encodeURIComponent(name)}`;

// The camera's addresses: RTSP, and on both of the hub's HTTP ports. Over HTTPS, the plain-HTTP ones
// come first: players (VLC, OpenCV, Home Assistant) refuse the self-signed certificate.
// A program needs the token unless its address is trusted as this page's is (the hub's
// own machine, by default): it is in the addresses when this page was opened with it.
async function showAddresses() {
  let info = {};
  try { info = await api("/api/info"); } catch {}
  const host = location.hostname.includes(":") ? `[${location.hostname}]` : location.hostname;
  const token = info.token && !info.trusted ? `?token=${info.token}` : "";
  const origins = [];
  if (info.http_port) origins.push(["HTTP", `http://${host}:${info.http_port}`]);
  if (info.https_port && location.protocol === "https:") origins.push(["HTTPS", `https://${host}:${info.https_port}`]);
  if (!origins.length) origins.push([location.protocol.slice(0, -1).toUpperCase(), location.origin]);
  const rows = [];
  // RTSP first: what NVRs, Home Assistant, Frigate and VLC take, the token as the
  // password where a program needs it (as /api/cameras gives it in rtsp_url).
  if (info.rtsp_port) {
    const password = token ? `remotecam:${info.token}@` : "";
    rows.push(["RTSP", `rtsp://${password}${host}:${info.rtsp_port}/${encodeURIComponent(name)}`, false]);
  }
  for (const [scheme, origin] of origins) {
    const ws = origin.replace(/^http/, "ws");
    rows.push([`MP4 video (${scheme})`, `${origin}${path}/stream.mp4${token}`, true]);
    rows.push([`MJPEG (${scheme})`, `${origin}${path}/stream.mjpg${token}`, true]);
    rows.push([`Snapshot (${scheme})`, `${origin}${path}/snapshot.jpg${token}`, true]);
    rows.push([`WebSocket (${scheme})`, `${ws}${path}/ws${token}`, false]);
  }
  const table = $("urls");
  table.replaceChildren(...rows.map(([label, url, link]) => {
    const tr = document.createElement("tr");
    const td = document.createElement("td");
    td.textContent = label;
    const value = document.createElement("td");
    const el = document.createElement(link ? "a" : "code");
    if (link) el.href = url;
    el.textContent = url;
    value.append(el);
    tr.append(td, value);
    return tr;
  }));
  const first = rows.find(([label]) => label.startsWith("MJPEG"))[1];
  const help = [];
  if (!token) help.push("From another machine add ?token=… (the token the hub printed), or for RTSP rtsp://remotecam:<token>@….");
  help.push(`OpenCV: cv2.VideoCapture("${first}")`);
  $("urls-help").textContent = help.join(" ");
  showRole(info);
  fitNav(info);
}
showAddresses();

// What the client's token may do: a viewer sees the settings and cannot change them; a
// token that may manage the hub may make a share link.
function showRole(info) {
  const admin = !info.role || info.role === "admin";
  if (!admin) {
    for (const input of document.querySelectorAll(".settings input")) input.disabled = true;
    for (const id of ["mask-edit", "mask-clear"]) $(id).hidden = true;
    $("m-readonly").hidden = false;
  }
  $("share").hidden = !(admin && !info.cameras);
}
$("share-make").addEventListener("click", async () => {
  try {
    const made = await api("/api/tokens", {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ role: "viewer", cameras: [name], expires: "7d", name: `share of ${name}` }),
    });
    $("share-url").href = made.link;
    $("share-url").textContent = made.link;
    $("share-revoke").textContent = `remotecam token revoke ${made.id}`;
    $("share-link").hidden = false;
    $("share-problem").hidden = true;
  } catch (e) {
    $("share-problem").textContent = `Cannot make a share link: ${e.message}`;
    $("share-problem").hidden = false;
  }
});

// JPEG frames first; then the camera plays as video where the browser can (Media Source
// Extensions), once its codec is known: a video camera's own, a JPEG camera's made by
// the hub unless the viewer chose its JPEG (the least delay). Browsers without MSE keep
// JPEG.
const onStatus = (online) => { $("overlay").hidden = online !== false; };
$("live").src = `${path}/snapshot.jpg`;
let stopJpeg = openViewer(name, $("live"), { onStatus });
let stopVideo = null;
let playing = null;
function playVideo(cam) {
  if (!cam.codec) return;
  const codec = videoCodec(cam);
  const video = !!codec;
  $("live-mode-label").hidden = cam.codec !== "jpeg";
  if (video === !!stopVideo && (!video || codec === playing)) return;
  if (stopVideo) { stopVideo(); stopVideo = null; }
  playing = codec;
  $("live").hidden = video;
  $("live-video").hidden = !video;
  if (video) {
    if (stopJpeg) stopJpeg();
    stopJpeg = null;
    stopVideo = openVideo(name, $("live-video"), codec, { onStatus });
  } else if (!stopJpeg) {
    stopJpeg = openViewer(name, $("live"), { onStatus });
  }
}
// A JPEG camera: as video (the hub encodes it while watched) or its own JPEG frames.
$("live-mode").value = livePreference();
$("live-mode").addEventListener("change", () => {
  setLivePreference($("live-mode").value);
  refresh();
});

async function refresh() {
  try {
    const cam = await api(path);
    $("dot").className = `dot ${cam.online ? "on" : "off"}`;
    $("state").textContent = cam.online ? "online" : "offline";
    $("size").textContent = cam.width ? `${cam.width}×${cam.height}` : "–";
    const codec = { jpeg: "JPEG", h264: "H.264", h265: "H.265" }[cam.codec] || "–";
    const rate = cam.online && cam.bitrate_bps ? `, ${(cam.bitrate_bps / 1e6).toFixed(1)} Mbit/s` : "";
    $("codec").textContent = `${codec}${rate}${cam.codec_string ? ` (${cam.codec_string})` : ""}`;
    $("keyframes").textContent = cam.keyframe_interval_ms == null ? "–" : `every ${(cam.keyframe_interval_ms / 1000).toFixed(1)} s`;
    $("fps").textContent = cam.online ? cam.fps.toFixed(1) : "–";
    $("viewers").textContent = cam.viewers;
    playVideo(cam);
    $("source").textContent = cam.source;
    $("srcstate").textContent = cam.state;
    $("problem").hidden = !cam.error;
    $("problem").textContent = cam.error || "";
    $("age").textContent = cam.last_frame_age_ms == null ? "–" : `${(cam.last_frame_age_ms / 1000).toFixed(1)} s ago`;
  } catch (e) {
    $("state").textContent = e.message;
  }
}
refresh();
setInterval(refresh, 1000);

// Motion: settings, and a graph of the last minutes of the level against the threshold.
let threshold = 1;
let mask = [];      // ignored zones, as the hub has them
let drawing = null; // the zone being drawn, if any
// The settings' controls show what the hub has, but never an answer older than a change
// made here: a poll asked before a change was answered would put the old value back.
let sent = 0;    // changes sent so far
let waiting = 0; // of them, not answered yet
function showSettings(m) {
  $("m-enabled").checked = m.enabled;
  $("m-record").checked = m.record;
  $("m-continuous").checked = m.continuous;
  for (const input of numbers) {
    if (document.activeElement === input) continue;
    const v = m[input.dataset.key];
    input.value = v === null || v === undefined ? "" : v;
  }
}
async function putMotion(change) {
  const mine = ++sent;
  waiting++;
  try {
    const m = await api(`${path}/motion`, {
      method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(change),
    });
    waiting--;
    if (mine === sent) { $("m-settingproblem").hidden = true; showSettings(m); }
  } catch (e) {
    waiting--;
    // The problem stays until a later change is taken.
    $("m-settingproblem").hidden = false;
    $("m-settingproblem").textContent = e.message;
  }
  pollMotion();
}
$("m-enabled").addEventListener("change", () => putMotion({ enabled: $("m-enabled").checked }));
$("m-record").addEventListener("change", () => putMotion({ record: $("m-record").checked }));
$("m-continuous").addEventListener("change", () => putMotion({ continuous: $("m-continuous").checked }));
$("recordings-link").href = `/recordings?camera=${encodeURIComponent(name)}`;
// The number fields: each is one key of the motion settings (noise_level: empty to learn it).
const numbers = [...document.querySelectorAll(".settings input[type=number]")];
for (const input of numbers) {
  input.addEventListener("change", () => {
    const key = input.dataset.key;
    const value = input.value === "" && key === "noise_level" ? null : +input.value;
    putMotion({ [key]: value });
  });
}

// The graph: the last KEEP_MS of samples from the hub (it keeps them, so the graph
// starts full), a percent axis whose scale changes only in whole steps (never to follow
// each peak), the threshold, and events shaded.
const KEEP_MS = 5 * 60 * 1000;
// The window shown: the last minute while the history is no longer, then five.
const windowMs = () => (samples.length && samples[samples.length - 1].at_ms - samples[0].at_ms > 60000 ? KEEP_MS : 60000);
let samples = [];
let scale = 0;
function niceTop(v) {
  for (const step of [1, 2, 5, 10, 20, 50, 100]) if (v <= step) return step;
  return 100;
}
function draw() {
  const c = $("m-graph"), g = c.getContext("2d");
  const styles = getComputedStyle(document.body);
  const peak = Math.max(0, ...samples.map((s) => s.level));
  scale = Math.max(scale, niceTop(Math.max(threshold * 2, peak, 1)));
  const left = 40, right = c.width - 6, top = 8, bottom = c.height - 20;
  const now = samples.length ? samples[samples.length - 1].at_ms : Date.now();
  const span = windowMs();
  const x = (ms) => left + ((ms - (now - span)) / span) * (right - left);
  const y = (v) => bottom - (Math.min(v, scale) / scale) * (bottom - top);
  g.clearRect(0, 0, c.width, c.height);
  g.font = "11px system-ui, sans-serif";
  g.fillStyle = "rgba(217, 119, 6, 0.22)";
  for (const s of samples) if (s.in_event && s.at_ms > now - span) g.fillRect(x(s.at_ms), top, Math.max(1, x(s.at_ms + 250) - x(s.at_ms)), bottom - top);
  g.strokeStyle = styles.getPropertyValue("--line") || "#ccc"; g.fillStyle = styles.getPropertyValue("--muted") || "#666";
  g.lineWidth = 1; g.textAlign = "right"; g.textBaseline = "middle";
  for (const v of [0, scale / 2, scale]) {
    g.beginPath(); g.moveTo(left, y(v)); g.lineTo(right, y(v)); g.stroke();
    g.fillText(`${v}%`, left - 4, y(v));
  }
  g.textAlign = "center"; g.textBaseline = "top";
  const ticks = span > 60000 ? [5, 4, 3, 2, 1, 0].map((m) => [m * 60000, `-${m} min`])
    : [60, 45, 30, 15, 0].map((s) => [s * 1000, `-${s} s`]);
  for (const [ago, label] of ticks) g.fillText(ago ? label : "now", Math.max(left + 14, Math.min(right - 12, x(now - ago))), bottom + 4);
  g.strokeStyle = "#dc2626"; g.setLineDash([6, 4]); g.lineWidth = 1.5; g.beginPath();
  g.moveTo(left, y(threshold)); g.lineTo(right, y(threshold)); g.stroke();
  g.setLineDash([]); g.strokeStyle = "#2563eb"; g.lineWidth = 2; g.beginPath();
  let last = null;
  for (const s of samples) {
    // A gap (detection off, no frames) breaks the line.
    if (last === null || s.at_ms - last > 1000) g.moveTo(x(s.at_ms), y(s.level));
    else g.lineTo(x(s.at_ms), y(s.level));
    last = s.at_ms;
  }
  g.stroke();
  // For tests and tools: what the graph shows.
  Object.assign(c.dataset, { scale, samples: samples.length, oldest: samples.length ? samples[0].at_ms : "" });
}
async function pollHistory() {
  const since = samples.length > 1 ? samples[samples.length - 2].at_ms : 0;
  try {
    const h = await api(`${path}/motion/history?since=${since}`);
    samples = samples.filter((s) => s.at_ms <= since).concat(h.samples);
    const newest = samples.length ? samples[samples.length - 1].at_ms : 0;
    samples = samples.filter((s) => s.at_ms > newest - KEEP_MS);
    draw();
  } catch {}
}
pollHistory();
setInterval(pollHistory, 500);

async function pollMotion() {
  try {
    const asked = sent;
    const m = await api(`${path}/motion`);
    if (m.threshold !== threshold) { threshold = m.threshold; scale = 0; }
    if (asked === sent && waiting === 0) showSettings(m);
    const rec = m.recording || {};
    $("m-recording").textContent = { off: "off", idle: "waiting for motion", recording: "recording now",
      disk_full: "stopped: disk full", error: "stopped: error" }[rec.state] || "–";
    $("m-recproblem").hidden = !rec.error;
    $("m-recproblem").textContent = rec.error || "";
    mask = m.mask || [];
    drawMask();
    $("m-level").textContent = m.enabled ? m.level.toFixed(2) : "–";
    $("m-event").textContent = m.in_event ? "· motion now" : "";
    $("m-cpu").textContent = m.enabled && m.scored_seq ? m.detector_cpu_ms.toFixed(2) : "–";
    draw();
  } catch {}
}
pollMotion();
setInterval(pollMotion, 500);

// Ignored zones: polygons drawn on the live picture, kept as fractions of its size.
const maskCanvas = $("mask");
function drawMask() {
  const g = maskCanvas.getContext("2d"), w = maskCanvas.width, h = maskCanvas.height;
  g.clearRect(0, 0, w, h);
  const zones = drawing ? [...mask, drawing] : mask;
  maskCanvas.hidden = zones.length === 0;
  zones.forEach((poly, i) => {
    g.beginPath();
    poly.forEach(([x, y], j) => (j ? g.lineTo(x * w, y * h) : g.moveTo(x * w, y * h)));
    if (poly !== drawing) g.closePath();
    g.fillStyle = "rgba(220, 38, 38, 0.25)"; g.strokeStyle = "#dc2626"; g.lineWidth = 2;
    if (poly !== drawing) g.fill();
    g.stroke();
  });
  $("mask-count").textContent = mask.length ? `${mask.length}` : "none";
}
$("mask-edit").addEventListener("click", () => {
  drawing = [];
  maskCanvas.hidden = false;
  $("mask-edit").hidden = true; $("mask-done").hidden = false; $("mask-help").hidden = false;
});
maskCanvas.addEventListener("click", (e) => {
  if (!drawing) return;
  const r = maskCanvas.getBoundingClientRect();
  drawing.push([Math.min(1, Math.max(0, (e.clientX - r.left) / r.width)), Math.min(1, Math.max(0, (e.clientY - r.top) / r.height))]);
  drawMask();
});
$("mask-done").addEventListener("click", async () => {
  const zone = drawing;
  drawing = null;
  $("mask-edit").hidden = false; $("mask-done").hidden = true; $("mask-help").hidden = true;
  if (zone && zone.length >= 3) await putMotion({ mask: [...mask, zone] });
  pollMotion();
});
$("mask-clear").addEventListener("click", async () => { drawing = null; await putMotion({ mask: [] }); pollMotion(); });
