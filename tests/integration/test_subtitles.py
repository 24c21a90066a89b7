"""The labelled subtitle set: each case's outcome directly and through `smartedu check`."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from pipeline import ffmpeg
from pipeline.probe import probe_video
from pipeline.storage import LocalStore
from pipeline.subtitles import detect_subtitles
from tests.helpers import codes, run_check, sample
from tests.subtitle_media import CASES, LINES, case_members, make_case

pytestmark = pytest.mark.integration
BY_NAME = {case.name: case for case in CASES}


@pytest.fixture(scope="module")
def labelled(tmp_path_factory, ffmpeg_available) -> Path:
    directory = tmp_path_factory.mktemp("subtitles")
    for case in CASES:
        make_case(case, directory)
    return directory


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_labelled_case(labelled, case, rules):
    store = LocalStore(labelled)
    members = case_members(labelled, case.name)
    probe = probe_video(store, members[0].key)
    report, cpu_s = detect_subtitles(store, members[0], members, probe, str(labelled / members[0].path),
                                     ffmpeg.DEMUXERS[probe.container], rules.subtitles, threads=1)
    assert report.kind == case.expected, report.evidence
    if case.expected == "burned_in":
        assert report.evidence["samples"] == 6 and report.evidence["text_share"] >= 0.8
        assert set(report.evidence["lines"]) <= set(LINES) and len(report.evidence["lines"]) >= 3
        assert cpu_s < 30 * 0.1 * 2          # generous here; the benchmark measures the real figure
    if case.expected == "sidecar":
        assert report.evidence["path"] == "sidecar_srt.srt" and report.evidence["cues"] == len(LINES)
    if case.expected == "embedded":
        assert report.evidence["streams"][0]["codec"] in ("mov_text", "tx3g")
    if case.name == "empty_srt":
        assert report.evidence["sidecars_rejected"] == [{"path": "empty_srt.srt", "reason": "no_cues"}]


def archive_with(tmp_path: Path, labelled: Path, case_name: str, project: str = "lesson") -> tuple[Path, dict, str]:
    """A conformant sample whose project video is the labelled case's (and its .srt beside it)."""
    archive, event = sample(tmp_path, case_name, project=project)
    with zipfile.ZipFile(archive) as source:
        items = [(i.filename, source.read(i)) for i in source.infolist()]
    video_name = next(name for name, _ in items if name.endswith(".mp4"))
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in items:
            target.writestr(name, (labelled / f"{case_name}.mp4").read_bytes() if name == video_name else data)
        srt = labelled / f"{case_name}.srt"
        if srt.exists():
            target.writestr(video_name[:-4] + ".srt", srt.read_bytes())
    return archive, event, video_name


@pytest.mark.parametrize("case_name", ["changing_subtitles", "sidecar_srt", "mov_text_track", "fixed_caption_centre", "empty_srt"])
def test_outcomes_through_check(labelled, tmp_path, case_name):
    archive, event, video_name = archive_with(tmp_path, labelled, case_name)
    code, verdict, stderr = run_check(archive, "--skip-media", out=tmp_path / "out", event=event)
    assert verdict is not None, stderr
    video = next(v for v in verdict["videos"] if v["path"] == video_name)
    expected = BY_NAME[case_name].expected
    assert video["subtitles"]["kind"] == expected
    if expected == "none":
        finding = next(f for f in verdict["findings"] if f["code"] == "SUBTITLES_ABSENT")
        assert finding["severity"] == "warn" and finding["path"] == video_name and video_name in finding["message"]
    else:
        assert "SUBTITLES_ABSENT" not in codes(verdict)
    assert verdict["timings"].get("subtitles") is not None or expected in ("embedded", "sidecar")


def test_the_srt_beside_the_video_is_not_unrecognised(labelled, tmp_path):
    archive, event, _ = archive_with(tmp_path, labelled, "sidecar_srt")
    _, verdict, _ = run_check(archive, "--skip-media", out=tmp_path / "out", event=event)
    srt = next(m for m in verdict["materials"] if m["path"].endswith(".srt"))
    assert srt["kind"] == "subtitle" and "MATERIAL_UNRECOGNIZED" not in codes(verdict)
