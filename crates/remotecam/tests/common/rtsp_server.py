#!/usr/bin/python3
"""A real RTSP camera for the tests: GStreamer's RTSP server with a test pattern.

It serves SMPTE colour bars (or, with --pattern ball, a ball moving on black; with
--pattern snow, noise, which makes large frames) with the
running time drawn over them (so every frame differs) as H.264 (x264enc) or H.265 (x265enc) at /cam, one shared pipeline for all
clients, optionally behind a user and password (digest, or basic), optionally over TLS
(rtsps://, with --tls-pem: a certificate and its key in one PEM file). With --frames and
--encode-once (the benchmarks), the frames are encoded once at start and their access
units served over and over, so the camera costs next to nothing while the hub is measured
on the same cores (a real camera encodes on its own chip). It prints the URL it
serves on one line once it listens, and stops when its standard input closes, so it
never outlives the test that started it.

Debian: python3-gi, gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-{base,good,ugly,bad},
glib-networking (TLS).
"""

import argparse
import glob
import sys
import threading

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gio, GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402


def pipeline(args):
    source = (
        f"videotestsrc is-live=true pattern={args.pattern} "
        f"! video/x-raw,width={args.width},height={args.height},framerate={args.fps}/1 "
        f"! timeoverlay halignment=left valignment=bottom font-desc=\"Sans 24\" "
    )
    if args.frames:
        # JPEG files f001.jpg, f002.jpg, ... looped (the benchmarks' input), at --fps.
        source = (
            f"multifilesrc location={args.frames}/f%03d.jpg start-index=1 loop=true "
            f"caps=image/jpeg,framerate={args.fps}/1 ! jpegdec ! videoconvert "
        )
    # 4:2:0, as cameras send (x265enc would take the source's 4:4:4 otherwise): 8 bits,
    # or 10 (H.265 Main 10).
    depth = "I420_10LE" if args.bits == 10 else "I420"
    source += f"! videoconvert ! video/x-raw,format={depth} "
    if args.codec == "h265":
        encode = (
            f"! x265enc tune=zerolatency speed-preset=ultrafast key-int-max={args.gop} "
            f"bitrate={args.bitrate} "
            f"! rtph265pay name=pay0 pt=96 config-interval=-1"
        )
    else:
        encode = (
            f"! x264enc tune=zerolatency speed-preset=superfast key-int-max={args.gop} "
            f"bitrate={args.bitrate} vbv-buf-capacity=1000 "
            f"! video/x-h264,profile={args.profile} "
            f"! rtph264pay name=pay0 pt=96 config-interval=-1"
        )
    return f"( {source} {encode} )"


def encoded_once(args):
    """The --frames as H.264 access units (byte stream), encoded once by x264."""
    count = len(glob.glob(f"{args.frames}/f[0-9][0-9][0-9].jpg"))
    encoder = Gst.parse_launch(
        f"multifilesrc location={args.frames}/f%03d.jpg start-index=1 stop-index={count} "
        f"caps=image/jpeg,framerate={args.fps}/1 ! jpegdec ! videoconvert "
        f"! video/x-raw,format=I420 "
        f"! x264enc tune=zerolatency speed-preset=superfast key-int-max={args.gop} "
        f"bitrate={args.bitrate} vbv-buf-capacity=1000 "
        f"! video/x-h264,profile={args.profile},stream-format=byte-stream,alignment=au "
        f"! appsink name=units sync=false"
    )
    sink = encoder.get_by_name("units")
    encoder.set_state(Gst.State.PLAYING)
    units = []
    while (sample := sink.emit("pull-sample")) is not None:
        buffer = sample.get_buffer()
        units.append(buffer.extract_dup(0, buffer.get_size()))
    encoder.set_state(Gst.State.NULL)
    if not units:
        sys.exit(f"no frames in {args.frames}")
    return units


def serve_units(units, fps):
    """A pipeline description that serves `units` (see `feed`), and what feeds it."""
    launch = (
        "( appsrc name=units format=time block=true max-bytes=1000000 "
        "caps=video/x-h264,stream-format=byte-stream,alignment=au "
        "! h264parse ! rtph264pay name=pay0 pt=96 config-interval=-1 )"
    )

    def feed(source):
        # Timestamps at the frame rate; the server's sinks keep to the clock, and the
        # source blocks when a second or so is queued, as multifilesrc is paced.
        n = 0
        while True:
            buffer = Gst.Buffer.new_wrapped(units[n % len(units)])
            buffer.pts = n * Gst.SECOND // fps
            buffer.duration = Gst.SECOND // fps
            if source.emit("push-buffer", buffer) != Gst.FlowReturn.OK:
                return
            n += 1

    def on_configure(_factory, media):
        source = media.get_element().get_child_by_name("units")
        threading.Thread(target=feed, args=(source,), daemon=True).start()

    return launch, on_configure


class OneCamera(GstRtspServer.RTSPMediaFactory):
    """Every client of the path shares the one pipeline, as a camera has one encoder.

    GStreamer's own key has the port the client named in its URL, and the hub names
    its loopback relay's.
    """

    def do_gen_key(self, url):
        return url.abspath


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--codec", choices=["h264", "h265"], default="h264")
    parser.add_argument("--bits", type=int, choices=[8, 10], default=8, help="10: H.265 only")
    parser.add_argument("--pattern", choices=["smpte", "ball", "snow"], default="smpte")
    parser.add_argument("--bitrate", type=int, default=2048, help="kbit/s")
    parser.add_argument("--frames", help="serve these JPEG files (f001.jpg, ...) instead of a pattern")
    parser.add_argument("--encode-once", action="store_true", help="with --frames: encode them once, serve the units looped")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--gop", type=int, default=30, help="frames between keyframes")
    parser.add_argument("--profile", default="high", help="H.264 profile")
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--auth", choices=["digest", "basic"], default="digest")
    parser.add_argument("--tls-pem", help="serve rtsps:// with this certificate and key")
    args = parser.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = OneCamera()
    if args.encode_once:
        launch, on_configure = serve_units(encoded_once(args), args.fps)
        factory.set_launch(launch)
        factory.connect("media-configure", on_configure)
    else:
        factory.set_launch(pipeline(args))
    factory.set_shared(True)
    auth = GstRtspServer.RTSPAuth()
    if args.tls_pem:
        auth.set_tls_certificate(Gio.TlsCertificate.new_from_file(args.tls_pem))
        server.set_auth(auth)
    if args.user:
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "camera")
        if args.auth == "basic":
            auth.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)
            auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, args.password), token)
        else:
            auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
            auth.add_digest(args.user, args.password, token)
        server.set_auth(auth)
        permissions = GstRtspServer.RTSPPermissions()
        permissions.add_permission_for_role("camera", "media.factory.access", True)
        permissions.add_permission_for_role("camera", "media.factory.construct", True)
        factory.set_permissions(permissions)
    server.get_mount_points().add_factory("/cam", factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on port {args.port}")

    loop = GLib.MainLoop()

    def wait_for_eof():
        sys.stdin.read()
        GLib.idle_add(loop.quit)

    threading.Thread(target=wait_for_eof, daemon=True).start()
    scheme = "rtsps" if args.tls_pem else "rtsp"
    print(f"{scheme}://127.0.0.1:{server.get_bound_port()}/cam", flush=True)
    loop.run()


if __name__ == "__main__":
    main()
