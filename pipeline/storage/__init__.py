"""Object stores: one interface, a local directory and S3 (minio client)."""

from .base import ObjectStore, ObjectStat
from .local import LocalStore

__all__ = ["ObjectStore", "ObjectStat", "LocalStore"]
