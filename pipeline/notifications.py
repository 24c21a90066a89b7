"""Bucket notifications: what the object store says was uploaded, read from AWS's and MinIO's shapes.

One parser for the three ways a notification arrives:
- a webhook POST from MinIO: `{"EventName": "s3:ObjectCreated:Put", "Key": "bucket/key", "Records": [...]}`;
- AWS S3's event document (`{"Records": [...]}`, `eventName` without the `s3:` prefix), as an SQS
  or SNS relay hands it on;
- an entry of MinIO's Redis `access`-format list: `[{"Event": [...], "EventTime": "..."}]`.

Object keys in every shape are form-encoded (`+` for a space, `%E4%B8%AD` for 中), so they are
decoded once here and nowhere else. Only `ObjectCreated` events matter to the pipeline; removals,
reads, AWS's `s3:TestEvent` and anything unknown are skipped, never an error. Everything here is
pure: the store and Redis side is `workers/notifications.py`.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass, field
from urllib.parse import unquote_plus

from .errors import EventError

MANIFEST_NAME = "event.json"      # the contract's `<prefix>/event.json`, written after what it names
MAX_RECORDS = 1000                # per notification: MinIO and AWS send one; a relay may batch a few
MAX_KEY_BYTES = 1024              # S3's own limit on a key


class NotificationError(EventError):
    """The body is not a bucket notification (not JSON, no records, a record without its object)."""


@dataclass(frozen=True)
class ObjectCreated:
    """One object written to a bucket, as the store announced it."""

    bucket: str
    key: str                       # decoded
    etag: str                      # without quotes; "" when the store sent none
    size: int | None = None
    sequencer: str = ""            # per key, grows with each write (hex of varying length)
    event_time: str = ""
    metadata: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def is_manifest(self) -> bool:
        return posixpath.basename(self.key) == MANIFEST_NAME

    @property
    def prefix(self) -> str:
        """The folder the upload service wrote the submission's objects in ("2025-000123")."""
        return posixpath.dirname(self.key)

    @property
    def identity(self) -> str:
        """The same upload, however often or in whatever order it is announced."""
        return f"{self.bucket}/{self.key}@{self.etag}"


def _records(document) -> list:
    if isinstance(document, list):          # MinIO's Redis `access` format: [{"Event": [...], "EventTime": ...}]
        records = []
        for entry in document[:MAX_RECORDS]:
            if not isinstance(entry, dict) or not isinstance(entry.get("Event"), list):
                raise NotificationError("a Redis access entry without its Event list")
            records += entry["Event"]
        return records
    if not isinstance(document, dict):
        raise NotificationError("notification is not a JSON object")
    if "Records" in document:
        if not isinstance(document["Records"], list):
            raise NotificationError("Records is not a list")
        return document["Records"]
    if document.get("Event") == "s3:TestEvent":
        return []                            # AWS's test message when a notification is configured
    raise NotificationError("notification has no Records")


def _created(record) -> ObjectCreated | None:
    if not isinstance(record, dict):
        raise NotificationError("a record is not an object")
    name = record.get("eventName") or ""
    if not isinstance(name, str) or not name.removeprefix("s3:").startswith("ObjectCreated:"):
        return None
    s3 = record.get("s3")
    bucket = (s3.get("bucket") or {}).get("name") if isinstance(s3, dict) else None
    obj = s3.get("object") if isinstance(s3, dict) else None
    if not isinstance(bucket, str) or not bucket or not isinstance(obj, dict) or not isinstance(obj.get("key"), str):
        raise NotificationError(f"{name} without its bucket or object key")
    key = unquote_plus(obj["key"])
    if not key or len(key.encode()) > MAX_KEY_BYTES or "\x00" in key:
        raise NotificationError(f"object key of {len(key.encode())} bytes")
    size = obj.get("size")
    metadata = obj.get("userMetadata")
    return ObjectCreated(
        bucket=bucket, key=key,
        etag=str(obj.get("eTag") or obj.get("etag") or "").strip('"'),
        size=size if isinstance(size, int) and size >= 0 else None,
        sequencer=str(obj.get("sequencer") or ""),
        event_time=str(record.get("eventTime") or ""),
        metadata={str(k)[:200]: str(v)[:1000] for k, v in list(metadata.items())[:50]} if isinstance(metadata, dict) else {})


def parse_notification(body: bytes | str) -> list[ObjectCreated]:
    """The objects a notification announces as created, in the order given.

    Raises:
        NotificationError: not JSON, not a notification, more than MAX_RECORDS records, or a
            created-object record without its bucket or key.
    """
    try:
        document = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise NotificationError(f"notification is not valid JSON: {exc}") from exc
    records = _records(document)
    if len(records) > MAX_RECORDS:
        raise NotificationError(f"{len(records)} records in one notification (at most {MAX_RECORDS})")
    return [created for created in map(_created, records) if created is not None]


def submission_of(created: ObjectCreated) -> str:
    """Whose upload an object is, for a notice when it has no manifest: the metadata the upload
    service set (`x-amz-meta-submission-id`), else the first folder of its key."""
    for name, value in created.metadata.items():
        if name.lower().removeprefix("x-amz-meta-") in ("submission-id", "submission_id"):
            return value[:64]
    return created.key.split("/", 1)[0][:64] if "/" in created.key else ""
