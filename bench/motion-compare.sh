#!/usr/bin/env bash
# The same viewers against the same stream, served by the hub and by the Motion daemon
# (Debian's `motion`, netcam input), to compare CPU per delivered frame.
#
# A feeder publishes one 1280x720 30 fps camera into the hub. Motion pulls that camera's
# MJPEG URL as its netcam and serves it again on its stream port (it decodes, runs its
# detection and re-encodes every frame; that is how it works). Then N viewers read the
# hub's URL (measuring the hub) and then Motion's stream port (measuring Motion).
# Usage: bench/motion-compare.sh [VIEWERS]   (needs: apt-get install motion ffmpeg)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
viewers=${1:-200}
command -v motion >/dev/null || { echo "motion is not installed (apt-get install motion)"; exit 1; }
bench_setup
feed_camera
mport=$((port + 1))
start_motion "movie_output off
stream_port $mport
stream_localhost on
stream_maxrate 30
stream_quality 75"
# Motion's stream answers once its netcam has frames.
for _ in $(seq 100); do
  curl -s -m 1 -o /dev/null "http://127.0.0.1:$mport/" && break || sleep 0.2
done
load() { ./target/release/remotecam-load --cameras 0 --mjpeg "$viewers" --json "$@"; echo; }
echo "== hub: $viewers viewers of the fed camera"
load --mjpeg-url "http://127.0.0.1:$port/api/cameras/feed-0/stream.mjpg" --pid "$hub"
echo "== Motion: $viewers viewers of its stream port (same input)"
load --mjpeg-url "http://127.0.0.1:$mport/" --pid "$motion_pid"
