"""The registration form (附件2 报名表) read into its fields, tolerant of how teachers fill it.

Forms come as label/value grids (作品名称 | xxx | 作者 | xxx) or as header-row tables
(姓名 | 单位 | 电话, one author per row); labels vary (`作  者`, `作者：`, `作者姓名`), merged
cells repeat in python-docx's `row.cells` (deduplicated by their underlying element), and
checkboxes are marked `☑小学组` / `■案例`. Values are cleaned, authors split on 、,，; and spaces.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

LABELS = {
    "title": ["作品名称", "案例名称", "课例名称", "作品题目", "成果名称", "团队名称", "题目", "名称"],
    "project": ["项目类别", "参评项目", "申报项目", "项目名称", "项目"],
    "applicant_type": ["申报类型", "申报类别", "参评类别", "类别"],
    "authors": ["作者姓名", "作者", "团队成员", "成员姓名", "成员", "主持人", "负责人", "姓名"],
    "unit": ["工作单位", "所在单位", "单位名称", "单位", "学校"],
    "district": ["所属区县", "所在区县", "县市区", "区县", "所属区域"],
    "phone": ["联系电话", "联系方式", "手机号码", "手机", "电话"],
}
# The form's fields as the form itself names them (findings and the page use these).
FORM_LABELS = {"title": "作品名称", "project": "项目类别", "applicant_type": "申报类别", "authors": "作者",
               "unit": "单位", "district": "所属区县", "phone": "联系方式"}
CHECKED = "☑✓✔■√"
PROJECT_WORDS = {"case": ["应用案例", "案例"], "lesson": ["双师课堂", "课例"], "team": ["优秀团队", "团队"]}
_SPLIT = re.compile(r"[、,，;；/\s]+")
MAX_CELLS = 2000


@dataclass
class FormFields:
    title: str | None = None
    project: str | None = None
    applicant_type: str | None = None
    authors: list[str] = field(default_factory=list)
    unit: str | None = None
    district: str | None = None
    phone: str | None = None

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v not in (None, [], "")}


def normalise_label(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in folded if not ch.isspace() and ch not in ":：*（）()")


def field_of(label: str) -> str | None:
    """The field a cell's text labels, or None; the longest label wins (作者姓名 over 姓名)."""
    text = normalise_label(label)
    if not text or len(text) > 10:
        return None
    best = None
    for name, variants in LABELS.items():
        for variant in variants:
            if text == variant or (text.startswith(variant) and len(text) <= len(variant) + 2):
                if best is None or len(variant) > best[1]:
                    best = (name, len(variant))
    return best[0] if best else None


def checked_choice(value: str) -> str:
    """From '☑小学组 □初中组' keep what is ticked; plain text stays as it is."""
    if not any(mark in value for mark in CHECKED):
        return value
    picked = re.findall(f"[{CHECKED}]\\s*([^□☐{CHECKED}\\s]+)", value)
    return " ".join(picked) or value


def project_code(value: str | None) -> str | None:
    if not value:
        return None
    chosen = checked_choice(value)
    for code, words in PROJECT_WORDS.items():
        if any(word in chosen for word in words):
            return code
    return None


def _assign(fields: FormFields, name: str, value: str) -> None:
    value = checked_choice(value.strip())
    if not value:
        return
    if name == "authors":
        fields.authors += [part for part in _SPLIT.split(value) if part and len(part) <= 8]
    elif getattr(fields, name) in (None, ""):
        setattr(fields, name, value)


def parse_rows(rows: list[list[str]]) -> FormFields:
    """Fields from a table given as rows of cell texts (merged cells already deduplicated)."""
    fields = FormFields()
    header: dict[int, str] | None = None
    for row in rows[:MAX_CELLS]:
        labelled = {i: field_of(text) for i, text in enumerate(row)}
        labels = {i: name for i, name in labelled.items() if name}
        if len(labels) >= 2 and all(labels.get(i) for i in range(len(row)) if row[i].strip()):
            header = labels          # a header row: the values follow in the rows below
            continue
        if header is not None and not labels:
            for i, name in header.items():
                if i < len(row):
                    _assign(fields, name, row[i])
            continue
        header = None
        for i, name in labels.items():       # label/value grid: the value is the next cell
            if i + 1 < len(row) and not field_of(row[i + 1]):
                _assign(fields, name, row[i + 1])
    fields.authors = list(dict.fromkeys(fields.authors))
    return fields


def docx_rows(path: str) -> list[list[str]]:
    import docx

    rows = []
    for table in docx.Document(path).tables:
        for row in table.rows:
            rows.append(unique_cell_texts(row))
            if len(rows) > MAX_CELLS:
                return rows
    return rows


def unique_cell_texts(row) -> list[str]:
    """A table row's cell texts, each merged cell once (python-docx repeats it per grid column).

    Identity of the underlying <w:tc> element tells repeats apart; the elements are kept
    referenced while comparing, since lxml may reuse a collected proxy's id()."""
    elements: list = []
    texts = []
    for cell in row.cells:
        if any(cell._tc is seen for seen in elements):
            continue
        elements.append(cell._tc)
        texts.append(cell.text.strip())
    return texts


def text_rows(text: str) -> list[list[str]]:
    """Lines like '作品名称：xxx  作者：xxx' (a PDF's text) or tab-separated cells (antiword's tables) as rows."""
    rows = []
    for line in text.splitlines()[:MAX_CELLS]:
        parts = [p for p in re.split(r"[:：]\s*|\s{2,}|\t", line.strip()) if p]
        if parts:
            rows.append(parts)
    return rows
