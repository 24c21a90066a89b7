"""One topic, one project: 同一课题不得重复参加案例评选.

A register of (author, normalised title, project) across the activity; a submission whose
author already entered the same or a near-same title in another project gets
TOPIC_IN_MULTIPLE_PROJECTS, naming the other submission.
"""

from __future__ import annotations

import difflib
import unicodedata

from .findings import make_finding
from .models import Finding
from .state import ActivityState, TopicEntry

PROJECT_LABELS = {"case": "国家平台应用案例", "lesson": "“双师课堂”应用模式课例", "team": "国家平台应用优秀团队"}


def normalise_title(title: str) -> str:
    folded = unicodedata.normalize("NFKC", title or "").lower()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LN")


def normalise_name(name: str) -> str:
    return "".join((name or "").split())


def similar(a: str, b: str) -> float:
    if not a or not b:
        return 0.0
    return 1.0 if a == b else difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def check_topics(submission_id: str, project: str, title: str | None, authors: list[str], state: ActivityState,
                 threshold: float, *, shared: dict[str, float] | None = None, min_share: float = 1.0,
                 labels: dict[str, str] | None = None) -> list[Finding]:
    """Compare with the register, then (re)register this submission's entries.

    Two kinds of evidence that an author entered one topic in two projects: a near-same title
    (certain: `fail`), and the same footage (`shared`: other submission -> the share of both
    videos their common stretch covers, from VIDEO_REUSED) over `min_share` of both (strong, but
    a teacher may film one lesson for two purposes: `warn`, for the reviewer to decide). Both
    together are one `fail` naming both."""
    normal = normalise_title(title or "")
    names = sorted({normalise_name(a) for a in authors if normalise_name(a)})
    labels = labels or PROJECT_LABELS
    shared = shared or {}
    findings, named = [], set()
    for author in names:
        for entry in state.topics_of(author):
            if entry.submission_id == submission_id or entry.project == project or (author, entry.submission_id) in named:
                continue
            score = similar(normal, entry.title) if normal else 0.0
            footage = shared.get(entry.submission_id, 0.0)
            by = [*(["title"] if score >= threshold else []), *(["footage"] if footage >= min_share else [])]
            if not by:
                continue
            named.add((author, entry.submission_id))
            what = f"同一课题《{title}》" if "title" in by else "同一视频素材"
            if "footage" in by:
                what += f"（两件作品的视频有{footage * 100:.0f}%以上的画面或声音相同）"
            findings.append(make_finding("TOPIC_IN_MULTIPLE_PROJECTS", None, severity=None if "title" in by else "warn",
                                         author=author, title=title, other_submission=entry.submission_id,
                                         other_project_code=entry.project, other_project=labels.get(entry.project, entry.project),
                                         similarity=round(score, 3), by=by, footage_share=round(footage, 3) if footage else None,
                                         what_text=what))
    state.register_topics(submission_id, [TopicEntry(submission_id, project, author, normal) for author in names] if normal else [])
    return findings
