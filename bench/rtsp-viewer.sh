#!/usr/bin/env bash
# What one viewer of an H.264 camera's stream.mp4 adds to the hub's CPU per frame,
# measured alone: one hub pulling the RTSP camera of bench/rtsp-record.sh (the same 60
# frames of 1280x720 at 30 fps, encoded once), windows without and with one viewer
# (curl) alternating ROUNDS times, each WINDOW seconds after 2 s of settling. The hub's
# CPU is the sum of its threads' scheduler time (nanoseconds; no thread of this hub ends
# in between), over the frames it received in the window (its `seq`).
# Usage: bench/rtsp-viewer.sh [WINDOW_SECONDS] [ROUNDS]
#        (needs: apt-get install python3-gi gir1.2-gst-rtsp-server-1.0
#         gstreamer1.0-plugins-ugly gstreamer1.0-plugins-good)
set -euo pipefail
cd "$(dirname "$0")/.."
window=${1:-10}
rounds=${2:-20}
source bench/lib.sh
cargo build --release -q -p remotecam
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
bench/make-frames.sh "$work/frames" >/dev/null
rtsp_camera
pull_rtsp hub
hub=$pulling; a=$door

cpu_us() { cat /proc/"$hub"/task/*/schedstat | awk '{s += $1} END {printf "%d", s / 1000}'; }
seq_now() { curl -sf "$a" | grep -oP '"seq":\K[0-9]+'; }
# window: the hub's CPU per frame (ms) over one window.
window() {
  sleep 2
  local c0 s0 c1 s1
  c0=$(cpu_us); s0=$(seq_now); sleep "$window"; c1=$(cpu_us); s1=$(seq_now)
  awk -v c=$((c1 - c0)) -v n=$((s1 - s0)) 'BEGIN { printf "%.4f", c / 1000 / n }'
}
for round in $(seq "$rounds"); do
  alone=$(window)
  curl -sf -o /dev/null "$a/stream.mp4" & viewer=$!
  watched=$(window)
  kill "$viewer"; wait "$viewer" 2>/dev/null || true
  echo "$alone $watched" | awk -v r="$round" '{ printf "round %d: nobody watching %.3f ms, one viewer %.3f ms, adds %.3f\n", r, $1, $2, $2 - $1 }'
done | tee "$work/rounds"
awk '{ d[NR] = $NF } END {
  for (i = 1; i <= NR; i++) for (j = i + 1; j <= NR; j++) if (d[j] < d[i]) { t = d[i]; d[i] = d[j]; d[j] = t }
  printf "one viewer adds (median of %d rounds): %.3f ms per frame\n", NR, NR % 2 ? d[(NR + 1) / 2] : (d[NR / 2] + d[NR / 2 + 1]) / 2
}' "$work/rounds"
