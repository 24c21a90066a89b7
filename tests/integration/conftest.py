"""Fixtures of the integration tests that run a deployment: its settings on a Redis DB of its own
and a fresh bucket (`cluster`, per module), and the processes a test starts (`processes`)."""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest
import redis

from tests.cluster import SECRET, start
from tests.services import stop_process


@pytest.fixture(scope="module")
def cluster(s3_server, redis_url, tmp_path_factory, ffmpeg_available):
    """Settings shared by every process of the module, on a Redis DB of its own."""
    base = redis_url.rsplit("/", 1)[0]
    url = f"{base}/11"
    r = redis.Redis.from_url(url, decode_responses=True)
    r.flushdb()
    work = tmp_path_factory.mktemp("dist")
    bucket = f"smartedu-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "SMARTEDU_REDIS_URL": url, "SMARTEDU_S3_ENDPOINT": s3_server.endpoint,
           "SMARTEDU_S3_ACCESS_KEY": s3_server.access_key, "SMARTEDU_S3_SECRET_KEY": s3_server.secret_key,
           "SMARTEDU_S3_SECURE": "false", "SMARTEDU_UPLOADS_BUCKET": "uploads", "SMARTEDU_BUCKET": bucket,
           "SMARTEDU_WORK_DIR": str(work / "scratch"), "SMARTEDU_HEARTBEAT_MS": "3000",
           "SMARTEDU_MAINTENANCE_CHANCE": "1000000", "SMARTEDU_PROMETHEUS": "0", "SMARTEDU_CALLBACK_SECRET": SECRET,
           # the test's upload service listens on loopback: allowed by name and by network
           "SMARTEDU_CALLBACK_HOSTS": "127.0.0.1", "SMARTEDU_CALLBACK_NETWORKS": "127.0.0.1/32",
           "SMARTEDU_SEGMENT_THRESHOLD_S": "20", "SMARTEDU_SEGMENT_S": "10"}
    client = s3_server.client()
    for name in ("uploads", bucket):
        if not client.bucket_exists(name):
            client.make_bucket(name)
    yield {"env": env, "redis": r, "s3": client, "bucket": bucket, "work": work}
    r.flushdb()


@pytest.fixture
def processes(cluster):
    started: list[subprocess.Popen] = []

    def launch(*args: str, env: dict | None = None) -> subprocess.Popen:
        proc = start(cluster, *args, env=env)
        started.append(proc)
        return proc

    yield launch
    for proc in started:
        stop_process(proc, timeout=20)
