"""The registration form read into its fields and checked against the event."""

from __future__ import annotations

from pathlib import PurePosixPath

from .. import forms
from .. import rules as rulebook
from ..documents import Content, pdf_form_rows, xlsx_rows
from ..findings import make_finding
from ..models import Author, DocumentReport, Finding, Material
from ..sandbox import ChildFailed, call_bounded
from ..topics import normalise_name, normalise_title, similar
from .context import SubmissionContext


def read_registration_form(ctx: SubmissionContext, material: Material, report: DocumentReport, content: Content) -> list[Finding]:
    """The form's fields: from its table (Word, Excel, a PDF's columns, a scan's OCR rows), checked against the event."""
    suffix = PurePosixPath(material.path).suffix.lower()
    rows: list[list[str]] = list(content.rows)
    try:
        if content.method != "ocr" and suffix in (".docx", ".xlsx"):
            reader = forms.docx_rows if suffix == ".docx" else xlsx_rows
            with ctx.store.local_path(material.key) as path:
                rows += call_bounded(reader, str(path), timeout_s=60)
        elif content.method == "pdf":
            with ctx.store.local_path(material.key) as path:
                rows += pdf_form_rows(str(path))
        rows += forms.text_rows(content.text)
    except (ChildFailed, ValueError) as exc:
        return [make_finding("REGISTRATION_FORM_UNPARSED", material.path, reason=str(exc)[:200])]
    fields = forms.parse_rows(rows)
    report.form_fields = fields.as_dict()
    if not (fields.title or fields.authors):
        reason = "扫描件中未能识别出作品名称和作者栏目" if content.method == "ocr" else "未找到作品名称和作者栏目"
        if material.kind == "image" and not content.text.strip():
            reason = "图片中未能识别出文字"
        return [make_finding("REGISTRATION_FORM_UNPARSED", material.path, reason=reason)]
    findings = []
    event = ctx.event
    if fields.title and event.title and similar(normalise_title(fields.title), normalise_title(event.title)) < ctx.rules.topics.title_similarity:
        findings.append(make_finding("REGISTRATION_FORM_MISMATCH", material.path, field="title", label=forms.FORM_LABELS["title"],
                                     form_value=fields.title, event_value=event.title))
    form_project = forms.project_code(fields.project)
    if form_project and form_project != event.project:
        findings.append(make_finding("REGISTRATION_FORM_MISMATCH", material.path, field="project", label=forms.FORM_LABELS["project"],
                                     form_value=fields.project, event_value=event.project))
    event_names = {normalise_name(a.name) for a in event.authors}
    form_names = {normalise_name(a) for a in fields.authors}
    if event_names and form_names and event_names != form_names:
        findings.append(make_finding("REGISTRATION_FORM_MISMATCH", material.path, field="authors", label=forms.FORM_LABELS["authors"],
                                     form_value="、".join(fields.authors), event_value="、".join(a.name for a in event.authors)))
    if not event.authors and fields.authors:
        # The event names no authors: the author rules apply to the form's.
        form_authors = [Author(name=name, unit=fields.unit) for name in fields.authors]
        findings += rulebook.check_authors(event, ctx.rules, form_authors, source="报名表")
    return findings
