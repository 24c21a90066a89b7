"""Tell each member's role (报名表, 案例介绍, 应用视频 ...) from its name, folders and kind."""

from __future__ import annotations

from pathlib import PurePosixPath

from config.rules import RoleRule, Rules

from .documents import wants_text
from .findings import make_finding
from .models import Finding, Material


def _ordered_roles(rules: Rules, project: str, applicant_type: str) -> list[RoleRule]:
    """The project's own roles first, so that 视频 in a lesson zip means its recording."""
    own = set(rules.required_roles(project, applicant_type)) | {"related"}
    return [r for r in rules.roles if r.role in own] + [r for r in rules.roles if r.role not in own]


def role_from_name(path: str, kind: str, roles: list[RoleRule]) -> str | None:
    """The role whose keyword is longest in the file name (else the nearest folder).

    Longest wins so that 宣传报道 is a publicity report, not a 报道 (news report); among
    equally long keywords the earlier role (the project's own first) wins.
    """
    pure = PurePosixPath(path)
    for text in (pure.stem, *reversed(pure.parent.parts)):
        folded = text.casefold()
        best: tuple[int, int] | None = None
        for order, rule in enumerate(roles):
            if kind not in rule.kinds:
                continue
            length = max((len(k) for k in rule.keywords if k.casefold() in folded), default=0)
            if length and (best is None or length > best[0]):
                best = (length, order)
        if best is not None:
            return roles[best[1]].role
    return None


def classify_materials(materials: list[Material], rules: Rules, project: str, applicant_type: str) -> list[Finding]:
    """Set `role` on each material in place.

    Returns:
        MATERIAL_UNRECOGNIZED findings for members whose role could not be told; those
        members are kept as `related` (相关素材).
    """
    roles = _ordered_roles(rules, project, applicant_type)
    unnamed: list[Material] = []
    for material in materials:
        material.role = role_from_name(material.path, material.kind, roles)
        if material.role is None:
            unnamed.append(material)
    taken = {m.role for m in materials if m.role}
    fallbacks = rules.fallback_roles.get(project, {})
    for kind, role in fallbacks.items():
        if role in taken:
            continue
        pool = [m for m in unnamed if m.kind == kind]
        if pool:
            chosen = max(pool, key=lambda m: m.size)
            chosen.role = role
            unnamed.remove(chosen)
            taken.add(role)
    findings = []
    for material in unnamed:
        material.role = "related"
        if material.kind not in ("subtitle",):
            findings.append(make_finding("MATERIAL_UNRECOGNIZED", material.path, kind=material.kind))
    return findings


def missing_roles(materials: list[Material], rules: Rules, project: str, applicant_type: str) -> list[str]:
    present = {m.role for m in materials}
    return [role for role in rules.required_roles(project, applicant_type) if role not in present]


def looks_like_form(text: str, minimum_labels: int = 3) -> bool:
    """Text laid out like the registration form: several of its labels, title and authors among them."""
    from .forms import field_of

    found = set()
    for line in text.splitlines()[:400]:
        for cell in line.replace("：", ":").replace("\t", ":").split(":"):
            name = field_of(cell)
            if name:
                found.add(name)
    return {"title", "authors"} <= found and len(found) >= minimum_labels


def reconcile_roles(materials: list[Material], documents: list, findings: list[Finding]) -> list[Finding]:
    """Apply roles the document stage told from content (a form with an unhelpful name).

    Only fills a role no member was named for; the member's MATERIAL_UNRECOGNIZED and the
    role's MATERIAL_MISSING findings go. Returns the findings to keep."""
    by_path = {m.path: m for m in materials}
    present = {m.role for m in materials}
    for report in documents:
        material = by_path.get(report.path)
        if material is None or report.role == material.role:
            continue
        if report.role in present:
            report.role = material.role      # a member was named for it: keep the name's verdict
            continue
        material.role = report.role
        present.add(report.role)
        findings = [f for f in findings if not (f.code == "MATERIAL_UNRECOGNIZED" and f.path == material.path)
                    and not (f.code == "MATERIAL_MISSING" and f.detail.get("role") == report.role)]
    return findings


def analysed_members(materials: list[Material], rules: Rules) -> tuple[list[int], list[int]]:
    """Indexes of the videos and documents to analyse, within the rules file's bounds.

    Members with a role of the project first, then the largest, so a pathological archive
    cannot starve the required materials; deterministic, so both modes and every rerun agree."""
    def pick(indexes: list[int], limit: int) -> list[int]:
        ranked = sorted(indexes, key=lambda i: (materials[i].role in (None, "related"), -materials[i].size, i))
        return sorted(ranked[:limit])

    videos = [i for i, m in enumerate(materials) if m.kind == "video"]
    documents = [i for i, m in enumerate(materials) if wants_text(m)]
    return pick(videos, rules.archive.max_videos_analysed), pick(documents, rules.archive.max_documents_analysed)


def analysis_limited(materials: list[Material], rules: Rules, archive_name: str) -> list[Finding]:
    """ANALYSIS_LIMITED (info) when the bounds left members unanalysed."""
    videos, documents = analysed_members(materials, rules)
    total_videos = sum(m.kind == "video" for m in materials)
    total_documents = sum(bool(wants_text(m)) for m in materials)
    if len(videos) == total_videos and len(documents) == total_documents:
        return []
    return [make_finding("ANALYSIS_LIMITED", None, file_text=archive_name, videos=total_videos, documents=total_documents,
                         videos_analysed=len(videos), documents_analysed=len(documents))]
