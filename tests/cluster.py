"""A deployment on this machine for the integration tests: real Redis, real S3 (SeaweedFS), the
`smartedu` processes started as operators start them, and what the tests ask of it."""

from __future__ import annotations

import json
import subprocess
import time
import uuid

from tests.helpers import SMARTEDU, sample

SECRET = "callback-test-secret"


def start(cluster, *args: str, env: dict | None = None) -> subprocess.Popen:
    log = open(cluster["work"] / f"{args[0]}-{uuid.uuid4().hex[:6]}.log", "wb")
    return subprocess.Popen([SMARTEDU, *args], env=env or cluster["env"], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def upload(cluster, name: str, **spec) -> dict:
    sid = f"{name}-{uuid.uuid4().hex[:6]}"
    archive, event = sample(cluster["work"], sid, submission_id=sid, **spec)
    key = f"{sid}/{archive.name}"
    cluster["s3"].fput_object("uploads", key, str(archive))
    event["archive"] = {"bucket": "uploads", "key": key}
    return event


def add_event(cluster, event) -> str:
    raw = event if isinstance(event, str) else json.dumps(event, ensure_ascii=False)
    return cluster["redis"].xadd("smartedu:uploads", {"event": raw})


def notices(cluster, sid: str | None = None, kind: str | None = "verdict") -> list[dict]:
    """Notices on smartedu:verdicts; by default the `verdict` ones (one per run), not `media`."""
    entries = cluster["redis"].xrange("smartedu:verdicts")
    return [fields for _id, fields in entries
            if (sid is None or fields.get("submission_id") == sid) and (kind is None or fields.get("kind") == kind)]


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def verdict_of(cluster, sid: str) -> dict:
    response = cluster["s3"].get_object(cluster["bucket"], f"verdicts/{sid}.json")
    try:
        return json.loads(response.read())
    finally:
        response.close()
        response.release_conn()
