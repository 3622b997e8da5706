# What the benchmark scripts share; sourced by them from the repository's root.
# bench_setup: builds in release mode, makes the input frames in a temporary directory
# ($work, removed on exit with every process listed in $pids), and starts the hub on
# free ports ($hub its pid, $port its HTTP port).
# feed_camera: publishes the frames as camera feed-0 at 30 fps until the script ends.
# start_motion: starts the Motion daemon on feed-0 (see below).
# rtsp_camera, pull_rtsp: an H.264 RTSP camera of the frames, and a hub pulling it.

bench_setup() {
  cargo build --release -q -p remotecam -p remotecam-load
  work=$(mktemp -d)
  pids=()
  trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
  bench/make-frames.sh "$work/frames" >/dev/null
  ./target/release/remotecam --bind 127.0.0.1 --port 0 --https-port 0 --rtsp-port 0 --data-dir "$work/data" >"$work/hub.out" 2>&1 &
  hub=$!; pids+=("$hub")
  until port=$(grep -oP '^HTTP  listening on 127.0.0.1:\K[0-9]+' "$work/hub.out"); do sleep 0.1; done
}

feed_camera() {
  ./target/release/remotecam-load --hub "http://127.0.0.1:$port" --frames "$work/frames" \
    --prefix feed --warmup 0 --duration 100000 >/dev/null &
  pids+=($!)
  until curl -sf -o /dev/null "http://127.0.0.1:$port/api/cameras/feed-0/snapshot.jpg"; do sleep 0.1; done
}

# start_motion LINES: starts the Motion daemon ($motion_pid) on camera feed-0's MJPEG URL
# at the source's size and 30 fps, pictures off, web control off; LINES (newline
# separated config lines) say the rest: movie output, its stream port.
start_motion() {
  cat >"$work/motion.conf" <<CONF
daemon off
log_level 4
log_file $work/motion.log
target_dir $work/motion
netcam_url http://127.0.0.1:$port/api/cameras/feed-0/stream.mjpg
width 1280
height 720
framerate 30
picture_output off
webcontrol_port 0
$1
CONF
  motion -n -c "$work/motion.conf" >/dev/null 2>&1 &
  motion_pid=$!; pids+=($motion_pid)
}

# rtsp_camera: GStreamer's RTSP server (tests/common/rtsp_server.py) serving $work/frames
# as H.264 at 30 fps, a keyframe a second, encoded once at its start and the units sent
# over and over (so the camera takes almost none of the cores being measured), behind
# user cam, password secret; $rtsp its URL with them. It stops when its standard input
# closes: the script holds that pipe open on fd 3.
rtsp_camera() {
  mkfifo "$work/hold"
  exec 3<>"$work/hold"
  /usr/bin/python3 crates/remotecam/tests/common/rtsp_server.py --frames "$work/frames" --encode-once \
    --fps 30 --gop 30 --bitrate 4000 --user cam --password secret \
    <"$work/hold" >"$work/rtsp.out" &
  pids+=($!)
  until rtsp=$(grep -o 'rtsp://.*' "$work/rtsp.out"); do sleep 0.1; done
  rtsp=${rtsp/rtsp:\/\//rtsp://cam:secret@}
}

# pull_rtsp DIR [BINARY]: starts a hub (the release build, or BINARY) with one camera,
# door, pulling $rtsp, its data in $work/DIR; returns once the camera is live, with
# $pulling the hub's pid and $door the camera's API URL.
pull_rtsp() {
  printf '[cameras.door]\nsource = "%s"\n' "$rtsp" >"$work/$1.toml"
  "${2:-./target/release/remotecam}" --bind 127.0.0.1 --port 0 --https-port 0 --rtsp-port 0 --data-dir "$work/$1" \
    --config "$work/$1.toml" >"$work/$1.out" 2>&1 &
  pulling=$!; pids+=("$pulling")
  local port
  until port=$(grep -oP '^HTTP  listening on 127.0.0.1:\K[0-9]+' "$work/$1.out"); do sleep 0.1; done
  door="http://127.0.0.1:$port/api/cameras/door"
  until curl -sf "$door" | grep -q '"state":"live"'; do sleep 0.2; done
}
