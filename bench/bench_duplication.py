"""The duplication index on Redis: index N synthetic case introductions, query 100 planted ones.

    .venv/bin/python bench/bench_duplication.py [--documents 10000]

Prints the indexing rate, p50/p95 query time, the Redis memory the index uses, and the error
of measured rates against planted ones (0%, 10%, 29%, 31%, 50% copied from one source, with
paragraphs reordered and punctuation changed). Uses Redis DB 14 of SMARTEDU_REDIS_URL and
empties it before and after.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis  # noqa: E402

from pipeline.duplication import duplication_rate  # noqa: E402
from pipeline.state.redis import RedisState  # noqa: E402
from tests.textgen import document, planted  # noqa: E402

SHARES = [0.0, 0.10, 0.29, 0.31, 0.50]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=100)
    args = parser.parse_args()
    url = os.environ.get("SMARTEDU_REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0] + "/14"
    client = redis.Redis.from_url(url, decode_responses=True)
    client.flushdb()
    state = RedisState(client)
    rng = random.Random(2023)
    try:
        before = client.info("memory")["used_memory"]
        sources: dict[str, list[str]] = {}
        started = time.monotonic()
        for i in range(args.documents):
            sentences = document(rng, 5000)
            if i % max(1, args.documents // args.queries) == 0:
                sources[f"d{i}"] = sentences
            duplication_rate("".join(sentences), f"d{i}", state, run_length=13, window=8, boilerplate_share=0.02, top=5)
        index_s = time.monotonic() - started
        memory = client.info("memory")["used_memory"] - before
        times, errors = [], []
        for q, (sid, sentences) in enumerate(list(sources.items())[: args.queries]):
            share = SHARES[q % len(SHARES)]
            text, truth = planted(rng, sentences, share, chars=5000)
            started = time.monotonic()
            result = duplication_rate(text, f"q{q}", state, run_length=13, window=8, boilerplate_share=0.02, top=5)
            times.append(time.monotonic() - started)
            errors.append(abs(result.rate - truth))
        times.sort()
        print(f"indexed {args.documents} documents of ~5,000 characters in {index_s:.1f} s = {args.documents / index_s:.0f} documents/s "
              f"(each also queried against the index first, as a real submission is)")
        print(f"Redis memory used by the index: {memory / 1e6:.0f} MB ({memory / args.documents / 1e3:.1f} kB per document, texts included)")
        print(f"{len(times)} queries: p50 {statistics.median(times) * 1000:.0f} ms, p95 {times[int(0.95 * (len(times) - 1))] * 1000:.0f} ms")
        print(f"accuracy against planted rates {SHARES}: mean error {statistics.mean(errors) * 100:.2f} points, "
              f"max {max(errors) * 100:.2f} points")
    finally:
        client.flushdb()


if __name__ == "__main__":
    main()
