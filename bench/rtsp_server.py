"""A real RTSP server on loopback for tests and the soak benchmark (GStreamer's gst-rtsp-server).

Run it with the *system* python3 (the project's venv cannot import gi):

    /usr/bin/python3 bench/rtsp_server.py --clip clip.mp4 --port 8554 [--path /stream]

It serves an H.264 mp4 at rtsp://127.0.0.1:PORT/stream, shared between clients, and prints
``READY rtsp://...`` on stdout once it listens. Stop it with SIGTERM/SIGINT. It imports nothing from
the project.
"""

import argparse
import signal
import sys


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--clip", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--path", default="/stream")
    p.add_argument("--address", default="127.0.0.1")
    args = p.parse_args()

    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.address)
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    clip = args.clip.replace('"', '\\"')
    factory.set_launch(f'( filesrc location="{clip}" ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 )')
    factory.set_shared(True)
    server.get_mount_points().add_factory(args.path, factory)
    if server.attach(None) == 0:
        print(f"ERROR cannot listen on {args.address}:{args.port}", flush=True)
        return 1
    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    print(f"READY rtsp://{args.address}:{args.port}{args.path}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
