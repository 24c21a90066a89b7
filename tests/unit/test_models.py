import json

import pytest

from pipeline.errors import EventError
from pipeline.findings import FINDINGS, NOTICE_WORDS, make_finding, notice_for
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


# The contract's codes (../shared/spec/CONTRACT.md, section 3), with their severities.
CONTRACT_CODES = {
    "ARCHIVE_TOO_LARGE": "fail", "ARCHIVE_UNREADABLE": "fail", "ARCHIVE_ENCRYPTED": "fail", "ARCHIVE_UNSAFE_PATH": "fail",
    "ARCHIVE_BOMB": "fail", "ARCHIVE_EMPTY": "fail", "ARCHIVE_NESTED": "info", "ARCHIVE_UNSUPPORTED_INNER": "warn",
    "ARCHIVE_NAME_ENCODING": "info", "MATERIAL_MISSING": "fail", "MATERIAL_UNRECOGNIZED": "info", "MAIN_WORK_MISMATCH": "warn",
    "REGISTRATION_FORM_UNPARSED": "warn", "REGISTRATION_FORM_MISMATCH": "warn", "ROLE_INFERRED": "info", "ANALYSIS_LIMITED": "info",
    "AUTHORS_TOO_MANY": "fail", "AUTHORS_DIFFERENT_UNITS": "fail", "SUBMITTED_AFTER_DEADLINE": "fail", "VIDEO_UNREADABLE": "fail",
    "VIDEO_NOT_MP4": "fail", "VIDEO_RESOLUTION_LOW": "fail", "VIDEO_ASPECT_NOT_16_9": "fail", "VIDEO_TOO_LONG": "fail",
    "VIDEO_NO_AUDIO": "warn", "VIDEO_SHAKY": "warn", "VIDEO_BLACK_SEGMENTS": "warn", "VIDEO_FROZEN_SEGMENTS": "warn",
    "AUDIO_SILENT_SEGMENTS": "warn", "VIDEO_UPSCALED": "warn", "VIDEO_BLACK_BARS": "warn", "AUDIO_TOO_QUIET": "warn",
    "AUDIO_CLIPPED": "warn", "VIDEO_INTERLACED": "warn", "SUBTITLES_ABSENT": "warn", "DOCUMENT_UNREADABLE": "warn",
    "DUPLICATION_HIGH": "fail", "VIDEO_REUSED": "warn", "PICTURE_REUSED": "info", "TOPIC_IN_MULTIPLE_PROJECTS": "fail",
}


def test_every_contract_code_has_its_severity_a_sentence_and_the_notices_words(rules):
    assert set(FINDINGS) == set(CONTRACT_CODES)
    for code, severity in CONTRACT_CODES.items():
        kind = FINDINGS[code]
        assert kind.severity == severity, code
        finding = make_finding(code, "目录/文件.mp4")
        assert finding.message and not finding.message.isascii()
        if "{file}" in kind.message:
            assert "文件.mp4" in finding.message
        assert kind.notice in NOTICE_WORDS and notice_for(code, rules) and "{" not in notice_for(code, rules), code


def test_the_notices_words_take_their_limits_from_the_rules_file(rules):
    from datetime import datetime, timedelta, timezone

    other = rules.model_copy(update={
        "archive": rules.archive.model_copy(update={"max_bytes": 1024 * 1024 * 1024}),
        "deadlines": rules.deadlines.model_copy(update={"upload": datetime(2024, 6, 30, 23, 59, 59, tzinfo=timezone(timedelta(hours=8)))}),
        "duplication": rules.duplication.model_copy(update={"threshold": 0.25}),
        "video": rules.video.model_copy(update={"max_duration_s": {"application_video": 480, "classroom_recording": 2400}})})
    assert notice_for("ARCHIVE_TOO_LARGE", other).endswith("不超过1024MB。")
    assert notice_for("SUBMITTED_AFTER_DEADLINE", other) == "作品上传6月30日前完成。"
    assert notice_for("DUPLICATION_HIGH", other) == "案例介绍重复率须低于25%。"
    assert "不超过8分钟" in notice_for("VIDEO_TOO_LONG", other) and "不超过40分钟" in notice_for("VIDEO_TOO_LONG", other)


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
