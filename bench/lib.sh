# What the benchmark scripts share; sourced by them from the repository's root.
# bench_setup: builds in release mode, makes the input frames in a temporary directory
# ($work, removed on exit with every process listed in $pids), and starts the hub on
# free ports ($hub its pid, $port its HTTP port).
# feed_camera: publishes the frames as camera feed-0 at 30 fps until the script ends.

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
