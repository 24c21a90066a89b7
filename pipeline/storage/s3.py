"""S3 (MinIO in deployment, SeaweedFS in tests) through the `minio` client."""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

import urllib3
from minio import Minio
from minio.error import S3Error

from ..errors import InputVanishedError, PermanentError, TransientError
from .base import CHUNK, ObjectStat, ObjectStore, check_key

PART_SIZE = 16 * 1024 * 1024
READ_WINDOW = 256 * 1024 * 1024    # largest range asked for in one GET
FIRST_WINDOW = 1024 * 1024         # a jump (box header, central directory) asks for little
PARALLEL_PARTS = 3   # parts in flight: ~3 x 16 MB of memory

_VANISHED = {"NoSuchKey", "NoSuchBucket", "NoSuchObject", "ResourceNotFound"}
_CONFIG = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidBucketName"}


def classify_s3_error(exc: BaseException) -> Exception:
    """Map a client or transport failure onto the pipeline's error tree."""
    if isinstance(exc, S3Error):
        if exc.code in _VANISHED:
            return InputVanishedError(f"S3 {exc.code}: {exc.bucket_name}/{exc.object_name}")
        if exc.code in _CONFIG:
            # Credentials or policy: an operator must fix it, retrying helps once they have.
            return TransientError(f"S3 {exc.code} (check credentials and bucket policy)")
        if exc.code in {"InvalidRange", "InvalidArgument", "EntityTooLarge"}:
            return PermanentError(f"S3 {exc.code}")
        return TransientError(f"S3 {exc.code}")
    if isinstance(exc, (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError, OSError)):
        return TransientError(f"S3 transport: {type(exc).__name__}: {exc}")
    return TransientError(f"S3: {type(exc).__name__}: {exc}")


@contextlib.contextmanager
def _s3_errors() -> Iterator[None]:
    try:
        yield
    except (S3Error, urllib3.exceptions.HTTPError, ConnectionError, TimeoutError) as exc:
        raise classify_s3_error(exc) from exc


class RangedReader(io.RawIOBase):
    """A seekable view of one object: each sequential run is one ranged GET, streamed.

    zipfile seeks to the central directory at the end, then reads members in order; each
    jump opens a new range and sequential reads continue on the open response.
    """

    def __init__(self, client: Minio, bucket: str, key: str, size: int):
        self._client, self._bucket, self._key, self._size = client, bucket, key, size
        self._pos = 0
        self._resp = None
        self._resp_pos = -1
        self._resp_end = -1
        self._window = FIRST_WINDOW
        self.requests = 0
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def _drop(self) -> None:
        if self._resp is not None:
            with contextlib.suppress(Exception):
                self._resp.close()
                self._resp.release_conn()
            self._resp = None

    def readinto(self, buffer) -> int:
        if self._pos >= self._size:
            return 0
        if self._resp is None or self._resp_pos != self._pos or self._resp_pos >= self._resp_end:
            # Sequential reads double the next range (a member streams in few GETs); a
            # jump starts small again, so header peeks never open a 256 MB response.
            sequential = self._resp is not None and self._resp_pos == self._pos
            self._window = min(self._window * 2, READ_WINDOW) if sequential else FIRST_WINDOW
            self._drop()
            length = min(self._size - self._pos, max(self._window, len(buffer)))
            with _s3_errors():
                self._resp = self._client.get_object(self._bucket, self._key, offset=self._pos, length=length)
            self.requests += 1
            self._resp_pos, self._resp_end = self._pos, self._pos + length
        want = min(len(buffer), self._resp_end - self._resp_pos)
        with _s3_errors():
            data = self._resp.read(want)
        if not data:
            raise TransientError(f"S3 stream for {self._key} ended early at {self._pos}")
        n = len(data)
        buffer[:n] = data
        self._pos += n
        self._resp_pos += n
        self.bytes_read += n
        return n

    def close(self) -> None:
        self._drop()
        super().close()


class S3Store(ObjectStore):
    name = "s3"

    def __init__(self, client: Minio, bucket: str, *, work_dir: Path | None = None):
        self.client = client
        self.bucket = bucket
        self.work_dir = work_dir

    @classmethod
    def from_settings(cls, settings, bucket: str | None = None) -> "S3Store":
        client = Minio(
            settings.s3_endpoint,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key.get_secret_value(),
            secure=settings.s3_secure,
            region=settings.s3_region,
        )
        return cls(client, bucket or settings.bucket, work_dir=settings.work_dir)

    def ensure_bucket(self) -> None:
        with _s3_errors():
            if not self.client.bucket_exists(self.bucket):
                with contextlib.suppress(S3Error):
                    self.client.make_bucket(self.bucket)

    def put_stream(self, key, stream, length=None, content_type="application/octet-stream") -> None:
        with _s3_errors():
            self.client.put_object(
                self.bucket, check_key(key), stream,
                length=-1 if length is None else length,
                part_size=PART_SIZE, content_type=content_type, num_parallel_uploads=PARALLEL_PARTS,
            )

    def stat(self, key: str) -> ObjectStat | None:
        try:
            st = self.client.stat_object(self.bucket, key)
        except S3Error as exc:
            if exc.code in _VANISHED:
                return None
            raise classify_s3_error(exc) from exc
        except (urllib3.exceptions.HTTPError, ConnectionError) as exc:
            raise classify_s3_error(exc) from exc
        return ObjectStat(key=key, size=st.size, etag=st.etag)

    def open(self, key: str) -> BinaryIO:
        st = self.stat(key)
        if st is None:
            raise InputVanishedError(f"no object {self.bucket}/{key}")
        return io.BufferedReader(RangedReader(self.client, self.bucket, key, st.size), buffer_size=CHUNK)

    def list(self, prefix: str) -> Iterator[str]:
        with _s3_errors():
            for obj in self.client.list_objects(self.bucket, prefix=prefix, recursive=True):
                yield obj.object_name

    def list_stats(self, prefix: str) -> Iterator[ObjectStat]:
        with _s3_errors():
            for obj in self.client.list_objects(self.bucket, prefix=prefix, recursive=True):
                yield ObjectStat(key=obj.object_name, size=obj.size or 0, etag=(obj.etag or "").strip('"') or None,
                                 modified=obj.last_modified.timestamp() if obj.last_modified else None)

    def delete(self, key: str) -> None:
        with _s3_errors():
            self.client.remove_object(self.bucket, key)

    @contextlib.contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        if self.work_dir:
            self.work_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.work_dir, prefix="obj-", suffix=Path(key).suffix[:16])
        os.close(fd)
        try:
            with _s3_errors():
                try:
                    self.client.fget_object(self.bucket, key, tmp)
                except S3Error as exc:
                    raise classify_s3_error(exc) from exc
            yield Path(tmp)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def url(self, key: str, expires_s: int = 900) -> str | None:
        with _s3_errors():
            return self.client.presigned_get_object(self.bucket, key, expires=timedelta(seconds=expires_s))
