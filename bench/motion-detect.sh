#!/usr/bin/env bash
# Motion detection and recording on one 1280x720 30 fps stream: the hub against the
# Motion daemon (Debian's `motion`) on the same input, CPU per frame.
#
# A feeder publishes the camera into the hub. Then, each for WINDOW seconds after a
# 3 s warm-up, the process's CPU time (user + system, all threads, /proc/PID/stat) is
# read over the window:
#   1. hub, motion detection off (what ingest alone costs);
#   2. hub, detection on, recording off;
#   3. hub, detection on, recording on, threshold at its lowest so that it records the
#      whole time (its recording state is printed to show it);
#   4. Motion pulling the hub's MJPEG URL as its netcam (at the source's size, 30 fps),
#      detection only (movie and picture output off, no stream);
#   5. the same with movie output on and `emulate_motion on`, so that it records the
#      whole time.
# CPU per frame is the window's CPU time divided by the frames the camera sent in it
# (30 fps). Motion may process fewer frames than it is sent when it falls behind, which
# would make its per-frame figure look smaller, never larger.
# Usage: bench/motion-detect.sh [WINDOW_SECONDS]   (needs: apt-get install motion ffmpeg)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
window=${1:-20}
command -v motion >/dev/null || { echo "motion is not installed (apt-get install motion)"; exit 1; }
bench_setup
echo "input: $(ls "$work"/frames/*.jpg | wc -l) frames of 1280x720, $(( $(cat "$work"/frames/*.jpg | wc -c) / $(ls "$work"/frames/*.jpg | wc -l) / 1000 )) kB each on average, cycled at 30 fps"
base="http://127.0.0.1:$port"
feed_camera

ticks=$(getconf CLK_TCK)
cpu() { awk -v t="$ticks" '{print ($14 + $15) / t}' "/proc/$1/stat"; }
# measure LABEL PID: CPU time of PID over the window, per frame at 30 fps.
measure() {
  sleep 3
  local a b
  a=$(cpu "$2"); sleep "$window"; b=$(cpu "$2")
  awk -v a="$a" -v b="$b" -v w="$window" -v l="$1" \
    'BEGIN { printf "%-44s %6.1f%% of a core  %6.2f ms per frame\n", l, (b - a) / w * 100, (b - a) / (w * 30) * 1000 }'
}
motion_settings() {
  curl -sf -X PUT -H 'content-type: application/json' -d "$1" \
    "$base/api/cameras/feed-0/motion" >/dev/null
}

measure "hub, detection off" "$hub"
motion_settings '{"enabled": true, "record": false}'
measure "hub, detection on, recording off" "$hub"
motion_settings '{"enabled": false}'
motion_settings '{"enabled": true, "record": true, "threshold": 0.01, "calm_frames": 10000, "min_motion_frames": 1, "max_clip_s": 600}'
measure "hub, detection on, recording on" "$hub"
echo "  hub recording: $(curl -sf "$base/api/cameras/feed-0/motion" | grep -oP '"(state|dropped_frames)":"?\K[a-z_0-9]+' | tr "\n" " ")(state, frames dropped)"
motion_settings '{"enabled": false}'

run_motion() {
  cat >"$work/motion.conf" <<CONF
daemon off
log_level 4
log_file $work/motion.log
target_dir $work/motion
netcam_url $base/api/cameras/feed-0/stream.mjpg
width 1280
height 720
framerate 30
picture_output off
webcontrol_port 0
stream_port 0
$1
CONF
  motion -n -c "$work/motion.conf" >/dev/null 2>&1 &
  motion_pid=$!; pids+=($motion_pid)
}
run_motion "movie_output off"
measure "Motion $(motion -h 2>&1 | grep -oP 'motion Version \K[0-9.]+' || true), detection only" "$motion_pid"
kill "$motion_pid"; wait "$motion_pid" 2>/dev/null || true
run_motion $'movie_output on\nemulate_motion on'
measure "Motion, movie output on, always recording" "$motion_pid"
echo "  Motion's movies: $(find "$work/motion" -type f 2>/dev/null | wc -l) file(s), $(du -sh "$work/motion" 2>/dev/null | cut -f1)"
