"""A failure of the pipeline itself becomes an `error` verdict with its reason, not a crash."""

import json

import pytest

from pipeline.stages import video as video_stage
from pipeline.embedded import check_submission
from pipeline.models import parse_event
from tests.helpers import sample

pytestmark = pytest.mark.integration


def test_a_broken_stage_gives_an_error_verdict(tmp_path, rules, monkeypatch, ffmpeg_available):
    archive, event = sample(tmp_path, "broken-stage")

    def explode(ctx, material, budget_s=None):
        raise RuntimeError("probe machinery broke")

    monkeypatch.setattr(video_stage, "start_video", explode)
    verdict = check_submission(parse_event(event), archive, tmp_path / "out", rules)
    assert verdict.status == "error"
    assert verdict.error["stage"] == "video" and "probe machinery broke" in verdict.error["reason"]
    written = json.loads((tmp_path / "out" / "verdict.json").read_text())
    assert written["status"] == "error" and written["materials"]
    assert written["documents"], "the parts after the one that broke still ran"


def test_exit_code_is_2_for_an_error_verdict():
    from workers.cli import exit_code

    assert (exit_code("pass"), exit_code("warn"), exit_code("fail"), exit_code("error")) == (0, 0, 1, 2)
