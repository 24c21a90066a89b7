"""Document text extraction: cost per file for each reader, legacy formats included.

    .venv/bin/python bench/bench_documents.py [--rounds 5]

Fixtures as in tests/integration/test_legacy_documents.py: python-docx/python-pptx write
the modern file, LibreOffice saves the legacy one. Baseline in the same run: python-docx on
the .docx the .doc was made from. Wall seconds are medians; CPU includes child processes.
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

from pipeline.documents import extract_text  # noqa: E402
from pipeline.sample import make_docx, make_pptx  # noqa: E402
from tests.helpers import save_as  # noqa: E402
from tests.integration.test_legacy_documents import INTRO  # noqa: E402


def cpu() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-docs-") as tmp:
        work = Path(tmp)
        docx = make_docx(work / "intro.docx", "案例介绍", INTRO * 10)
        tiny = make_docx(work / "tiny.docx", "短文", ["只有一句话的说明。"])
        pptx = make_pptx(work / "deck.pptx", "第一课 认识分数", [f"第{i}页 分数的意义" for i in range(20)])
        cases = [("baseline: .docx python-docx", docx, ".docx"), (".doc antiword", save_as(docx, "doc"), ".doc"),
                 (".doc antiword refuses -> LibreOffice", save_as(tiny, "doc"), ".doc"), (".pptx python-pptx", pptx, ".pptx"),
                 (".ppt text atoms (olefile)", save_as(pptx, "ppt"), ".ppt"), (".rtf LibreOffice", save_as(docx, "rtf"), ".rtf"),
                 (".odt LibreOffice", save_as(docx, "odt"), ".odt")]
        print(f"{'reader':40} {'method':18} {'wall s':>8} {'CPU s':>8} {'chars':>7}")
        for label, path, suffix in cases:
            walls, cpus = [], []
            for _ in range(args.rounds):
                started_cpu, started = cpu(), time.monotonic()
                extracted = extract_text(str(path), suffix)
                walls.append(time.monotonic() - started)
                cpus.append(cpu() - started_cpu)
            print(f"{label:40} {extracted.method:18} {statistics.median(walls):8.3f} {statistics.median(cpus):8.3f} "
                  f"{len(extracted.text):7d}")


if __name__ == "__main__":
    main()
