#!/usr/bin/env bash
# The hub under load: one 1280x720 camera at 30 fps to 200 MJPEG viewers, then to 50
# viewers (latency), then 25 MJPEG + 25 WebSocket viewers. Everything on 127.0.0.1.
# Usage: bench/hub-load.sh   (builds in release mode first)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p remotecam -p remotecam-load
work=$(mktemp -d)
trap 'kill $hub 2>/dev/null || true; rm -rf "$work"' EXIT
bench/make-frames.sh "$work/frames" >/dev/null
./target/release/remotecam --bind 127.0.0.1 --port 0 --https-port 0 --data-dir "$work/data" >"$work/hub.out" 2>&1 &
hub=$!
until port=$(grep -oP '^HTTP  listening on 127.0.0.1:\K[0-9]+' "$work/hub.out"); do sleep 0.1; done
load() { ./target/release/remotecam-load --hub "http://127.0.0.1:$port" --frames "$work/frames" --pid "$hub" "$@"; echo; }
load --prefix z --mjpeg 1
load --prefix a --mjpeg 200
load --prefix b --mjpeg 50
load --prefix c --mjpeg 25 --ws 25
