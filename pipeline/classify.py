"""Tell each member's role (报名表, 案例介绍, 应用视频 ...) from evidence, for all members at once.

Teachers name files `附件3.docx`, `1.docx`, `《课题》.docx`, `宣传片.mp4` or scan their signed
form. So a role comes from the strongest evidence a member offers (its name, the notice's
attachment number, its title lines and section headings, OCR of a scanned page, its folder,
the submission's title), and then the required roles still open are filled by the best
remaining candidate of a fitting kind, with an info finding saying so. A required role is
missing only when no member can plausibly fill it: a false fail costs a teacher a day.
Every table used here lives in the rules file.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache
from pathlib import PurePosixPath

from .ruleset import ClassifyRules, RoleRule, Rules

from .documents import Content, wants_text
from .findings import make_finding
from .forms import field_of
from .models import Finding, Material

# Strength of each kind of evidence: a name or the notice's number beats what the text says,
# which beats the folder, which beats a title that merely matches.
NAME, ATTACHMENT, HEADING, OCR, MARKERS, FOLDER, TITLE = 6, 6, 5, 5, 4, 3, 1
WEAK_SOURCES = ("title", "only_candidate", "best_candidate")
_ATTACHMENT = re.compile(r"附\s*件\s*[-_－—:：]?\s*([0-9０-９]{1,2}|[一二三四五六七八九十])")
_CHINESE_DIGITS = "一二三四五六七八九十"
_TITLE_NOISE = re.compile(r"[\s《》〈〉“”\"'‘’「」『』()（）\[\]【】<>:：,，.。、;；!！?？·—\-_]+")

ReadContent = Callable[[Material, bool], Content]       # (member, with OCR) -> its content
ScreenPaper = Callable[[Material], float]               # member -> share of its picture that looks like paper


@dataclass(frozen=True)
class Evidence:
    role: str
    source: str
    strength: int
    text: str
    weight: int = 0          # ties within a strength: the longer keyword


@dataclass
class _Member:
    material: Material
    evidence: list[Evidence]
    content: Content | None = None
    locked: bool = False     # a second copy of a single role: never moved to fill another role

    def best(self, roles: set[str] | None = None) -> Evidence | None:
        pool = [e for e in self.evidence if roles is None or e.role in roles]
        return max(pool, key=lambda e: (e.strength, e.weight), default=None)

    @property
    def text_length(self) -> int:
        return len("".join(self.content.text.split())) if self.content else 0


def normalise_title(text: str) -> str:
    return _TITLE_NOISE.sub("", unicodedata.normalize("NFKC", text)).casefold()


def title_matches(text: str, title: str | None, similarity: float) -> bool:
    """The submission's title is the text, or stands whole in it (张三《课题》, 课题-教学设计)."""
    if not title:
        return False
    wanted, found = normalise_title(title), normalise_title(text)
    if len(wanted) < 4 or not found:
        return False
    return wanted in found or SequenceMatcher(None, wanted, found).ratio() >= similarity


def project_roles(rules: Rules, project: str, applicant_type: str) -> list[str]:
    return [*rules.required_roles(project, applicant_type), "related"]


def _ordered_roles(rules: Rules, project: str, applicant_type: str) -> tuple[list[RoleRule], list[RoleRule]]:
    own = set(project_roles(rules, project, applicant_type))
    return [r for r in rules.roles if r.role in own], [r for r in rules.roles if r.role not in own and r.keywords]


_SQUASH = re.compile(r"[\s_\-.·・]+")


def squash(text: str) -> str:
    """Width, case, spaces and separators folded: 报 名 表, Case_Intro and ＰＰＴ match their keywords."""
    return _SQUASH.sub("", unicodedata.normalize("NFKC", text)).casefold()


def keyword_role(text: str, kind: str, roles: list[RoleRule]) -> tuple[str, str] | None:
    """The role whose keyword is longest in `text` (宣传报道 beats 报道), and the keyword; earlier roles win ties."""
    folded = squash(text)
    best: tuple[int, int, str] | None = None
    for order, rule in enumerate(roles):
        if kind not in rule.kinds:
            continue
        for keyword in rule.keywords:
            if squash(keyword) in folded and (best is None or len(keyword) > best[0]):
                best = (len(keyword), order, keyword)
    return (roles[best[1]].role, best[2]) if best else None


def _name_role(text: str, kind: str, own: list[RoleRule], others: list[RoleRule]) -> tuple[str, str] | None:
    """The project's roles first: 宣传片 in a team zip is its team video, in a school's its publicity."""
    return keyword_role(text, kind, own) or keyword_role(text, kind, others)


# What an app appends to the words it chose: numbers, dates, times, separators, copy marks.
_APP_LEFTOVER = re.compile(r"(?:副本|copy|(?:com|cn)\.[a-z0-9_.]+|[\d\s_\-.,()（）\[\]【】:：+~#@])+")


@dataclass(frozen=True)
class AppName:
    """A name (or its start) that a device or an app gave: 微信图片_20230701101010, IMG_1203, 文档1."""

    app: str          # who gave it (rules file), for role_evidence
    words: str        # what is left of the teacher's own words ("" when nothing)


@lru_cache(maxsize=256)
def _pattern(expression: str) -> re.Pattern:
    return re.compile(expression)


def _folded(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().strip()


def app_name(stem: str, rules: ClassifyRules) -> AppName | None:
    """The app or device that gave this file name, and the teacher's words left in it, or None."""
    folded = _folded(stem)
    for rule in rules.app_names:
        for expression in rule.patterns:
            match = _pattern(expression).match(folded)
            if match:
                return AppName(rule.app, _APP_LEFTOVER.sub("", folded[match.end():]))
    return None


def app_folder(folder: str, rules: ClassifyRules) -> bool:
    """A folder an app or a device made (WeChat Files, FileStorage, DCIM, Screenshots, 2023-07)."""
    folded = _folded(folder)
    return any(_pattern(expression).fullmatch(folded) for expression in rules.app_folders)


def attachment_number(stem: str) -> int | None:
    match = _ATTACHMENT.search(unicodedata.normalize("NFKC", stem))
    if not match:
        return None
    token = match.group(1)
    return _CHINESE_DIGITS.index(token) + 1 if token in _CHINESE_DIGITS else int(token)


def common_root(paths: list[str]) -> int:
    """How many leading folders every member shares (a zip of one folder named after the work)."""
    split = [p.split("/")[:-1] for p in paths]
    if not split:
        return 0
    depth = 0
    while all(len(parts) > depth for parts in split) and len({parts[depth] for parts in split}) == 1:
        depth += 1
    return depth


def name_evidence(material: Material, rules: Rules, project: str, applicant_type: str, title: str | None,
                  root_depth: int) -> list[Evidence]:
    """What the file name, the notice's attachment number, the folders and the title say."""
    own, others = _ordered_roles(rules, project, applicant_type)
    pure = PurePosixPath(material.path)
    kind = material.kind
    found = []
    app = app_name(pure.stem, rules.classify)
    words = pure.stem if app is None else app.words       # an app's words (微信图片, 文档1) are no evidence
    named = _name_role(words, kind, own, others) if words else None
    if named:
        found.append(Evidence(named[0], "name", NAME, f"文件名含“{named[1]}”", len(named[1])))
    number = attachment_number(words) if words else None
    numbered = rules.classify.attachment_numbers.get(project, {}).get(number) if number else None
    rule = rules.role_rule(numbered) if numbered else None
    if rule and kind in rule.kinds:
        found.append(Evidence(numbered, "attachment", ATTACHMENT, f"文件名为通知的附件{number}（{rule.label}）"))
    for folder in reversed(pure.parent.parts[root_depth:]):
        if app_folder(folder, rules.classify):
            continue
        folder_role = _name_role(folder, kind, own, others)
        if folder_role:
            found.append(Evidence(folder_role[0], "folder", FOLDER, f"位于文件夹“{folder}”", len(folder_role[1])))
            break
    if words and title_matches(words, title, rules.classify.title_similarity):
        found += _title_evidence(kind, rules, project, "文件名与作品名称一致")
    return found


def _title_evidence(kind: str, rules: Rules, project: str, text: str) -> list[Evidence]:
    for role in rules.classify.title_roles.get(project, []):
        rule = rules.role_rule(role)
        if rule and kind in rule.kinds:
            return [Evidence(role, "title", TITLE, text)]
    return []


def form_labels(text: str) -> set[str]:
    found = set()
    for line in text.splitlines()[:400]:
        for cell in line.replace("：", ":").replace("\t", ":").split(":"):
            name = field_of(cell)
            if name:
                found.add(name)
    return found


def head_of(text: str, lines: int, chars: int) -> str:
    head = [line.strip() for line in text.splitlines() if line.strip()][:lines]
    return "\n".join(head)[:chars]


def content_evidence(material: Material, content: Content, rules: Rules, project: str, applicant_type: str,
                     title: str | None) -> list[Evidence]:
    """What the text says it is: the form's layout, its title lines, its section headings, the work's title."""
    if not content.text.strip():
        return []
    source, strength = ("ocr", OCR) if content.method == "ocr" else ("content", HEADING)
    seen_by = "图片文字识别：" if source == "ocr" else ""
    found = []
    length = len("".join(content.text.split()))
    labels = form_labels(content.text)
    form = rules.role_rule("registration_form")
    if {"title", "authors"} <= labels and len(labels) >= 3 and length <= rules.classify.form_max_chars \
            and form and material.kind in form.kinds:
        names = "、".join(sorted(labels))
        found.append(Evidence("registration_form", source, strength, f"{seen_by}内容为报名表栏目（{len(labels)}项：{names}）", 10))
    c = rules.classify
    head = head_of(content.text, c.head_lines, c.head_chars)
    body = content.text[:c.marker_chars]
    for rule in [r for r in rules.roles if r.role in project_roles(rules, project, applicant_type)]:
        if material.kind not in rule.kinds:
            continue
        heading = max((h for h in rule.headings if h in head), key=len, default=None)
        if heading:
            found.append(Evidence(rule.role, source, strength, f"{seen_by}标题行含“{heading}”", len(heading)))
            continue
        markers = [m for m in rule.markers if m in body]
        if rule.markers and len(markers) >= rule.min_markers:
            shown = "”“".join(markers[:3])
            found.append(Evidence(rule.role, source, MARKERS if source == "content" else OCR - 1,
                                  f"{seen_by}正文含“{shown}”等栏目", len(markers)))
    if title_matches(head, title, c.title_similarity) or (title and normalise_title(title) in normalise_title(head)):
        found += _title_evidence(material.kind, rules, project, "标题行与作品名称一致")
    return found


def _could_hold(member: _Member, role: str) -> bool:
    return any(e.role == role for e in member.evidence)


def _holders(members: list[_Member], role: str) -> list[_Member]:
    return [m for m in members if m.material.role == role]


def _apply(member: _Member, evidence: Evidence) -> None:
    member.material.role, member.material.role_source, member.material.role_evidence = evidence.role, evidence.source, evidence.text


class RoleAssigner:
    """One assignment per submission: evidence for every member, then the roles decided together."""

    def __init__(self, rules: Rules, project: str, applicant_type: str, title: str | None = None,
                 read: ReadContent | None = None, screen: ScreenPaper | None = None):
        self.rules, self.project, self.applicant_type, self.title = rules, project, applicant_type, title
        self.read, self.screen = read, screen
        self.required = rules.required_roles(project, applicant_type)
        self.own = set(project_roles(rules, project, applicant_type))

    def assign(self, materials: list[Material]) -> list[Finding]:
        """Set `role`, `role_source` and `role_evidence` on each material in place.

        Returns:
            ROLE_INFERRED for required roles filled on weak evidence, MATERIAL_UNRECOGNIZED for
            members no evidence speaks for (kept as related).
        """
        live = [m for m in materials if m.role != "ignored"]
        depth = common_root([m.path for m in live])
        members = [_Member(m, name_evidence(m, self.rules, self.project, self.applicant_type, self.title, depth)) for m in live]
        self._read_contents(members)
        self._read_scans(members)
        for member in members:
            best = member.best(self.own) or member.best()
            if best:
                _apply(member, best)
            else:
                member.material.role = None
        self._one_per_single_role(members)
        findings = self._fill_open_roles(members)
        for member in members:
            material = member.material
            if material.role is None:
                material.role, material.role_source, material.role_evidence = "related", "unrecognized", "未能从文件名、文件夹或内容识别"
                if material.kind != "subtitle":
                    findings.append(make_finding("MATERIAL_UNRECOGNIZED", material.path, kind=material.kind))
            app = app_name(PurePosixPath(material.path).stem, self.rules.classify)
            if app is not None:
                material.role_evidence += f"；文件名为{app.app}自动命名，{'只按其余文字和内容判断' if app.words else '未作为依据'}"
        return findings

    # evidence from content -----------------------------------------------------------------
    def _read_contents(self, members: list[_Member]) -> None:
        """Read the text of documents no strong name speaks for (bounded per archive)."""
        if self.read is None:
            return
        budget = self.rules.classify.max_content_reads
        for member in members:
            if budget <= 0:
                break
            strong = member.best(self.own)
            if not wants_text(member.material) or (strong and strong.strength >= ATTACHMENT and strong.role != "related"):
                continue
            budget -= 1
            member.content = self.read(member.material, False)
            member.evidence += content_evidence(member.material, member.content, self.rules, self.project,
                                                self.applicant_type, self.title)

    def _open_roles(self, members: list[_Member]) -> list[str]:
        return [r for r in self.required if not any(e.role == r and e.strength >= FOLDER for m in members for e in m.evidence)]

    def _read_scans(self, members: list[_Member]) -> None:
        """OCR the few pictures and image-only PDFs that could be a missing material, bounded by the rules file."""
        if self.read is None:
            return
        rules = self.rules.ocr
        open_roles = [r for r in self._open_roles(members) if (rule := self.rules.role_rule(r)) and "image" in rule.kinds]

        def unexplained(member: _Member) -> bool:
            best = member.best()
            return best is None or best.strength < FOLDER

        def scanned(member: _Member) -> bool:
            material = member.material
            if material.kind == "image":
                return True
            return (PurePosixPath(material.path).suffix.lower() == ".pdf" and member.content is not None
                    and member.content.error is None and not member.content.text.strip())

        pool = [m for m in members if scanned(m) and unexplained(m)]
        hinted = [m for m in pool if any(h.casefold() in m.material.path.casefold() for h in rules.name_hints)]
        chosen = hinted[:rules.max_members]
        if open_roles and len(chosen) < rules.max_members:
            rest = [m for m in pool if m not in chosen]
            pdfs = [m for m in rest if m.material.kind != "image"]
            pictures = [m for m in rest if m.material.kind == "image"][:rules.max_screened]
            if self.screen is not None:
                shares = {id(m): self.screen(m.material) for m in pictures}
                pictures = sorted((m for m in pictures if shares[id(m)] >= rules.min_paper_share), key=lambda m: -shares[id(m)])
            chosen += (pdfs + pictures)[:rules.max_members - len(chosen)]
        for member in chosen:
            member.content = self.read(member.material, True)
            if member.content.method == "ocr":
                member.evidence += content_evidence(member.material, member.content, self.rules, self.project,
                                                    self.applicant_type, self.title)

    # the assignment ------------------------------------------------------------------------
    def _preference(self, member: _Member, role: str) -> tuple:
        """Which of several members fits a role best: stronger evidence, the role's preferred kind,
        the editable original, more text, larger."""
        rule = self.rules.role_rule(role)
        evidence = max((e.strength for e in member.evidence if e.role == role), default=0)
        kind_rank = -(rule.kinds.index(member.material.kind) if rule and member.material.kind in rule.kinds else 99)
        suffixes = self.rules.classify.preferred_suffixes
        suffix = PurePosixPath(member.material.path).suffix.lower()
        format_rank = -(suffixes.index(suffix) if suffix in suffixes else len(suffixes))
        if role == "registration_form":
            fit = (len(form_labels(member.content.text)) if member.content else 0, -member.text_length)
        else:
            fit = (member.text_length, 0)
        return evidence, kind_rank, format_rank, *fit, member.material.size, -member.material.path.count("/")

    def _one_per_single_role(self, members: list[_Member]) -> None:
        for rule in self.rules.roles:
            holders = _holders(members, rule.role)
            if not rule.single or len(holders) < 2:
                continue
            keep = max(holders, key=lambda m: self._preference(m, rule.role))
            for member in holders:
                if member is keep:
                    continue
                other = member.best({r for r in self.own if r != rule.role and r != "related"})
                if other and not _holders(members, other.role):
                    _apply(member, other)
                    continue
                # A copy the teacher named (案例介绍.docx and .pdf) fills no other role; a weak guess may.
                member.material.role = "related"
                member.locked = max((e.strength for e in member.evidence if e.role == rule.role), default=0) >= FOLDER
                member.material.role_evidence = f"与“{keep.material.path}”同为{rule.label}，以后者为准"

    def _movable(self, member: _Member, members: list[_Member]) -> bool:
        """A member that can take an open role without opening another or overruling a teacher's label."""
        material = member.material
        if member.locked:
            return False
        if material.role is None:
            return True
        if material.role == "related":
            return material.role_source not in ("name", "folder")
        if material.role not in self.required:
            return True                          # named for another project's role (宣传片 in a teacher's case)
        return len(_holders(members, material.role)) > 1

    def _fill_open_roles(self, members: list[_Member]) -> list[Finding]:
        findings = []
        open_roles = [r for r in self.required if not _holders(members, r)]
        candidates = {r: self._candidates(r, members) for r in open_roles}
        for role in sorted(open_roles, key=lambda r: len(candidates[r])):
            pool = self._candidates(role, members)
            if not pool:
                continue
            chosen = max(pool, key=lambda m: self._preference(m, role))
            label = self.rules.role_label(role)
            titled = next((e for e in chosen.evidence if e.role == role and e.source == "title"), None)
            if titled:
                evidence = titled
            elif len(pool) == 1:
                evidence = Evidence(role, "only_candidate", 0, f"压缩包中唯一可作为{label}的{_kind_word(chosen.material.kind)}")
            else:
                evidence = Evidence(role, "best_candidate", 0, f"{len(pool)}个可能的文件中{_why_best(role, chosen)}")
            _apply(chosen, evidence)
            findings.append(make_finding("ROLE_INFERRED", chosen.material.path, role=role, label=label,
                                         source=evidence.source, reason=evidence.text, candidates=len(pool)))
        for member in members:
            material = member.material
            if material.role_source == "title" and material.role in self.required and not any(
                    f.path == material.path for f in findings):
                findings.append(make_finding("ROLE_INFERRED", material.path, role=material.role,
                                             label=self.rules.role_label(material.role), source="title",
                                             reason=material.role_evidence, candidates=1))
        return findings

    def _candidates(self, role: str, members: list[_Member]) -> list[_Member]:
        rule = self.rules.role_rule(role)
        if rule is None:
            return []
        return [m for m in members if self._movable(m, members)
                and (m.material.kind in rule.weak_kinds or (_could_hold(m, role) and m.material.kind in rule.kinds))]


def _kind_word(kind: str) -> str:
    return {"video": "视频", "document": "文档", "presentation": "演示文稿", "spreadsheet": "表格", "image": "图片"}.get(kind, "文件")


def _why_best(role: str, member: _Member) -> str:
    if member.material.kind == "video":
        return "文件最大"
    if role == "registration_form":
        return "最像报名表"
    return "文字最多" if member.text_length else "文件最大"


def classify_materials(materials: list[Material], rules: Rules, project: str, applicant_type: str, *, title: str | None = None,
                       read: ReadContent | None = None, screen: ScreenPaper | None = None) -> list[Finding]:
    """Set each material's role from evidence (see `RoleAssigner.assign`); returns the findings."""
    return RoleAssigner(rules, project, applicant_type, title, read, screen).assign(materials)


def missing_roles(materials: list[Material], rules: Rules, project: str, applicant_type: str) -> list[str]:
    present = {m.role for m in materials}
    return [role for role in rules.required_roles(project, applicant_type) if role not in present]


def analysed_members(materials: list[Material], rules: Rules) -> tuple[list[int], list[int]]:
    """Indexes of the videos and documents to analyse, within the rules file's bounds.

    Members with a role of the project first, then the largest, so a pathological archive
    cannot starve the required materials; deterministic, so both modes and every rerun agree."""
    def pick(indexes: list[int], limit: int) -> list[int]:
        ranked = sorted(indexes, key=lambda i: (materials[i].role in (None, "related"), -materials[i].size, i))
        return sorted(ranked[:limit])

    videos = [i for i, m in enumerate(materials) if m.kind == "video" and m.role != "ignored"]
    documents = [i for i, m in enumerate(materials) if wants_text(m)]
    return pick(videos, rules.archive.max_videos_analysed), pick(documents, rules.archive.max_documents_analysed)


def analysis_limited(materials: list[Material], rules: Rules, archive_name: str) -> list[Finding]:
    """ANALYSIS_LIMITED (info) when the bounds left members unanalysed."""
    videos, documents = analysed_members(materials, rules)
    total_videos = sum(m.kind == "video" and m.role != "ignored" for m in materials)
    total_documents = sum(bool(wants_text(m)) for m in materials)
    if len(videos) == total_videos and len(documents) == total_documents:
        return []
    return [make_finding("ANALYSIS_LIMITED", None, scope_text="压缩包", file_text=archive_name, videos=total_videos,
                         documents=total_documents, videos_analysed=len(videos), documents_analysed=len(documents), bound="members",
                         limited_text=f"中有{total_videos}个视频、{total_documents}个文档，只检查了其中{len(videos)}个视频和"
                                      f"{len(documents)}个文档（优先检查各类必交材料）")]
