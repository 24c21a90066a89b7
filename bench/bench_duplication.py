"""The duplication rule at the activity's scale, in both state backends.

    .venv/bin/python bench/bench_duplication.py [--sizes 100 1000 3000] [--backends sqlite redis]

For each size, the labelled activity of tests/introgen.py (introductions of 2,000-3,000
characters on the notice's 附件3 template, policy phrases, district preambles, and planted
copies: whole, partial with headings inside, reordered, re-punctuated, rings of five and
fifteen copiers, copies of copies, shares below the threshold) goes through the measure in
arrival order, each introduction queried against the index and then indexed, as a real
submission is. Prints precision and recall of DUPLICATION_HIGH against the planted truth, the
error of the measured rates against the planted shares, whether each flagged copy names its
first-seen source, p50/p95 time per introduction, and the index's size (Redis `used_memory`
per document; the SQLite file per document). Redis: DB 14 of SMARTEDU_REDIS_URL, emptied
before and after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config.rules import load_rules  # noqa: E402
from config.settings import DEFAULT_RULES  # noqa: E402
from pipeline.duplication import duplication_rate  # noqa: E402
from pipeline.state.local import LocalState  # noqa: E402
from tests.introgen import activity  # noqa: E402


def run(size: int, backend: str, rules) -> None:
    import redis

    from pipeline.state.redis import RedisState

    settings, base = rules.settings(), rules.base()
    intros = activity(size, seed=size)
    client = None
    with tempfile.TemporaryDirectory(prefix="bench-dup-") as tmp:
        if backend == "redis":
            url = os.environ.get("SMARTEDU_REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0] + "/14"
            client = redis.Redis.from_url(url, decode_responses=True)
            client.flushdb()
            state = RedisState(client)
            before = client.info("memory")["used_memory"]
        else:
            state = LocalState(Path(tmp) / "state")
        try:
            times, errors = [], []
            tp = fp = fn = wrong_source = 0
            for n, intro in enumerate(intros):
                started = time.perf_counter()
                result = duplication_rate(intro.text, intro.sid, state, settings, base, now=float(n))
                times.append(time.perf_counter() - started)
                flagged = result.rate >= rules.threshold
                tp += flagged and intro.copied
                fp += flagged and not intro.copied
                fn += intro.copied and not flagged
                wrong_source += flagged and intro.copied and result.matches[0].submission_id != intro.source
                errors.append(abs(result.rate - intro.truth))
            if client is not None:
                memory = client.info("memory")["used_memory"] - before
                where = f"Redis used_memory {memory / 1e6:.1f} MB = {memory / size / 1e3:.1f} kB per introduction (texts included)"
            else:
                disk = (Path(tmp) / "state" / "activity.sqlite3").stat().st_size
                where = f"SQLite file {disk / 1e6:.1f} MB = {disk / size / 1e3:.1f} kB per introduction (texts included)"
        finally:
            if client is not None:
                client.flushdb()
    times.sort()
    copies = sum(i.copied for i in intros)
    print(f"{size:5d} introductions, {backend:6s}: {copies} planted copies >= 30%; precision {tp}/{tp + fp}, recall {tp}/{copies}, "
          f"source named wrongly {wrong_source}; rate error mean {statistics.mean(errors) * 100:.2f} / max {max(errors) * 100:.2f} points "
          f"({sum(e > 0.03 for e in errors)} over 3); per introduction p50 {statistics.median(times) * 1000:.0f} ms, "
          f"p95 {times[int(0.95 * (len(times) - 1))] * 1000:.0f} ms; {where}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 3000])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "redis"], choices=["sqlite", "redis"])
    args = parser.parse_args()
    rules = load_rules(DEFAULT_RULES).duplication
    for size in args.sizes:
        for backend in args.backends:
            run(size, backend, rules)


if __name__ == "__main__":
    main()
