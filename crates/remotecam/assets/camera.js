import { openViewer, api } from "/assets/viewer.js";

const name = decodeURIComponent(location.pathname.split("/").filter(Boolean)[1] || "");
const $ = (id) => document.getElementById(id);
$("title").textContent = name;
document.title = `${name} · remotecam`;
const base = `${location.origin}/api/cameras/${encodeURIComponent(name)}`;
for (const [id, path] of [["mjpeg", "stream.mjpg"], ["snapshot", "snapshot.jpg"]]) {
  $(id).href = `${base}/${path}`;
  $(id).textContent = `${base}/${path}`;
}
$("wsurl").textContent = `${base.replace(/^http/, "ws")}/ws`;
$("opencv").textContent = `cv2.VideoCapture("${base}/stream.mjpg")`;

$("live").src = `${base}/snapshot.jpg`;
openViewer(name, $("live"), { onStatus: (online) => { $("overlay").hidden = online !== false; } });

async function refresh() {
  try {
    const cam = await api(`/api/cameras/${encodeURIComponent(name)}`);
    $("dot").className = `dot ${cam.online ? "on" : "off"}`;
    $("state").textContent = cam.online ? "online" : "offline";
    $("size").textContent = cam.width ? `${cam.width}×${cam.height}` : "–";
    $("fps").textContent = cam.online ? cam.fps.toFixed(1) : "–";
    $("viewers").textContent = cam.viewers;
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

// Motion: settings, and a live graph of the level against the threshold.
const levels = [];
let threshold = 1;
let mask = [];      // ignored zones, as the hub has them
let drawing = null; // the zone being drawn, if any
async function putMotion(change) {
  try {
    await api(`/api/cameras/${encodeURIComponent(name)}/motion`, {
      method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(change),
    });
  } catch (e) { $("problem").hidden = false; $("problem").textContent = e.message; }
}
$("m-enabled").addEventListener("change", () => putMotion({ enabled: $("m-enabled").checked }));
$("m-record").addEventListener("change", () => putMotion({ record: $("m-record").checked }));
$("recordings-link").href = `/recordings?camera=${encodeURIComponent(name)}`;
$("m-threshold").addEventListener("change", () => putMotion({ threshold: +$("m-threshold").value }));

function draw() {
  const c = $("m-graph"), g = c.getContext("2d");
  const top = Math.max(threshold * 2, ...levels, 1);
  const y = (v) => c.height - 4 - (v / top) * (c.height - 8);
  g.clearRect(0, 0, c.width, c.height);
  g.strokeStyle = "#dc2626"; g.setLineDash([6, 4]); g.beginPath();
  g.moveTo(0, y(threshold)); g.lineTo(c.width, y(threshold)); g.stroke();
  g.setLineDash([]); g.strokeStyle = "#2563eb"; g.lineWidth = 2; g.beginPath();
  levels.forEach((v, i) => { const x = (i / 119) * c.width; i ? g.lineTo(x, y(v)) : g.moveTo(x, y(v)); });
  g.stroke();
}

async function pollMotion() {
  try {
    const m = await api(`/api/cameras/${encodeURIComponent(name)}/motion`);
    threshold = m.threshold;
    if (document.activeElement !== $("m-threshold")) $("m-threshold").value = m.threshold;
    $("m-enabled").checked = m.enabled;
    $("m-record").checked = m.record;
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
    if (m.enabled) { levels.push(m.level); if (levels.length > 120) levels.shift(); }
    draw();
  } catch {}
}
pollMotion();
setInterval(pollMotion, 250);

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
