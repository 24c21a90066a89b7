"""Fixtures: real Redis and S3 for integration tests, started here when missing.

A missing service skips its tests locally but fails them in CI (CI=true).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from config.rules import load_rules
from config.settings import DEFAULT_RULES
from tests import services

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _unavailable(reason: str):
    if IN_CI:
        pytest.fail(f"required service unavailable in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def rules():
    return load_rules(DEFAULT_RULES)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    try:
        server = services.start_seaweedfs(tmp_path_factory.mktemp("seaweedfs"))
    except RuntimeError as exc:
        _unavailable(str(exc))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    url = os.environ.get("SMARTEDU_REDIS_URL", "redis://127.0.0.1:6379/0")
    if services.redis_answers(url):
        yield url
        return
    try:
        url, process = services.start_redis(tmp_path_factory.mktemp("redis"))
    except RuntimeError as exc:
        _unavailable(str(exc))
    yield url
    services.stop_process(process)


@pytest.fixture(scope="session")
def libreoffice_available():
    if not (shutil.which("soffice") and shutil.which("antiword")):
        _unavailable("LibreOffice/antiword not installed")
    return True


@pytest.fixture(scope="session")
def chromium_available():
    if not shutil.which("chromium"):
        _unavailable("Debian's chromium not installed")
    return True


@pytest.fixture(scope="session")
def ffmpeg_available():
    if not (shutil.which("ffmpeg") and shutil.which("ffprobe")):
        _unavailable("ffmpeg/ffprobe not installed")
    return True


@pytest.fixture
def s3_env(s3_server, monkeypatch, tmp_path):
    """Settings that point every process of the test at the session's S3 server."""
    monkeypatch.setenv("SMARTEDU_S3_ENDPOINT", s3_server.endpoint)
    monkeypatch.setenv("SMARTEDU_S3_ACCESS_KEY", s3_server.access_key)
    monkeypatch.setenv("SMARTEDU_S3_SECRET_KEY", s3_server.secret_key)
    monkeypatch.setenv("SMARTEDU_S3_SECURE", "false")
    monkeypatch.setenv("SMARTEDU_WORK_DIR", str(tmp_path / "work"))
    from config.settings import get_settings

    get_settings.cache_clear()
    yield s3_server
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")
