"""How many bucket notifications the ingest endpoint takes on this machine.

    .venv/bin/python bench/bench_notifications.py [--submissions 300] [--clients 4]

A real endpoint (`workers/http_api.py` in this process, as `smartedu ingest` serves it), real
Redis (a redis-server of its own) and real S3 (SeaweedFS). For N submissions already in the bucket (a small
zip and its event.json each), clients POST MinIO-shaped notifications, in three rounds:
the zips' (noted, waiting for a manifest), the manifests' (each read from S3 and queued), and
the manifests' again (duplicates: what MinIO's at-least-once delivery costs). Prints requests
per second and the CPU seconds of this process per request for each round; wall times on this
shared machine vary, the ratio between rounds less so.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import shutil
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis  # noqa: E402

from config.logging import configure_logging  # noqa: E402

from pipeline.storage.s3 import S3Store  # noqa: E402
from tests import services  # noqa: E402
from tests.bucket_events import for_object, minio_webhook  # noqa: E402
from workers.http_api import IngestAPI, serve  # noqa: E402
from workers.notifications import BucketIntake  # noqa: E402
from workers.ops import submission_status  # noqa: E402

SECRET = "bench-secret"


def post(url: str, body: bytes) -> int:
    request = urllib.request.Request(url, data=body, method="POST", headers={"Authorization": SECRET})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed_round(name: str, url: str, bodies: list[bytes], clients: int) -> None:
    start_wall, start_cpu = time.perf_counter(), cpu_s()
    with ThreadPoolExecutor(clients) as pool:
        codes = list(pool.map(lambda body: post(url, body), bodies))
    wall, cpu = time.perf_counter() - start_wall, cpu_s() - start_cpu
    assert codes == [200] * len(bodies), codes
    print(f"   {name:26s} {len(bodies):6d} {len(bodies) / wall:10.0f} {1000 * cpu / len(bodies):14.2f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=300)
    parser.add_argument("--clients", type=int, default=4, help="concurrent POSTs, as MinIO's webhook workers send them")
    args = parser.parse_args()
    configure_logging("WARNING")
    work = Path(tempfile.mkdtemp(prefix="bench-notify-"))
    server = services.start_seaweedfs(work / "s3")
    url, redis_server = services.start_redis(work / "redis")     # its own: no DB of a test run is touched
    r = redis.Redis.from_url(url, decode_responses=True)
    stop = threading.Event()
    try:
        client = server.client()
        client.make_bucket("uploads")
        zips, manifests = [], []
        for i in range(args.submissions):
            sid = f"2025-{i:06d}"
            zip_key, manifest_key = f"{sid}/材料 {i}.zip", f"{sid}/event.json"
            client.put_object("uploads", zip_key, io.BytesIO(b"PK\x05\x06" + bytes(18)), 22)
            event = json.dumps({"submission_id": sid, "project": "case", "applicant_type": "teacher",
                                "archive": {"bucket": "uploads", "key": zip_key},
                                "uploaded_at": "2025-07-20T10:00:00+08:00"}, ensure_ascii=False).encode()
            client.put_object("uploads", manifest_key, io.BytesIO(event), len(event))
            zips.append(minio_webhook(for_object(client, "uploads", zip_key)))
            manifests.append(minio_webhook(for_object(client, "uploads", manifest_key)))
        uploads = S3Store(client, "uploads")
        intake = BucketIntake(r, uploads, "uploads", pairing_timeout_s=600)
        api = IngestAPI(intake, lambda sid: submission_status(r, None, sid), notify_secret=SECRET, status_token="t")
        http = serve(api, "127.0.0.1", 0, stop)
        endpoint = f"http://127.0.0.1:{http.server_address[1]}/notifications"
        print(f"bucket notifications into the endpoint: {args.submissions} submissions, {args.clients} clients")
        print(f"   {'round':26s} {'posts':>6s} {'posts/s':>10s} {'CPU ms/post':>14s}")
        timed_round("zips (noted)", endpoint, zips, args.clients)
        timed_round("manifests (read, queued)", endpoint, manifests, args.clients)
        timed_round("manifests again (dup)", endpoint, manifests, args.clients)
        queued = sum(1 for _id, fields in r.xrange("smartedu:uploads") if "manifest" in fields)
        print(f"   stream entries: {queued} for {args.submissions} submissions (every manifest once)")
        assert queued == args.submissions
    finally:
        stop.set()
        services.stop_process(redis_server)
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
