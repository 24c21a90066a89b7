"""Reports for people: page rendering and the reviewers' sheet at the activity's scale.

    .venv/bin/python bench/bench_report.py [--count 5000]

Builds one real verdict with `smartedu check` (a sample case, media included), copies it
into `--count` verdict folders across 20 districts, then measures: rendering report.html
(per page, CPU ms), reading every verdict.json and writing the .xlsx (rows/s, CPU s), and
the .csv. Baseline in the same run: json.loads of every verdict alone (the floor of any sheet).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config.rules import load_rules  # noqa: E402
from config.settings import DEFAULT_RULES  # noqa: E402
from pipeline import sheet  # noqa: E402
from pipeline.models import Verdict  # noqa: E402
from pipeline.report import render_report  # noqa: E402

SMARTEDU = str(Path(sys.prefix) / "bin" / "smartedu")


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(label: str, func, count: int) -> float:
    started_cpu, started = cpu(), time.monotonic()
    func()
    used, wall = cpu() - started_cpu, time.monotonic() - started
    print(f"{label:44} {wall:7.2f} s wall {used:7.2f} CPU s  {count / wall:9.0f} /s")
    return used


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=5000)
    args = parser.parse_args()
    rules = load_rules(DEFAULT_RULES)
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        work = Path(tmp)
        subprocess.run([SMARTEDU, "sample", str(work / "s.zip"), "--event", str(work / "s.json")], check=True, capture_output=True)
        subprocess.run([SMARTEDU, "check", str(work / "s.zip"), "--event", str(work / "s.json"), "--out", str(work / "one"),
                        "--state", str(work / "state")], capture_output=True)
        template = json.loads((work / "one" / "verdict.json").read_text(encoding="utf-8"))
        root = work / "all"
        for index in range(args.count):
            verdict = dict(template, submission_id=f"s{index:05d}", status=["pass", "warn", "fail"][index % 3],
                           project=["case", "lesson", "team"][index % 3])
            verdict["event"] = dict(template["event"], submission_id=verdict["submission_id"], district=f"第{index % 20}区")
            folder = root / f"d{index % 20}" / verdict["submission_id"]
            folder.mkdir(parents=True)
            (folder / "verdict.json").write_text(json.dumps(verdict, ensure_ascii=False), encoding="utf-8")
        print(f"{args.count} verdicts of {len(json.dumps(template)) / 1024:.1f} KB each\n")
        model = Verdict.model_validate(template)
        pages = 500
        page_cpu = timed(f"render report.html x{pages}", lambda: [render_report(model, rules) for _ in range(pages)], pages)
        baseline = timed("baseline: json.loads of every verdict", lambda: [json.loads(p.read_bytes())
                                                                        for p in root.rglob("verdict.json")], args.count)

        def build(fmt: str) -> None:
            found = list(sheet.verdicts_under(root))
            rows = [sheet.entry_row(v) for v in sheet.latest_verdicts(v for v, _ in found)]
            quotas, awards = sheet.quota_rows(rows, rules), sheet.award_rows(rows, rules)
            if fmt == "xlsx":
                sheet.write_xlsx(work / "sheet.xlsx", rows, quotas, awards, rules)
            else:
                sheet.write_csv(work / "sheet.csv", rows, rules)

        xlsx = timed("sheet: read all + quotas + awards + .xlsx", lambda: build("xlsx"), args.count)
        csv_cpu = timed("sheet: read all + .csv", lambda: build("csv"), args.count)
        print(f"\nper page: {page_cpu / pages * 1000:.1f} CPU ms; xlsx = {xlsx / baseline:.1f}x and csv = "
              f"{csv_cpu / baseline:.1f}x the CPU of only parsing the verdicts")


if __name__ == "__main__":
    main()
