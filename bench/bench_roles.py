"""Material roles on the labelled naming set: accuracy, false fails, and what telling roles costs.

    .venv/bin/python bench/bench_roles.py [--full]

For every submission of tests/naming_set.py the archive is unpacked into a local store and
classified twice in the same run: by names alone (the baseline: no content read, no OCR)
and with all the evidence. Printed: role accuracy (members with the expected role / all
members), false MATERIAL_MISSING on the valid submissions, missed MATERIAL_MISSING on the
invalid ones, and CPU seconds per submission for each (children included). OCR of one
scanned page is measured apart. `--full` also runs each submission through the whole
embedded check (media off) and counts false fails of any code.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config.rules import load_rules  # noqa: E402
from config.settings import DEFAULT_RULES  # noqa: E402
from pipeline import ocr  # noqa: E402
from pipeline.classify import classify_materials  # noqa: E402
from pipeline.layout import Layout  # noqa: E402
from pipeline.models import parse_event  # noqa: E402
from pipeline.storage import LocalStore  # noqa: E402
from pipeline.embedded import check_submission  # noqa: E402
from pipeline.stages.context import SubmissionContext  # noqa: E402
from pipeline.unpack import unpack_archive  # noqa: E402
from tests.naming_set import Factory, build_case_zip, cases, event_for  # noqa: E402


def cpu() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def classify_once(case, archive: Path, rules, work: Path, evidence: bool):
    """Unpack into a fresh store and classify; returns (materials, findings, classify CPU s)."""
    event = parse_event(event_for(case))
    ctx = SubmissionContext(event, rules, LocalStore(work), Layout(event.submission_id, embedded=True))
    with open(archive, "rb") as source:
        result = unpack_archive(source, archive.stat().st_size, archive.name, ctx.store, rules, ctx.layout.member)
    started = cpu()
    kwargs = {"title": event.title, "read": ctx.content.read_for_roles, "screen": ctx.content.paper_share} if evidence else {}
    findings = classify_materials(result.materials, rules, case.project, case.applicant_type, **kwargs)
    spent = cpu() - started
    from pipeline.rules import check_materials

    findings += check_materials(result.materials, rules, case.project, case.applicant_type, archive.name)
    return result.materials, findings, spent


def score(case, materials, findings) -> tuple[int, int, bool, bool]:
    roles = {m.path: m.role for m in materials}
    right = sum(roles.get(member.path) == member.role for member in case.members)
    missing = sorted(f.detail["role"] for f in findings if f.code == "MATERIAL_MISSING")
    false_fail = case.valid and bool(missing)
    missed_fail = not case.valid and missing != sorted(case.missing)
    return right, len(case.members), false_fail, missed_fail


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--full", action="store_true", help="also run the whole embedded check on every submission")
    args = parser.parse_args()
    rules = load_rules(DEFAULT_RULES)
    ocr.ocr_engine()                       # model loading is per process, not per submission
    with tempfile.TemporaryDirectory(prefix="bench-roles-") as tmp:
        work = Path(tmp)
        factory = Factory(work / "factory")
        the_set = cases()
        archives = {c.name: build_case_zip(c, factory, work / f"{c.name}.zip") for c in the_set}
        rows = {}
        for label, evidence in (("names only (baseline)", False), ("all evidence", True)):
            totals = [0, 0, 0, 0]
            costs = []
            for case in the_set:
                materials, findings, spent = classify_once(case, archives[case.name], rules, work / label / case.name, evidence)
                right, count, false_fail, missed = score(case, materials, findings)
                totals = [totals[0] + right, totals[1] + count, totals[2] + false_fail, totals[3] + missed]
                costs.append(spent)
            rows[label] = (totals, costs)
        valid = sum(c.valid for c in the_set)
        print(f"labelled set: {len(the_set)} submissions ({valid} valid, {len(the_set) - valid} missing a material), "
              f"{sum(len(c.members) for c in the_set)} members")
        print(f"{'classifier':24} {'roles right':>14} {'false fails':>12} {'missed fails':>13} {'CPU s p50':>10} {'p95':>7} {'max':>7}")
        for label, (totals, costs) in rows.items():
            ordered = sorted(costs)
            p95 = ordered[int(0.95 * (len(ordered) - 1))]
            print(f"{label:24} {totals[0]:>5}/{totals[1]:<4} {100 * totals[0] / totals[1]:5.1f}% {totals[2]:>6}/{valid:<5}"
                  f" {totals[3]:>6}/{len(the_set) - valid:<6} {statistics.median(costs):10.3f} {p95:7.3f} {max(costs):7.3f}")
        page = work / "scan.jpg"
        page.write_bytes(factory.bytes_of("form_scan", "case"))
        runs = []
        for _ in range(3):
            started = cpu()
            ocr.read_page(str(page), max_side=rules.ocr.max_side, max_pixels=rules.ocr.max_pixels, min_score=rules.ocr.min_score)
            runs.append(cpu() - started)
        started = cpu()
        ocr.paper_share(str(page), rules.ocr.max_pixels)
        print(f"OCR of one scanned A4 page at {rules.ocr.max_side} px: {statistics.median(runs):.2f} CPU s (median of 3); "
              f"paper screening of one picture: {cpu() - started:.3f} CPU s")
        if args.full:
            fails = []
            started, wall = cpu(), time.monotonic()
            for case in the_set:
                verdict = check_submission(parse_event(event_for(case)), archives[case.name], work / "full" / case.name, rules, media=False)
                if case.valid and verdict.status == "fail":
                    fails.append((case.name, [f.code for f in verdict.findings if f.severity == "fail"]))
            print(f"whole check, media off: {len(fails)} false fails on {valid} valid submissions {fails or ''}; "
                  f"{(cpu() - started) / len(the_set):.2f} CPU s and {(time.monotonic() - wall) / len(the_set):.2f} s per submission")


if __name__ == "__main__":
    main()
