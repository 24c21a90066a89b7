"""VIDEO_REUSED on the labelled set (tests/reuse_set.py): every copy of A found and named with
its ranges within 2 s; other scenes, a shared bumper, one slide template, black and silence
never; the same in the SQLite and the Redis state; a resubmission never matches itself."""

from __future__ import annotations


import pytest

from pipeline.state.local import LocalState
from tests.reuse_set import ORDER, hand_in, make_set

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def labelled(tmp_path_factory, ffmpeg_available, rules):
    folder = tmp_path_factory.mktemp("reuse")
    cases = make_set(folder)
    state = LocalState(folder / "state")
    reports = {}
    for clip in ORDER:
        report, findings, timings = hand_in(folder, clip, state, rules)
        reports[clip] = (report, findings, timings)
    return folder, cases, state, reports


def _reused(findings):
    return [f for f in findings if f.code == "VIDEO_REUSED"]


def test_every_copy_is_found_and_named_with_its_ranges(labelled):
    _folder, cases, _state, reports = labelled
    for case in (c for c in cases if c.reused):
        report, findings, _ = reports[case.query]
        found = _reused(findings)
        assert len(found) == 1, (case.name, report.reuse)
        match = report.reuse.matches[0]
        assert match.submission_id == case.source, (case.name, report.reuse.matches)     # the first seen among equals
        assert abs(match.query[0] - case.query_range[0]) <= 2 and abs(match.query[1] - case.query_range[1]) <= 2, (case.name, match)
        assert abs(match.source[0] - case.source_range[0]) <= 2 and abs(match.source[1] - case.source_range[1]) <= 2, (case.name, match)
        assert found[0].severity == "warn" and case.source in found[0].message and "请审核" in found[0].message
    assert reports["new_music"][0].reuse.matches[0].by == ["picture"]             # the sound is new: the picture carries it
    assert "sound" in reports["reencoded"][0].reuse.matches[0].by


def test_what_many_share_or_nobody_owns_is_never_reuse(labelled):
    _folder, cases, _state, reports = labelled
    for case in (c for c in cases if not c.reused):
        report, findings, _ = reports[case.query]
        assert _reused(findings) == [] and not report.reuse.matches, (case.name, report.reuse)


def test_the_fingerprint_costs_under_three_percent_of_the_duration(labelled):
    _folder, _cases, _state, reports = labelled
    for clip, (report, _findings, timings) in reports.items():
        assert "reuse_cpu" in timings and timings["reuse_cpu"] < 0.03 * report.probe.duration_s, (clip, timings)
        assert report.reuse.frames > 0


def test_a_resubmission_never_matches_itself_and_keeps_its_first_seen(labelled, rules):
    folder, _cases, state, reports = labelled
    before = state.media_prints({k for k in _keys(state)})
    report, findings, _ = hand_in(folder, "titled", state, rules)
    assert [m.submission_id for m in report.reuse.matches] == [m.submission_id for m in reports["titled"][0].reuse.matches]
    assert all(m.submission_id != "titled" for m in report.reuse.matches)
    after = state.media_prints({k for k in _keys(state)})
    assert set(after) == set(before) and all(after[k].first_seen == before[k].first_seen for k in after)


def _keys(state: LocalState) -> list[str]:
    return [row[0] for row in state.db.execute("SELECT mkey FROM media")]


def test_redis_state_gives_the_same_matches(labelled, redis_url, rules):
    import redis as redis_lib

    from pipeline.state.redis import RedisState

    folder, _cases, _state, reports = labelled
    client = redis_lib.Redis.from_url(redis_url.rsplit("/", 1)[0] + "/12", decode_responses=True)
    client.flushdb()
    try:
        shared = RedisState(client)
        for clip in ("A", "B", "bumper_C", "titled", "bumper_D", "mirrored"):
            report, _findings, _ = hand_in(folder, clip, shared, rules)
            expected = [m.submission_id for m in reports[clip][0].reuse.matches if m.submission_id in ("A", "B", "bumper_C", "titled")]
            assert [m.submission_id for m in report.reuse.matches] == expected, clip
    finally:
        client.flushdb()


def test_the_same_authors_footage_in_another_project_is_the_same_topic(labelled, rules):
    """The same author's footage over half of both videos, in another project: TOPIC_IN_MULTIPLE_PROJECTS
    (warn on the footage alone; titles that agree too make it the usual fail)."""
    from pipeline.models import UploadEvent
    from pipeline.stages.context import SubmissionContext
    from pipeline.stages.document import topic_findings
    from pipeline.layout import Layout
    from pipeline.storage import LocalStore

    folder, _cases, _state, _reports = labelled
    state = LocalState(folder / "topic-state")

    def submit(sid, clip, project, title):
        report, findings, _ = hand_in(folder, clip, state, rules, submission_id=sid)
        event = UploadEvent(submission_id=sid, project=project, title=title, authors=[{"name": "张三"}],
                            archive={"bucket": "local", "key": "x.zip"})
        ctx = SubmissionContext(event, rules, LocalStore(folder), Layout(sid, embedded=True), activity=state)
        return report, topic_findings(ctx, [report])

    submit("t1", "A", "lesson", "分数的初步认识")
    report, found = submit("t2", "reencoded", "case", "依托国家平台的课堂实践")
    assert [(f.code, f.severity, f.detail["by"]) for f in found] == [("TOPIC_IN_MULTIPLE_PROJECTS", "warn", ["footage"])]
    assert report.reuse.matches[0].same_author and report.reuse.matches[0].other_project == "lesson"
    _report, found = submit("t3", "smaller", "team", "分数的初步认识")
    assert {(f.detail["other_submission"], f.severity) for f in found} >= {("t1", "fail")}


def test_the_page_shows_both_stretches_with_their_tiles(labelled, rules):
    """The reviewer's page: this video's range and the other's, a storyboard tile of each, the
    other's page linked (in the workers' bucket, where both submissions' keys share a root)."""
    from pipeline.models import UploadEvent
    from pipeline.report import render_report
    from pipeline.verdict import build_verdict

    _folder, _cases, _state, reports = labelled
    report, findings, _ = reports["titled"]
    report = report.model_copy(update={"thumbnails": {"storyboard.jpg": "thumbnails/titled/aaaa/storyboard.jpg"}})
    event = UploadEvent(submission_id="titled", project="case", archive={"bucket": "uploads", "key": "x.zip"})
    verdict = build_verdict(event, rules_version=rules.rules_version, findings=findings, materials=[], videos=[report],
                            documents=[], timings={})
    page = render_report(verdict, rules, asset_prefix="../")
    match = report.reuse.matches[0]
    assert "与其他作品相同的片段" in page and 'href="../reports/A.html"' in page
    assert f"../thumbnails/A/{match.source_media.split('/')[1]}/storyboard.jpg" in page
    assert "../thumbnails/titled/aaaa/storyboard.jpg" in page and "0分10" in page
