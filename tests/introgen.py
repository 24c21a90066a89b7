"""A labelled activity of case introductions written on the notice's 附件3 template, with planted copies.

Every introduction has the template's header block (案例名称/作者/单位/联系电话), its five
headings, two or three of its guidance sentences left in, a few of the policy phrases everyone
writes, and its own content: sentences drawn from a vocabulary of its own, so that two
independent introductions never share 13 characters by chance. Some districts add a short
preamble of their own to all their schools' introductions. Then copies are planted at known
shares: whole (title, names and unit changed), partial with headings inside, paragraphs
reordered, punctuation changed and sentences split differently, rings of copiers of one source,
copies of copies. Each introduction knows its truth: the share of its own characters (the
template, the policy phrases and the district preamble left out) copied from an earlier one,
and which one. Used by tests/unit/test_duplication.py, the integration test and
bench/bench_duplication.py.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.duplication import normalise

FORMAT = Path(__file__).resolve().parents[1] / "config" / "templates" / "case-intro-format.txt"
HEADINGS = ["一、案例背景", "二、主要做法", "三、应用成效", "四、特色创新", "五、反思与展望"]
POLICY = ["深入贯彻落实国家教育数字化战略行动", "国家中小学智慧教育平台（以下简称国家平台）", "助力教育数字化转型",
          "推进优质数字教育资源共建共享", "以教育信息化支撑引领教育现代化", "落实立德树人根本任务",
          "切实减轻学生过重作业负担和校外培训负担", "促进教育公平和质量提升", "构建网络化、数字化、个性化、终身化的教育体系",
          "充分发挥国家平台优质资源的示范引领作用"]
DISTRICTS = {"高新区": "高新区教育局统一部署，各校以国家平台为依托，聚焦课堂提质增效，定期开展应用展示交流。",
             "开发区": "开发区社会事业局印发国家平台应用推进方案，明确以校为本、以用促建，全域推进。"}
PUNCT = "，。；："
COMMON_CHARS = 3500          # the vocabulary each introduction draws from: its own slice of the CJK block


def guidance() -> list[str]:
    lines = [line.strip() for line in FORMAT.read_text(encoding="utf-8").splitlines()]
    return [line for line in lines if line and not line.startswith("#") and len(line) > 20]


@dataclass
class Intro:
    sid: str
    text: str
    title: str
    kind: str = "independent"              # independent, whole, partial, reordered, punctuation, ring, copy_of_copy, district
    source: str | None = None               # the first-seen submission it copies
    truth: float = 0.0                      # the share of its own characters copied
    paragraphs: list[str] = field(default_factory=list, repr=False)   # its own paragraphs (copies draw on them)

    @property
    def copied(self) -> bool:
        return self.truth >= 0.30


class Writer:
    """Writes introductions one after another; `rng` decides everything, so a seed gives one activity."""

    def __init__(self, seed: int, chars: tuple[int, int] = (2000, 3000)):
        self.rng = random.Random(seed)
        self.chars = chars
        self.guidance = guidance()
        self.count = 0

    def _vocabulary(self) -> str:
        start = 0x4E00 + self.rng.randrange(0, 0x9FA5 - 0x4E00 - COMMON_CHARS)
        return "".join(chr(start + i) for i in self.rng.sample(range(COMMON_CHARS), 400))

    def _sentence(self, vocabulary: str) -> str:
        return "".join(self.rng.choice(vocabulary) for _ in range(self.rng.randrange(16, 36))) + self.rng.choice(PUNCT)

    def _paragraphs(self, vocabulary: str, chars: int) -> list[str]:
        paragraphs, size = [], 0
        while size < chars:
            paragraph = "".join(self._sentence(vocabulary) for _ in range(self.rng.randrange(3, 6)))
            paragraphs.append(paragraph)
            size += len(normalise(paragraph))
        return paragraphs

    def _header(self, title: str) -> list[str]:
        name = "".join(self.rng.choice("张王李赵钱孙周吴郑冯陈褚卫蒋沈韩杨") for _ in range(1)) + \
            "".join(self.rng.choice("明华芳丽强军敏静磊洋勇艳杰涛") for _ in range(2))
        return [f"案例名称：{title}", f"作者：{name}", f"单位：第{self.rng.randrange(1, 99)}实验小学",
                f"联系电话：1{self.rng.randrange(3, 9)}{self.rng.randrange(10 ** 8, 10 ** 9)}"]

    def _assemble(self, title: str, own: list[str], district: str | None) -> tuple[str, list[str]]:
        """Header, headings with the own paragraphs spread under them, a few guidance sentences and policy phrases."""
        lines = self._header(title)
        if district:
            lines.append(DISTRICTS[district])
        left_in = self.rng.sample(self.guidance, self.rng.randrange(2, 4))
        phrases = self.rng.sample(POLICY, 3)
        per = max(1, len(own) // len(HEADINGS))
        for h, heading in enumerate(HEADINGS):
            lines.append(heading)
            if h < len(left_in):
                lines.append(left_in[h])
            chunk = own[h * per:(h + 1) * per] if h < len(HEADINGS) - 1 else own[h * per:]
            for i, paragraph in enumerate(chunk):
                lines.append(phrases[h] + "，" + paragraph if i == 0 and h < len(phrases) else paragraph)
        return "\n".join(lines), own

    def _title(self) -> str:
        return "依托国家平台" + "".join(self.rng.choice("开展推进深化创新探索实践研究应用构建") for _ in range(6)) + "的案例"

    def independent(self, district: str | None = None) -> Intro:
        self.count += 1
        title = self._title()
        own = self._paragraphs(self._vocabulary(), self.rng.randrange(*self.chars))
        text, own = self._assemble(title, own, district)
        return Intro(f"intro-{self.count:04d}", text, title, "district" if district else "independent", paragraphs=own)

    def copy(self, source: Intro, share: float, kind: str, original: Intro | None = None) -> Intro:
        """`share` of the copy's own characters taken from `source`'s paragraphs, the rest its own.

        whole: everything, under another title, names and unit; partial: a block of paragraphs,
        headings inside; reordered: paragraphs shuffled; punctuation: punctuation changed and
        sentences split elsewhere (the characters stay the same); ring and copy_of_copy: whole."""
        self.count += 1
        title = self._title()
        taken = self._taken(source.paragraphs, share, kind)
        if kind == "punctuation":
            taken = [self._repunctuate(p) for p in taken]
        copied_chars = sum(len(normalise(p)) for p in taken)
        own_needed = max(0, int(copied_chars / share) - copied_chars) if share < 1 else 0
        own = self._paragraphs(self._vocabulary(), own_needed) if own_needed else []
        mixed = taken + own if kind != "reordered" else self.rng.sample(taken + own, len(taken) + len(own))
        text, _ = self._assemble(title, mixed, None)
        truth = copied_chars / sum(len(normalise(p)) for p in mixed)
        return Intro(f"intro-{self.count:04d}", text, title, kind, (original or source).sid, round(truth, 4), paragraphs=mixed)

    def _taken(self, paragraphs: list[str], share: float, kind: str) -> list[str]:
        if share >= 1:
            return list(paragraphs)
        total = sum(len(normalise(p)) for p in paragraphs)
        want = share * total
        start = self.rng.randrange(0, max(1, len(paragraphs) // 3))
        taken, size = [], 0
        for paragraph in paragraphs[start:] + paragraphs[:start]:
            if size >= want:
                break
            taken.append(paragraph)
            size += len(normalise(paragraph))
        return taken

    def _repunctuate(self, paragraph: str) -> str:
        bare = "".join(ch for ch in paragraph if ch not in PUNCT)
        cuts = sorted(self.rng.sample(range(5, max(6, len(bare) - 5)), min(len(bare) // 15, max(0, len(bare) - 11))))
        out, last = [], 0
        for cut in cuts:
            out.append(bare[last:cut] + self.rng.choice("，、；！？"))
            last = cut
        return "".join(out) + bare[last:] + "。"


def activity(size: int, seed: int = 2023) -> list[Intro]:
    """`size` introductions in the order they arrive: about one in ten a planted copy of an earlier
    one (every kind, shares of 30-100% and a few below the threshold), a ring of five copiers in
    one school and, from 100 on, a ring of fifteen across the activity, a copy of a copy, and a
    district preamble shared by up to forty introductions whose content is their own."""
    writer = Writer(seed)
    rng = writer.rng
    intros: list[Intro] = []
    originals: list[Intro] = []
    ring_five = 5
    ring_fifteen = 15 if size >= 100 else 0
    district_left = min(40, size // 5)
    plan = ["whole", "partial", "reordered", "punctuation", "partial", "whole", "low", "punctuation"]
    step = 0
    while len(intros) < size:
        position = len(intros)
        if originals and ring_five and position >= 4 and position % 3 == 1:
            source = originals[0]
            intros.append(writer.copy(source, 1.0, "ring"))
            ring_five -= 1
        elif originals and ring_fifteen and position >= 30 and position % 7 == 3:
            source = originals[min(1, len(originals) - 1)]
            intros.append(writer.copy(source, 1.0, "ring"))
            ring_fifteen -= 1
        elif originals and position >= 6 and position % 10 == 5:
            kind = plan[step % len(plan)]
            step += 1
            source = rng.choice(originals[2:] or originals)
            share = {"whole": 1.0, "low": rng.choice((0.1, 0.2))}.get(kind, rng.choice((0.35, 0.5, 0.7, 0.87)))
            intros.append(writer.copy(source, share, "partial" if kind == "low" else kind))
        elif position >= 20 and position % 25 == 0 and any(i.kind in ("whole", "ring") for i in intros):
            copy = next(i for i in reversed(intros) if i.kind in ("whole", "ring"))
            original = next(i for i in intros if i.sid == copy.source)
            intros.append(writer.copy(copy, 1.0, "copy_of_copy", original=original))
        elif district_left and position % 4 == 2:
            intros.append(writer.independent(district=rng.choice(list(DISTRICTS))))
            district_left -= 1
            originals.append(intros[-1])
        else:
            intros.append(writer.independent())
            originals.append(intros[-1])
    return intros
