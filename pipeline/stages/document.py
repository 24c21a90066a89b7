"""A document's text; the case introduction's duplication and the topic register across the activity."""

from __future__ import annotations

import time

from ..documents import analyse_document
from ..duplication import duplication_rate
from ..findings import make_finding
from ..models import DocumentReport, Finding, Material, VideoReport
from ..topics import check_topics, normalise_name
from .context import SubmissionContext
from .form import read_registration_form


def analyse_text(ctx: SubmissionContext, material: Material) -> tuple[DocumentReport, list[Finding]]:
    """Extract a document's text; a case introduction is also measured for duplication and
    a registration form is read into its fields and checked against the event."""
    wanted = material.role in ctx.rules.required_roles(ctx.project, ctx.applicant_type)
    report, findings, content = analyse_document(ctx.content, material, ocr=wanted)
    text = content.text
    if report.role == "registration_form":
        if content.error:       # found, but nothing of it can be read: its fields are unread too
            findings.append(make_finding("REGISTRATION_FORM_UNPARSED", material.path, reason=f"文件无法读取：{content.error}"))
        else:
            findings += read_registration_form(ctx, material, report, content)
    rules = ctx.rules.duplication
    if ctx.activity is not None and material.role in rules.roles and text.strip():
        result = duplication_rate(text, ctx.event.submission_id, ctx.activity, rules.settings(), rules.base(), now=time.time())
        report.duplication_rate = result.rate
        report.duplication = {"rate": result.rate, "largest_source_rate": result.largest_source_rate,
                              "template_share": result.template_share, "own_chars": result.own_chars,
                              "copied_chars": result.copied_chars, "total_chars": result.total_chars}
        report.best_matches = [{"submission_id": m.submission_id, "rate": m.rate, "passages": m.passages} for m in result.matches]
        if result.rate >= rules.threshold:
            findings.append(make_finding("DUPLICATION_HIGH", material.path, rate=result.rate, rate_pct=result.rate * 100,
                                         limit_pct=rules.threshold * 100, largest_source_rate=result.largest_source_rate,
                                         template_share=result.template_share, sources=[m.submission_id for m in result.matches]))
    return report, findings


def topic_findings(ctx: SubmissionContext, videos: list[VideoReport] = ()) -> list[Finding]:
    """同一课题不得重复参加: compare with the activity's register (titles, and the footage this
    submission's videos share with others: VIDEO_REUSED's matches), then register this run.
    A match whose other submission is one of this author's is marked so in the verdict."""
    if ctx.activity is None:
        return []
    rules = ctx.rules
    authors = [normalise_name(a.name) for a in ctx.event.authors]
    mine = {entry.submission_id: entry.project for author in authors if author for entry in ctx.activity.topics_of(author)}
    shared: dict[str, float] = {}
    for video in videos:
        for match in (video.reuse.matches if video.reuse else []):
            if match.submission_id in mine:
                match.same_author = True
                match.other_project = mine[match.submission_id]
                share = min(match.query_share, match.source_share)
                shared[match.submission_id] = max(shared.get(match.submission_id, 0.0), share)
    return check_topics(ctx.event.submission_id, ctx.project, ctx.event.title, [a.name for a in ctx.event.authors],
                        ctx.activity, rules.topics.title_similarity, shared=shared, min_share=rules.reuse.topic_min_share,
                        labels=rules.project_labels)
