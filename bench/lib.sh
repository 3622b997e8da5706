# What the benchmark scripts share; sourced by them from the repository's root.
# bench_setup: builds in release mode, makes the input frames in a temporary directory
# ($work, removed on exit with every process listed in $pids), and starts the hub on
# free ports ($hub its pid, $port its HTTP port).
# feed_camera: publishes the frames as camera feed-0 at 30 fps until the script ends.
# start_motion: starts the Motion daemon on feed-0 (see below).

bench_setup() {
  cargo build --release -q -p remotecam -p remotecam-load
  work=$(mktemp -d)
  pids=()
  trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
  bench/make-frames.sh "$work/frames" >/dev/null
  ./target/release/remotecam --bind 127.0.0.1 --port 0 --https-port 0 --data-dir "$work/data" >"$work/hub.out" 2>&1 &
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
