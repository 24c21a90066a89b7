"""The cost model: budgets shared among videos from the members alone, and what of a video is analysed."""

from __future__ import annotations

from pipeline.cost import analysis_windows, video_budgets, video_scope
from pipeline.models import Material, VideoProbe


def probe(duration: float, width: int = 1920, height: int = 1080, fps: float = 25.0) -> VideoProbe:
    return VideoProbe(duration_s=duration, width=width, height=height, fps=fps)


def test_a_valid_45_minute_lesson_is_analysed_whole(rules):
    scope = video_scope(probe(2700), "classroom_recording", rules.cost.verdict_cpu_s - rules.cost.documents_cpu_s, rules)
    assert (scope.analysed_s, scope.samples, scope.reason, scope.preview_s) == (2700, [], None, 2700)
    assert scope.cpu_estimate_s < rules.cost.verdict_cpu_s


def test_past_its_roles_limit_a_video_is_analysed_to_the_limit_and_sampled(rules):
    scope = video_scope(probe(36_000), "application_video", 1200, rules)
    assert scope.reason == "over_limit" and scope.analysed_s == 396 and scope.preview_s == 396
    assert len(scope.samples) == 4 and all(396 < a < b <= 36_000 and b - a == 20 for a, b in scope.samples)
    windows = analysis_windows(scope, rules.qc)
    assert windows[0] == (0.0, 396) and windows[-4:] == [tuple(s) for s in scope.samples]
    assert video_scope(probe(300), "application_video", 1200, rules).reason is None        # within the limit: all of it
    assert video_scope(probe(36_000), "related", 60, rules).reason == "budget"            # no limit, but a small share


def test_8k_and_120_fps_cost_more_per_second_and_are_cut_by_the_budget(rules):
    eight_k = video_scope(probe(600, 7680, 4320), "application_video", 1200, rules)
    assert eight_k.cpu_per_s == rules.cost.video_cpu_per_s * 16
    assert eight_k.reason == "budget" and eight_k.cpu_estimate_s <= 1200
    fast = video_scope(probe(300, fps=120), "application_video", 1200, rules)
    assert fast.cpu_per_s == rules.cost.video_cpu_per_s * 4.8 and fast.reason is None


def test_the_video_budget_goes_to_the_projects_videos_first(rules):
    members = [Material(path="应用视频.mp4", size=10, sha256="a" * 64, kind="video", role="application_video")]
    members += [Material(path=f"花絮{i}.mp4", size=5, sha256="b" * 64, kind="video", role="related") for i in range(20)]
    budgets = video_budgets(members, rules, "case", "teacher")
    pool = rules.cost.verdict_cpu_s - rules.cost.documents_cpu_s
    assert abs(sum(budgets.values()) - pool) < 1e-6
    assert budgets[0] == max(budgets.values()) and budgets[0] > 10 * budgets[1]
