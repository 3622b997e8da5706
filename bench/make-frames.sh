#!/usr/bin/env bash
# Makes the benchmark's input: 60 JPEG frames of 1280x720 (a moving test picture with
# sensor-like noise, about 120 kB each, like a webcam's MJPEG at good quality).
# Usage: bench/make-frames.sh DIR [WIDTHxHEIGHT]
set -euo pipefail
dir=${1:?usage: make-frames.sh DIR [WxH]}
size=${2:-1280x720}
mkdir -p "$dir"
ffmpeg -loglevel error -y -f lavfi -i "testsrc2=size=$size:rate=30,noise=alls=8:allf=t" \
  -frames:v 60 -q:v 4 "$dir/f%03d.jpg"
echo "$(ls "$dir"/*.jpg | wc -l) frames in $dir, $(du -sh "$dir" | cut -f1)"
