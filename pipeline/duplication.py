"""The case introduction's duplication rate against earlier submissions, CNKI-style.

Text is normalised (NFKC folds full width to half width; punctuation and white space go;
letters lower-cased). A character counts as copied when it lies in a run of at least
`run_length` consecutive characters that also occurs in an earlier submission; each character
counts once however many sources share it, and the rate is copied characters over the
document's own characters.

Template text is never copying and never hides a copy: it is masked character by character,
never run by run, and what is left of a shared run after masking still counts when it is at
least `run_length` long (a copied block with two headings inside scores its length minus the
headings). Two kinds of template:
- the base: the notice's own texts (its 附件3 format, the 报名表's labels, the notice), shipped
  under `config/templates/` and named in the rules file. Found by `base_gram`-character pieces,
  so a lightly edited line (a changed number, a dropped word) still matches; left out of the
  copied count and of the denominator.
- common text: what many unrelated documents share (policy phrases, a district's own
  template), told by document frequency counted without the two documents compared, from the
  first document on. Copies of one source count once (a document measured as a copy joins its
  source's cluster), so five teachers handing in one introduction, or fifteen in an activity,
  never make their text "common".

Finding sources: every document's k-grams are hashed and winnowed (window w) into a few
fingerprints stored in an index; any run of k + w - 1 shared characters shares at least one
fingerprint, so candidates are complete for runs of that length and longer. Each candidate is
then checked exactly against its stored text. The fingerprints' document frequencies mark
common text: a region of consecutive common fingerprints (no further apart than w) is common
from its first k-gram to its last.
"""

from __future__ import annotations

import hashlib
import math
import unicodedata
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from functools import lru_cache
from pathlib import Path

MAX_CHARS = 200_000
MAX_PASSAGES = 3
PASSAGE_CHARS = 80


def normalise(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text[: MAX_CHARS * 2]).lower()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LN")[:MAX_CHARS]


def kgram_hashes(text: str, k: int) -> list[int]:
    """A stable 63-bit hash of every k-gram (stable across processes, unlike hash())."""
    return [int.from_bytes(hashlib.blake2b(text[i:i + k].encode(), digest_size=8).digest(), "big") >> 1
            for i in range(len(text) - k + 1)]


def winnow_positions(hashes: list[int], window: int) -> dict[int, int]:
    """Position -> hash of the minimum of every window of consecutive hashes (Schleimer et al.,
    2003; the rightmost minimum, so a run of equal hashes keeps one position per window)."""
    if len(hashes) <= window:
        return dict(enumerate(hashes))
    chosen: dict[int, int] = {}
    for start in range(len(hashes) - window + 1):
        part = hashes[start:start + window]
        low = min(part)
        position = start + window - 1 - part[::-1].index(low)
        chosen[position] = low
    return chosen


def winnow(hashes: list[int], window: int) -> set[int]:
    return set(winnow_positions(hashes, window).values())


# --- the base: the notice's own templates ---------------------------------------------------

@dataclass(frozen=True)
class BaseText:
    """The notice's templates, ready to mask: their lines, the `gram`-character pieces that find
    them, and the short lines (headings) found whole."""

    lines: tuple[str, ...]
    grams: dict[str, tuple[tuple[int, int], ...]]     # piece -> (line, offset) where it occurs
    short: tuple[str, ...]
    gram: int
    gap: int
    fuzzy: float = 0.75             # a line whose characters are this share in place is the line, edited

    def mask(self, normal: str) -> list[bool]:
        """Which characters of a normalised text are base text: every piece found, every line
        found with a few characters changed or dropped (aligned around its pieces), every short
        line found whole, and gaps of up to `gap` characters between them."""
        masked = [False] * len(normal)
        anchors: dict[int, set[int]] = {}
        for i in range(len(normal) - self.gram + 1):
            found = self.grams.get(normal[i:i + self.gram])
            if found:
                masked[i:i + self.gram] = [True] * self.gram
                for line, offset in found:
                    anchors.setdefault(line, set()).add(i - offset)
        for line, starts in anchors.items():
            self._align(normal, self.lines[line], sorted(starts), masked)
        for line in self.short:
            start = normal.find(line)
            while start >= 0:
                masked[start:start + len(line)] = [True] * len(line)
                start = normal.find(line, start + 1)
        return _fill_gaps(masked, self.gap)

    def _align(self, normal: str, line: str, starts: list[int], masked: list[bool]) -> None:
        slack = max(self.gap, len(line) // 5)
        done = -len(line)
        for start in starts:
            if start < done + len(line) // 2:
                continue
            done = start
            left = max(0, start - slack)
            window = normal[left:start + len(line) + slack]
            blocks = [b for b in SequenceMatcher(None, line, window, autojunk=False).get_matching_blocks() if b.size]
            if blocks and sum(b.size for b in blocks) >= self.fuzzy * len(line):
                first, last = left + blocks[0].b, left + blocks[-1].b + blocks[-1].size
                masked[first:last] = [True] * (last - first)


NO_BASE = BaseText((), {}, (), 8, 0)


def _fill_gaps(masked: list[bool], gap: int) -> list[bool]:
    if gap <= 0:
        return masked
    last = None
    for i, flag in enumerate(masked):
        if flag:
            if last is not None and 1 < i - last <= gap + 1:
                masked[last + 1:i] = [True] * (i - last - 1)
            last = i
    return masked


@lru_cache(maxsize=8)
def load_base(paths: tuple[str, ...], gram: int, gap: int, min_line: int) -> BaseText:
    """The base from the rules file's template files (UTF-8, `#` lines are comments); a file
    that is missing is a deployment error and raises."""
    lines: list[str] = []
    short: set[str] = set()
    for path in paths:
        for raw in Path(path).read_text(encoding="utf-8").splitlines():
            if raw.lstrip().startswith("#"):
                continue
            line = normalise(raw)
            if len(line) >= gram:
                lines.append(line)
            elif len(line) >= min_line:
                short.add(line)
    grams: dict[str, list[tuple[int, int]]] = {}
    for number, line in enumerate(lines):
        for offset in range(len(line) - gram + 1):
            grams.setdefault(line[offset:offset + gram], []).append((number, offset))
    return BaseText(tuple(lines), {piece: tuple(where) for piece, where in grams.items()},
                    tuple(sorted(short, key=len, reverse=True)), gram, gap)


# --- the measure -----------------------------------------------------------------------------

@dataclass(frozen=True)
class DuplicationSettings:
    """The rules file's `duplication` limits, as the measure needs them."""

    run_length: int = 13
    window: int = 8
    threshold: float = 0.30
    top: int = 5
    common_min_documents: int = 5
    common_document_share: float = 0.01
    max_candidates: int = 20
    max_holders: int = 128        # documents kept per fingerprint; a full list is common text whatever else


@dataclass
class Match:
    submission_id: str
    rate: float
    copied_chars: int
    passages: list[str] = field(default_factory=list)


@dataclass
class DuplicationResult:
    rate: float                   # copied / the document's own characters (template excluded)
    total_chars: int
    copied_chars: int
    largest_source_rate: float
    matches: list[Match]
    template_chars: int = 0       # base and common text, apart
    own_chars: int = 0

    @property
    def template_share(self) -> float:
        return round(self.template_chars / self.total_chars, 4) if self.total_chars else 0.0


@dataclass(frozen=True)
class Indexed:
    """What the index keeps of one document besides its text."""

    first_seen: float
    cluster: str                  # the first-seen source it copies, or itself


class DuplicationIndex(ABC):
    """Where earlier submissions' texts and fingerprints live: --state or Redis."""

    @abstractmethod
    def holders(self, fingerprints: set[int]) -> dict[int, list[str]]:
        """The submissions holding each fingerprint, in the order they were indexed."""

    @abstractmethod
    def documents(self, submission_ids: set[str]) -> dict[str, Indexed]:
        """First-seen time and cluster of each indexed submission."""

    @abstractmethod
    def text(self, submission_id: str) -> str | None:
        """The normalised text stored for a submission."""

    @abstractmethod
    def size(self) -> int:
        """How many documents the index holds."""

    @abstractmethod
    def replace(self, submission_id: str, text: str, fingerprints: set[int], cluster: str, now: float, max_holders: int) -> None:
        """Store (or replace, for a resubmission) a submission's text, fingerprints and cluster;
        its first-seen time stays the first one. A fingerprint already held by `max_holders`
        submissions takes no more (it is common text whoever holds it)."""


def duplication_rate(text: str, submission_id: str, index: DuplicationIndex, settings: DuplicationSettings,
                     base: BaseText = NO_BASE, *, now: float) -> DuplicationResult:
    """Measure `text` against the submissions first seen before this one, then index it."""
    normal = normalise(text)
    k = settings.run_length
    hashes = kgram_hashes(normal, k)
    positions = winnow_positions(hashes, settings.window)
    fingerprints = set(positions.values())
    result = _measure(normal, hashes, positions, submission_id, index, settings, base, now)
    source = result.matches[0].submission_id if result.matches else None
    cluster = submission_id
    if source is not None and result.largest_source_rate >= settings.threshold:
        cluster = index.documents({source}).get(source, Indexed(now, source)).cluster
    index.replace(submission_id, normal, fingerprints, cluster, now, settings.max_holders)
    return result


class _Common:
    """Common text by document frequency: which clusters hold each of the query's fingerprints."""

    def __init__(self, holders: dict[int, list[str]], documents: dict[str, Indexed], own: str, full: int, limit: int):
        self.clusters = {h: {documents[s].cluster if s in documents else s for s in sids if s != own} for h, sids in holders.items()}
        self.full = {h for h, sids in holders.items() if len(sids) >= full}
        self.limit = limit

    def common(self, h: int, *excluded: str) -> bool:
        return h in self.full or len(self.clusters.get(h, set()) - set(excluded)) >= self.limit

    def mask(self, length: int, positions: dict[int, int], k: int, window: int, *excluded: str) -> list[bool]:
        """Characters in common text: each common fingerprint's k-gram, and the stretch between
        two common fingerprints no further apart than the window (the same line in every copy)."""
        masked = [False] * length
        previous = None
        for position in sorted(positions):
            if not self.common(positions[position], *excluded):
                continue
            start = previous if previous is not None and position - previous <= window else position
            masked[start:position + k] = [True] * (position + k - start)
            previous = position
        return masked


def _measure(normal: str, hashes: list[int], positions: dict[int, int], submission_id: str, index: DuplicationIndex,
             settings: DuplicationSettings, base: BaseText, now: float) -> DuplicationResult:
    k, total = settings.run_length, len(normal)
    base_mask = base.mask(normal)
    if total < k or not positions:
        template = sum(base_mask)
        return DuplicationResult(0.0, total, 0, 0.0, [], template, total - template)
    holders = index.holders(set(positions.values()))
    sids = {s for sids in holders.values() for s in sids} | {submission_id}
    documents = index.documents(sids)
    own = documents.get(submission_id)
    first_seen = own.first_seen if own else now
    limit = max(settings.common_min_documents, math.ceil(settings.common_document_share * index.size()))
    common = _Common(holders, documents, submission_id, settings.max_holders, limit)
    own_cluster = own.cluster if own else submission_id
    template_mask = [a or b for a, b in zip(base_mask, common.mask(total, positions, k, settings.window, own_cluster))]
    template = sum(template_mask)
    own_chars = total - template
    if own_chars < k:
        return DuplicationResult(0.0, total, 0, 0.0, [], template, own_chars)
    union = [False] * total
    matches: list[tuple[float, Match]] = []
    for source in _candidates(holders, documents, submission_id, first_seen, common, own_cluster, settings.max_candidates):
        source_text = index.text(source)
        if not source_text:
            continue
        masked = [a or b for a, b in zip(base_mask, common.mask(total, positions, k, settings.window, own_cluster,
                                                                  documents[source].cluster))]
        counted = copied_characters(hashes, set(kgram_hashes(source_text, k)), k, masked)
        copied = sum(counted)
        if copied:
            matches.append((documents[source].first_seen, Match(source, round(copied / own_chars, 4), copied, passages(normal, counted))))
            union = [a or b for a, b in zip(union, counted)]
    ranked = _ranked(matches)
    copied = sum(union)
    return DuplicationResult(round(copied / own_chars, 4), total, copied, ranked[0].rate if ranked else 0.0, ranked[:settings.top],
                             template, own_chars)


NEAR_BEST = 0.9      # sources giving at least this share of the best one's copied characters are the same text


def _ranked(matches: list[tuple[float, Match]]) -> list[Match]:
    """The largest source first; among sources that gave about as much (a ring of copies of one
    introduction, a copy of a copy) the one first seen, the original."""
    if not matches:
        return []
    best = max(m.copied_chars for _, m in matches)
    return [m for _, m in sorted(matches, key=lambda pair: (pair[1].copied_chars < NEAR_BEST * best, pair[0] if
                                                            pair[1].copied_chars >= NEAR_BEST * best else -pair[1].copied_chars,
                                                            pair[1].submission_id))]


def _candidates(holders: dict[int, list[str]], documents: dict[str, Indexed], submission_id: str, first_seen: float,
                common: _Common, own_cluster: str, limit: int) -> list[str]:
    """Submissions first seen before this one, sharing most fingerprints that are not common
    text, best first: an original resubmitted after it was copied is not the copy's copy."""
    counts: dict[str, int] = {}
    for h, sids in holders.items():
        if common.common(h, own_cluster):
            continue
        for sid in set(sids):
            if sid != submission_id and sid in documents and documents[sid].first_seen < first_seen:
                counts[sid] = counts.get(sid, 0) + 1
    return sorted(counts, key=lambda sid: (-counts[sid], documents[sid].first_seen, sid))[:limit]


def copied_characters(hashes: list[int], source_hashes: set[int], k: int, masked: list[bool]) -> list[bool]:
    """Which query characters lie in a run shared with the source, template characters left
    out, and what is left of each run kept only where it is still `k` characters long."""
    covered = [False] * (len(hashes) + k - 1)
    for i, h in enumerate(hashes):
        if h in source_hashes:
            covered[i:i + k] = [True] * k
    kept = [c and not m for c, m in zip(covered, masked)]
    start = None
    for i, flag in enumerate([*kept, False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            if i - start < k:
                kept[start:i] = [False] * (i - start)
            start = None
    return kept


def passages(text: str, covered: list[bool], limit: int = MAX_PASSAGES, max_len: int = PASSAGE_CHARS) -> list[str]:
    runs, start = [], None
    for i, flag in enumerate([*covered, False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            runs.append(text[start:i])
            start = None
    runs.sort(key=len, reverse=True)
    return [run[:max_len] for run in runs[:limit]]
