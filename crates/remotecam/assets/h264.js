// H.264 from the camera with WebCodecs, for the publisher page: a tenth of the data of
// JPEG for the same picture. The encoder's `avc` format gives units with 4-byte NAL
// lengths and the decoder configuration (avcC) apart, which is what the hub takes: the
// configuration first (again on every new connection), then units, each behind its
// metadata. Never queues: a frame is skipped before it is encoded while the encoder or
// the socket is behind, and a unit that cannot go out is dropped, after which the next
// frame is encoded as a keyframe (nothing after a dropped unit could be decoded).

// The most time between keyframes; the hub also asks for one when a viewer or the
// recorder joins.
const KEYFRAME_EVERY_US = 2_000_000;
// A keyframe the hub asks for comes at most this often.
const ASKED_KEYFRAME_GAP_MS = 1000;

export function canEncodeH264() {
  return typeof window.VideoEncoder === "function" && typeof window.VideoFrame === "function";
}

// Bits per second for a picture of w x h at 30 fps: what keeps a phone's picture sharp
// on Wi-Fi (2.5 Mbit/s at 1280x720).
export function defaultBitrate(w, h) {
  const pixels = w * h;
  if (pixels <= 640 * 480) return 1_000_000;
  if (pixels <= 1280 * 720) return 2_500_000;
  if (pixels <= 1920 * 1080) return 4_500_000;
  return 8_000_000;
}

// The H.264 level that fits a picture of w x h at 30 fps (3.0, 3.1, 4.0, 5.1).
function level(w, h) {
  const macroblocks = Math.ceil(w / 16) * Math.ceil(h / 16);
  if (macroblocks <= 1620) return "1E";
  if (macroblocks <= 3600) return "1F";
  if (macroblocks <= 8192) return "28";
  return "33";
}

// The first configuration the browser can encode: High, then Main, then Constrained
// Baseline (avc1 only: Safari refuses avc3), at the level that fits; null if none.
export async function findConfig(w, h, bitrate, fps) {
  for (const profile of ["6400", "4D00", "42E0"]) {
    const config = {
      codec: `avc1.${profile}${level(w, h)}`, width: w, height: h, bitrate, framerate: fps,
      avc: { format: "avc" }, latencyMode: "realtime",
    };
    try {
      if ((await VideoEncoder.isConfigSupported(config)).supported) return config;
    } catch {}
  }
  return null;
}

// Encodes frames and sends them on the socket `socket()` gives (the current one).
export class H264Sender {
  constructor(socket, stats, onError) {
    this.socket = socket;
    this.stats = stats;
    this.config = null;
    this.description = null;
    this.sentConfigTo = null;   // the socket the configuration last went out on
    this.keyNext = true;        // the next frame encoded is a keyframe
    this.waitKey = true;        // units are dropped until a keyframe
    this.lastKeyUs = -Infinity;
    this.lastAskedMs = -Infinity;
    this.lastUs = -Infinity;
    this.meta = new Map();      // timestamp -> capture time, while in the encoder
    this.encoder = new VideoEncoder({
      output: (chunk, md) => this.output(chunk, md),
      error: (e) => onError(e),
    });
  }

  configure(config) {
    this.config = config;
    this.encoder.configure(config);
    this.keyNext = true;
  }

  // The hub asked for a keyframe (a viewer or the recorder joined).
  askKeyframe() {
    const now = performance.now();
    if (now - this.lastAskedMs < ASKED_KEYFRAME_GAP_MS) return;
    this.lastAskedMs = now;
    this.keyNext = true;
  }

  // A frame to send, or skip; the frame is closed either way.
  encode(frame) {
    const ws = this.socket();
    const behind = this.encoder.encodeQueueSize > 2 || !ws || ws.bufferedAmount > this.maxBuffered();
    if (behind || frame.timestamp <= this.lastUs || this.encoder.state !== "configured") {
      if (behind) this.stats.skipped++;
      frame.close();
      return;
    }
    this.lastUs = frame.timestamp;
    const keyFrame = this.keyNext || frame.timestamp - this.lastKeyUs >= KEYFRAME_EVERY_US;
    if (keyFrame) {
      this.keyNext = false;
      this.lastKeyUs = frame.timestamp;
    }
    this.meta.set(frame.timestamp, { capture_ms: Date.now(), t: performance.now() });
    this.encoder.encode(frame, { keyFrame });
    frame.close();
  }

  // A quarter of a second of the chosen bitrate may wait in the socket.
  maxBuffered() {
    return Math.max(64 << 10, (this.config?.bitrate || 2_000_000) / 32);
  }

  output(chunk, md) {
    const meta = this.meta.get(chunk.timestamp) || {};
    this.meta.delete(chunk.timestamp);
    const description = md?.decoderConfig?.description;
    if (description) {
      this.description = ArrayBuffer.isView(description)
        ? new Uint8Array(description.buffer, description.byteOffset, description.byteLength).slice()
        : new Uint8Array(description).slice();
      this.sentConfigTo = null;
    }
    const ws = this.socket();
    const key = chunk.type === "key";
    const fresh = ws && this.sentConfigTo !== ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || ws.bufferedAmount > 4 * this.maxBuffered()
        || ((this.waitKey || fresh) && !key) || !this.description) {
      // Dropped: whatever comes next needs a keyframe first.
      this.stats.skipped++;
      this.waitKey = true;
      this.keyNext = true;
      return;
    }
    if (fresh) {
      ws.send(JSON.stringify({ kind: "avcc" }));
      ws.send(this.description);
      this.sentConfigTo = ws;
    }
    this.waitKey = false;
    const data = new Uint8Array(chunk.byteLength);
    chunk.copyTo(data);
    ws.send(JSON.stringify({ kind: "h264", timestamp_us: chunk.timestamp, ...meta }));
    ws.send(data);
    this.stats.sent++;
    this.stats.lastBytes = (this.stats.lastBytes || []).concat([[performance.now(), data.byteLength]]).slice(-240);
  }

  close() {
    if (this.encoder.state !== "closed") this.encoder.close();
  }
}
