"""The S3 store against a real S3 server (SeaweedFS), and unpack/probe through it."""

from __future__ import annotations

import io
import uuid

import pytest

from config.settings import get_settings
from pipeline.errors import InputVanishedError
from pipeline.probe import probe_video
from pipeline.sample import VideoSpec, make_video
from pipeline.storage.s3 import S3Store
from pipeline.layout import Layout
from pipeline.unpack import unpack_archive
from tests import archives

pytestmark = pytest.mark.integration


@pytest.fixture
def store(s3_env):
    s3 = S3Store.from_settings(get_settings(), bucket=f"t-{uuid.uuid4().hex[:12]}")
    s3.ensure_bucket()
    return s3


def test_put_get_ranged_list_delete(store):
    store.put_bytes("a/b/one.bin", bytes(range(256)) * 1000)
    assert store.stat("a/b/one.bin").size == 256_000
    with store.open("a/b/one.bin") as reader:
        reader.seek(1000)
        assert reader.read(4) == bytes([232, 233, 234, 235])
        reader.seek(-2, io.SEEK_END)
        assert reader.read() == bytes([254, 255])
    assert list(store.list("a/")) == ["a/b/one.bin"]
    assert store.url("a/b/one.bin").startswith("http://")
    store.delete("a/b/one.bin")
    assert store.stat("a/b/one.bin") is None
    with pytest.raises(InputVanishedError):
        store.open("a/b/one.bin")


def test_wrong_secret_is_refused(s3_env, monkeypatch):
    monkeypatch.setenv("SMARTEDU_S3_SECRET_KEY", "wrong")
    get_settings.cache_clear()
    bad = S3Store.from_settings(get_settings(), bucket="whatever")
    from pipeline.errors import TransientError
    with pytest.raises(TransientError):
        bad.put_bytes("x", b"y")


def test_unpack_from_s3_to_s3_reads_by_ranges(store, rules):
    body = bytes(range(256)) * 20_000
    data = archives.build_zip([("报名表.docx", b"form"), ("视频/应用视频.mp4", body)])
    store.put_bytes("uploads/s1.zip", data)
    with store.open("uploads/s1.zip") as source:
        result = unpack_archive(source, len(data), "s1.zip", store, rules, Layout("s1").member)
    assert [m.path for m in result.materials] == ["报名表.docx", "视频/应用视频.mp4"]
    keys = sorted(store.list("members/s1/"))
    assert len(keys) == 2 and all(k.startswith("members/s1/") for k in keys)
    assert store.get_bytes(result.materials[1].key) == body


def test_probe_through_a_presigned_url(store, tmp_path, ffmpeg_available):
    path = make_video(tmp_path / "v.mp4", VideoSpec(duration_s=2))
    store.put_file("members/s2/0000.mp4", path)
    probe = probe_video(store, "members/s2/0000.mp4")
    assert (probe.display_width, probe.display_height, probe.container) == (1920, 1080, "mp4")
    assert probe.probed_with == ["mediainfo", "ffprobe"]


def test_oversized_upload_is_judged_from_its_size_alone(store, rules, monkeypatch):
    from pipeline.models import parse_event
    from pipeline.layout import Layout
    from pipeline.stages.context import SubmissionContext
    from pipeline.stages.unpack import unpack_object

    small = rules.model_copy(update={"archive": rules.archive.model_copy(update={"max_bytes": 1000})})
    store.put_bytes("uploads/big.zip", archives.build_zip([("a.bin", bytes(range(256)) * 40)], compression=0))
    opened = []
    monkeypatch.setattr(type(store), "open", lambda self, key: opened.append(key))
    event = parse_event({"submission_id": "big", "project": "case", "archive": {"bucket": "b", "key": "uploads/big.zip"},
                         "uploaded_at": "2023-07-01T00:00:00+08:00"})
    result = unpack_object(SubmissionContext(event, small, store, Layout("big")), store, "uploads/big.zip")
    assert [f.code for f in result.findings] == ["ARCHIVE_TOO_LARGE"] and opened == []
