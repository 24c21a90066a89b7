"""Activity state in Redis (the distributed mode), shared by every worker.

Fingerprints are bucketed by their top 18 bits into small hashes (field: the remaining bits in
hex, value: the submission ids holding it): small hashes stay listpack-encoded, far cheaper
than a key per fingerprint. A submission's own fingerprint list (to replace it on
resubmission) is one packed string, not a set.
"""

from __future__ import annotations

import base64
import hashlib
import struct

import redis

import json

from ..duplication import Indexed
from ..reuse import Indexed as MediaIndexed
from .base import KEY_PREFIX, ActivityState, TopicEntry

PREFIX = f"{KEY_PREFIX}activity:"


BUCKET_BITS = 18
LOW_BITS = 63 - BUCKET_BITS


def _bucket(h: int, family: str = "fp") -> str:
    return f"{PREFIX}{family}:{h >> LOW_BITS:05x}"


def _field(h: int) -> str:
    return f"{h & ((1 << LOW_BITS) - 1):x}"


def _pack(fingerprints) -> str:
    return base64.b64encode(b"".join(struct.pack(">Q", h) for h in sorted(fingerprints))).decode()


def _spread(key: int) -> int:
    """Reuse keys carry their kind and chunk number in their high bits: spread them over the buckets."""
    return int.from_bytes(hashlib.blake2b(key.to_bytes(8, "big"), digest_size=8).digest(), "big") >> 1


def _text(value: str | bytes | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def _unpack(value: str | bytes | None) -> set[int]:
    raw = base64.b64decode(value) if value else b""
    return {struct.unpack_from(">Q", raw, i)[0] for i in range(0, len(raw) - 7, 8)}


class RedisState(ActivityState):
    def __init__(self, client: redis.Redis):
        self.r = client

    def holders(self, fingerprints):
        ordered = sorted(fingerprints)
        pipe = self.r.pipeline(transaction=False)
        for h in ordered:
            pipe.hget(_bucket(h), _field(h))
        return {h: _text(v).split(",") for h, v in zip(ordered, pipe.execute()) if v}

    def documents(self, submission_ids):
        ordered = sorted(submission_ids)
        if not ordered:
            return {}
        pipe = self.r.pipeline(transaction=False)
        pipe.zmscore(f"{PREFIX}first-seen", ordered)
        pipe.hmget(f"{PREFIX}cluster", ordered)
        seen, clusters = pipe.execute()
        return {sid: Indexed(when, _text(cluster) or sid) for sid, when, cluster in zip(ordered, seen, clusters) if when is not None}

    def text(self, submission_id):
        return _text(self.r.hget(f"{PREFIX}docs", submission_id))

    def size(self):
        return self.r.hlen(f"{PREFIX}docs")

    def replace(self, submission_id, text, fingerprints, cluster, now, max_holders):
        """Drop the earlier version's fingerprints and add the new ones.

        A read-modify-write per bucket field: two workers indexing the same fingerprint at the
        same instant may drop one holder, which can only weaken a later match."""
        old_key = f"{PREFIX}docfps:{submission_id}"
        touched = _unpack(self.r.get(old_key)) | set(fingerprints)
        holders = self.holders(touched)
        pipe = self.r.pipeline()
        for h in touched:
            kept = [s for s in holders.get(h, []) if s != submission_id]
            if h in fingerprints and len(kept) < max_holders:
                kept.append(submission_id)
            if kept:
                pipe.hset(_bucket(h), _field(h), ",".join(kept))
            else:
                pipe.hdel(_bucket(h), _field(h))
        pipe.set(old_key, _pack(fingerprints))
        pipe.hset(f"{PREFIX}docs", submission_id, text)
        pipe.hset(f"{PREFIX}cluster", submission_id, cluster)
        pipe.zadd(f"{PREFIX}first-seen", {submission_id: now}, nx=True)
        pipe.execute()

    def topics_of(self, author):
        rows = self.r.hgetall(f"{PREFIX}topics:{author}")
        entries = []
        for sid, value in rows.items():
            sid = sid.decode() if isinstance(sid, bytes) else sid
            value = value.decode() if isinstance(value, bytes) else value
            project, _, title = value.partition("|")
            entries.append(TopicEntry(sid, project, author, title))
        return entries

    def register_topics(self, submission_id, entries):
        authors_key = f"{PREFIX}topic-authors:{submission_id}"
        pipe = self.r.pipeline()
        for author in self.r.smembers(authors_key):
            author = author.decode() if isinstance(author, bytes) else author
            pipe.hdel(f"{PREFIX}topics:{author}", submission_id)
        pipe.delete(authors_key)
        for entry in entries:
            pipe.hset(f"{PREFIX}topics:{entry.author}", submission_id, f"{entry.project}|{entry.title}")
            pipe.sadd(authors_key, entry.author)
        pipe.execute()

    # reuse fingerprints: keys bucketed as the text's fingerprints are (family "mk"), the prints in one hash
    def media_holders(self, keys):
        ordered = sorted(keys)
        pipe = self.r.pipeline(transaction=False)
        for key in ordered:
            pipe.hget(_bucket(_spread(key), "mk"), _field(_spread(key)))
        return {key: _text(v).split(",") for key, v in zip(ordered, pipe.execute()) if v}

    def media_prints(self, media_keys):
        ordered = sorted(media_keys)
        if not ordered:
            return {}
        values = self.r.hmget(f"{PREFIX}media", ordered)
        found = {}
        for mkey, value in zip(ordered, values):
            if value:
                data = json.loads(_text(value))
                found[mkey] = MediaIndexed(mkey, data["sid"], data["path"], data["first_seen"], data["print"])
        return found

    def media_clusters(self, media_keys):
        ordered = sorted(media_keys)
        values = self.r.hmget(f"{PREFIX}media-cluster", ordered) if ordered else []
        return {mkey: _text(value) for mkey, value in zip(ordered, values) if value}

    def register_media(self, media_key, submission_id, path, keys, print_, now, max_holders, cluster=None):
        """As `replace`: the earlier version's keys dropped, the new ones added (read-modify-write per field)."""
        old_key = f"{PREFIX}mediakeys:{media_key}"
        touched = _unpack(self.r.get(old_key)) | set(keys)
        holders = self.media_holders(touched)
        previous = self.r.hget(f"{PREFIX}media", media_key)
        first_seen = json.loads(_text(previous))["first_seen"] if previous else now
        pipe = self.r.pipeline()
        for key in touched:
            kept = [m for m in holders.get(key, []) if m != media_key]
            if key in keys and len(kept) < max_holders:
                kept.append(media_key)
            spread = _spread(key)
            if kept:
                pipe.hset(_bucket(spread, "mk"), _field(spread), ",".join(kept))
            else:
                pipe.hdel(_bucket(spread, "mk"), _field(spread))
        pipe.set(old_key, _pack(keys))
        pipe.hset(f"{PREFIX}media-cluster", media_key, cluster or media_key)
        pipe.hset(f"{PREFIX}media", media_key, json.dumps({"sid": submission_id, "path": path, "first_seen": first_seen,
                                                           "print": print_}))
        pipe.execute()
