#!/usr/bin/python3
"""GStreamer's rtspsrc reading a stream as GStreamer-based NVRs and players do: depayloads
and parses the video, and prints its caps and the access units it took, one line:
`<caps> <units> <keyframes>`. Exits 1 if fewer than --units came within --timeout seconds.
"""
import argparse
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--codec", default="h264")
    parser.add_argument("--units", type=int, default=30)
    parser.add_argument("--timeout", type=float, default=20.0)
    args = parser.parse_args()
    Gst.init(None)
    pipeline = Gst.parse_launch(
        f"rtspsrc name=src protocols=tcp latency=0 "
        f"! rtp{args.codec}depay ! {args.codec}parse "
        f"! video/x-{args.codec},stream-format=byte-stream,alignment=au "
        f"! appsink name=sink sync=false"
    )
    pipeline.get_by_name("src").set_property("location", args.url)
    sink = pipeline.get_by_name("sink")
    pipeline.set_state(Gst.State.PLAYING)
    units = keyframes = 0
    caps = "none"
    deadline = args.timeout * Gst.SECOND
    while units < args.units:
        sample = sink.emit("try-pull-sample", deadline)
        if sample is None:
            break
        units += 1
        if not sample.get_buffer().has_flags(Gst.BufferFlags.DELTA_UNIT):
            keyframes += 1
        caps = sample.get_caps().to_string().replace(" ", "")
    pipeline.set_state(Gst.State.NULL)
    print(f"{caps} {units} {keyframes}")
    sys.exit(0 if units >= args.units else 1)


main()
