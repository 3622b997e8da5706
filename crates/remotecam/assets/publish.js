// The publisher: camera -> H.264 (WebCodecs, h264.js) or canvas -> JPEG -> WebSocket
// /api/cameras/NAME/publish. H.264 where the browser encodes it and the user did not
// choose JPEG; JPEG otherwise. Never queues: a JPEG frame is only taken when the
// previous ones are acknowledged and the socket's buffer is empty; otherwise the tick
// is counted as skipped. Reconnects with backoff after a drop or a hub restart; stops
// and says why when the hub refuses for good (a name taken by a configured camera, a
// bad name, no token, the hub full).
import { H264Sender, canEncodeH264, defaultBitrate, findConfig } from "./h264.js";

const $ = (id) => document.getElementById(id);
const preview = $("preview");
const canvas = document.createElement("canvas");
const ctx = canvas.getContext("2d");
const KEY = "remotecam.publish";
const MAX_IN_FLIGHT = 2;
const fields = ["name", "device", "resolution", "cw", "ch", "quality", "fps", "encoding", "bitrate"];

let running = false, stream = null, ws = null, tickTimer = null, reconnectTimer = null;
// What the page sends: "jpeg", or "h264" through `sender`; frames come from `frames` (a
// MediaStreamTrackProcessor's track, where the browser has one) or the preview.
let mode = "jpeg", sender = null, frames = null;
let retry = 0, inFlight = 0, encoding = false, wakeLock = null, pendingDevice = null;
// The size of the frames sent, once one was ("–" before: the camera's size is not known).
let sentSize = "";
const stats = { sent: 0, skipped: 0, acks: [], latencies: [] };

function loadSettings() {
  let saved = {};
  try { saved = JSON.parse(localStorage.getItem(KEY) || "{}"); } catch {}
  if (!saved.name) saved.name = /Mobi|Android/i.test(navigator.userAgent) ? "phone" : "laptop";
  // A publisher's share link names its camera.
  const asked = new URLSearchParams(location.search).get("camera");
  if (asked) saved.name = asked;
  for (const f of fields) if (saved[f] !== undefined && f !== "device") $(f).value = saved[f];
  pendingDevice = saved.device || "any";
  $("device").value = [...$("device").options].some((o) => o.value === pendingDevice) ? pendingDevice : "any";
  showCustom();
  $("qv").textContent = `${$("quality").value}%`;
  updateWatchLink();
}
function saveSettings() {
  const s = {};
  for (const f of fields) s[f] = $(f).value;
  localStorage.setItem(KEY, JSON.stringify(s));
}
function cameraName() { return $("name").value.trim().toLowerCase(); }
function validName() { return /^[a-z0-9_-]{1,64}$/.test(cameraName()); }
function targetSize() {
  if ($("resolution").value === "custom") return [+$("cw").value || 640, +$("ch").value || 480];
  return $("resolution").value.split("x").map(Number);
}
// The size frames are sent at: the camera's, scaled down into the chosen size (turned
// with the camera), even for H.264.
function sendSize() {
  const vw = preview.videoWidth, vh = preview.videoHeight;
  let [tw, th] = targetSize();
  if ((vh > vw) !== (th > tw)) [tw, th] = [th, tw];
  const scale = Math.min(tw / vw, th / vh, 1);
  const even = (n) => Math.max(2, 2 * Math.round(n / 2));
  return [even(vw * scale), even(vh * scale)];
}
function maxFps() { return Math.min(60, Math.max(1, +$("fps").value || 15)); }
function showCustom() { $("custom").hidden = $("resolution").value !== "custom"; }
function updateWatchLink() { $("watch").href = `/cameras/${encodeURIComponent(cameraName())}`; }
function setStatus(text, kind = "") { $("status").textContent = text; $("status").className = `status ${kind}`; }

async function listDevices() {
  const devices = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === "videoinput");
  const select = $("device");
  devices.forEach((d, i) => {
    if (!d.deviceId || [...select.options].some((o) => o.value === d.deviceId)) return;
    select.add(new Option(d.label || `Camera ${i + 1}`, d.deviceId));
  });
  if (pendingDevice && [...select.options].some((o) => o.value === pendingDevice)) select.value = pendingDevice;
}

async function openCamera() {
  if (!window.isSecureContext || !navigator.mediaDevices) {
    throw new Error("the browser allows the camera only on a secure page: open the https:// address the hub printed");
  }
  if (stream) stream.getTracks().forEach((t) => t.stop());
  const [w, h] = targetSize();
  const video = { width: { ideal: w }, height: { ideal: h }, frameRate: { ideal: maxFps() } };
  const d = $("device").value;
  if (d === "user" || d === "environment") video.facingMode = { ideal: d };
  else if (d !== "any") video.deviceId = { exact: d };
  stream = await navigator.mediaDevices.getUserMedia({ video, audio: false });
  preview.srcObject = stream;
  await preview.play();
  await listDevices();
}

function connect() {
  const name = cameraName();
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${location.host}/api/cameras/${name}/publish`);
  socket.binaryType = "arraybuffer";
  ws = socket;
  inFlight = 0;
  let greeted = false;
  setStatus(retry ? "Reconnecting…" : "Connecting…");
  socket.onmessage = (ev) => {
    if (typeof ev.data !== "string") return;
    const msg = JSON.parse(ev.data);
    if (msg.type === "hello") {
      greeted = true;
      retry = 0;
      setStatus(`Live as "${msg.camera}"`, "ok");
      sendHealth();
    } else if (msg.type === "keyframe") {
      sender?.askKeyframe();
    } else if (msg.type === "ack") {
      inFlight = Math.max(0, inFlight - 1);
      const now = performance.now();
      stats.acks.push(now);
      if (typeof msg.t === "number") stats.latencies.push(now - msg.t);
      if (stats.latencies.length > 30) stats.latencies.shift();
    }
  };
  socket.onclose = async (ev) => {
    if (ws === socket) ws = null;
    if (!running) return;
    if (ev.code === 4000) {
      stop(`Stopped: ${ev.reason}. Use another name to stream from both devices.`);
      return;
    }
    if (ev.code === 1009 || ev.code === 1007 || ev.code === 1003) {
      stop(`Stopped: the hub refused a frame (${ev.reason}). Choose a smaller resolution or quality.`);
      return;
    }
    const refused = greeted ? null : await refusal();
    if (!running) return;
    if (refused) {
      stop(`Stopped: ${refused}`);
      return;
    }
    const delay = Math.min(10000, 500 * 2 ** retry++) * (0.75 + Math.random() / 2);
    const why = ev.reason || (greeted ? "connection lost" : "cannot reach the hub");
    setStatus(`${why}; reconnecting in ${(delay / 1000).toFixed(1)} s…`, "error");
    reconnectTimer = setTimeout(connect, delay);
  };
}

// Answers that retrying cannot change: a bad name (400), no or a wrong token (401, 403),
// a name taken by a configured camera (409), the hub full of cameras (503).
const PERMANENT = [400, 401, 403, 409, 503];

// A refused upgrade shows up as a bare close; ask the hub why with a plain request to
// the same URL. The reason when the refusal is for good; null to retry (the hub is
// restarting, the network is down).
async function refusal() {
  try {
    const res = await fetch(`/api/cameras/${cameraName()}/publish`);
    if (!PERMANENT.includes(res.status)) return null;
    const body = res.headers.get("content-type")?.includes("json") ? await res.json() : {};
    return body.error || `the hub refused (HTTP ${res.status})`;
  } catch {
    return null;
  }
}

// Sends H.264 where the browser can and the user did not choose JPEG; JPEG otherwise.
async function chooseEncoding() {
  stopEncoder();
  mode = "jpeg";
  if ($("encoding").value === "jpeg" || !canEncodeH264()) return;
  const [w, h] = sendSize();
  const bitrate = $("bitrate").value === "auto" ? defaultBitrate(w, h) : +$("bitrate").value * 1000;
  const config = await findConfig(w, h, bitrate, maxFps());
  if (!config || !running) return;
  const socket = () => (ws && ws.readyState === WebSocket.OPEN ? ws : null);
  sender = new H264Sender(socket, stats, (e) => fallBackToJpeg(`the H.264 encoder failed (${e.message})`));
  sender.configure(config);
  mode = "h264";
  sentSize = `${w}×${h}`;
  stats.bitrate = bitrate;
  const track = stream.getVideoTracks()[0];
  if (typeof window.MediaStreamTrackProcessor === "function" && track) pump(track.clone());
}

// Frames from the camera track as it makes them, at most maxFps() a second.
async function pump(track) {
  frames = track;
  const reader = new MediaStreamTrackProcessor({ track }).readable.getReader();
  let last = -Infinity;
  try {
    while (frames === track) {
      const { value: frame, done } = await reader.read();
      if (done) break;
      if (frames !== track || !sender || frame.timestamp - last < 900_000 / maxFps()) { frame.close(); continue; }
      last = frame.timestamp;
      sender.encode(frame);
    }
  } catch {}
  reader.cancel().catch(() => {});
  track.stop();
}

function stopEncoder() {
  if (frames) frames.stop();
  frames = null;
  sender?.close();
  sender = null;
}

// The encoder failed mid-way: JPEG from now on, over a new connection (a publisher's
// connection sends one kind).
function fallBackToJpeg(why) {
  stopEncoder();
  mode = "jpeg";
  setStatus(`${why}: sending JPEG`, "error");
  if (ws) ws.close(1000, "switching to JPEG");
}

function tick() {
  if (!running) return;
  tickTimer = setTimeout(tick, 1000 / maxFps());
  if (!ws || ws.readyState !== WebSocket.OPEN || preview.readyState < 2 || !preview.videoWidth) return;
  if (mode === "h264") {
    if (!frames) sender.encode(new VideoFrame(preview, { timestamp: Math.round(performance.now() * 1000) }));
    return;
  }
  if (encoding || inFlight >= MAX_IN_FLIGHT || ws.bufferedAmount > 0) { stats.skipped++; return; }
  const [cw, ch] = sendSize();
  if (canvas.width !== cw || canvas.height !== ch) { canvas.width = cw; canvas.height = ch; }
  ctx.drawImage(preview, 0, 0, cw, ch);
  const meta = JSON.stringify({ capture_ms: Date.now(), t: performance.now() });
  const socket = ws;
  encoding = true;
  canvas.toBlob(async (blob) => {
    encoding = false;
    if (!blob || socket.readyState !== WebSocket.OPEN) return;
    const buf = await blob.arrayBuffer();
    socket.send(meta);
    socket.send(buf);
    inFlight++;
    stats.sent++;
    sentSize = `${cw}×${ch}`;
    stats.lastBytes = (stats.lastBytes || []).concat([[performance.now(), buf.byteLength]]).slice(-120);
  }, "image/jpeg", +$("quality").value / 100);
}

function showStats() {
  const now = performance.now();
  stats.acks = stats.acks.filter((t) => now - t <= 1000);
  const bytes = (stats.lastBytes || []).filter(([t]) => now - t <= 1000).reduce((a, [, b]) => a + b, 0);
  const lat = [...stats.latencies].sort((a, b) => a - b);
  $("s-fps").textContent = running ? stats.acks.length : "–";
  $("s-kbps").textContent = running ? (bytes / 1024).toFixed(0) : "–";
  $("s-lat").textContent = lat.length ? lat[Math.floor(lat.length / 2)].toFixed(0) : "–";
  $("s-skip").textContent = stats.skipped;
  $("s-sent").textContent = stats.sent;
  $("s-size").textContent = sentSize || "–";
  const mbps = (bytes * 8 / 1e6).toFixed(1);
  $("s-mode").textContent = running ? `${mode === "h264" ? "H.264" : "JPEG"}, ${mbps} Mbit/s` : "–";
}

async function keepAwake() {
  if (running && document.visibilityState === "visible" && "wakeLock" in navigator) {
    try {
      wakeLock = await navigator.wakeLock.request("screen");
      wakeLock.addEventListener("release", sendHealth);
    } catch {}
  }
  sendHealth();
}

// What the browser lets the page know of the phone, for the hub's cameras list and
// dashboard: a hidden page (the browser throttles or stops its camera), the wake lock,
// the battery where the Battery API exists.
let battery = null;
navigator.getBattery?.().then((b) => {
  battery = b;
  b.addEventListener("levelchange", sendHealth);
  b.addEventListener("chargingchange", sendHealth);
}).catch(() => {});

function sendHealth() {
  const hidden = document.visibilityState !== "visible";
  $("front").hidden = !running;
  if (!ws || ws.readyState !== WebSocket.OPEN) return;
  ws.send(JSON.stringify({
    kind: "health", hidden, wake_lock: !!wakeLock && !wakeLock.released,
    battery: battery ? battery.level : null, charging: battery ? battery.charging : null,
  }));
}

async function start() {
  if (!validName()) { setStatus("Camera name: 1 to 64 of a-z, 0-9, '_' and '-'.", "error"); return; }
  saveSettings();
  $("start").disabled = true;
  try {
    await openCamera();
  } catch (e) {
    $("start").disabled = false;
    const text = e.name === "NotAllowedError" ? "camera permission was denied" : e.message;
    setStatus(`Cannot open the camera: ${text}`, "error");
    return;
  }
  running = true;
  retry = 0;
  $("name").disabled = true;
  $("start").disabled = false;
  $("start").textContent = "Stop";
  $("start").classList.add("stop");
  await chooseEncoding();
  connect();
  tick();
  keepAwake();
}

// Stops streaming; `why` (an error) is shown instead of "Stopped.".
function stop(why = "") {
  running = false;
  sentSize = "";
  stopEncoder();
  clearTimeout(tickTimer);
  clearTimeout(reconnectTimer);
  if (ws) ws.close(1000, "stopped");
  ws = null;
  if (stream) stream.getTracks().forEach((t) => t.stop());
  stream = null;
  preview.srcObject = null;
  if (wakeLock) wakeLock.release().catch(() => {});
  wakeLock = null;
  $("name").disabled = false;
  $("front").hidden = true;
  $("start").textContent = "Start streaming";
  $("start").classList.remove("stop");
  setStatus(why || "Stopped.", why ? "error" : "");
}

$("start").addEventListener("click", () => (running ? stop() : start()));
// A new camera or size while streaming: H.264 is configured anew (the hub takes the new
// configuration on the same connection).
function reopen() {
  if (running) openCamera().then(() => (mode === "h264" ? chooseEncoding() : null)).catch((e) => setStatus(e.message, "error"));
}
$("resolution").addEventListener("change", () => { showCustom(); saveSettings(); reopen(); });
$("device").addEventListener("change", () => { pendingDevice = $("device").value; saveSettings(); reopen(); });
$("quality").addEventListener("input", () => { $("qv").textContent = `${$("quality").value}%`; saveSettings(); });
for (const f of ["fps", "cw", "ch", "encoding", "bitrate"]) $(f).addEventListener("change", saveSettings);
$("name").addEventListener("input", updateWatchLink);
document.addEventListener("visibilitychange", keepAwake);
loadSettings();
setInterval(showStats, 1000);
setInterval(sendHealth, 15000);
