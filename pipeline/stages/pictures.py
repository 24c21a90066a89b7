"""Photos reused from another submission: the archive's pictures and those inside its documents
(PICTURE_REUSED, info), bounded per archive as OCR is."""

from __future__ import annotations

import time
from pathlib import PurePosixPath

import structlog

from .. import reuse
from ..documents import MAX_DOCUMENT_BYTES
from ..findings import make_finding
from ..models import Finding, Material
from ..sandbox import ChildFailed, call_bounded
from .context import SubmissionContext

log = structlog.get_logger("pipeline")

NOT_EVIDENCE = ("registration_form",)        # a scanned form on the notice's template is everyone's page


def picture_members(materials: list[Material]) -> list[int]:
    """The members whose pictures are fingerprinted: photos first, then documents that hold pictures."""
    def suffix(material: Material) -> str:
        return PurePosixPath(material.path).suffix.lower()

    ordered = [i for i, m in enumerate(materials) if suffix(m) in reuse.PICTURE_SUFFIXES] + \
              [i for i, m in enumerate(materials) if suffix(m) in reuse.HOLDING_SUFFIXES]
    return [i for i in ordered if materials[i].role not in NOT_EVIDENCE and materials[i].size <= MAX_DOCUMENT_BYTES
            and materials[i].key]


def reused_pictures(ctx: SubmissionContext, materials: list[Material]) -> list[Finding]:
    """PICTURE_REUSED per member whose pictures an earlier submission holds (the first-seen source
    named), then this archive's pictures indexed; at most `pictures_per_archive` pictures read."""
    if ctx.activity is None:
        return []
    rules = ctx.rules.reuse
    left, findings = rules.pictures_per_archive, []
    with ctx.timed("pictures"):
        for index in picture_members(materials):
            if left <= 0:
                break
            material = materials[index]
            try:
                with ctx.store.local_path(material.key) as path:
                    pictures = call_bounded(reuse.picture_hashes, str(path), PurePosixPath(material.path).suffix.lower(), left,
                                            rules.picture_min_side, ctx.rules.ocr.max_pixels, timeout_s=rules.picture_timeout_s)
            except ChildFailed as exc:        # evidence only: a member whose pictures cannot be read is left out
                log.warning("pictures_unread", path=material.path, reason=str(exc)[:200])
                continue
            left -= len(pictures)
            findings += _matched(ctx, material, pictures)
    return findings


def _matched(ctx: SubmissionContext, material: Material, pictures: list[reuse.HashedPicture]) -> list[Finding]:
    rules, sid = ctx.rules.reuse, ctx.event.submission_id
    matches = []
    for picture in pictures:
        if picture.quality < rules.min_quality:
            continue
        key = f"{sid}/p{picture.sha}"
        earlier = ctx.activity.media_prints({key}).get(key)
        first_seen = earlier.first_seen if earlier else time.time()
        sources, _common = reuse.find_picture(picture.digest, sid, first_seen, ctx.activity, rules)
        if sources:
            matches.append((picture, sources[0]))
        cluster = ctx.activity.media_clusters({sources[0].media_key}).get(sources[0].media_key) if sources else None
        ctx.activity.register_media(key, sid, material.path + (f"#{picture.where}" if picture.where else ""),
                                    set(reuse.picture_keys(picture.digest)), {"picture": picture.digest.hex(), "quality": picture.quality},
                                    first_seen, rules.max_holders, cluster=cluster or key)
    if not matches:
        return []
    picture, source = matches[0]
    inside = f"中的图片（{picture.where}）" if picture.where else ""
    return [make_finding("PICTURE_REUSED", material.path, other_submission=source.submission_id, other_path=source.path,
                         pictures=len(matches), where=picture.where or None,
                         distance=reuse.hamming(picture.digest, bytes.fromhex(source.print["picture"])),
                         others=sorted({s.submission_id for _, s in matches[1:]} - {source.submission_id})[:10],
                         inside_text=inside, count_text=f"等{len(matches)}张图片" if len(matches) > 1 else "")]
