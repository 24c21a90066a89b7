"""Assemble the verdict document and decide its status."""

from __future__ import annotations

from datetime import datetime, timezone

from typing import TYPE_CHECKING

from . import __version__
from .models import DocumentReport, Finding, Material, UploadEvent, Verdict, VideoReport
from .report import write_report

if TYPE_CHECKING:
    from .stages.context import SubmissionContext

_SEVERITY_ORDER = {"fail": 0, "warn": 1, "info": 2}


def decide_status(findings: list[Finding], error: dict | None = None) -> str:
    """fail if any finding fails, else warn if any warns, else pass; error when processing broke."""
    if error:
        return "error"
    severities = {f.severity for f in findings}
    if "fail" in severities:
        return "fail"
    if "warn" in severities:
        return "warn"
    return "pass"


def dedupe_findings(findings: list[Finding]) -> list[Finding]:
    """One finding per (code, path, detail): a stage rerun must never double a finding."""
    seen = set()
    unique = []
    for finding in findings:
        marker = (finding.code, finding.path, repr(sorted(finding.detail.items(), key=lambda kv: kv[0])))
        if marker not in seen:
            seen.add(marker)
            unique.append(finding)
    return sorted(unique, key=lambda f: (_SEVERITY_ORDER.get(f.severity, 3), f.code, f.path or ""))


def build_verdict(event: UploadEvent, *, rules_version: str, findings: list[Finding], materials: list[Material],
                  videos: list[VideoReport], documents: list[DocumentReport], timings: dict[str, float],
                  error: dict | None = None, run_id: str | None = None, created_at: datetime | None = None) -> Verdict:
    findings = dedupe_findings(findings)
    return Verdict(
        submission_id=event.submission_id,
        project=event.project,
        status=decide_status(findings, error),
        findings=findings,
        materials=materials,
        videos=videos,
        documents=documents,
        timings={k: round(v, 3) for k, v in timings.items()},
        pipeline_version=__version__,
        rules_version=rules_version,
        created_at=created_at or datetime.now(timezone.utc),
        event=event.model_dump(mode="json", exclude={"callback_url"}),
        error=error,
        run_id=run_id,
    )


def write_verdict(ctx: "SubmissionContext", verdict: Verdict) -> dict:
    """The verdict document under the layout's key, then its page; returns the document."""
    document = verdict.model_dump(mode="json")
    ctx.store.put_json(ctx.layout.verdict(), document)
    write_report(ctx, verdict)
    return document
