"""The event's own rules, then the archive unpacked and every member's role told."""

from __future__ import annotations

from pathlib import PurePosixPath

from .. import rules as rulebook
from ..classify import analysis_limited, classify_materials
from ..errors import NotThereYet
from ..models import Finding
from ..storage import ObjectStore
from ..unpack import UnpackResult, unpack_archive
from .context import SubmissionContext


def event_findings(ctx: SubmissionContext) -> list[Finding]:
    """Rules that need only the event: deadline and authors."""
    return rulebook.check_deadline(ctx.event.uploaded_at, ctx.rules) + rulebook.check_authors(ctx.event, ctx.rules)


def unpack_submission(ctx: SubmissionContext, source, size: int, archive_name: str) -> UnpackResult:
    """Unpack and classify; members from an earlier run of this submission are removed first."""
    ctx.store.delete_prefix(ctx.layout.members_prefix())
    ctx.store.delete_prefix(ctx.layout.content_prefix())
    result = unpack_archive(source, size, archive_name, ctx.store, ctx.rules, ctx.layout.member)
    with ctx.timed("classify"):
        result.findings += classify_materials(result.materials, ctx.rules, ctx.project, ctx.applicant_type, title=ctx.event.title,
                                              read=ctx.content.read_for_roles, screen=ctx.content.paper_share)
    if not result.stopped:
        result.findings += rulebook.check_materials(result.materials, ctx.rules, ctx.project, ctx.applicant_type, archive_name)
    result.findings += analysis_limited(result.materials, ctx.rules, archive_name)
    return result


def unpack_object(ctx: SubmissionContext, uploads: ObjectStore, key: str) -> UnpackResult:
    """Unpack the archive object `key` of `uploads`; its size is judged before any byte is read.

    Raises:
        NotThereYet: the archive is not in the uploads bucket (yet): retried.
    """
    archive_name = PurePosixPath(key).name
    stat = uploads.stat(key)
    if stat is None:
        raise NotThereYet(f"archive not found yet: {key}")
    if stat.size > ctx.rules.archive.max_bytes:
        return unpack_submission(ctx, None, stat.size, archive_name)
    with uploads.open(key) as source:
        return unpack_submission(ctx, source, stat.size, archive_name)
