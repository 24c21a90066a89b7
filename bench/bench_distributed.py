"""Throughput and latency of the distributed runtime: N small submissions through 1 and
then 2 single-threaded worker processes on this machine, events in through the stream.

    .venv/bin/python bench/bench_distributed.py [--count 200]

Prints submissions per minute, p50/p95 latency from event to verdict notice, the machine's
busy CPU seconds (workers, their ffmpeg children, Redis and the S3 server), and the scaling ratio (target >= 1.7x from 1 to 2 processes for CPU-bound work).
Each submission carries a 4 s 1080p video, so probe and QC make the work CPU-bound.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis  # noqa: E402

from pipeline.sample import SampleSpec, VideoSpec, build_sample  # noqa: E402
from tests import services  # noqa: E402

SMARTEDU = str(Path(sys.prefix) / "bin" / "smartedu")


def machine_cpu() -> float:
    """CPU seconds the whole machine has spent busy (all cores), from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def run_round(env: dict, r: redis.Redis, archive_key: str, count: int, processes: int, work: Path) -> dict:
    r.flushdb()
    log = open(work / f"worker-{processes}.log", "wb")
    worker = subprocess.Popen([SMARTEDU, "worker", "--processes", str(processes), "--threads", "1"], env=env,
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    ingest = subprocess.Popen([SMARTEDU, "ingest"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        time.sleep(4)   # both up
        sent = {}
        for i in range(count):
            sid = f"b{processes}-{i:04d}-{uuid.uuid4().hex[:4]}"
            event = {"submission_id": sid, "project": "case", "applicant_type": "teacher", "authors": [{"name": "张三"}],
                     "archive": {"bucket": "uploads", "key": archive_key}, "uploaded_at": "2023-07-20T10:00:00+08:00"}
            r.xadd("smartedu:uploads", {"event": json.dumps(event, ensure_ascii=False)})
            sent[sid] = time.time()
        started = time.time()
        busy_before = machine_cpu()
        done: dict[str, float] = {}
        last_id = "0-0"
        deadline = time.monotonic() + 3600
        while len(done) < count and time.monotonic() < deadline:
            for _stream, entries in r.xread({"smartedu:verdicts": last_id}, block=2000, count=500) or []:
                for entry_id, fields in entries:
                    last_id = entry_id
                    if fields.get("kind") == "verdict" and fields["submission_id"] in sent:
                        done.setdefault(fields["submission_id"], int(entry_id.split("-")[0]) / 1000)
        cpu = machine_cpu() - busy_before
        wall = max(done.values()) - started
        latencies = sorted(done[s] - sent[s] for s in done)
        return {"processes": processes, "done": len(done), "wall": wall, "per_min": len(done) / wall * 60,
                "p50": statistics.median(latencies), "p95": latencies[int(0.95 * (len(latencies) - 1))], "cpu": cpu}
    finally:
        for proc in (worker, ingest):
            services.stop_process(proc, timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=200)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-dist-"))
    server = services.start_seaweedfs(work / "s3")
    redis_url = os.environ.get("SMARTEDU_REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0] + "/12"
    env = {**os.environ, "SMARTEDU_REDIS_URL": redis_url, "SMARTEDU_S3_ENDPOINT": server.endpoint,
           "SMARTEDU_S3_ACCESS_KEY": server.access_key, "SMARTEDU_S3_SECRET_KEY": server.secret_key,
           "SMARTEDU_BUCKET": "smartedu", "SMARTEDU_PROMETHEUS": "0", "SMARTEDU_LOG_LEVEL": "WARNING",
           "SMARTEDU_WORK_DIR": str(work / "scratch")}
    try:
        client = server.client()
        for bucket in ("uploads", "smartedu"):
            client.make_bucket(bucket)
        archive = work / "case.zip"
        build_sample(archive, SampleSpec(project="case", video=VideoSpec(duration_s=4)))
        client.fput_object("uploads", "bench/case.zip", str(archive))
        r = redis.Redis.from_url(redis_url, decode_responses=True)
        rows = [run_round(env, r, "bench/case.zip", args.count, n, work) for n in (1, 2)]
        r.flushdb()
        print(f"{args.count} submissions (case, 4 s 1080p video each), single-threaded worker processes:")
        print(f"{'processes':>9} {'done':>5} {'wall s':>7} {'subm/min':>9} {'p50 s':>7} {'p95 s':>7} {'machine CPU s':>14}")
        for row in rows:
            print(f"{row['processes']:9} {row['done']:5} {row['wall']:7.1f} {row['per_min']:9.1f} {row['p50']:7.1f} {row['p95']:7.1f} {row['cpu']:14.1f}")
        print(f"scaling 1 -> 2 processes: {rows[1]['per_min'] / rows[0]['per_min']:.2f}x (target >= 1.7x)")
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
