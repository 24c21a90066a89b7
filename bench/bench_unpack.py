"""Unpack a ~700 MB archive from S3 to S3, against two baselines measured in the same run.

    .venv/bin/python bench/bench_unpack.py [--size-mb 700] [--keep]

Prints wall seconds, MB/s, CPU seconds and peak RSS for: unpack (stored and deflated
archives), uploading the same member bytes from local files with the minio client (the
ceiling: S3 PUT throughput), and `unzip -q` to local disk. Targets: unpack >= 0.9x the
upload baseline's throughput, peak RSS < 200 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests import services  # noqa: E402

CHILD = r"""
import json, resource, sys, time
from minio import Minio
from config.rules import load_rules
from config.settings import DEFAULT_RULES
from pipeline.storage.s3 import S3Store
from pipeline.layout import Layout
from pipeline.unpack import unpack_archive
endpoint, access, secret, mode, key = sys.argv[1:6]
client = Minio(endpoint, access_key=access, secret_key=secret, secure=False)
store = S3Store(client, "bench")
started = time.monotonic()
if mode == "unpack":
    stat = store.stat(key)
    with store.open(key) as source:
        result = unpack_archive(source, stat.size, key, store, load_rules(DEFAULT_RULES), Layout("bench-" + key.replace('/', '-')).member)
    moved = sum(m.size for m in result.materials)
    assert not result.findings, [f.code for f in result.findings]
else:
    import os
    moved = 0
    for path in sys.argv[6:]:
        client.fput_object("bench", "baseline/" + os.path.basename(path), path, part_size=16 * 1024 * 1024)
        moved += os.path.getsize(path)
wall = time.monotonic() - started
usage = resource.getrusage(resource.RUSAGE_SELF)
# VmHWM belongs to this address space: unlike ru_maxrss it does not inherit the parent's peak.
hwm_kb = int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1])
print(json.dumps({"wall": wall, "bytes": moved, "cpu": usage.ru_utime + usage.ru_stime, "rss_mb": hwm_kb / 1024}))
"""


def make_archives(work: Path, size_mb: int) -> tuple[Path, Path, Path]:
    members = work / "members"
    members.mkdir()
    video = members / "课堂教学实录.mp4"
    with open(video, "wb") as handle:
        for _ in range(size_mb - 8):
            handle.write(os.urandom(1 << 20))      # already-compressed media does not deflate
    for name in ("报名表.docx", "教学设计.docx", "课件.pptx"):
        (members / name).write_bytes(("国家平台应用专项活动" * 50_000).encode()[: 2 << 20])
    stored, deflated = work / "stored.zip", work / "deflated.zip"
    for path, method in ((stored, zipfile.ZIP_STORED), (deflated, zipfile.ZIP_DEFLATED)):
        with zipfile.ZipFile(path, "w", compression=method, compresslevel=1 if method else None) as archive:
            for member in sorted(members.iterdir()):
                archive.write(member, member.name)
    return members, stored, deflated


def server_cpu(server) -> float:
    """CPU seconds the S3 server (one Go process) has used so far."""
    fields = Path(f"/proc/{server.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_child(server, mode: str, key: str, *paths: str) -> dict:
    root = Path(__file__).resolve().parents[1]
    cpu_before = server_cpu(server)
    proc = subprocess.run([sys.executable, "-c", CHILD, server.endpoint, server.access_key, server.secret_key, mode, key, *paths],
                          capture_output=True, text=True, cwd=root, timeout=1800)
    if proc.returncode:
        raise SystemExit(proc.stderr[-3000:])
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    row["server_cpu"] = server_cpu(server) - cpu_before
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=700)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each, alternating, to expose noise")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-unpack-"))
    server = services.start_seaweedfs(work / "s3")
    try:
        members, stored, deflated = make_archives(work, args.size_mb)
        client = server.client()
        client.make_bucket("bench")
        for path in (stored, deflated):
            client.fput_object("bench", f"uploads/{path.name}", str(path), part_size=64 << 20)
        rows = []
        member_paths = [str(p) for p in sorted(members.iterdir())]
        uploads = []
        for round_ in range(args.rounds):
            uploads.append(run_child(server, "upload", "-", *member_paths))
            rows.append((f"baseline: minio upload of the members #{round_ + 1}", uploads[-1]))
            for path in (stored, deflated):
                rows.append((f"unpack S3->S3 ({path.stem}) #{round_ + 1}", run_child(server, "unpack", f"uploads/{path.name}")))
        upload = {"wall": sum(u["wall"] for u in uploads), "bytes": sum(u["bytes"] for u in uploads)}
        target = work / "unzipped"
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.monotonic()
        timer = ["/usr/bin/time", "-f", "%M"] if Path("/usr/bin/time").exists() else []
        proc = subprocess.run([*timer, "unzip", "-q", "-o", str(stored), "-d", str(target)],
                              check=True, timeout=1800, capture_output=True, text=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        rows.append(("baseline: unzip -q stored to local disk", {
            "wall": time.monotonic() - started, "bytes": sum(p.stat().st_size for p in target.iterdir()),
            "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            "rss_mb": int(proc.stderr.strip().splitlines()[-1]) / 1024 if timer else float("nan")}))
        print(f"archive: {stored.stat().st_size / 1e6:.0f} MB stored, {deflated.stat().st_size / 1e6:.0f} MB deflated")
        print(f"{'run':44} {'wall s':>8} {'MB/s':>8} {'CPU s':>8} {'S3 CPU s':>9} {'peak RSS MB':>12} {'vs upload':>10}")
        upload_rate = upload["bytes"] / upload["wall"]
        for name, row in rows:
            rate = row["bytes"] / row["wall"]
            print(f"{name:44} {row['wall']:8.2f} {rate / 1e6:8.1f} {row['cpu']:8.2f} {row.get('server_cpu', 0):9.2f} "
                  f"{row['rss_mb']:12.1f} {rate / upload_rate:9.2f}x")
        print("vs upload: throughput over the mean of the upload baseline's rounds; S3 CPU: the S3 server's own CPU seconds")
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
