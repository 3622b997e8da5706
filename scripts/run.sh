#!/usr/bin/env bash
# Builds the hub the fast way and starts it: installs what the build needs on a Debian
# machine when it is missing (a C/C++ compiler, cmake for libjpeg-turbo, nasm, without
# which the H.264 encoder builds as plain C and recording costs about 1.7 times the CPU
# (libjpeg-turbo's build needs it too), and FFmpeg's development files), builds in
# release mode, and runs target/release/remotecam with the arguments given
# (./scripts/run.sh --demo, ./scripts/run.sh --help).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v cc >/dev/null && command -v c++ >/dev/null || need+=(build-essential)
command -v cmake >/dev/null || need+=(cmake)
command -v nasm >/dev/null || need+=(nasm)
# FFmpeg's H.264 decoder (RTSP cameras' pictures), linked from Debian's libavcodec;
# bindgen reads its headers with libclang.
for pkg in libavcodec-dev libavformat-dev libavutil-dev libclang-dev pkg-config; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ((${#need[@]})); then
  echo "run.sh: installing Debian packages: ${need[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${need[@]}"
fi

bin=target/release/remotecam
# The encoder's assembly is linked in as functions named *_sse2 (and later SIMD kinds).
has_assembly() { grep -q -a WelsSampleSad16x16_sse2 "$bin"; }

cargo build --release --locked -p remotecam
if ! has_assembly; then
  # Built before nasm was there: the encoder's build does not notice nasm arriving.
  echo "run.sh: rebuilding the H.264 encoder with nasm" >&2
  cargo clean --release -p openh264-sys2
  cargo build --release --locked -p remotecam
fi
if has_assembly; then
  echo "run.sh: built $bin (H.264 encoder with its assembly)" >&2
else
  echo "run.sh: built $bin, but its H.264 encoder is plain C (slow): nasm did not work" >&2
fi
exec "$bin" "$@"
