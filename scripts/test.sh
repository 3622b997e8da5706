#!/usr/bin/env bash
# The whole test suite of remotecam, from a fresh Debian machine: installs what the tests
# need (Debian packages, a Python virtual environment), checks formatting and lints, then
# runs the Rust tests and the end-to-end tests (real Chromium, real OpenCV).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== %s\n' "$*"; }

# Debian packages: Chromium for the browser tests, ffmpeg to make test videos, cmake
# and nasm to build libjpeg-turbo (the client's JPEG codec), python3-venv where Python
# lacks venv, GStreamer for the RTSP camera.
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v ffmpeg >/dev/null || need+=(ffmpeg)
# curl, as dashboards and scripts read the drop-in URLs.
command -v curl >/dev/null || need+=(curl)
command -v cmake >/dev/null || need+=(cmake)
command -v nasm >/dev/null || need+=(nasm)
# FFmpeg's H.264 decoder (RTSP cameras' pictures), linked from Debian's libavcodec;
# bindgen reads its headers with libclang.
for pkg in libavcodec-dev libavformat-dev libavutil-dev libclang-dev pkg-config; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
# The MQTT broker of the tests.
command -v mosquitto >/dev/null || need+=(mosquitto)
# VLC, a player the docs name for stream.mp4 (run without a window).
command -v cvlc >/dev/null || need+=(vlc-bin vlc-plugin-base)
# The RTSP camera of the tests: GStreamer's RTSP server with x264enc (ugly), x265enc
# (bad) and the RTP payloaders (good), driven from Debian's own Python; its rtsps://
# needs GLib's TLS backend (glib-networking).
dpkg -s glib-networking >/dev/null 2>&1 || need+=(glib-networking)
gst_check='import gi; gi.require_version("Gst", "1.0"); gi.require_version("GstRtspServer", "1.0"); from gi.repository import Gst; Gst.init(None); assert all(Gst.ElementFactory.find(e) for e in ["x264enc", "x265enc", "rtph264pay", "timeoverlay"])'
/usr/bin/python3 -c "$gst_check" 2>/dev/null || need+=(python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly gstreamer1.0-plugins-bad)
if ((${#need[@]})); then
  say "installing Debian packages: ${need[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${need[@]}"
fi

say "Python environment (.venv)"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -r tests/e2e/requirements.txt

say "real footage for the motion tests (target/footage)"
./scripts/footage.sh

say "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

say "Rust tests"
cargo build --workspace --locked
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi

say "Python package (wheel built with maturin, installed into .venv)"
rm -rf target/wheels
.venv/bin/maturin build --release --quiet -m crates/remotecam-py/Cargo.toml -o target/wheels
wheel=$(ls target/wheels/remotecam-*.whl)
.venv/bin/pip install -q --disable-pip-version-check --force-reinstall --no-deps "$wheel"

say "end-to-end tests (Chromium with a fake camera, OpenCV, the Python package)"
REMOTECAM_BIN="$PWD/target/debug/remotecam" REMOTECAM_WHEEL="$wheel" \
  .venv/bin/python -m pytest tests/e2e -q
