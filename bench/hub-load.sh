#!/usr/bin/env bash
# The hub under load: one 1280x720 camera at 30 fps to 200 MJPEG viewers, then to 50
# viewers (latency), then 25 MJPEG + 25 WebSocket viewers. Everything on 127.0.0.1.
# Usage: bench/hub-load.sh   (builds in release mode first)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
bench_setup
load() { ./target/release/remotecam-load --hub "http://127.0.0.1:$port" --frames "$work/frames" --pid "$hub" "$@"; echo; }
load --prefix z --mjpeg 1
load --prefix a --mjpeg 200
load --prefix b --mjpeg 50
load --prefix c --mjpeg 25 --ws 25
