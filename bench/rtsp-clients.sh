#!/usr/bin/env bash
# RTSP clients against stream.mp4 viewers of one 720p30 H.264 camera, side by side: one
# hub pulling the RTSP camera of bench/rtsp-record.sh (1280x720, 30 fps, 4 Mbit/s,
# encoded once), then, alternating ROUNDS times, CLIENTS viewers of its stream.mp4 and
# CLIENTS RTSP clients of it (remotecam-load, measuring WINDOW seconds after 3 s). For
# each: every client's frame rate, the hub's CPU per delivered frame, and for RTSP the
# latency from the hub's receiving a frame to the client's (p50, p99: the hub's sender
# reports give each RTP time's wall-clock time).
# Usage: bench/rtsp-clients.sh [CLIENTS] [WINDOW_SECONDS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${1:-50}
window=${2:-10}
rounds=${3:-3}
source bench/lib.sh
cargo build --release -q -p remotecam -p remotecam-load
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
bench/make-frames.sh "$work/frames" >/dev/null
rtsp_camera
pull_rtsp hub
rtsp_port=$(grep -oP '^RTSP  listening on 127.0.0.1:\K[0-9]+' "$work/hub.out")
cat >"$work/summary.py" <<'PY'
import json, sys
r = json.load(sys.stdin)
p50, p99 = r["latency_ms_p50"], r["latency_ms_p99"]
lat = "" if p50 is None else f", latency p50 {p50:.1f} ms p99 {p99:.1f} ms"
print(f"round {sys.argv[1]} {sys.argv[2]:4}: fps min {r['viewer_fps_min']:.1f} "
      f"median {r['viewer_fps_median']:.1f}, hub {r['cpu_core_share'] * 100:.1f}% of a core, "
      f"{r['cpu_us_per_frame']:.1f} us per delivered frame{lat}, errors {r['viewer_errors']}")
PY
load() {
  ./target/release/remotecam-load --cameras 0 --pid "$pulling" --warmup 3 --duration "$window" --json "$@" | tail -1
}
for round in $(seq "$rounds"); do
  # Which goes first alternates, so that a drift of the machine favours neither.
  if ((round % 2)); then
    mp4=$(load --mp4 "$clients" --mp4-url "$door/stream.mp4")
    rtsp=$(load --rtsp "$clients" --rtsp-url "rtsp://127.0.0.1:$rtsp_port/door")
  else
    rtsp=$(load --rtsp "$clients" --rtsp-url "rtsp://127.0.0.1:$rtsp_port/door")
    mp4=$(load --mp4 "$clients" --mp4-url "$door/stream.mp4")
  fi
  for run in "mp4 $mp4" "rtsp $rtsp"; do
    kind=${run%% *}; json=${run#* }
    echo "$json" | /usr/bin/python3 "$work/summary.py" "$round" "$kind"
  done
done
