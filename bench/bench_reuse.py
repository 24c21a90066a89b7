"""Reuse of footage and photos: the labelled set's figures, the fingerprint's cost, and the index
at the activity's scale, in both state backends.

    .venv/bin/python bench/bench_reuse.py [--videos 4000] [--photos 50000] [--queries 200] [--backends sqlite redis]

1. The labelled set of tests/reuse_set.py handed in in order (SQLite state): precision and recall
   of VIDEO_REUSED, the error of the matched ranges in seconds (query and source ends).
2. Cost: the fingerprint's CPU (timings' reuse_cpu: hashing the QC pass's small frames and
   fpcalc) per minute of video, against a plain decode of the same file measured in the same run.
3. Scale: `--videos` fingerprints shaped as the activity's (6-minute and 45-minute videos: two
   frames a second drifting as a filmed scene does, sound items likewise) and `--photos`
   pictures indexed as submissions arrive (about 1.3 videos and 17 photos a submission: 3,000
   submissions); then `--queries` lookups (half of them copies of an indexed video or photo with
   bits flipped, half new ones): p50/p95 per lookup, recall of the copies, and the index's size
   (SQLite file or Redis used_memory, per video and per photo). Redis: DB 15 of SMARTEDU_REDIS_URL,
   emptied before and after.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config.rules import load_rules  # noqa: E402
from config.settings import DEFAULT_RULES  # noqa: E402
from pipeline import reuse  # noqa: E402
from pipeline.state.local import LocalState  # noqa: E402
from tests.reuse_set import ORDER, hand_in, make_set  # noqa: E402


def labelled(rules, folder: Path) -> None:
    cases = make_set(folder)
    state = LocalState(folder / "state")
    reports = {clip: hand_in(folder, clip, state, rules) for clip in ORDER}
    tp = fp = fn = 0
    errors = []
    for case in cases:
        report, findings, _ = reports[case.query]
        flagged = any(f.code == "VIDEO_REUSED" for f in findings)
        if case.reused and flagged:
            tp += 1
            match = report.reuse.matches[0]
            errors += [abs(match.query[0] - case.query_range[0]), abs(match.query[1] - case.query_range[1]),
                       abs(match.source[0] - case.source_range[0]), abs(match.source[1] - case.source_range[1])]
            print(f"  {case.name:24s} found by {'+'.join(match.by):14s} query {match.query} source {match.source} "
                  f"share {match.query_share:.2f}/{match.source_share:.2f} (named {match.submission_id})")
        elif case.reused:
            fn += 1
            print(f"  {case.name:24s} MISSED")
        elif flagged:
            fp += 1
            print(f"  {case.name:24s} FALSE: {report.reuse.matches}")
        else:
            print(f"  {case.name:24s} clean")
    print(f"labelled set: precision {tp}/{tp + fp} recall {tp}/{tp + fn}; range error mean {statistics.mean(errors):.2f} s, "
          f"max {max(errors):.2f} s")
    # cost: the fingerprint's CPU against a plain decode of the same file
    for clip in ("A", "titled"):
        report, _findings, timings = reports[clip]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(["ffmpeg", "-v", "error", "-threads", "1", "-i", str(folder / f"{clip}.mp4"), "-f", "null", "-"], check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        decode = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        minutes = report.probe.duration_s / 60
        print(f"cost {clip}: fingerprint {timings['reuse_cpu'] / minutes:.2f} CPU s per minute of video "
              f"({timings['reuse_cpu'] / report.probe.duration_s * 100:.2f}% of its duration), a plain decode {decode / minutes:.2f} "
              f"CPU s per minute: ratio {timings['reuse_cpu'] / decode:.2f}; matching {timings.get('reuse', 0) * 1000:.0f} ms")


def _drift(rng: random.Random, digest: bytes, bits: int) -> bytes:
    value = int.from_bytes(digest, "big")
    for _ in range(bits):
        value ^= 1 << rng.randrange(256)
    return value.to_bytes(32, "big")


def synthetic_video(rng: random.Random, seconds: float) -> reuse.Fingerprint:
    """Two frames a second; a new shot every 5-20 s, otherwise a few bits drift (a filmed scene)."""
    frames, digest, t, shot_end = [], rng.randbytes(32), 0.0, 0.0
    while t < seconds:
        if t >= shot_end:
            digest, shot_end = rng.randbytes(32), t + rng.uniform(5, 20)
        else:
            digest = _drift(rng, digest, 3)
        frames.append((round(t, 2), digest, 90))
        t += 0.5
    items, value = [], rng.getrandbits(32)
    for _ in range(int(seconds * reuse.ITEMS_PER_S)):
        value = rng.getrandbits(32) if rng.random() < 0.3 else value ^ (1 << rng.randrange(32))
        items.append(value or 1)
    return reuse.Fingerprint(frames, items, 0.0, seconds)


def copied(rng: random.Random, source: reuse.Fingerprint) -> reuse.Fingerprint:
    """A re-encode: every frame a few bits off, the sound items a bit off now and then, cut in two."""
    frames = [(t, _drift(rng, d, rng.randrange(4, 14)), q) for t, d, q in source.frames[len(source.frames) // 4:]]
    frames = [(round(t - frames[0][0], 2), d, q) for t, d, q in frames]
    items = [v ^ (1 << rng.randrange(32)) if rng.random() < 0.2 else v for v in source.audio[len(source.audio) // 4:]]
    return reuse.Fingerprint(frames, items, 0.0, source.duration_s * 0.75)


def scale(rules, backend: str, videos: int, photos: int, queries: int) -> None:
    import redis

    from pipeline.state.redis import RedisState

    rng = random.Random(26)
    r = rules.reuse
    with tempfile.TemporaryDirectory(prefix="bench-reuse-") as tmp:
        client = None
        if backend == "redis":
            url = os.environ.get("SMARTEDU_REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0] + "/15"
            client = redis.Redis.from_url(url, decode_responses=True)
            client.flushdb()
            state, before = RedisState(client), client.info("memory")["used_memory"]
        else:
            state, before = LocalState(Path(tmp)), 0
        started = time.monotonic()
        kept_videos, kept_photos = [], []
        for n in range(videos):
            print_ = synthetic_video(rng, 2700.0 if n % 10 == 0 else 360.0)
            sid = f"s{n * 3000 // videos:05d}"
            key = f"{sid}/v{n:015d}"
            state.register_media(key, sid, f"video{n}.mp4", reuse.index_keys(print_, r), print_.to_json(with_mirrors=False),
                                 float(n), r.max_holders)
            if n % (videos // (queries // 4) or 1) == 7 % (videos // (queries // 4) or 1) and len(kept_videos) < queries // 4:
                kept_videos.append((sid, print_))
        video_size = (client.info("memory")["used_memory"] - before) if client else sum(p.stat().st_size for p in Path(tmp).glob("*"))
        for n in range(photos):
            digest = rng.randbytes(32)
            sid = f"s{n * 3000 // photos:05d}"
            state.register_media(f"{sid}/p{n:015d}", sid, f"photo{n}.jpg", set(reuse.picture_keys(digest)),
                                 {"picture": digest.hex(), "quality": 90}, float(videos + n), r.max_holders)
            if n % (photos // (queries // 4) or 1) == 0 and len(kept_photos) < queries // 4:
                kept_photos.append((sid, digest))
        size = (client.info("memory")["used_memory"] - before) if client else sum(p.stat().st_size for p in Path(tmp).glob("*"))
        built = time.monotonic() - started
        timings: dict[str, list[float]] = {"new video": [], "copied video": [], "new photo": [], "copied photo": []}
        video_found = photo_found = 0
        for sid, source in kept_videos:
            for label, query in (("copied video", copied(rng, source)), ("new video", synthetic_video(rng, 360.0))):
                t0 = time.perf_counter()
                matches = reuse.find_reuse(query, "query", 1e12, state, r)
                timings[label].append(time.perf_counter() - t0)
                video_found += label == "copied video" and any(m["submission_id"] == sid for m in matches)
        for sid, digest in kept_photos:
            for label, query in (("copied photo", _drift(rng, digest, 10)), ("new photo", rng.randbytes(32))):
                t0 = time.perf_counter()
                sources, _common = reuse.find_picture(query, "query", 1e12, state, r)
                timings[label].append(time.perf_counter() - t0)
                photo_found += label == "copied photo" and any(s.submission_id == sid for s in sources)
        every = [t for values in timings.values() for t in values]
        shown = "; ".join(f"{label} p50 {statistics.median(v) * 1000:.0f} ms p95 {statistics.quantiles(v, n=20)[18] * 1000:.0f} ms"
                          for label, v in timings.items())
        print(f"{backend}: {videos} videos + {photos} photos indexed in {built:.0f} s; all lookups p95 "
              f"{statistics.quantiles(every, n=20)[18] * 1000:.0f} ms ({shown}); "
              f"copies found: videos {video_found}/{len(kept_videos)} photos {photo_found}/{len(kept_photos)}; index "
              f"{size / 1e6:.0f} MB ({video_size / videos / 1e3:.1f} kB a video, {(size - video_size) / max(photos, 1) / 1e3:.2f} kB a photo)")
        if client is not None:
            client.flushdb()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=4000)
    parser.add_argument("--photos", type=int, default=50000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--backends", nargs="*", default=["sqlite", "redis"])
    parser.add_argument("--skip-labelled", action="store_true")
    args = parser.parse_args()
    rules = load_rules(DEFAULT_RULES)
    if not args.skip_labelled:
        with tempfile.TemporaryDirectory(prefix="bench-reuse-set-") as tmp:
            labelled(rules, Path(tmp))
    for backend in args.backends:
        scale(rules, backend, args.videos, args.photos, args.queries)


if __name__ == "__main__":
    main()
