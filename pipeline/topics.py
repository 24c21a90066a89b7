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
                 threshold: float) -> list[Finding]:
    """Compare with the register, then (re)register this submission's entries."""
    normal = normalise_title(title or "")
    names = sorted({normalise_name(a) for a in authors if normalise_name(a)})
    findings = []
    if normal:
        for author in names:
            for entry in state.topics_of(author):
                if entry.submission_id == submission_id or entry.project == project:
                    continue
                score = similar(normal, entry.title)
                if score >= threshold:
                    findings.append(make_finding("TOPIC_IN_MULTIPLE_PROJECTS", None, author=author, title=title,
                                                 other_submission=entry.submission_id, other_project_code=entry.project,
                                                 other_project=PROJECT_LABELS.get(entry.project, entry.project),
                                                 similarity=round(score, 3)))
    state.register_topics(submission_id, [TopicEntry(submission_id, project, author, normal) for author in names] if normal else [])
    return findings
