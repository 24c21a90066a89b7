"""Probe cost on a 1 GB moov-at-end MP4 in S3, and QC speed against decode-only.

    .venv/bin/python bench/bench_probe_qc.py [--probe-mb 1024] [--qc-seconds 300]

Probe: the object is read only through a presigned URL; a counting forward proxy on
loopback (set as http_proxy for the tools) measures the bytes actually fetched.
Targets: under 0.2 s and under 2% of the object read.
QC: 5 minutes of 1080p30 H.264 (~10 Mbit/s); CPU seconds of the one-pass QC against
`ffmpeg -i IN -f null -` (decode only) in the same run. Target: QC within 1.0x of decode
(bench/bench_qc_cost.py: every labelled case and camera-like files, before and after).
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config.rules import load_rules  # noqa: E402
from config.settings import DEFAULT_RULES  # noqa: E402
from pipeline import ffmpeg  # noqa: E402
from pipeline.probe import probe_video  # noqa: E402
from pipeline.qc import run_qc  # noqa: E402
from pipeline.storage.s3 import S3Store  # noqa: E402
from tests import media, services  # noqa: E402


class CountingProxy(BaseHTTPRequestHandler):
    """A forward HTTP proxy that counts response body bytes."""

    counter = {"bytes": 0, "requests": 0}
    lock = threading.Lock()

    def _forward(self):
        # A small send buffer keeps the count close to what the tool consumed, not what
        # the kernel would have buffered for it after it stopped reading.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32768)
        target = urlsplit(self.path)
        conn = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("proxy-connection", "connection")}
        conn.request(self.command, target.path + (f"?{target.query}" if target.query else ""), headers=headers)
        response = conn.getresponse()
        self.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in ("transfer-encoding", "connection"):
                self.send_header(key, value)
        self.send_header("Connection", "close")
        self.end_headers()
        sent = 0
        if self.command != "HEAD":
            while chunk := response.read(16384):
                try:
                    self.wfile.write(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    break
                sent += len(chunk)
        with self.lock:
            self.counter["bytes"] += sent
            self.counter["requests"] += 1
        conn.close()

    do_GET = do_HEAD = _forward

    def log_message(self, *args):
        pass


def make_big_moov_at_end(path: Path, size_mb: int, tmp: Path) -> None:
    clip = tmp / "clip.mp4"
    media.run([*media.FF, "-f", "lavfi", "-i", "testsrc2=s=1920x1080:r=30:d=10", "-vf", "noise=alls=30:allf=t",
               "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "60M", "-g", "30", str(clip)])
    loops = max(1, int(size_mb * 1e6 / clip.stat().st_size))
    media.run([*media.FF, "-stream_loop", str(loops), "-i", str(clip), "-c", "copy", "-f", "mp4", str(path)])  # moov at the end


def make_qc_source(path: Path, seconds: int, tmp: Path) -> None:
    clip = tmp / "qc-clip.mp4"
    media.run([*media.FF, "-f", "lavfi", "-i", "testsrc2=s=2400x1350:r=30:d=20", "-f", "lavfi", "-i", "sine=d=20",
               "-filter_complex", "[0:v]crop=1920:1080:'200+3*sin(2*PI*t)':'135',noise=alls=12:allf=t[v]",
               "-map", "[v]", "-map", "1:a", "-c:v", "libx264", "-preset", "veryfast", "-b:v", "10M", "-maxrate", "10M",
               "-bufsize", "20M", "-g", "60", "-c:a", "aac", "-shortest", str(clip)])
    media.run([*media.FF, "-stream_loop", str(seconds // 20), "-i", str(clip), "-c", "copy", "-t", str(seconds),
               "-movflags", "+faststart", str(path)])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--probe-mb", type=int, default=1024)
    parser.add_argument("--qc-seconds", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rules = load_rules(DEFAULT_RULES)
    tmp = Path(tempfile.mkdtemp(prefix="bench-probe-"))
    server = services.start_seaweedfs(tmp / "s3")
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), CountingProxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        big = tmp / "big.mp4"
        make_big_moov_at_end(big, args.probe_mb, tmp)
        store = S3Store(server.client(), "bench")
        server.client().make_bucket("bench")
        store.put_file("members/big.mp4", big)
        size = big.stat().st_size
        os.environ["http_proxy"] = f"http://127.0.0.1:{proxy.server_address[1]}"
        times, reads = [], []
        for _ in range(args.rounds):
            CountingProxy.counter.update(bytes=0, requests=0)
            started = time.monotonic()
            probe = probe_video(store, "members/big.mp4")
            times.append(time.monotonic() - started)
            reads.append(CountingProxy.counter["bytes"])
        del os.environ["http_proxy"]
        print(f"probe: {size / 1e6:.0f} MB moov-at-end MP4 ({probe.duration_s:.0f} s, {probe.display_width}x{probe.display_height}, "
              f"tools: {'+'.join(probe.probed_with)})")
        print(f"  wall s: median {statistics.median(times):.3f}  min {min(times):.3f}  max {max(times):.3f}")
        print(f"  bytes read by the tools through the URL: median {statistics.median(reads) / 1e6:.2f} MB "
              f"({statistics.median(reads) / size * 100:.2f}% of the object); box walk reads a few headers more")

        source = tmp / "qc.mp4"
        make_qc_source(source, args.qc_seconds, tmp)
        decode = ffmpeg.run([ffmpeg.FFMPEG, "-v", "error", "-threads", "0", "-i", str(source), "-f", "null", "-"],
                            timeout_s=3600, stdout=False)
        qc, qc_cpu = run_qc(str(source), "mov", duration_s=args.qc_seconds, fps=30, has_audio=True, rules=rules.qc)
        started = time.monotonic()
        _, qc_cpu2 = run_qc(str(source), "mov", duration_s=args.qc_seconds, fps=30, has_audio=True, rules=rules.qc)
        qc_wall = time.monotonic() - started
        print(f"QC on {args.qc_seconds} s of 1080p30 H.264 (~10 Mbit/s):")
        print(f"  decode only: {decode.cpu_s:7.1f} CPU s, {decode.wall_s:6.1f} s wall, {args.qc_seconds / decode.wall_s:5.1f}x realtime")
        print(f"  one-pass QC: {qc_cpu2:7.1f} CPU s, {qc_wall:6.1f} s wall, {args.qc_seconds / qc_wall:5.1f}x realtime "
              f"(first run {qc_cpu:.1f} CPU s)")
        print(f"  QC / decode CPU ratio: {qc_cpu2 / decode.cpu_s:.2f}x (target <= 1.0x); "
              f"findings on this source: black {len(qc.black)}, frozen {len(qc.frozen)}, silent {len(qc.silent)}, shaky share {qc.shaky_share}")
    finally:
        proxy.shutdown()
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
