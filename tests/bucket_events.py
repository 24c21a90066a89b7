"""Bucket notifications as MinIO and AWS S3 send them, written from their documented fields
(MinIO: "Publish Events to Webhook" and its Redis target's `access` format; AWS: "Event message
structure" of S3 event notifications). Keys are form-encoded as both stores encode them."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from urllib.parse import quote_plus


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def record(bucket: str, key: str, etag: str, size: int, *, sequencer: str = "17B0C2D1E2F3A4B5", aws: bool = False,
           name: str = "ObjectCreated:Put", metadata: dict | None = None) -> dict:
    """One event record; `aws` gives AWS's shape (eventName without `s3:`, eventSource aws:s3)."""
    return {
        "eventVersion": "2.1" if aws else "2.0",
        "eventSource": "aws:s3" if aws else "minio:s3",
        "awsRegion": "cn-north-1" if aws else "",
        "eventTime": _now(),
        "eventName": name if aws else f"s3:{name}",
        "userIdentity": {"principalId": "AIDAJDPLRKLG7UEXAMPLE" if aws else "uploader"},
        "requestParameters": {"sourceIPAddress": "10.0.0.7"},
        "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "smartedu-ingest",
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": "uploader"}, "arn": f"arn:aws:s3:::{bucket}"},
            "object": {"key": quote_plus(key, safe=""), "size": size, "eTag": etag, "sequencer": sequencer,
                       **({} if aws else {"contentType": "application/octet-stream",
                                           "userMetadata": {"content-type": "application/octet-stream", **(metadata or {})}})},
        },
        **({} if aws else {"source": {"host": "10.0.0.7", "port": "", "userAgent": "MinIO (linux; amd64) minio-go/v7"}}),
    }


def minio_webhook(*records: dict) -> bytes:
    """The body MinIO POSTs to a webhook target: EventName and Key of the first record, and the records."""
    first = records[0]
    key = f"{first['s3']['bucket']['name']}/{first['s3']['object']['key']}"
    return json.dumps({"EventName": first["eventName"], "Key": key, "Records": list(records)}).encode()


def aws_event(*records: dict) -> bytes:
    return json.dumps({"Records": list(records)}).encode()


def minio_redis_access(*records: dict) -> str:
    """One entry of MinIO's Redis target list in `access` format (RPUSHed per event)."""
    return json.dumps([{"Event": list(records), "EventTime": records[0]["eventTime"]}])


def for_object(s3_client, bucket: str, key: str, **kwargs) -> dict:
    """The record the store would send for an object that is there now (its real eTag and size)."""
    stat = s3_client.stat_object(bucket, key)
    return record(bucket, key, stat.etag, stat.size, **kwargs)
