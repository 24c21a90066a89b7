import json

import pytest

from pipeline.errors import EventError
from pipeline.findings import CATALOG, make_finding
from pipeline.models import parse_event
from pipeline.verdict import decide_status, dedupe_findings

GOOD = {"submission_id": "2025-000123", "project": "case", "applicant_type": "teacher",
        "archive": {"bucket": "uploads", "key": "2025-000123/materials.zip"},
        "uploaded_at": "2025-07-20T10:00:00+08:00", "unknown_field": 1}


def test_event_parses_and_ignores_unknown_fields():
    event = parse_event(json.dumps(GOOD))
    assert event.submission_id == "2025-000123" and event.uploaded_at.utcoffset().total_seconds() == 8 * 3600


@pytest.mark.parametrize("change", [
    {"submission_id": "../etc"}, {"submission_id": ""}, {"submission_id": "x" * 65}, {"project": "film"},
    {"uploaded_at": "2025-07-20T10:00:00"}, {"uploaded_at": None}, {"archive": "uploads/x.zip"},
    {"authors": "张三"}, {"submission_id": None},
])
def test_bad_events_are_rejected_with_a_clear_error(change):
    with pytest.raises(EventError) as info:
        parse_event({**GOOD, **change})
    assert "event" in str(info.value)


@pytest.mark.parametrize("raw", [b"", b"[1,2]", b"{not json", "\ufeff{}".encode()])
def test_garbage_is_an_event_error(raw):
    with pytest.raises(EventError):
        parse_event(raw)


def test_every_code_has_a_chinese_sentence_naming_the_file():
    for code in CATALOG:
        finding = make_finding(code, "目录/文件.mp4")
        assert finding.message and not finding.message.isascii()
        if "{file}" in CATALOG[code][1]:
            assert "文件.mp4" in finding.message


def test_status_order():
    warn = make_finding("VIDEO_NO_AUDIO", "a.mp4")
    fail = make_finding("VIDEO_NOT_MP4", "a.mp4", container="MKV")
    info = make_finding("ARCHIVE_NESTED", "a.zip", members=2)
    assert decide_status([]) == "pass"
    assert decide_status([info]) == "pass"
    assert decide_status([info, warn]) == "warn"
    assert decide_status([warn, fail]) == "fail"
    assert decide_status([], {"stage": "unpack"}) == "error"
    assert len(dedupe_findings([warn, warn, fail])) == 2
