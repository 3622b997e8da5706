"""Command line: `python -m remotecam view CAMERA` and `python -m remotecam snapshot CAMERA FILE.jpg`."""

import argparse
import os
import sys

from . import RemoteCam, RemoteCamError


def _common(p):
    p.add_argument("camera", help="camera name on the hub")
    p.add_argument("--url", default=os.environ.get("REMOTECAM_URL", "http://127.0.0.1:8100"),
                   help="the hub's http:// address (default: %(default)s, or $REMOTECAM_URL)")
    p.add_argument("--token", default=os.environ.get("REMOTECAM_TOKEN"),
                   help="access token, needed from another machine (or $REMOTECAM_TOKEN)")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for a frame")


def _view(args):
    try:
        import cv2
    except ImportError:
        sys.exit("remotecam view needs OpenCV with its GUI: pip install opencv-python")
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        sys.exit("remotecam view needs a display (no DISPLAY or WAYLAND_DISPLAY is set); "
                 "use `python -m remotecam snapshot` instead")
    title = f"remotecam: {args.camera} (q or Esc to quit)"
    with RemoteCam(args.camera, url=args.url, token=args.token, timeout=args.timeout) as cam:
        try:
            for frame in cam:
                cv2.imshow(title, frame)
                if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
                    break
                if cv2.getWindowProperty(title, cv2.WND_PROP_VISIBLE) < 1:
                    break
        except cv2.error as e:
            sys.exit(f"remotecam view: OpenCV cannot open a window ({e}); install opencv-python, "
                     "not opencv-python-headless")
        finally:
            cv2.destroyAllWindows()


def _snapshot(args):
    with RemoteCam(args.camera, url=args.url, token=args.token, timeout=args.timeout,
                   on_timeout="raise") as cam:
        jpeg = cam.get_jpeg()
        info = cam.last_info
    with open(args.file, "wb") as f:
        f.write(jpeg)
    print(f"saved frame {info.seq} of {args.camera} ({info.width}x{info.height}, {len(jpeg)} bytes) to {args.file}")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m remotecam", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    view = sub.add_parser("view", help="show a camera in an OpenCV window")
    _common(view)
    snap = sub.add_parser("snapshot", help="save one frame of a camera as JPEG")
    _common(snap)
    snap.add_argument("file", help="where to save the JPEG")
    args = parser.parse_args(argv)
    try:
        {"view": _view, "snapshot": _snapshot}[args.command](args)
    except (RemoteCamError, LookupError, PermissionError, ConnectionError, TimeoutError) as e:
        sys.exit(f"remotecam {args.command}: {e}")


if __name__ == "__main__":
    main()
