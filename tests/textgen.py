"""Synthetic Chinese text with planted copying, for duplication tests and the benchmark."""

from __future__ import annotations

import random

from pipeline.duplication import normalise

PUNCT = "，。；："


def sentence(rng: random.Random) -> str:
    body = "".join(chr(rng.randrange(0x4E00, 0x9FA5)) for _ in range(rng.randrange(18, 40)))
    return body + rng.choice(PUNCT)


def document(rng: random.Random, chars: int) -> list[str]:
    out, size = [], 0
    while size < chars:
        out.append(sentence(rng))
        size += len(out[-1])
    return out


def planted(rng: random.Random, source: list[str], share: float, chars: int = 3000) -> tuple[str, float]:
    """A document with about `share` of its characters copied from `source`, shuffled, with
    its punctuation changed; returns the text and the true rate on normalised text."""
    copied, size = [], 0
    pool = source[:]
    rng.shuffle(pool)
    while pool and size < share * chars:
        copied.append(pool.pop())
        size += len(normalise(copied[-1]))
    sentences = copied + document(rng, int(chars * (1 - share)))
    rng.shuffle(sentences)
    text = "".join(s.replace("，", ",").replace("。", ".") for s in sentences)
    return text, sum(len(normalise(s)) for s in copied) / len(normalise(text))
