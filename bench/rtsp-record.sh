#!/usr/bin/env bash
# An H.264 RTSP camera recorded: the hub (its own units into the clip, no decoding on
# that path) against the Motion daemon with `movie_passthrough on` on the same RTSP URL,
# and against the hub's JPEG path on the same picture. CPU per frame.
#
# The camera is GStreamer's RTSP server (tests/common/rtsp_server.py) serving the
# benchmark's 60 frames of 1280x720 (bench/make-frames.sh) as H.264 at 30 fps, a
# keyframe a second: encoded once at its start (x264) and the units sent over and over,
# so that the camera takes almost none of the two cores being measured (encoding live,
# it took 63 % of one). Hub A pulls it; hub B is fed the same frames as JPEG at 30 fps (the
# JPEG path). Both run all the time, so the machine's background is the same in every
# step. Each step reads one process's CPU time (user + system, all threads) over WINDOW
# seconds after a 3 s warm-up, ROUNDS times over:
#   1. hub A, nobody watching, detection off (what ingest alone costs);
#   2. hub A, detection on, recording on, threshold at its lowest so that it records the
#      whole time;
#   3. hub A as in 1, with one viewer of stream.mp4 (what Media Source Extensions read);
#   3b. hub A recording all the time (`continuous`), detection off: nothing decoded;
#   4. Motion on the RTSP URL, movie output on with `movie_passthrough on`, and
#      `emulate_motion on` so that it records the whole time (it decodes every frame for
#      its detection all the same: that is how it works);
#   5. hub B, detection and recording as in 2 (JPEG in: decode, detect, encode H.264).
# CPU per frame is the window's CPU time over the frames hub A received in it (its
# `seq`), the same camera for every step. Then, once: 50 viewers of stream.mp4, each
# one's frame rate.
# Usage: bench/rtsp-record.sh [WINDOW_SECONDS] [ROUNDS]
#        (needs: apt-get install motion ffmpeg python3-gi gir1.2-gst-rtsp-server-1.0
#         gstreamer1.0-plugins-ugly gstreamer1.0-plugins-good)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
window=${1:-15}
rounds=${2:-3}
command -v motion >/dev/null || { echo "motion is not installed (apt-get install motion)"; exit 1; }
bench_setup
hub_b=$hub; port_b=$port
feed_camera

# The RTSP camera, and hub A pulling it.
rtsp_camera
pull_rtsp a
hub_a=$pulling
a=${door%/api/cameras/door}
echo "camera: $(curl -sf "$a/api/cameras/door" | grep -oP '"(width|height|fps|codec_string|keyframe_interval_ms)":"?\K[^,"]+' | tr "\n" " ")"

# The CPU time of each thread of a process, to the nanosecond (the scheduler's own
# count; /proc/PID/stat counts in clock ticks of 10 ms, 0.03 ms per frame here):
# "tid ns" lines. cpu_between A B: the seconds the threads alive at B ran since A (a
# thread that ended in between, an idle one, is left out; one started counts whole).
cpu() {
  for f in /proc/"$1"/task/*/schedstat; do
    t=${f%/schedstat}
    echo "${t##*/} $(cut -d' ' -f1 "$f" 2>/dev/null)"
  done | sort
}
cpu_between() {
  join -a 2 -e 0 -o 0,1.2,2.2 <(echo "$1") <(echo "$2") | awk '{s += $3 - $2} END {print s / 1e9}'
}
seq_a() { curl -sf "$a/api/cameras/door" | grep -oP '"seq":\K[0-9]+'; }
# measure KEY LABEL PID: CPU time of PID over the window, per frame of the camera;
# printed, and appended to $work/results as "round key ms".
measure() {
  sleep 3
  local c0 c1 s0 s1 ms
  c0=$(cpu "$3"); s0=$(seq_a); sleep "$window"; c1=$(cpu "$3"); s1=$(seq_a)
  ms=$(awk -v s="$(cpu_between "$c0" "$c1")" -v n="$((s1 - s0))" 'BEGIN { printf "%.3f", s / n * 1000 }')
  printf "  %-52s %7.3f ms per frame (%d frames)\n" "$2" "$ms" "$((s1 - s0))"
  echo "$round $1 $ms" >>"$work/results"
}
motion_on() {
  curl -sf -X PUT -H 'content-type: application/json' -d "$2" "$1/motion" >/dev/null
}
always='{"enabled": true, "record": true, "threshold": 0.01, "calm_frames": 10000, "min_motion_frames": 1, "max_clip_s": 600}'
version=$(motion -h 2>&1 | grep -oP 'motion Version \K[0-9.]+' || true)
motion_conf() {
  cat >"$work/motion.conf" <<CONF
daemon off
log_level 4
log_file $work/motion.log
target_dir $work/motion
netcam_url $rtsp
width 1280
height 720
framerate 30
picture_output off
webcontrol_port 0
stream_port 0
movie_output on
movie_passthrough on
emulate_motion on
CONF
}

for round in $(seq "$rounds"); do
  echo "round $round"
  measure ingest "hub, RTSP in, nobody watching" "$hub_a"
  motion_on "$a/api/cameras/door" "$always"
  measure record "hub, RTSP, detection and recording on" "$hub_a"
  echo "    hub recording: $(curl -sf "$a/api/cameras/door/motion" | grep -oP '"(state|dropped_frames)":"?\K[a-z_0-9]+' | tr "\n" " ")(state, frames dropped since start)"
  motion_on "$a/api/cameras/door" '{"enabled": false}'
  # The decoder keeps running 10 s after detection stopped wanting pictures.
  until curl -sf "$a/api/cameras/door" | grep -q '"decoding":false'; do sleep 0.5; done
  curl -sf -o /dev/null "$a/api/cameras/door/stream.mp4" & viewer=$!
  measure mse1 "hub, RTSP, one stream.mp4 viewer" "$hub_a"
  kill "$viewer"; wait "$viewer" 2>/dev/null || true
  motion_on "$a/api/cameras/door" '{"enabled": false, "record": true, "continuous": true, "max_clip_s": 600}'
  measure continuous "hub, RTSP, recording all the time, no detection" "$hub_a"
  echo "    hub: $(curl -sf "$a/api/cameras/door" | grep -oP '"decoding":\K[a-z]+') decoding; recording $(curl -sf "$a/api/cameras/door/motion" | grep -oP '"state":"\K[a-z_]+')"
  motion_on "$a/api/cameras/door" '{"continuous": false}'
  motion_conf
  motion -n -c "$work/motion.conf" >/dev/null 2>&1 & motion_pid=$!; pids+=($motion_pid)
  measure motion "Motion $version, passthrough recording" "$motion_pid"
  kill "$motion_pid"; wait "$motion_pid" 2>/dev/null || true
  motion_on "http://127.0.0.1:$port_b/api/cameras/feed-0" "$always"
  measure jpeg "hub, JPEG in (same picture), detection and recording" "$hub_b"
  motion_on "http://127.0.0.1:$port_b/api/cameras/feed-0" '{"enabled": false}'
done
echo "Motion's movies: $(find "$work/motion" -type f 2>/dev/null | wc -l) file(s), $(du -sh "$work/motion" 2>/dev/null | cut -f1) in all"
echo "hub A's clips: $(find "$work/a/recordings" -name '*.mp4' | wc -l) file(s), $(du -sh "$work/a/recordings" | cut -f1)"

echo "== 50 viewers of stream.mp4"
./target/release/remotecam-load --cameras 0 --mp4 50 --mp4-url "$a/api/cameras/door/stream.mp4" \
  --pid "$hub_a" --duration "$window"

awk '
  { ms[$2, $1] = $3; if ($1 > n) n = $1 }
  function median(key, ratio_of, minus,    i, j, t, v, c, x) {
    c = 0
    for (i = 1; i <= n; i++) {
      x = ms[key, i] - (minus == "" ? 0 : ms[minus, i])
      v[++c] = ratio_of == "" ? x : x / ms[ratio_of, i]
    }
    for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    return c % 2 ? v[(c + 1) / 2] : (v[c / 2] + v[c / 2 + 1]) / 2
  }
  END {
    printf "medians over %d rounds (ms per frame):\n", n
    printf "  hub, RTSP: ingest %.3f, detection and recording %.3f, one MP4 viewer adds %.3f\n", median("ingest"), median("record"), median("mse1", "", "ingest")
    printf "  hub, RTSP, recording all the time without detection: %.3f (recording adds %.3f to ingest)\n", median("continuous"), median("continuous", "", "ingest")
    printf "  Motion, passthrough recording: %.3f\n", median("motion")
    printf "  hub RTSP recording all the time / Motion: %.2f (per round: median)\n", median("continuous", "motion")
    printf "  hub, JPEG path, detection and recording: %.3f\n", median("jpeg")
    printf "  hub RTSP / Motion, detection and recording: %.2f (per round: median)\n", median("record", "motion")
    printf "  hub RTSP / hub JPEG path: %.2f (per round: median)\n", median("record", "jpeg")
  }' "$work/results"
