#!/usr/bin/env bash
# Motion detection and recording on one 1280x720 30 fps stream: the hub against the
# Motion daemon (Debian's `motion`) on the same input, CPU per frame.
#
# A feeder publishes the camera into the hub. Then, each for WINDOW seconds after a
# 3 s warm-up, the process's CPU time (user + system, all threads, /proc/PID/stat) is
# read over the window, in this order, ROUNDS times over:
#   1. hub, motion detection off (what ingest alone costs);
#   2. hub, detection on, recording off;
#   3. Motion pulling the hub's MJPEG URL as its netcam (at the source's size, 30 fps),
#      detection only (movie and picture output off, no stream);
#   4. hub, detection on, recording on, threshold at its lowest so that it records the
#      whole time (its recording state and dropped frames are printed to show it);
#   5. Motion with movie output on and `emulate_motion on`, so that it records the
#      whole time.
# CPU per frame is the window's CPU time divided by the frames the camera sent in it
# (30 fps). In step 2 the hub also reports the detector's own CPU time per frame (its
# thread's, decoding and scoring; the rest of the difference to step 1 is handing frames
# to it and its results back). Motion may process fewer frames than it is sent when it falls behind, which
# would make its per-frame figure look smaller, never larger.
# The speed of a shared machine drifts from minute to minute, so the hub and Motion are
# measured one after the other within each round, and the ratios are taken per round;
# the summary gives each figure's median over the rounds.
# Usage: bench/motion-detect.sh [WINDOW_SECONDS] [ROUNDS]
#        (needs: apt-get install motion ffmpeg)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
window=${1:-15}
rounds=${2:-3}
command -v motion >/dev/null || { echo "motion is not installed (apt-get install motion)"; exit 1; }
bench_setup
echo "input: $(ls "$work"/frames/*.jpg | wc -l) frames of 1280x720, $(( $(cat "$work"/frames/*.jpg | wc -c) / $(ls "$work"/frames/*.jpg | wc -l) / 1000 )) kB each on average, cycled at 30 fps"
base="http://127.0.0.1:$port"
feed_camera

ticks=$(getconf CLK_TCK)
cpu() { awk -v t="$ticks" '{print ($14 + $15) / t}' "/proc/$1/stat"; }
# measure KEY LABEL PID: CPU time of PID over the window, per frame at 30 fps; printed,
# and appended to $work/results as "round key ms".
measure() {
  sleep 3
  local a b ms
  a=$(cpu "$3"); sleep "$window"; b=$(cpu "$3")
  ms=$(awk -v a="$a" -v b="$b" -v w="$window" 'BEGIN { printf "%.2f", (b - a) / (w * 30) * 1000 }')
  printf "  %-44s %6.2f ms per frame\n" "$2" "$ms"
  echo "$round $1 $ms" >>"$work/results"
}
motion_settings() {
  curl -sf -X PUT -H 'content-type: application/json' -d "$1" \
    "$base/api/cameras/feed-0/motion" >/dev/null
}
stop_motion() { kill "$motion_pid"; wait "$motion_pid" 2>/dev/null || true; }
version=$(motion -h 2>&1 | grep -oP 'motion Version \K[0-9.]+' || true)

for round in $(seq "$rounds"); do
  echo "round $round"
  measure hub_off "hub, detection off" "$hub"
  motion_settings '{"enabled": true, "record": false}'
  measure hub_detect "hub, detection on, recording off" "$hub"
  detector=$(curl -sf "$base/api/cameras/feed-0/motion" | grep -oP '"detector_cpu_ms":\K[0-9.]+')
  printf "    the detector itself (its thread's CPU, from the API): %.2f ms per frame\n" "$detector"
  echo "$round hub_detector $detector" >>"$work/results"
  motion_settings '{"enabled": false}'
  start_motion $'movie_output off\nstream_port 0'
  measure motion_detect "Motion $version, detection only" "$motion_pid"
  stop_motion
  motion_settings '{"enabled": true, "record": true, "threshold": 0.01, "calm_frames": 10000, "min_motion_frames": 1, "max_clip_s": 600}'
  measure hub_record "hub, detection on, recording on" "$hub"
  echo "    hub recording: $(curl -sf "$base/api/cameras/feed-0/motion" | grep -oP '"(state|dropped_frames)":"?\K[a-z_0-9]+' | tr "\n" " ")(state, frames dropped since start)"
  motion_settings '{"enabled": false}'
  start_motion $'movie_output on\nemulate_motion on\nstream_port 0'
  measure motion_record "Motion, movie output on, always recording" "$motion_pid"
  stop_motion
done
echo "Motion's movies: $(find "$work/motion" -type f 2>/dev/null | wc -l) file(s), $(du -sh "$work/motion" 2>/dev/null | cut -f1) in all"

# Medians over the rounds: of each figure, and of the per-round ratios.
awk '
  { ms[$2, $1] = $3; if ($1 > n) n = $1 }
  function median(key, ratio_of,    i, j, t, v, c) {
    c = 0
    for (i = 1; i <= n; i++) v[++c] = ratio_of == "" ? ms[key, i] : ms[key, i] / ms[ratio_of, i]
    for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    return c % 2 ? v[(c + 1) / 2] : (v[c / 2] + v[c / 2 + 1]) / 2
  }
  END {
    printf "medians over %d rounds (ms per frame):\n", n
    printf "  hub: ingest %.2f, detection on %.2f (the detector itself %.2f), recording %.2f\n", median("hub_off"), median("hub_detect"), median("hub_detector"), median("hub_record")
    printf "  Motion: detection %.2f, recording %.2f\n", median("motion_detect"), median("motion_record")
    printf "  hub / Motion, detection: %.2f (per round: median)\n", median("hub_detect", "motion_detect")
    printf "  hub / Motion, recording: %.2f (per round: median)\n", median("hub_record", "motion_record")
  }' "$work/results"
