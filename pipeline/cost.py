"""What one upload may cost, and how each member's analysis is bounded to stay within it.

A submission has two budgets in CPU seconds (rules file `cost:`): the verdict path and its
previews, both derived from the largest valid submission (a 45-minute 1080p lesson with its
materials). The video budget (the verdict budget less what is kept for documents) is shared
among the analysed videos by weight, from the members alone, so that every part of a run
knows its share before any is probed, in either executor. A video then costs what the model
says per analysed second (scaled by its pixels and frame rate against 1080p25): one whose
duration already breaks its role's limit is analysed to the limit plus a margin and in a few
windows of the rest; one that would cost more than its share (8K, 120 fps, ten hours) is
analysed as far as the share pays for. Previews cover the analysed part only, within their
own budget. What was left out is named by ANALYSIS_LIMITED; no fail rests on it (the
duration comes from the probe, the other rules from what was analysed).
"""

from __future__ import annotations

from .classify import analysed_members
from .findings import format_duration, make_finding
from .models import Finding, Material, VideoProbe, VideoScope
from .qc import plan_windows
from .ruleset import QcRules, Rules


def scale(probe: VideoProbe, rules: Rules) -> float:
    """How much one second of this video costs against one of 1080p25 (never less: a small
    picture still pays the fixed costs of decoding)."""
    pixels = (probe.width or 0) * (probe.height or 0)
    fps = probe.fps or rules.cost.reference_fps
    return max(1.0, pixels / rules.cost.reference_pixels) * max(1.0, fps / rules.cost.reference_fps)


def video_budgets(materials: list[Material], rules: Rules, project: str, applicant_type: str) -> dict[int, float]:
    """Each analysed video's share of the video budget (CPU seconds), by weight: the project's
    videos first. Decided from the members alone, so both executors and every part agree."""
    videos, _documents = analysed_members(materials, rules)
    own = set(rules.required_roles(project, applicant_type))
    cost = rules.cost
    weights = {i: cost.role_video_weight if materials[i].role in own else cost.other_video_weight for i in videos}
    total = sum(weights.values())
    pool = max(cost.verdict_cpu_s - cost.documents_cpu_s, 0.0)
    return {i: pool * weight / total for i, weight in weights.items()} if total else {}


def video_scope(probe: VideoProbe, role: str | None, budget_s: float, rules: Rules) -> VideoScope:
    """What of a probed video the verdict path analyses, and what its previews cover."""
    cost = rules.cost
    duration = max(probe.duration_s or 0.0, 0.0)
    per_s = cost.video_cpu_per_s * scale(probe, rules)
    wanted, reason, samples = duration, None, ()
    limit = rules.video.max_duration_s.get(role or "")
    if limit and duration > limit + rules.video.duration_tolerance_s:
        wanted = min(duration, limit * (1 + cost.over_limit_margin))
        reason = "over_limit"
        samples = rest_windows(wanted, duration, cost.rest_samples, cost.rest_sample_s)
    sampled = sum(b - a for a, b in samples)
    affordable = budget_s / per_s if per_s else duration
    if wanted + sampled > affordable:
        samples = ()
        wanted, reason = max(min(wanted, affordable), 0.0), "budget"
    preview_per_s = cost.preview_cpu_per_s * scale(probe, rules)
    preview = min(wanted, cost.previews_cpu_s / preview_per_s) if preview_per_s else wanted
    return VideoScope(duration_s=duration, analysed_s=round(wanted, 3), samples=list(samples), preview_s=round(preview, 3),
                      reason=reason, cpu_budget_s=round(budget_s, 1), cpu_per_s=round(per_s, 4))


def rest_windows(start: float, end: float, count: int, length: float) -> tuple[tuple[float, float], ...]:
    """`count` windows of `length` seconds spread evenly over [start, end), none overlapping it."""
    room = end - start
    if count <= 0 or room < length * count * 2:
        return ()
    step = room / count
    return tuple((round(start + step * i + (step - length) / 2, 3), round(start + step * i + (step + length) / 2, 3))
                 for i in range(count))


def limited_video(path: str, scope: VideoScope) -> Finding:
    """ANALYSIS_LIMITED for a video analysed in part: what was analysed, and why."""
    what = f"只检查了前{format_duration(scope.analysed_s)}"
    if scope.samples:
        what += f"及其后{len(scope.samples)}段各{scope.samples[0][1] - scope.samples[0][0]:.0f}秒的抽样"
    why = "超过时长上限，其余部分不影响结论" if scope.reason == "over_limit" else "分析所需的计算量超过每份作品的上限"
    return make_finding("ANALYSIS_LIMITED", path, scope_text="视频", limited_text=f"时长{format_duration(scope.duration_s)}，{why}，{what}",
                        bound=scope.reason, duration_s=round(scope.duration_s, 3), analysed_s=scope.analysed_s,
                        samples=[list(s) for s in scope.samples], preview_s=scope.preview_s, cpu_budget_s=scope.cpu_budget_s,
                        cpu_estimate_s=scope.cpu_estimate_s)


def analysis_windows(scope: VideoScope, rules: QcRules) -> list[tuple[float, float]]:
    """The windows of a video's picture that separate jobs analyse: none when one pass takes it
    all (short and whole); else the analysed part in windows as a long video's, then the samples."""
    windows = plan_windows(scope.analysed_s, rules)
    if not scope.samples:
        return windows
    return [*(windows or [(0.0, scope.analysed_s)]), *[(float(a), float(b)) for a, b in scope.samples]]


def whole_scope(probe: VideoProbe) -> VideoScope:
    """All of a video: for callers with no budget to apply (a single clip's benchmark)."""
    duration = max(probe.duration_s or 0.0, 0.0)
    return VideoScope(duration_s=duration, analysed_s=duration, preview_s=duration)
