// Live view of one camera over its WebSocket (/api/cameras/NAME/ws).
// Binary messages: 4-byte big-endian length N, N bytes of JSON metadata, then the JPEG.
// Text messages: JSON status ({"type":"status","online":bool}).
// Reconnects by itself with backoff; call the returned function to stop.
export function openViewer(name, img, { onStatus = () => {}, onFrame = () => {} } = {}) {
  let ws = null, stopped = false, retry = 0, timer = null, url = null;
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const connect = () => {
    ws = new WebSocket(`${scheme}//${location.host}/api/cameras/${encodeURIComponent(name)}/ws`);
    ws.binaryType = "arraybuffer";
    ws.onmessage = (ev) => {
      if (typeof ev.data === "string") {
        const msg = JSON.parse(ev.data);
        if (msg.type === "hello") retry = 0;
        if (msg.type === "status") onStatus(msg.online);
        return;
      }
      const view = new DataView(ev.data);
      const n = view.getUint32(0);
      const meta = JSON.parse(new TextDecoder().decode(new Uint8Array(ev.data, 4, n)));
      const blob = new Blob([new Uint8Array(ev.data, 4 + n)], { type: "image/jpeg" });
      const next = URL.createObjectURL(blob);
      img.onload = () => { if (url) URL.revokeObjectURL(url); url = next; };
      img.src = next;
      onFrame(meta);
    };
    ws.onclose = () => {
      if (stopped) return;
      onStatus(null);
      const delay = Math.min(10000, 500 * 2 ** retry++) * (0.75 + Math.random() / 2);
      timer = setTimeout(connect, delay);
    };
  };
  connect();
  return () => { stopped = true; clearTimeout(timer); if (ws) ws.close(1000); };
}

export async function api(path, options) {
  const res = await fetch(path, options);
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try { message = (await res.json()).error || message; } catch {}
    throw new Error(message);
  }
  return res.status === 204 ? null : res.json();
}

// The nav offers only what the client's token may do: publishing is not a viewer's.
// `info` is /api/info's answer (fetched when not given).
export async function fitNav(info) {
  if (!info) try { info = await api("/api/info"); } catch { return; }
  if (info.role !== "viewer") return;
  for (const a of document.querySelectorAll('nav a[href="/publish"]')) a.hidden = true;
}
