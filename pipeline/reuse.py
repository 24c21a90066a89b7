"""The same footage, sound or photos in two submissions: evidence of 弄虚作假 for reviewers.

Fingerprints come from what the QC pass already decodes (no decode of its own): one small
picture a second (128x72, dark borders cropped so a 4:3 copy padded into 16:9 hashes alike)
hashed with PDQ (Meta's 256-bit perceptual hash; its quality score marks flat frames, which
are never compared), and the sound resampled to 11,025 Hz mono and fingerprinted by
Chromaprint (`fpcalc -raw`, about 7.4 items a second; silent stretches left out).

A match is a stretch, never a single frame: pairs of frames within `max_distance` bits (the
query's mirror image too), lined up on one line `t_source = speed * t_query + offset` for a
speed of 0.9 to 1.1 (a copy sped up or slowed down), consecutive within `max_gap_s`, covering at
least `min_stretch_s`; for the sound, a run of one-second windows whose items mostly agree at the
best offset. What many unrelated submissions share (a school's bumper, the platform's opening
screens) is common and never counted, as for text (`pipeline/duplication.py`).

The index finds candidates without comparing every video: the distinct frames of a video (one
more than `index_distance` bits from the last one kept) are indexed by each of their eight
32-bit chunks, so a copy within 31 bits shares a chunk exactly in most frames (pigeonhole over
many frames); the sound by the items whose value is a multiple of 16 (content-defined, so a
trim keeps them). Candidates are then checked exactly.
"""

from __future__ import annotations

import base64
import json
import struct
import subprocess
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import ToolError

FRAME_W, FRAME_H = 128, 72
FPCALC = "fpcalc"
AUDIO_RATE = 11025
ITEMS_PER_S = 11025 / 1365          # chromaprint's default item step (about 8.08 a second)
SPEEDS = (0.9, 0.95, 1.0, 1.05, 1.1)
AUDIO_SAMPLE = 16                   # sound items indexed: value % 16 == 0
CHUNKS = 8                          # a frame hash is indexed by 8 chunks of 32 bits
KEY_FRAME, KEY_AUDIO, KEY_PICTURE = 0, 1, 2


@dataclass
class Fingerprint:
    """A video's fingerprint: sampled frames (time, 256-bit PDQ hash, quality), the mirror images'
    hashes (the query's side only: a flipped copy matches too), and its sound."""

    frames: list[tuple[float, bytes, int]] = field(default_factory=list)
    audio: list[int] = field(default_factory=list)
    audio_start_s: float = 0.0
    duration_s: float = 0.0
    mirrors: list[bytes] = field(default_factory=list)

    def to_json(self, *, with_mirrors: bool = True) -> dict:
        """Compact: frames as 37 bytes each (centiseconds, quality, hash), sound as 4 bytes an item, zlib'd."""
        frames = b"".join(struct.pack(">IB", int(round(t * 100)), q) + h for t, h, q in self.frames)
        data = {"frames": base64.b64encode(zlib.compress(frames, 6)).decode(),
                "audio": base64.b64encode(zlib.compress(struct.pack(f">{len(self.audio)}I", *self.audio), 6)).decode(),
                "audio_start_s": self.audio_start_s, "duration_s": self.duration_s}
        if with_mirrors and self.mirrors:
            data["mirrors"] = base64.b64encode(b"".join(self.mirrors)).decode()
        return data

    @classmethod
    def from_json(cls, data: dict) -> "Fingerprint":
        raw = zlib.decompress(base64.b64decode(data.get("frames") or b"x\x9c\x03\x00\x00\x00\x00\x01"))
        frames = [(struct.unpack_from(">I", raw, i)[0] / 100, raw[i + 5:i + 37], raw[i + 4]) for i in range(0, len(raw) - 36, 37)]
        sound = zlib.decompress(base64.b64decode(data.get("audio") or b"x\x9c\x03\x00\x00\x00\x00\x01"))
        mirrors = base64.b64decode(data.get("mirrors", ""))
        return cls(frames, list(struct.unpack(f">{len(sound) // 4}I", sound)), float(data.get("audio_start_s", 0.0)),
                   float(data.get("duration_s", 0.0)), [mirrors[i:i + 32] for i in range(0, len(mirrors), 32)])

    @classmethod
    def merged(cls, parts: list["Fingerprint"], duration_s: float) -> "Fingerprint":
        """A video's whole fingerprint from its jobs' parts (windows' frames, the sound's items)."""
        frames = sorted(((f, m) for p in parts for f, m in zip(p.frames, p.mirrors or [b""] * len(p.frames))), key=lambda fm: fm[0][0])
        seen, kept = set(), []
        for frame, mirror in frames:
            if frame[0] not in seen:          # a window reads on past its end: its frames there belong to the next
                seen.add(frame[0])
                kept.append((frame, mirror))
        sound = next((p for p in parts if p.audio), None)
        return cls([f for f, _ in kept], sound.audio if sound else [], sound.audio_start_s if sound else 0.0, duration_s,
                   [m for _, m in kept if m])


# --- measuring ---------------------------------------------------------------------------

FRAME_RATE = 2.0         # pictures a second: a copy sped up 5% still lands within a quarter second of a sample


def frames_filter(rate: float = FRAME_RATE) -> str:
    """The branch the QC pass feeds: small grey pictures at `rate` a second, as raw bytes."""
    return f"fps={rate:g}:round=near,scale={FRAME_W}:{FRAME_H}:flags=area,format=gray"


def sound_filter() -> str:
    """The branch of the sound the QC pass feeds: what Chromaprint reads."""
    return f"aresample={AUDIO_RATE},aformat=sample_fmts=s16:channel_layouts=mono"


def content_box(frame: np.ndarray, dark: int = 24) -> np.ndarray:
    """The frame without dark bars on its edges (a 4:3 picture padded into 16:9, a 2.35:1 one)."""
    rows = np.where(frame.mean(axis=1) > dark)[0]
    cols = np.where(frame.mean(axis=0) > dark)[0]
    if len(rows) < FRAME_H // 3 or len(cols) < FRAME_W // 3:
        return frame
    return frame[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def hash_picture(grey: np.ndarray) -> tuple[bytes, bytes, int]:
    """PDQ of a grey picture and of its mirror image, and its quality (0-100; under 50 is flat)."""
    import pdqhash

    box = content_box(grey)
    rgb = np.repeat(box[:, :, None], 3, axis=2)
    bits, quality = pdqhash.compute(np.ascontiguousarray(rgb))
    mirrored, _ = pdqhash.compute(np.ascontiguousarray(rgb[:, ::-1]))
    return np.packbits(bits).tobytes(), np.packbits(mirrored).tobytes(), int(quality)


def frame_hashes(raw: Path, start_s: float, *, until_s: float | None = None, rate: float = FRAME_RATE,
                 max_frames: int = 40_000) -> tuple[list[tuple[float, bytes, int]], list[bytes]]:
    """The hashes (and mirror-image hashes) of the small frames the QC pass wrote, `rate` a
    second from `start_s`; a window's frames past its own end (`until_s`) are the next one's."""
    size = FRAME_W * FRAME_H
    frames, mirrors = [], []
    if not raw.exists():
        return frames, mirrors
    with raw.open("rb") as stream:
        for index in range(max_frames):
            data = stream.read(size)
            at = round(start_s + index / rate, 3)
            if len(data) < size or (until_s is not None and at >= until_s):
                break
            digest, mirror, quality = hash_picture(np.frombuffer(data, dtype=np.uint8).reshape(FRAME_H, FRAME_W))
            frames.append((at, digest, quality))
            mirrors.append(mirror)
    return frames, mirrors


def audio_items(pcm: Path, *, timeout_s: float) -> list[int]:
    """Chromaprint's raw items of the PCM the QC pass wrote (our own file, never an upload's).

    Raises:
        ToolError: fpcalc failed or ran out of time.
    """
    if not pcm.exists() or pcm.stat().st_size < AUDIO_RATE * 2 * 3:
        return []
    cmd = [FPCALC, "-format", "s16le", "-rate", str(AUDIO_RATE), "-channels", "1", "-raw", "-length", "0", "-json", str(pcm)]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ToolError("fpcalc timed out", cmd=cmd, returncode=None, stderr_tail="", timed_out=True) from exc
    except OSError as exc:                 # not installed: the sound is left out of the fingerprint, never the verdict
        raise ToolError(f"fpcalc could not start: {exc}", cmd=cmd, returncode=None, stderr_tail="") from exc
    try:
        return [int(v) for v in json.loads(done.stdout)["fingerprint"]]
    except (ValueError, KeyError, TypeError) as exc:     # fpcalc reports the file's end as an error: the JSON decides
        raise ToolError("fpcalc gave no fingerprint", cmd=cmd, returncode=done.returncode,
                        stderr_tail=done.stderr.decode(errors="replace")[-500:]) from exc


def drop_silence(items: list[int], pcm: Path, *, floor_db: float = -50.0) -> list[int]:
    """Items over near-silent sound become 0 (never compared): silence matches silence everywhere.

    Read from the PCM itself (16-bit mono), half a second at a time, so a short pause counts too."""
    if not items or not pcm.exists():
        return items
    samples = np.fromfile(pcm, dtype="<i2").astype(np.float32) / 32768.0
    block = AUDIO_RATE // 2
    blocks = len(samples) // block
    if blocks == 0:
        return items
    rms = np.sqrt(np.mean(samples[:blocks * block].reshape(blocks, block) ** 2, axis=1) + 1e-12)
    quiet = 20 * np.log10(rms) < floor_db
    out = list(items)
    for index in range(len(out)):
        b = int(index / ITEMS_PER_S * 2)
        if b >= blocks or quiet[b]:
            out[index] = 0
    return out


def distinct_count(frames: list[bytes], distance: int) -> int:
    """How many frames of a stretch show something new (more than `distance` bits from the last
    new one): a slide template or a still picture shown for a minute is one, not sixty."""
    count, last = 0, None
    for digest in frames:
        if last is None or hamming(digest, last) > distance:
            count, last = count + 1, digest
    return count


# --- index keys ----------------------------------------------------------------------------

def distinct_frames(frames: list[tuple[float, bytes, int]], min_quality: int, distance: int) -> list[tuple[float, bytes, int]]:
    """The frames worth indexing: not flat, and more than `distance` bits from the last one kept
    (a lecture's still picture is indexed once, not once a second)."""
    kept: list[tuple[float, bytes, int]] = []
    last = None
    for frame in frames:
        if frame[2] < min_quality:
            continue
        if last is not None and hamming(frame[1], last) <= distance:
            continue
        kept.append(frame)
        last = frame[1]
    return kept


def chunk_keys(digest: bytes, kind: int = KEY_FRAME) -> list[int]:
    """The hash's eight 32-bit chunks as index keys (kind and chunk number in the high bits)."""
    return [(kind << 40) | (i << 32) | int.from_bytes(digest[4 * i:4 * i + 4], "big") for i in range(CHUNKS)]


def audio_keys(items: list[int]) -> set[int]:
    return {(KEY_AUDIO << 40) | v for v in items if v and v % AUDIO_SAMPLE == 0}


def hamming(a: bytes, b: bytes) -> int:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()


def _matrix(hashes: list[bytes]) -> np.ndarray:
    return np.frombuffer(b"".join(hashes), dtype=np.uint64).reshape(len(hashes), 4) if hashes else np.zeros((0, 4), np.uint64)


# --- matching -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Stretch:
    query: tuple[float, float]       # seconds in this video
    source: tuple[float, float]      # seconds in the other one
    matched: int                     # frames (or one-second windows of sound) that agree
    speed: float = 1.0
    distinct: int = 0                # of the matched frames, how many show something new


def picture_stretch(query: list[tuple[float, bytes, int]], source: list[tuple[float, bytes, int]], *, max_distance: int,
                    min_quality: int, max_gap_s: float, distinct_distance: int = 40, band_s: float = 2.0,
                    mirrored: list[bytes] | None = None,
                    common: set[int] | None = None, coarse_pairs: int = 400_000) -> Stretch | None:
    """The longest stretch of the query whose frames match the source's, in order, on one line.

    Two steps, so that two 45-minute recordings cost a fraction of a second: sampled frames of
    both (at most `coarse_pairs` pairs) vote for each speed's offset; then every frame of the
    query is compared with the source's frames within `band_s` of that line only.
    `mirrored`: the query frames' mirror-image hashes (a flipped copy matches too); `common`:
    indexes of query frames that many other submissions share (never counted)."""
    qi = [i for i, f in enumerate(query) if f[2] >= min_quality and not (common and i in common)]
    si = [j for j, f in enumerate(source) if f[2] >= min_quality]
    if not qi or not si:
        return None
    q_all = _matrix([query[i][1] for i in qi])
    m_all = _matrix([mirrored[i] for i in qi]) if mirrored is not None else None
    s_all = _matrix([source[j][1] for j in si])
    tq_all = np.array([query[i][0] for i in qi])
    ts_all = np.array([source[j][0] for j in si])
    step = max(1, int(np.ceil(np.sqrt(len(qi) * len(si) / coarse_pairs))))
    distance = _distances(q_all[::step], m_all[::step] if m_all is not None else None, s_all[::step])
    rows, cols = np.nonzero(distance <= max_distance)
    if len(rows) == 0:
        return None
    tq, ts = tq_all[::step][rows], ts_all[::step][cols]
    order = np.argsort(ts_all, kind="stable")
    ts_sorted = ts_all[order]
    width = int(2 * band_s * FRAME_RATE) + 3
    best: Stretch | None = None
    for speed in SPEEDS:
        offsets = ts - speed * tq
        bins = np.round(offsets / band_s).astype(np.int64)
        values, counts = np.unique(bins, return_counts=True)
        centre = values[np.argmax(counts)] * band_s
        # every query frame against the source's frames near the line
        predicted = speed * tq_all + centre
        low = np.searchsorted(ts_sorted, predicted - band_s, side="left")
        high = np.searchsorted(ts_sorted, predicted + band_s, side="right")
        near = low[:, None] + np.arange(width)[None, :]
        valid = near < np.minimum(high, len(ts_sorted))[:, None]
        near = order[np.minimum(near, len(ts_sorted) - 1)]
        fine = np.bitwise_count(q_all[:, None, :] ^ s_all[near]).sum(axis=2)
        if m_all is not None:
            fine = np.minimum(fine, np.bitwise_count(m_all[:, None, :] ^ s_all[near]).sum(axis=2))
        hit_rows, hit_cols = np.nonzero(valid & (fine <= max_distance))
        if len(hit_rows) == 0:
            continue
        stretch = _longest_run(tq_all[hit_rows], ts_all[near[hit_rows, hit_cols]], max_gap_s)
        if stretch is not None:
            inside = [r for r in np.unique(hit_rows) if stretch.query[0] <= tq_all[r] < stretch.query[1]]
            shown = [query[qi[r]][1] for r in inside]
            stretch = Stretch(stretch.query, stretch.source, stretch.matched, speed, distinct_count(shown, distinct_distance))
            if best is None or (stretch.query[1] - stretch.query[0], stretch.matched, -abs(speed - 1)) > \
                    (best.query[1] - best.query[0], best.matched, -abs(best.speed - 1)):
                best = stretch
    return best


def _distances(q: np.ndarray, m: np.ndarray | None, s: np.ndarray) -> np.ndarray:
    """Bits between every query frame (or its mirror image) and every source frame."""
    distance = np.bitwise_count(q[:, None, :] ^ s[None, :, :]).sum(axis=2)
    if m is not None:
        distance = np.minimum(distance, np.bitwise_count(m[:, None, :] ^ s[None, :, :]).sum(axis=2))
    return distance


def _longest_run(tq: np.ndarray, ts: np.ndarray, max_gap_s: float) -> Stretch | None:
    if len(tq) == 0:
        return None
    order = np.argsort(tq, kind="stable")
    tq, ts = tq[order], ts[order]
    times = np.unique(tq)
    best, start = None, 0
    for i in range(1, len(times) + 1):
        if i == len(times) or times[i] - times[i - 1] > max_gap_s:
            run = (times[start], times[i - 1])
            inside = (tq >= run[0]) & (tq <= run[1])
            candidate = Stretch((float(run[0]), float(run[1]) + 1 / FRAME_RATE), (float(ts[inside].min()), float(ts[inside].max()) + 1 / FRAME_RATE),
                                int(len(np.unique(tq[inside]))))
            if best is None or (candidate.query[1] - candidate.query[0]) > (best.query[1] - best.query[0]):
                best = candidate
            start = i
    return best


def sound_stretch(query: list[int], source: list[int], *, max_bits: int, min_share: float, max_gap_s: float,
                  query_start_s: float = 0.0, source_start_s: float = 0.0) -> Stretch | None:
    """The longest run of one-second windows of the query's sound that agree with the source's
    at their best offset (items within `max_bits` bits; silent items, 0, never agree)."""
    if not query or not source:
        return None
    where: dict[int, list[int]] = {}
    for j, value in enumerate(source):
        if value:
            where.setdefault(value, []).append(j)
    votes: dict[int, int] = {}
    for i, value in enumerate(query):
        for j in where.get(value, [])[:50]:
            votes[j - i] = votes.get(j - i, 0) + 1
    if not votes:
        return None
    offset = max(votes, key=votes.get)
    a = np.array(query, dtype=np.uint32)
    b = np.array(source, dtype=np.uint32)
    lo, hi = max(0, -offset), min(len(a), len(b) - offset)
    if hi - lo <= 0:
        return None
    qa, sb = a[lo:hi], b[lo + offset:hi + offset]
    agree = (np.bitwise_count(qa ^ sb) <= max_bits) & (qa != 0) & (sb != 0)
    per = max(1, int(round(ITEMS_PER_S)))
    windows = [agree[k:k + per].mean() >= min_share for k in range(0, len(agree) - per + 1, per)]
    best, start = None, None
    gap_windows = int(max_gap_s)
    misses = 0
    for k, ok in enumerate([*windows, False]):
        if ok:
            start = k if start is None else start
            misses = 0
            last = k
        elif start is not None:
            misses += 1
            if misses > gap_windows or k == len(windows):
                matched = sum(windows[start:last + 1])
                run = (query_start_s + (lo + start * per) / ITEMS_PER_S, query_start_s + (lo + (last + 1) * per) / ITEMS_PER_S)
                candidate = Stretch(run, (run[0] - query_start_s + source_start_s + offset / ITEMS_PER_S,
                                          run[1] - query_start_s + source_start_s + offset / ITEMS_PER_S), matched)
                if best is None or (candidate.query[1] - candidate.query[0]) > (best.query[1] - best.query[0]):
                    best = candidate
                start, misses = None, 0
    return best


# --- against the activity ---------------------------------------------------------------------

@dataclass(frozen=True)
class Indexed:
    """A video (or picture) of an earlier submission, as the activity state keeps it."""

    media_key: str           # "<submission_id>/<member sha256[:16]>"
    submission_id: str
    path: str
    first_seen: float
    print: dict


def media_key(submission_id: str, sha256: str) -> str:
    return f"{submission_id}/{sha256[:16]}"


def index_keys(fingerprint: Fingerprint, rules) -> set[int]:
    """What a video is indexed by: its distinct frames' chunks and its sampled sound items."""
    keys = {k for frame in distinct_frames(fingerprint.frames, rules.min_quality, rules.index_distance) for k in chunk_keys(frame[1])}
    return keys | audio_keys(fingerprint.audio)


def query_keys(fingerprint: Fingerprint, rules) -> set[int]:
    """What a video is looked up by: its index keys and its distinct frames' mirror images (a
    flipped copy), never every frame's (a 45-minute query would send 40,000 keys)."""
    keys = index_keys(fingerprint, rules)
    if len(fingerprint.mirrors) == len(fingerprint.frames):
        where = {frame: index for index, frame in enumerate(fingerprint.frames)}
        for frame in distinct_frames(fingerprint.frames, rules.min_quality, rules.index_distance):
            keys |= set(chunk_keys(fingerprint.mirrors[where[frame]]))
    return keys


def common_frames(fingerprint: Fingerprint, holders: dict[int, list[str]], clusters: dict[str, str], own: str, rules) -> set[int]:
    """Indexes of the query's frames that many unrelated submissions share (a bumper, the
    platform's opening screens): `common_min_submissions` clusters or more hold one of the
    frame's chunks. Copies of one source are one cluster: a ring of copies never makes its
    footage common."""
    common = set()
    for index, (_t, digest, quality) in enumerate(fingerprint.frames):
        if quality < rules.min_quality:
            continue
        owners = {clusters.get(key, key) for k in chunk_keys(digest) for key in holders.get(k, []) if key.split("/", 1)[0] != own}
        if len(owners) >= rules.common_min_submissions:
            common.add(index)
    return common


def judge_pair(query: Fingerprint, source: Fingerprint, rules, common: set[int]) -> tuple[Stretch | None, Stretch | None]:
    """The picture and the sound stretches that count as reuse (None where the evidence is short)."""
    picture = picture_stretch(query.frames, source.frames, max_distance=rules.max_distance, min_quality=rules.min_quality,
                              max_gap_s=rules.max_gap_s, distinct_distance=rules.distinct_distance,
                              mirrored=query.mirrors if len(query.mirrors) == len(query.frames) else None, common=common)
    if picture is not None:
        span = picture.query[1] - picture.query[0]
        if span < rules.min_stretch_s or picture.distinct < rules.min_distinct or \
                picture.matched < rules.min_matched_share * span * FRAME_RATE:
            picture = None
    sound = sound_stretch(query.audio, source.audio, max_bits=rules.sound_max_bits, min_share=rules.sound_min_share,
                          max_gap_s=rules.max_gap_s, query_start_s=query.audio_start_s, source_start_s=source.audio_start_s)
    if sound is not None:
        span = sound.query[1] - sound.query[0]
        if span < rules.min_stretch_s or sound.matched < rules.sound_min_windows_share * span:
            sound = None
    return picture, sound


def find_reuse(query: Fingerprint, submission_id: str, first_seen: float, state, rules) -> list[dict]:
    """The earlier submissions whose videos share a stretch with this one, best first (dicts of
    ReuseMatch's fields, without the author's view, which `decide` adds)."""
    keys = query_keys(query, rules)
    holders = state.media_holders(keys)
    clusters = state.media_clusters({key for held in holders.values() for key in held})
    common = common_frames(query, holders, clusters, submission_id, rules)
    counts: dict[str, int] = {}
    for held in holders.values():
        for key in set(held):
            if key.split("/", 1)[0] != submission_id:
                counts[key] = counts.get(key, 0) + 1
    # a copy shares dozens of keys; one shared key is chance (a sound item, a chunk): never worth the exact check
    ranked = sorted((k for k in counts if counts[k] >= rules.min_shared_keys), key=lambda k: (-counts[k], k))[:rules.max_candidates * 3]
    found = []
    for indexed in state.media_prints(set(ranked)).values():
        if indexed.first_seen >= first_seen or "frames" not in indexed.print or len(found) >= rules.max_candidates:
            continue
        source = Fingerprint.from_json(indexed.print)
        picture, sound = judge_pair(query, source, rules, common)
        if picture is None and sound is None:
            continue
        main = max((s for s in (picture, sound) if s is not None), key=lambda s: s.query[1] - s.query[0])
        found.append({"submission_id": indexed.submission_id, "path": indexed.path, "first_seen": indexed.first_seen,
                      "cluster": clusters.get(indexed.media_key, indexed.media_key),
                      "by": [name for name, s in (("picture", picture), ("sound", sound)) if s is not None],
                      "query": [round(main.query[0], 1), round(main.query[1], 1)],
                      "source": [round(main.source[0], 1), round(main.source[1], 1)],
                      "query_share": round(min(1.0, (main.query[1] - main.query[0]) / max(query.duration_s, 1.0)), 3),
                      "source_share": round(min(1.0, (main.source[1] - main.source[0]) / max(source.duration_s, 1.0)), 3),
                      "matched": int(main.matched), "speed": main.speed, "distinct": picture.distinct if picture else 0,
                      "source_media": indexed.media_key, "source_duration_s": source.duration_s})
    if not found:
        return []
    # the largest share first; among about equal ones (copies of one original) the one first seen
    best = max(m["query_share"] for m in found)
    return sorted(found, key=lambda m: (m["query_share"] < best - 0.1, m["first_seen"] if m["query_share"] >= best - 0.1 else
                                        -m["query_share"], m["submission_id"]))


def cluster_of(matches: list[dict], media_key: str) -> str:
    """A video's cluster: the cluster of the source it copies most (the first-seen original), or itself."""
    return matches[0]["cluster"] if matches else media_key


# --- pictures: photos in the archive, pictures inside .docx/.pptx/.pdf ---------------------------

PICTURE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff")
HOLDING_SUFFIXES = (".docx", ".pptx", ".pdf")          # documents whose pictures are read
OOXML_MEDIA = ("word/media/", "ppt/media/")
PICTURE_CHUNKS = 16                                     # a picture is one hash: 16 chunks of 16 bits (exact on one when <16 bits differ)
MAX_PICTURE_BYTES = 40 * 1024 * 1024
MAX_PDF_PAGES = 60


@dataclass(frozen=True)
class HashedPicture:
    where: str           # "" for a photo member, else the picture's name inside the document ("word/media/image3.jpeg", "page 4")
    digest: bytes
    quality: int
    sha: str             # sha256 of the picture's own bytes (first 16 hex)
    size: tuple[int, int]


def picture_keys(digest: bytes) -> list[int]:
    return [(KEY_PICTURE << 40) | (i << 32) | int.from_bytes(digest[2 * i:2 * i + 2], "big") for i in range(PICTURE_CHUNKS)]


def _hash_encoded(data: bytes, *, min_side: int, max_pixels: int) -> tuple[bytes, int, tuple[int, int]] | None:
    """PDQ of an encoded picture, decoded at a reduced scale; None for icons, bombs and what Pillow cannot read."""
    import io

    import pdqhash
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            size = image.size
            if min(size) < min_side or size[0] * size[1] > max_pixels:
                return None
            image.draft("RGB", (512, 512))
            picture = ImageOps.exif_transpose(image).convert("RGB")
            picture.thumbnail((512, 512))
            bits, quality = pdqhash.compute(np.ascontiguousarray(np.asarray(picture)))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None
    return np.packbits(bits).tobytes(), int(quality), size


def picture_hashes(path: str, suffix: str, limit: int, min_side: int, max_pixels: int) -> list[HashedPicture]:
    """The hashes of a photo, or of the pictures inside a .docx/.pptx (its media folder) or a
    .pdf (its first pages' images), at most `limit`. Runs on hostile bytes: call it through
    `sandbox.call_bounded`."""
    import hashlib
    import zipfile

    def hashed(where: str, data: bytes) -> HashedPicture | None:
        if len(data) > MAX_PICTURE_BYTES:
            return None
        result = _hash_encoded(data, min_side=min_side, max_pixels=max_pixels)
        return HashedPicture(where, result[0], result[1], hashlib.sha256(data).hexdigest()[:16], result[2]) if result else None

    found: list[HashedPicture] = []
    if suffix in PICTURE_SUFFIXES:
        with open(path, "rb") as stream:
            found.append(hashed("", stream.read(MAX_PICTURE_BYTES + 1)))
    elif suffix in (".docx", ".pptx"):
        with zipfile.ZipFile(path) as archive:
            infos = [i for i in archive.infolist() if i.filename.startswith(OOXML_MEDIA) and
                     i.filename.lower().endswith(PICTURE_SUFFIXES) and i.file_size <= MAX_PICTURE_BYTES]
            for info in sorted(infos, key=lambda i: -i.file_size)[:limit * 2]:      # the largest first: photos before icons
                found.append(hashed(info.filename, archive.read(info)))
    elif suffix == ".pdf":
        from pypdf import PdfReader

        for number, page in enumerate(PdfReader(path).pages[:MAX_PDF_PAGES], start=1):
            for index, image in enumerate(list(page.images)[:8]):
                found.append(hashed(f"第{number}页图{index + 1}", image.data))
            if sum(1 for f in found if f) >= limit:
                break
    seen, kept = set(), []
    for picture in found:
        if picture is not None and picture.sha not in seen:
            seen.add(picture.sha)
            kept.append(picture)
    return kept[:limit]


def find_picture(digest: bytes, submission_id: str, first_seen: float, state, rules) -> tuple[list[Indexed], bool]:
    """The earlier submissions' pictures within `picture_max_distance` bits of this one, first
    seen first, and whether the picture is common (`common_min_submissions` other submissions
    hold it: a screenshot of the platform, a district's logo) and so never reported."""
    holders = state.media_holders(set(picture_keys(digest)))
    keys = {key for held in holders.values() for key in held if key.split("/", 1)[0] != submission_id}
    near = [indexed for indexed in state.media_prints(keys).values()
            if "picture" in indexed.print and hamming(bytes.fromhex(indexed.print["picture"]), digest) <= rules.picture_max_distance]
    # counted by submission, not by cluster: a picture is all its copies are (a logo handed round is common)
    if len({i.submission_id for i in near}) >= rules.common_min_submissions:
        return [], True
    earlier = sorted((i for i in near if i.first_seen < first_seen), key=lambda i: (i.first_seen, i.submission_id))
    return earlier, False
