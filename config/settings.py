"""Process settings from the SMARTEDU_* environment (a `.env` file may set them)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_RULES = Path(__file__).parent / "rules" / "activity-2023.yaml"


class Settings(BaseSettings):
    """The same names in every process: CLI, ingest and workers."""

    model_config = SettingsConfigDict(env_prefix="SMARTEDU_", env_file=".env", extra="ignore")

    redis_url: str = "redis://127.0.0.1:6379/0"   # with sentinels: only its db, user and password count
    # Redis Sentinel (workers/redis_conn.py): the sentinels ("host:port", comma-separated), the
    # primary's name they monitor, their own password; empty: redis_url is the one Redis
    redis_sentinels: Annotated[list[str], NoDecode] = []
    redis_master: str = "smartedu"
    redis_sentinel_password: SecretStr = SecretStr("")
    redis_wait_ms: int = 500             # WAIT for one replica after the writes that must survive a failover
    s3_endpoint: str = "127.0.0.1:9000"
    s3_access_key: str = "minioadmin"
    s3_secret_key: SecretStr = SecretStr("minioadmin")
    s3_secure: bool = False
    s3_region: str = "us-east-1"
    uploads_bucket: str = "uploads"
    bucket: str = "smartedu"
    rules: Path = DEFAULT_RULES
    callback_secret: SecretStr = SecretStr("")
    # where callbacks may go (workers/callbacks.py), comma-separated: the upload service's host
    # names (`.example.edu.cn` for every name under it) ...
    callback_hosts: Annotated[list[str], NoDecode] = []
    # ... and the networks (CIDR) whose loopback or private addresses they may resolve to
    callback_networks: Annotated[list[str], NoDecode] = []
    # bucket notifications and the status endpoint (workers/http_api.py), served by `smartedu ingest`
    ingest_http_port: int = 0            # 0: no HTTP endpoint
    ingest_http_host: str = "0.0.0.0"
    notify_secret: SecretStr = SecretStr("")     # MinIO's webhook auth_token; none set: every notification refused
    status_token: SecretStr = SecretStr("")      # bearer token of GET /submissions/<id>; none set: refused
    notify_list: str = ""                # MinIO's Redis target list (format=access) that ingest also reads
    notify_rescan_s: float = 300.0       # how often the uploads bucket is listed for manifests no notification brought
    pairing_timeout_s: float = 600.0     # a manifest without its archive, or an upload without a manifest, then gets an error notice
    ffmpeg_threads: int = Field(default=1, ge=0)   # per ffmpeg in a worker: scale with processes, not threads
    work_dir: Path = Path("/tmp/smartedu")
    metrics_port: int = 9191
    segment_threshold_s: float = 120.0   # longer videos are transcoded in segments across workers
    segment_s: float = 30.0
    report_base_url: str = ""            # where reviewers open the bucket's objects; links in `smartedu report`
    log_level: str | None = None         # default: WARNING for `check`, INFO for workers and ingest
    broker: str = "redis"                # "stub": dramatiq's StubBroker, for unit tests of the actors
    prometheus: bool = True              # serve dramatiq's metrics on metrics_port from each worker
    heartbeat_ms: int = 60000            # a worker silent this long has its messages requeued
    maintenance_chance: int = 1000       # per million broker calls that run that requeue
    reconcile_interval_s: float = 15.0   # how often the reconciler looks at runs in progress
    reconcile_grace_s: float = 120.0     # a run that moved more recently than this is left alone
    reconcile_attempts: int = 3          # re-sends of one lost part before the run gets its error verdict

    @field_validator("callback_hosts", "callback_networks", "redis_sentinels", mode="before")
    @classmethod
    def _comma_separated(cls, value):
        return [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value

    @field_validator("callback_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        for network in value:
            ipaddress.ip_network(network, strict=False)      # a typo fails at start, not at the first callback
        return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
