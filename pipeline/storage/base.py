"""The object-store interface every stage talks to."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class ObjectStat:
    key: str
    size: int
    etag: str | None = None
    modified: float | None = None      # POSIX time, where the listing gives it


class ObjectStore(ABC):
    """Keys are '/'-separated and never start with '/' or contain '..'."""

    name: str = "store"

    @abstractmethod
    def put_stream(self, key: str, stream: BinaryIO, length: int | None = None, content_type: str = "application/octet-stream") -> None:
        """Store everything `stream` yields under `key`, replacing what was there."""

    @abstractmethod
    def stat(self, key: str) -> ObjectStat | None:
        """Size of the object, or None when it does not exist."""

    @abstractmethod
    def open(self, key: str) -> BinaryIO:
        """A seekable reader; for S3 it reads by ranges, never the whole object up front.

        Raises:
            InputVanishedError: no such object.
        """

    @abstractmethod
    def list(self, prefix: str) -> Iterator[str]:
        """Keys under `prefix`, recursively."""

    def list_stats(self, prefix: str) -> Iterator[ObjectStat]:
        """Keys under `prefix` with their size and eTag (a store whose listing has them overrides)."""
        for key in self.list(prefix):
            stat = self.stat(key)
            if stat is not None:
                yield stat

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove one object; a missing object is not an error."""

    @abstractmethod
    @contextlib.contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        """A local file holding the object for the duration of the block."""

    def url(self, key: str, expires_s: int = 900) -> str | None:
        """A short-lived URL tools may read by ranges, or None where the store is local."""
        return None

    def put_file(self, key: str, path: Path, content_type: str = "application/octet-stream") -> None:
        with open(path, "rb") as handle:
            self.put_stream(key, handle, Path(path).stat().st_size, content_type)

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self.put_stream(key, io.BytesIO(data), len(data), content_type)

    def put_json(self, key: str, document: dict) -> None:
        self.put_bytes(key, json.dumps(document, ensure_ascii=False, indent=2).encode(), "application/json")

    def get_bytes(self, key: str, max_bytes: int = 64 * CHUNK) -> bytes:
        with self.open(key) as handle:
            data = handle.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise ValueError(f"object {key} is larger than {max_bytes} bytes")
        return data

    def get_json(self, key: str) -> dict | None:
        if self.stat(key) is None:
            return None
        return json.loads(self.get_bytes(key))

    def exists(self, key: str) -> bool:
        return self.stat(key) is not None

    def delete_prefix(self, prefix: str) -> int:
        count = 0
        for key in list(self.list(prefix)):
            self.delete(key)
            count += 1
        return count

    def sha256(self, key: str) -> str:
        digest = hashlib.sha256()
        with self.open(key) as handle:
            for chunk in iter(lambda: handle.read(CHUNK), b""):
                digest.update(chunk)
        return digest.hexdigest()


def check_key(key: str) -> str:
    """Reject keys that could escape a prefix or a local root."""
    if not key or key.startswith("/") or "\\" in key or "\x00" in key:
        raise ValueError(f"invalid object key {key!r}")
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise ValueError(f"invalid object key {key!r}")
    return key
