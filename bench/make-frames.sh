#!/usr/bin/env bash
# Makes the benchmark's input: 60 JPEG frames of 1280x720 (a moving test picture with
# sensor-like noise, about 120 kB each, like a webcam's MJPEG at good quality).
# Usage: bench/make-frames.sh DIR [WIDTHxHEIGHT]
# NOISE=0 makes a clean picture instead (about 55 kB a frame); the default is NOISE=8.
set -euo pipefail
dir=${1:?usage: make-frames.sh DIR [WxH]}
size=${2:-1280x720}
mkdir -p "$dir"
noise=${NOISE:-8}
filter="testsrc2=size=$size:rate=30"
[ "$noise" = 0 ] || filter="$filter,noise=alls=$noise:allf=t"
ffmpeg -loglevel error -y -f lavfi -i "$filter" \
  -frames:v 60 -q:v 4 "$dir/f%03d.jpg"
echo "$(ls "$dir"/*.jpg | wc -l) frames in $dir, $(du -sh "$dir" | cut -f1)"
