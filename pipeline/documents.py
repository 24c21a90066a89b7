"""Text out of the documents teachers send (.docx, .pptx, .xlsx, .pdf, .txt and the legacy formats), bounded."""

from __future__ import annotations

import tempfile
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

from .ruleset import DocumentBounds, OcrRules

from . import ocr as ocr_module
from . import office
from .findings import make_finding
from .forms import text_rows, unique_cell_texts
from .layout import Layout
from .models import DocumentReport, Finding, Material
from .sandbox import ChildFailed, call_bounded
from .storage import ObjectStore

MAX_DOCUMENT_BYTES = 200 * 1024 * 1024
MAX_OOXML_PART_BYTES = 64 * 1024 * 1024
TEXT_ROLES_KINDS = ("document", "presentation", "spreadsheet")


# The rules file's `cost.documents` bounds, for callers without rules (benchmarks, legacy tests).
DEFAULT_BOUNDS = DocumentBounds(max_pages=300, max_chars=300_000, max_paragraphs=20_000, max_slides=500, max_rows=20_000, cpu_s=60)


@dataclass
class ExtractedText:
    text: str
    method: str
    limited: str | None = None          # the bound that cut it short ("pages 300/20000"), when one did


Read = tuple[str, str | None]           # an extractor's text, and the bound it hit


def _cut(items: list, bound: int, name: str) -> tuple[list, str | None]:
    return (items, None) if len(items) <= bound else (items[:bound], f"{name} {bound}/{len(items)}")


def _check_ooxml(path: str, streamed: tuple[str, ...] = ()) -> None:
    """Refuse an OOXML package whose parts would inflate past the cap (a zip bomb in a .docx);
    parts read as a stream (a spreadsheet's sheets, read row by row up to the bound) may be larger."""
    with zipfile.ZipFile(path) as package:
        for info in package.infolist():
            if info.file_size > MAX_OOXML_PART_BYTES and not info.filename.startswith(streamed):
                raise ValueError(f"part {info.filename} inflates to {info.file_size} bytes")


_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"


def _docx_text(path: str, bounds: DocumentBounds = DEFAULT_BOUNDS) -> Read:
    import docx

    _check_ooxml(path)
    document = docx.Document(path)
    paragraphs, limited = _cut(document.paragraphs, bounds.max_paragraphs, "paragraphs")
    parts = [p.text for p in paragraphs]
    rows = 0
    for table in document.tables:
        for row in table.rows:
            rows += 1
            if len(parts) >= bounds.max_paragraphs:
                limited = limited or f"paragraphs {bounds.max_paragraphs}"
                break
            parts.extend(unique_cell_texts(row))
    body = document.element.body
    for node in body.iter(f"{{{_W}}}txbxContent"):
        # Word writes each text box twice: DrawingML in mc:Choice, VML in mc:Fallback for old readers
        if next(node.iterancestors(f"{{{_MC}}}Fallback"), None) is not None:
            continue
        if len(parts) >= bounds.max_paragraphs:
            limited = limited or f"paragraphs {bounds.max_paragraphs}"
            break
        parts.append("".join(t.text or "" for t in node.iter(f"{{{_W}}}t")))
    return "\n".join(p for p in parts if p), limited


def _pptx_text(path: str, bounds: DocumentBounds = DEFAULT_BOUNDS) -> Read:
    from pptx import Presentation

    _check_ooxml(path)
    parts = []
    slides, limited = _cut(list(Presentation(path).slides), bounds.max_slides, "slides")
    for slide in slides:
        for shape in slide.shapes:
            if shape.has_text_frame:
                parts.append(shape.text_frame.text)
            if getattr(shape, "has_table", False) and shape.has_table:
                parts.extend(cell.text for row in shape.table.rows for cell in row.cells)
    return "\n".join(p for p in parts if p), limited


def xlsx_rows(path: str, max_rows: int = 2000) -> list[list[str]]:
    """Cell texts row by row (read-only mode streams the sheet; merged cells hold one value)."""
    from openpyxl import load_workbook

    _check_ooxml(path, streamed=("xl/worksheets/",))
    rows: list[list[str]] = []
    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        for sheet in workbook.worksheets[:10]:
            for row in sheet.iter_rows(values_only=True):
                cells = ["" if v is None else str(v).strip() for v in row[:50]]
                if any(cells):
                    rows.append(cells)
                if len(rows) >= max_rows:
                    return rows
    finally:
        workbook.close()
    return rows


def _xlsx_text(path: str, bounds: DocumentBounds = DEFAULT_BOUNDS) -> Read:
    rows = xlsx_rows(path, bounds.max_rows + 1)           # streamed: the rows past the bound are never read
    limited = f"rows {bounds.max_rows}" if len(rows) > bounds.max_rows else None
    return "\n".join("\t".join(row) for row in rows[:bounds.max_rows]), limited


def _pdf_text(path: str, bounds: DocumentBounds = DEFAULT_BOUNDS) -> Read:
    from pypdf import PdfReader

    reader = PdfReader(path)
    count = len(reader.pages)
    limited = f"pages {bounds.max_pages}/{count}" if count > bounds.max_pages else None
    parts, size = [], 0
    for number in range(min(count, bounds.max_pages)):
        parts.append(reader.pages[number].extract_text() or "")
        size += len(parts[-1])
        if size > bounds.max_chars:
            return "\n".join(parts), f"chars {bounds.max_chars}"
    return "\n".join(parts), limited


def _plain_text(path: str, bounds: DocumentBounds = DEFAULT_BOUNDS) -> Read:
    text = _decoded(path, bounds.max_chars)
    return text, f"chars {bounds.max_chars}" if len(text) > bounds.max_chars else None


def _decoded(path: str, max_chars: int) -> str:
    with open(path, "rb") as handle:
        raw = handle.read(max_chars * 4 + 4)
    for encoding in ("utf-8-sig", "utf-16", "gb18030"):
        try:
            if encoding == "utf-16" and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
                continue
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", errors="replace")


def _readable_text(path: str, bounds: DocumentBounds = DEFAULT_BOUNDS) -> Read:
    """Plain text saved under a document's name (WPS does this); binary junk is refused."""
    text, limited = _plain_text(path, bounds)
    sample = text[:20000]
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in sample)
    if not sample or "\ufffd" in sample or printable < 0.95 * len(sample):
        raise ValueError("文件内容不是可识别的文档格式")
    return text, limited


EXTRACTORS = {".docx": _docx_text, ".pptx": _pptx_text, ".xlsx": _xlsx_text, ".pdf": _pdf_text, ".txt": _plain_text,
              ".md": _plain_text, ".csv": _plain_text}
# Legacy and WPS formats, and the OOXML format each is read as.
LEGACY = {".doc": ".docx", ".wps": ".docx", ".rtf": ".docx", ".ppt": ".pptx", ".pps": ".pptx", ".dps": ".pptx",
          ".xls": ".xlsx", ".et": ".xlsx", ".odt": ".docx", ".odp": ".pptx", ".ods": ".xlsx", ".ppsx": ".pptx"}
LEGACY_OF = {".docx": ".doc", ".pptx": ".ppt", ".xlsx": ".xls"}


def _bounded(extractor, path: str, bounds: DocumentBounds) -> Read:
    try:
        return call_bounded(extractor, path, bounds, timeout_s=bounds.cpu_s)
    except ChildFailed as exc:
        raise ValueError(f"文件损坏或格式不符：{exc}") from exc


def _legacy_text(path: str, suffix: str, family: str | None, bounds: DocumentBounds) -> ExtractedText:
    """A legacy file: antiword or our PPT walk for OLE files, LibreOffice for the rest and for what they refuse."""
    target = LEGACY[suffix]
    reason = None
    if family is None and target == ".docx":
        text, limited = _bounded(_readable_text, path, bounds)
        return ExtractedText(text=text, method="txt", limited=limited)
    if family == "ole" and target in (".docx", ".pptx"):
        try:
            if target == ".docx":
                text, method = office.antiword_text(path), "antiword"
            else:
                text, method = call_bounded(office.ppt_text, path, timeout_s=bounds.cpu_s), "ppt-records"
            if text.strip():
                return ExtractedText(text=text, method=method)
        except ChildFailed as exc:
            reason = f"文件损坏或格式不符：{exc}"
        except ValueError as exc:
            reason = str(exc)
    with tempfile.TemporaryDirectory(prefix="smartedu-office-") as workdir:
        try:
            converted = office.convert_with_libreoffice(path, family, target.lstrip("."), workdir)
        except ValueError as exc:
            raise ValueError(reason or str(exc)) from exc
        text, limited = _bounded(EXTRACTORS[target], str(converted), bounds)
        return ExtractedText(text=text, method=f"libreoffice{target}", limited=limited)


def extract_text(path: str, suffix: str, *, bounds: DocumentBounds = DEFAULT_BOUNDS) -> ExtractedText:
    """The bytes, not the name, pick the reader (a .doc that is a .docx, a .docx that is a .doc);
    what is read stops at the bounds (pages, paragraphs, slides, rows, characters, CPU), and
    `limited` says which one cut it short.

    Raises:
        ValueError: with a Chinese reason when the text cannot be read.
    """
    if suffix not in EXTRACTORS and suffix not in LEGACY:
        raise ValueError(f"暂不支持读取{suffix or '无扩展名'}文件")
    family = office.sniff_office(path) if suffix not in (".txt", ".md", ".csv") else None
    if family == "pdf":
        suffix = ".pdf"
    elif family == "ole" and suffix in LEGACY_OF:
        suffix = LEGACY_OF[suffix]                     # an old file renamed to the new extension
    elif family == "ooxml" and suffix in LEGACY:
        suffix = LEGACY[suffix]                        # WPS and others save OOXML under old names
    if suffix in LEGACY:
        extracted = _legacy_text(path, suffix, family, bounds)
    else:
        text, limited = _bounded(EXTRACTORS[suffix], path, bounds)
        extracted = ExtractedText(text=text, method=suffix.lstrip("."), limited=limited)
    if len(extracted.text) > bounds.max_chars:
        extracted.text = extracted.text[:bounds.max_chars]
        extracted.limited = extracted.limited or f"chars {bounds.max_chars}"
    return extracted


@dataclass
class Content:
    """What a member says: its text (extracted, or read by OCR), and for OCR'd pages the table rows."""

    text: str = ""
    method: str | None = None
    error: str | None = None
    rows: list[list[str]] = field(default_factory=list)
    ocr_pages: int = 0
    ocr_tried: bool = False
    limited: str | None = None          # the bound that cut the text short, when one did


def _pdf_layout_text(path: str) -> str:
    """A PDF's text with its columns kept apart by runs of spaces (a form exported from Word)."""
    from pypdf import PdfReader

    return "\n".join((page.extract_text(extraction_mode="layout") or "") for page in PdfReader(path).pages[:5])


def pdf_form_rows(path: str, timeout_s: float = 60) -> list[list[str]]:
    try:
        return text_rows(call_bounded(_pdf_layout_text, path, timeout_s=timeout_s))
    except ChildFailed as exc:
        raise ValueError(f"文件损坏或格式不符：{exc}") from exc


class ContentReader:
    """Reads members' content once per submission: role evidence and the document stage share it.

    Results are kept in the store under the layout's content key (by the member's sha256), so
    the document stage in another process finds what the classifier read; OCR is done only
    when asked for and remembered, so a page is never read twice."""

    def __init__(self, store: ObjectStore, layout: Layout, ocr: OcrRules, bounds: DocumentBounds = DEFAULT_BOUNDS):
        self.store, self.layout, self.ocr, self.bounds = store, layout, ocr, bounds

    def cached(self, material: Material) -> Content | None:
        data = self.store.get_json(self.layout.content(material.sha256))
        return Content(**data) if data else None

    def read(self, material: Material, *, ocr: bool = False) -> Content:
        """The member's content; with `ocr`, a picture or an image-only PDF is read by OCR too."""
        content = self.cached(material)
        if content is None or (ocr and not content.ocr_tried and _wants_ocr(material, content)):
            content = self._read(material, ocr=ocr, previous=content)
            self.store.put_json(self.layout.content(material.sha256), asdict(content))
        return content

    def read_for_roles(self, material: Material, ocr: bool) -> Content:
        return self.read(material, ocr=ocr)

    def paper_share(self, material: Material) -> float:
        with self.store.local_path(material.key) as path:
            return ocr_module.paper_share(str(path), self.ocr.max_pixels)

    def _read(self, material: Material, *, ocr: bool, previous: Content | None) -> Content:
        content = previous or Content()
        suffix = PurePosixPath(material.path).suffix.lower()
        if previous is None and material.kind in TEXT_ROLES_KINDS:
            if material.size > MAX_DOCUMENT_BYTES:
                return Content(error=f"文件过大（{material.size // 1048576}MB）")
            try:
                with self.store.local_path(material.key) as path:
                    extracted = extract_text(str(path), suffix, bounds=self.bounds)
                content = Content(text=extracted.text, method=extracted.method, limited=extracted.limited)
            except ValueError as exc:
                return Content(error=str(exc))
        if ocr and _wants_ocr(material, content):
            content = self._ocr(material, content)
        return content

    def _ocr(self, material: Material, content: Content) -> Content:
        rules = self.ocr
        content.ocr_tried = True
        if material.size > MAX_DOCUMENT_BYTES:
            return content
        pages: list[ocr_module.OcrPage] = []
        with self.store.local_path(material.key) as path:
            if material.kind == "image":
                pages.append(ocr_module.read_page(str(path), max_side=rules.max_side, max_pixels=rules.max_pixels,
                                                  min_score=rules.min_score))
            else:
                try:
                    pictures = call_bounded(ocr_module.pdf_page_images, str(path), rules.max_pages, timeout_s=60)
                except ChildFailed:
                    pictures = []
                with tempfile.TemporaryDirectory(prefix="smartedu-ocr-") as work:
                    for number, picture in enumerate(pictures[:rules.max_pages]):
                        page_path = Path(work, f"page{number}")
                        page_path.write_bytes(picture)
                        pages.append(ocr_module.read_page(str(page_path), max_side=rules.max_side,
                                                          max_pixels=rules.max_pixels, min_score=rules.min_score))
        rows = [row for page in pages for row in page.rows()]
        if rows:
            content.rows = rows
            content.text = "\n".join("\t".join(row) for row in rows)
            content.method = "ocr"
            content.error = None
        content.ocr_pages = len(pages)
        return content


def _wants_ocr(material: Material, content: Content) -> bool:
    """A picture, or a PDF with no text layer."""
    if material.kind == "image":
        return True
    is_pdf = PurePosixPath(material.path).suffix.lower() == ".pdf" or content.method == "pdf"
    return is_pdf and content.error is None and not "".join(content.text.split())


_UNITS = {"pages": "页", "paragraphs": "段", "slides": "张幻灯片", "rows": "行", "chars": "字"}


def limited_document(path: str, limited: str) -> Finding:
    """ANALYSIS_LIMITED for a document read in part: the bound it hit ("pages 300/20000") in words."""
    name, _, counts = limited.partition(" ")
    read, _, total = counts.partition("/")
    unit = _UNITS.get(name, name)
    words = f"共{total}{unit}，只读取了前{read}{unit}" if total else f"只读取了前{read}{unit}"
    return make_finding("ANALYSIS_LIMITED", path, scope_text="文档", limited_text=f"篇幅超过检查上限（{words}），重复率等按已读取部分计算",
                        bound=name, read=int(read) if read.isdigit() else read, total=int(total) if total.isdigit() else None)


def analyse_document(reader: ContentReader, material: Material, *, ocr: bool = False) -> tuple[DocumentReport, list[Finding], Content]:
    """A member's text for the document stage; a failure is a DOCUMENT_UNREADABLE finding, never an exception.

    Returns:
        The report, its findings and the content (for forms and duplication).
    """
    report = DocumentReport(path=material.path, role=material.role, sha256=material.sha256)
    content = reader.read(material, ocr=ocr)
    if content.error:
        return report, [make_finding("DOCUMENT_UNREADABLE", material.path, reason=content.error)], content
    report.text_length = len("".join(content.text.split()))
    report.extracted_with = content.method
    report.ocr_pages = content.ocr_pages
    findings = []
    if content.limited:
        findings.append(limited_document(material.path, content.limited))
    if report.text_length == 0 and _wants_ocr(material, content) and material.kind != "image":
        reason = "PDF没有文字层，OCR也未能识别文字" if content.ocr_tried else "PDF没有文字层（可能是扫描件）"
        findings.append(make_finding("DOCUMENT_UNREADABLE", material.path, reason=reason))
    return report, findings, content


def wants_text(material: Material) -> bool:
    """A member the document stage reads: documents, decks and sheets, and a registration form handed in as a picture."""
    if material.role == "ignored":
        return False
    return material.kind in TEXT_ROLES_KINDS or (material.kind == "image" and material.role == "registration_form")



