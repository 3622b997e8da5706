// Live H.264 (or H.265) of one camera in a <video>, through Media Source Extensions,
// from the camera's fragmented MP4 stream (/api/cameras/NAME/stream.mp4: an init
// segment, then a fragment per frame, from a keyframe on).
// Keeps to the live edge: when the picture falls behind what has arrived (a slow tab, or
// the hub skipped to a newer keyframe), it jumps to the newest frame. Reconnects by
// itself with backoff; call the returned function to stop.

const MS = window.ManagedMediaSource || window.MediaSource;

// Whether this browser plays the camera's codec (RFC 6381 string) through MSE.
export function canPlay(codecString) {
  return !!(MS && codecString && MS.isTypeSupported(`video/mp4; codecs="${codecString}"`));
}

// The codec string a JPEG camera's video is played with before the hub's encoder has
// made any (H.264 Constrained Baseline): MSE reads the true profile and level from the
// stream's own init segment.
const ENCODED = "avc1.42C01F";
const PREFERENCE = "remotecam.live";

// The viewer's choice: "video" (every camera as video where the browser plays it) or
// "jpeg" (a JPEG camera's own frames: the least delay).
export function livePreference() {
  try { return localStorage.getItem(PREFERENCE) === "jpeg" ? "jpeg" : "video"; } catch { return "video"; }
}

export function setLivePreference(choice) {
  try { localStorage.setItem(PREFERENCE, choice); } catch {}
}

// The codec string to play `cam` (an /api/cameras entry) with as video, or null to show
// its JPEG: a video camera's own; a JPEG camera's encoded by the hub, unless the viewer
// prefers its JPEG.
export function videoCodec(cam) {
  if (!cam.codec) return null;
  const codec = cam.codec === "jpeg"
    ? (livePreference() === "video" ? cam.video_codec_string || ENCODED : null)
    : cam.codec_string;
  return codec && canPlay(codec) ? codec : null;
}

const BEHIND_S = 0.3; // further behind the newest frame than this: jump
const KEEP_S = 10;    // buffered video kept behind the playing position

export function openVideo(name, video, codecString, { onStatus = () => {} } = {}) {
  let stopped = false, retry = 0, timer = null, abort = null;
  video.muted = true;
  video.playsInline = true;
  video.disableRemotePlayback = true; // ManagedMediaSource wants it

  const connect = async () => {
    abort = new AbortController();
    const source = new MS();
    const url = URL.createObjectURL(source);
    video.src = url;
    try {
      await new Promise((resolve) => source.addEventListener("sourceopen", resolve, { once: true }));
      URL.revokeObjectURL(url);
      const buffer = source.addSourceBuffer(`video/mp4; codecs="${codecString}"`);
      const queue = [];
      const feed = () => {
        if (buffer.updating || !queue.length) return;
        const chunks = queue.splice(0);
        const data = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
        let at = 0;
        for (const c of chunks) { data.set(c, at); at += c.length; }
        buffer.appendBuffer(data);
      };
      buffer.addEventListener("updateend", () => {
        const ranges = video.buffered;
        if (ranges.length) {
          const end = ranges.end(ranges.length - 1);
          if (end - video.currentTime > BEHIND_S) video.currentTime = Math.max(ranges.start(ranges.length - 1), end - 0.05);
          const start = ranges.start(0);
          if (!buffer.updating && video.currentTime - start > 2 * KEEP_S) {
            buffer.remove(start, video.currentTime - KEEP_S);
            return;
          }
        }
        if (video.paused) video.play().catch(() => {});
        feed();
      });
      const res = await fetch(`/api/cameras/${encodeURIComponent(name)}/stream.mp4`, { signal: abort.signal });
      if (!res.ok) throw new Error(`${res.status}`);
      onStatus(true);
      retry = 0;
      const reader = res.body.getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        queue.push(value);
        // A tab that cannot keep up: start again at the newest keyframe.
        if (queue.length > 600) throw new Error("behind");
        feed();
      }
    } catch (e) {
      if (stopped) return;
    }
    if (stopped) return;
    onStatus(null);
    const delay = Math.min(10000, 500 * 2 ** retry++) * (0.75 + Math.random() / 2);
    timer = setTimeout(connect, delay);
  };
  connect();
  return () => { stopped = true; clearTimeout(timer); if (abort) abort.abort(); video.removeAttribute("src"); };
}
