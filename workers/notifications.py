"""Bucket notifications in: the manifest (`<prefix>/event.json`) starts a run once its objects are there.

The store's notifications come at least once and in any order, so nothing here trusts one:
- A manifest is read from the bucket, never from the notification, and is known by the eTag of
  what was read. A repeated or late notification of an older write finds the current manifest,
  already taken: no second run. A newer `event.json` has a new eTag: a re-submission.
- A taken manifest becomes an entry of the `smartedu:uploads` stream, in one step with its
  "taken" mark (a Lua script), so ingest's consumer group starts the run exactly as for an event
  the upload service added itself (run id from the entry id, claimed back if a consumer dies).
- A manifest whose archive or main work is not in the bucket waits for it (its notification, or
  the sweep, takes the manifest again); after `pairing_timeout_s` it gets an `error` notice naming
  what is missing. An object no manifest names after that long gets one too, unless its folder
  has a manifest (then it is an extra file the upload service keeps, not a lost submission).

The sweep also finds what a lost notification would hide: it reads `<prefix>/event.json` of
every object still unpaired before giving up on it, and every few minutes it lists the bucket for
manifests of the last days that nothing took (a notification MinIO dropped, or a Redis failover
that lost the write that took it).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass

import redis
import structlog

from pipeline.errors import EventError, TransientError
from pipeline.models import UploadEvent, parse_event
from pipeline.notifications import MANIFEST_NAME, ObjectCreated, submission_of
from pipeline.storage import ObjectStore

from .ingest import guess_submission_id
from .state import PREFIX, STREAM_MAXLEN, TTL_S, UPLOADS_STREAM, VERDICTS_STREAM

log = structlog.get_logger("ingest")

MANIFEST_MAX_BYTES = 64 * 1024
UNPAIRED = f"{PREFIX}bucket:unpaired"        # zset "bucket/key" -> when it arrived; details in UNPAIRED + ":info"
WAITING = f"{PREFIX}bucket:waiting"          # zset "bucket/key" of manifests -> when they give up waiting
SWEEP_LOCK = f"{PREFIX}bucket:sweep-lock"
SWEEP_BATCH = 500
RESCAN_MARK = f"{PREFIX}bucket:rescanned"   # set for rescan_every_s: one rescan per interval across ingests
RESCAN_MAX_OBJECTS = 200_000

# Take a manifest once: its mark and its stream entry in one step, and the objects it names paired.
_TAKE_ONCE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then
  local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'event', ARGV[4], 'manifest', ARGV[1])
  redis.call('SET', KEYS[1], id, 'EX', ARGV[2])
  return id
end
return false
"""


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _taken_key(identity: str) -> str:
    """Set once a manifest version (bucket/key@eTag) is on the stream."""
    return f"{PREFIX}bucket:taken:{_digest(identity)}"


def _paired_key(name: str) -> str:
    """The eTag of an object ("bucket/key") a taken manifest named."""
    return f"{PREFIX}bucket:paired:{_digest(name)}"


def _awaited_key(name: str) -> str:
    """The manifest ("bucket/key") that waits for this object."""
    return f"{PREFIX}bucket:awaited:{_digest(name)}"


def intake_key(submission_id: str) -> str:
    """How the submission's manifest was received (waiting, queued, refused): the status endpoint reads it."""
    return f"{PREFIX}intake:{submission_id}"


@dataclass(frozen=True)
class Manifest:
    created: ObjectCreated          # as read: its eTag is the content's, not the notification's
    raw: bytes


class BucketIntake:
    """Notifications of the uploads bucket become stream entries (or waits, or notices)."""

    def __init__(self, client: redis.Redis, uploads: ObjectStore, bucket: str, *, pairing_timeout_s: float,
                 rescan_every_s: float = 300.0, rescan_window_s: float = 3 * 24 * 3600.0, confirm=None):
        self.r = client
        self.uploads = uploads
        self.bucket = bucket
        self.pairing_timeout_s = pairing_timeout_s
        self.rescan_every_s = rescan_every_s
        self.rescan_window_s = min(rescan_window_s, TTL_S / 2)    # never older than the "taken" marks
        self.confirm = confirm or (lambda what: True)              # WAIT for a replica (workers/redis_conn.py)
        self._take = client.register_script(_TAKE_ONCE)

    # what arrives ---------------------------------------------------------------
    def receive(self, objects: list[ObjectCreated]) -> dict[str, int]:
        """Handle every object of one notification; counts by outcome.

        Raises:
            redis.RedisError, TransientError: a service is down; the notification is to be sent again.
        """
        outcome: dict[str, int] = {}
        for created in objects:
            if created.bucket != self.bucket:
                what = "other_bucket"
                log.warning("notification_other_bucket", bucket=created.bucket[:100])
            elif created.is_manifest:
                what = self.take_manifest(created.key)
            else:
                what = self.note_object(created)
            outcome[what] = outcome.get(what, 0) + 1
        return outcome

    def note_object(self, created: ObjectCreated) -> str:
        """An archive or a main work arrived: paired if a taken manifest named it, else it waits
        for one; a manifest that was waiting for it is taken now."""
        name = f"{created.bucket}/{created.key}"
        if self.r.get(_paired_key(name)) == created.etag and created.etag:
            return "paired"
        info = json.dumps({"etag": created.etag, "submission_id": submission_of(created)}, ensure_ascii=False)
        pipe = self.r.pipeline()
        pipe.zadd(UNPAIRED, {name: time.time()}, nx=True)
        pipe.hset(UNPAIRED + ":info", name, info)
        pipe.execute()
        waiting_manifest = self.r.get(_awaited_key(name))
        if waiting_manifest:
            self.take_manifest(waiting_manifest.split("/", 1)[1])
        return "noted"

    def read_manifest(self, key: str) -> Manifest | None:
        """The manifest as it is now, with the eTag of those very bytes (stat, read, stat again)."""
        for _ in range(3):
            before = self.uploads.stat(key)
            if before is None:
                return None
            if before.size > MANIFEST_MAX_BYTES:
                return Manifest(ObjectCreated(self.bucket, key, before.etag or ""), b"")
            raw = self.uploads.get_bytes(key, MANIFEST_MAX_BYTES)
            after = self.uploads.stat(key)
            if after is not None and after.etag == before.etag:
                return Manifest(ObjectCreated(self.bucket, key, before.etag or "", before.size), raw)
        return None

    def take_manifest(self, key: str) -> str:
        """queued | duplicate | waiting | refused | gone."""
        manifest = self.read_manifest(key)
        if manifest is None:
            log.info("manifest_vanished", manifest=key[:200])
            return "gone"
        taken_key = _taken_key(manifest.created.identity)
        if self.r.exists(taken_key):
            return "duplicate"
        try:
            if not manifest.raw:
                raise EventError(f"{MANIFEST_NAME} is larger than {MANIFEST_MAX_BYTES} bytes")
            event = parse_event(manifest.raw)
        except EventError as exc:
            self.refuse(manifest.created, guess_submission_id(manifest.raw) or submission_of(manifest.created), str(exc))
            return "refused"
        missing = [ref.key for ref in (event.archive, event.main_work)
                   if ref is not None and ref.bucket == self.bucket and self.uploads.stat(ref.key) is None]
        if missing:
            return self._wait(manifest.created, event, missing)
        entry = self._take(keys=[taken_key, UPLOADS_STREAM],
                           args=[manifest.created.identity, TTL_S, STREAM_MAXLEN, manifest.raw.decode()])
        if not entry:
            return "duplicate"
        self.confirm("manifest")          # unconfirmed: the rescan takes it again if a failover lost it
        self._paired(manifest.created, event, entry)
        log.info("manifest_taken", submission_id=event.submission_id, manifest=key[:200], entry_id=entry)
        return "queued"

    # pairing --------------------------------------------------------------------
    def _named(self, event: UploadEvent) -> list[str]:
        return [f"{ref.bucket}/{ref.key}" for ref in (event.archive, event.main_work) if ref is not None]

    def _paired(self, manifest: ObjectCreated, event: UploadEvent, entry: str) -> None:
        name = f"{manifest.bucket}/{manifest.key}"
        pipe = self.r.pipeline()
        for obj in self._named(event):
            stat = self.uploads.stat(obj.split("/", 1)[1]) if obj.startswith(self.bucket + "/") else None
            pipe.set(_paired_key(obj), (stat.etag or "") if stat else "", ex=TTL_S)
            _forget(pipe, UNPAIRED, obj)
            pipe.delete(_awaited_key(obj))
        _forget(pipe, WAITING, name)
        pipe.hset(intake_key(event.submission_id), mapping={"state": "queued", "manifest": manifest.key, "entry_id": entry,
                                                            "at": time.time(), "missing": "", "reason": ""})
        pipe.expire(intake_key(event.submission_id), TTL_S)
        pipe.execute()

    def _wait(self, manifest: ObjectCreated, event: UploadEvent, missing: list[str]) -> str:
        name = f"{manifest.bucket}/{manifest.key}"
        pipe = self.r.pipeline()
        pipe.zadd(WAITING, {name: time.time() + self.pairing_timeout_s}, nx=True)
        pipe.hset(WAITING + ":info", name, json.dumps({"submission_id": event.submission_id, "missing": missing,
                                                       "etag": manifest.etag}, ensure_ascii=False))
        for key in missing:
            pipe.set(_awaited_key(f"{self.bucket}/{key}"), name, ex=TTL_S)
        pipe.hset(intake_key(event.submission_id), mapping={"state": "waiting", "manifest": manifest.key,
                                                            "missing": json.dumps(missing, ensure_ascii=False), "at": time.time()})
        pipe.expire(intake_key(event.submission_id), TTL_S)
        pipe.execute()
        log.info("manifest_waiting", submission_id=event.submission_id, missing=[k[:200] for k in missing])
        return "waiting"

    def refuse(self, about: ObjectCreated, submission_id: str, reason: str, missing: list[str] | None = None) -> bool:
        """One `error` notice per object version, naming what is wrong or missing."""
        if not self.r.set(f"{PREFIX}bucket:refused:{_digest(about.identity)}", 1, nx=True, ex=TTL_S):
            return False
        fields = {"submission_id": submission_id[:64], "status": "error", "key": "", "kind": "verdict",
                  "reason": reason[:500], "object": f"{about.bucket}/{about.key}"[:1100]}
        if missing:
            fields["missing"] = json.dumps(missing, ensure_ascii=False)[:2000]
        pipe = self.r.pipeline()
        pipe.xadd(VERDICTS_STREAM, fields, maxlen=STREAM_MAXLEN, approximate=True)
        if submission_id:
            pipe.hset(intake_key(submission_id[:64]), mapping={"state": "refused", "manifest": about.key if about.is_manifest else "",
                                                               "reason": reason[:500], "at": time.time(),
                                                               "missing": json.dumps(missing or [], ensure_ascii=False)})
            pipe.expire(intake_key(submission_id[:64]), TTL_S)
        pipe.execute()
        log.warning("upload_refused", submission_id=submission_id[:64], object=about.key[:200], reason=reason[:300])
        return True

    # the sweep ------------------------------------------------------------------
    def sweep(self, now: float | None = None) -> dict[str, int]:
        """Waiting manifests taken or given up, unpaired objects past their time answered; one
        process at a time (a lock), bounded per pass."""
        now = time.time() if now is None else now
        if not self.r.set(SWEEP_LOCK, 1, nx=True, ex=60):
            return {}
        try:
            done = {"taken": 0, "gave_up": 0, "unpaired": 0}
            for name in self.r.zrange(WAITING, 0, SWEEP_BATCH - 1):
                outcome = self._sweep_manifest(name, now)
                if outcome in done:
                    done[outcome] += 1
            for name in self.r.zrangebyscore(UNPAIRED, "-inf", now - self.pairing_timeout_s, start=0, num=SWEEP_BATCH):
                done["unpaired"] += self._sweep_object(name)
            if self.r.set(RESCAN_MARK, 1, nx=True, ex=max(1, int(self.rescan_every_s))):
                done["rescued"] = self.rescan(now)
            return done
        finally:
            self.r.delete(SWEEP_LOCK)

    def rescan(self, now: float) -> int:
        """Manifests written in the last days that nothing took: their notification was lost
        (MinIO's queue full, a Redis failover that lost the write). The bucket is the upload
        side's own record, so it is read again, bounded, every `rescan_every_s`."""
        taken = 0
        for n, stat in enumerate(self.uploads.list_stats("")):
            if n >= RESCAN_MAX_OBJECTS:
                log.warning("rescan_bounded", listed=n)
                break
            if (not stat.key.endswith("/" + MANIFEST_NAME) and stat.key != MANIFEST_NAME) or \
                    (stat.modified is not None and stat.modified < now - self.rescan_window_s):
                continue
            identity = ObjectCreated(self.bucket, stat.key, stat.etag or "").identity
            if self.r.exists(_taken_key(identity)):
                continue
            if self.take_manifest(stat.key) == "queued":
                taken += 1
                log.warning("manifest_rescued", manifest=stat.key[:200])
        return taken

    def _sweep_manifest(self, name: str, now: float) -> str:
        """taken (or otherwise settled) | waiting | gave_up."""
        key = name.split("/", 1)[1]
        if self.take_manifest(key) != "waiting":
            _forget(self.r, WAITING, name)
            return "taken"
        deadline = self.r.zscore(WAITING, name)
        if deadline is not None and deadline <= now:
            info = json.loads(self.r.hget(WAITING + ":info", name) or "{}")
            missing = info.get("missing", [])
            self.refuse(ObjectCreated(self.bucket, key, info.get("etag", "")), info.get("submission_id", ""),
                        f"{MANIFEST_NAME} 指明的文件在 {self.pairing_timeout_s:.0f} 秒内未上传：{'、'.join(missing)}", missing)
            _forget(self.r, WAITING, name)
            return "gave_up"
        return "waiting"

    def _sweep_object(self, name: str) -> int:
        key = name.split("/", 1)[1]
        folder = key.rsplit("/", 1)[0] if "/" in key else ""
        manifest_key = f"{folder}/{MANIFEST_NAME}" if folder else MANIFEST_NAME
        if self.uploads.stat(manifest_key) is not None:
            self.take_manifest(manifest_key)           # a lost notification: the manifest is there
            if self.r.zscore(UNPAIRED, name) is not None:
                log.info("upload_not_named", object=key[:200], manifest=manifest_key[:200])
        else:
            info = json.loads(self.r.hget(UNPAIRED + ":info", name) or "{}")
            self.refuse(ObjectCreated(self.bucket, key, info.get("etag", "")), info.get("submission_id", ""),
                        f"文件 {key} 上传 {self.pairing_timeout_s:.0f} 秒后仍无 {manifest_key}，未能开始检查", [manifest_key])
        _forget(self.r, UNPAIRED, name)
        return 1


def _forget(r, table: str, name: str) -> None:
    """Drop `name` from a waiting table (UNPAIRED, WAITING): its zset and its details; `r` may be a pipeline."""
    r.zrem(table, name)
    r.hdel(table + ":info", name)


def consume_list(r: redis.Redis, intake: BucketIntake, list_key: str, consumer: str, stop, *, block_s: int = 2) -> None:
    """MinIO's Redis target in `access` format RPUSHes each event to `list_key`. An entry is moved
    to this consumer's own list while it is handled (LMOVE), and removed only once handled: a
    consumer that dies leaves it there, and a live one moves it back when that consumer's
    heartbeat is gone. A malformed entry is logged and dropped, never retried forever."""
    from pipeline.notifications import NotificationError, parse_notification

    from .outages import REDIS, S3, outage_of

    mine, beat = f"{list_key}:taking:{consumer}", f"{list_key}:consumer:{consumer}"
    last_rescue = 0.0
    while not stop.is_set():
        try:
            r.set(beat, 1, ex=max(30, block_s * 10))
            if time.monotonic() - last_rescue > 30:
                last_rescue = time.monotonic()
                _rescue(r, list_key)
            raw = r.lindex(mine, -1) or r.blmove(list_key, mine, block_s, "LEFT", "RIGHT")
            REDIS.recovered()
            if raw is None:
                continue
            try:
                outcome = intake.receive(parse_notification(raw))
                log.info("notification_received", source="redis", **outcome)
            except NotificationError as exc:
                log.warning("notification_malformed", source="redis", reason=str(exc)[:200])
            except (redis.RedisError, TransientError, OSError):
                raise                                   # kept on this consumer's list, handled again
            except Exception as exc:                    # noqa: BLE001 - one bad entry never blocks the list
                log.error("notification_failed", source="redis", error=type(exc).__name__, reason=str(exc)[:200])
            r.lrem(mine, -1, raw)
            S3.recovered()
        except (redis.RedisError, TransientError, OSError) as exc:
            outage = outage_of(exc)
            if outage is not None:
                outage.failed(exc)
            else:
                log.warning("notification_retry_later", source="redis", error=type(exc).__name__, reason=str(exc)[:200])
            stop.wait(2)


def _rescue(r: redis.Redis, list_key: str) -> None:
    """Entries held by consumers whose heartbeat expired go back to the head of the list."""
    for held in r.scan_iter(match=f"{list_key}:taking:*", count=100):
        owner = held.rsplit(":taking:", 1)[1]
        if r.exists(f"{list_key}:consumer:{owner}"):
            continue
        for _ in range(SWEEP_BATCH):
            if r.lmove(held, list_key, "RIGHT", "LEFT") is None:
                break


def sweep_forever(intake: BucketIntake, stop, interval_s: float = 15.0) -> None:
    while not stop.wait(interval_s):
        try:
            done = intake.sweep()
            if any(done.values()):
                log.info("pairing_swept", **done)
        except (redis.RedisError, TransientError, OSError) as exc:
            log.warning("pairing_sweep_failed", error=type(exc).__name__, reason=str(exc)[:200])
