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
