#!/usr/bin/env bash
# Builds of the hub compared on an H.264 camera's pictures: each BINARY in turn pulls the
# RTSP camera of bench/rtsp-record.sh (the same frames, encoded once) with detection and
# recording on (recording the whole time, as that script's step 2), started afresh for
# each window of WINDOW seconds after 3 s of warm-up, ROUNDS times over. CPU per frame is
# the process's user and system time (/proc/PID/stat, which keeps the threads that
# ended; in clock ticks of 10 ms) over the frames it received in the window.
# Usage: bench/rtsp-builds.sh WINDOW_SECONDS ROUNDS BINARY...
#        (copy each build aside first: cp target/release/remotecam /tmp/before)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
window=$1; rounds=$2; shift 2
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
bench/make-frames.sh "$work/frames" >/dev/null
rtsp_camera
always='{"enabled": true, "record": true, "threshold": 0.01, "calm_frames": 10000, "min_motion_frames": 1, "max_clip_s": 600}'
ticks() { awk '{ print $14 + $15 }' /proc/"$1"/stat; }
seq_now() { curl -sf "$door" | grep -oP '"seq":\K[0-9]+'; }
for round in $(seq "$rounds"); do
  for binary in "$@"; do
    rm -rf "$work/hub"
    pull_rtsp hub "$binary"
    curl -sf -X PUT -H 'content-type: application/json' -d "$always" "$door/motion" >/dev/null
    sleep 3
    t0=$(ticks "$pulling"); s0=$(seq_now); sleep "$window"; t1=$(ticks "$pulling"); s1=$(seq_now)
    awk -v t=$((t1 - t0)) -v n=$((s1 - s0)) -v b="$binary" -v r="$round" \
      'BEGIN { printf "round %d  %-40s %.3f ms per frame (%d frames)\n", r, b, t * 10 / n, n }'
    kill "$pulling"; wait "$pulling" 2>/dev/null || true
  done
done
