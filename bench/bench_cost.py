"""What each upload of the cost corpus costs on the verdict path (and in previews), against the budgets.

    .venv/bin/python bench/bench_cost.py [--skip-previews] [--only NAME ...] [--work DIR]

The corpus (tests/cost_corpus.py): a 3-hour and a 10-hour application video (stream copies of a
minute of 1080p25), 2 s of 8K, 10 s of 1080p at 120 fps, an MP4 with 200 audio streams, a
20,000-page PDF, a .docx of 100,000 paragraphs, a .pptx of 5,000 slides, an .xlsx of 1,000,000
rows and a 30,000 x 30,000 PNG, each in a teacher's case zip beside a registration form and a
case introduction; and the largest valid submission (a 45-minute 1080p lesson with its
courseware and lesson plan). Each is checked by `smartedu check` in a child process of its own:
its CPU seconds (the child and every tool it ran), wall time to the verdict and peak RSS, against
the rules file's `cost.verdict_cpu_s`. With previews (the default), the video cases are checked
again with previews and the difference is the previews' CPU, against `cost.previews_cpu_s`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config.rules import load_rules  # noqa: E402
from config.settings import DEFAULT_RULES  # noqa: E402
from pipeline.sample import SampleSpec, VideoSpec, build_sample  # noqa: E402
from tests import cost_corpus  # noqa: E402

SMARTEDU = str(Path(sys.executable).with_name("smartedu"))

CASES = {
    "video-3h": ("应用视频.mp4", lambda w: cost_corpus.long_video(w, 3)),
    "video-10h": ("应用视频.mp4", lambda w: cost_corpus.long_video(w, 10, bitrate="30k")),   # a zip under 700 MB
    "video-8k": ("应用视频.mp4", cost_corpus.huge_frame_video),
    "video-120fps": ("应用视频.mp4", cost_corpus.fast_video),
    "video-200-audio-streams": ("应用视频.mp4", cost_corpus.many_streams_video),
    "pdf-20000-pages": ("相关素材/政策汇编.pdf", cost_corpus.many_pages_pdf),
    "docx-100000-paragraphs": ("相关素材/活动记录.docx", cost_corpus.many_paragraphs_docx),
    "pptx-5000-slides": ("相关素材/课件合集.pptx", cost_corpus.many_slides_pptx),
    "xlsx-1000000-rows": ("相关素材/学生数据.xlsx", cost_corpus.many_rows_xlsx),
    "png-30000x30000": ("扫描件.png", cost_corpus.giant_png),
}


def submission(work: Path, name: str) -> tuple[Path, Path]:
    """A teacher's case (form, introduction, a short video) with the corpus member in or in place of the video."""
    archive, event_path = work / f"{name}.zip", work / f"{name}.json"
    build_sample(archive, SampleSpec(project="case", submission_id=name, video=VideoSpec(duration_s=2.0)), event_path)
    member, make = CASES[name]
    path = make(work)
    with zipfile.ZipFile(archive) as source:
        items = [(i, source.read(i)) for i in source.infolist() if not (member.endswith(".mp4") and i.filename.endswith(".mp4"))]
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as target:
        for info, data in items:
            target.writestr(info, data)
        target.write(path, member, compress_type=zipfile.ZIP_STORED)
    return archive, event_path


def largest_valid(work: Path) -> tuple[Path, Path]:
    """A 45-minute 1080p lesson with its form, courseware and lesson plan."""
    archive, event_path = work / "lesson-45min.zip", work / "lesson-45min.json"
    build_sample(archive, SampleSpec(project="lesson", submission_id="lesson-45min", video=VideoSpec(duration_s=2.0)), event_path)
    long = work / "lesson-45min.mp4"
    if not long.exists():
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-stream_loop", "44", "-i", str(cost_corpus.segment(work, "2M")), "-c", "copy",
                        "-t", "2700", "-movflags", "+faststart", str(long)], check=True, timeout=600)
    with zipfile.ZipFile(archive) as source:
        items = [(i, source.read(i)) for i in source.infolist()]
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as target:
        for info, data in items:
            if info.filename.endswith(".mp4"):
                target.write(long, info.filename, compress_type=zipfile.ZIP_STORED)
            else:
                target.writestr(info, data)
    return archive, event_path


def measured(archive: Path, event: Path, out: Path, *, media: bool) -> dict:
    """One `smartedu check` in a child process: its CPU (with every tool it ran), wall time, peak RSS."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = [SMARTEDU, "check", str(archive), "--event", str(event), "--out", str(out), "--state", str(out / ".state"), "--json"]
    if not media:
        cmd.insert(2, "--skip-media")
    started = time.monotonic()
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    stdout = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.monotonic() - started
    verdict = json.loads(stdout) if stdout.strip() else {}
    return {"cpu_s": usage.ru_utime + usage.ru_stime, "wall_s": wall, "rss_mb": usage.ru_maxrss / 1024,
            "status": verdict.get("status"), "codes": sorted({f["code"] for f in verdict.get("findings", [])}),
            "limited": [f["detail"].get("bound") for f in verdict.get("findings", []) if f["code"] == "ANALYSIS_LIMITED"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skip-previews", action="store_true")
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--work", type=Path, default=None, help="keep the corpus here between runs")
    args = parser.parse_args()
    rules = load_rules(DEFAULT_RULES)
    budget, previews_budget = rules.cost.verdict_cpu_s, rules.cost.previews_cpu_s
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-cost-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"budgets: verdict path {budget:.0f} CPU s, previews {previews_budget:.0f} CPU s per submission")
    print(f"{'upload':26s} {'verdict CPU s':>14s} {'wall s':>8s} {'RSS MB':>7s} {'of budget':>9s} {'previews CPU s':>15s}  status, codes")
    names = [*CASES, "largest-valid"] if args.only is None else args.only
    for name in names:
        archive, event = largest_valid(work) if name == "largest-valid" else submission(work, name)
        verdict = measured(archive, event, work / "out" / name, media=False)
        previews = ""
        if not args.skip_previews and name.startswith("video"):
            whole = measured(archive, event, work / "out" / f"{name}-media", media=True)
            previews = f"{max(whole['cpu_s'] - verdict['cpu_s'], 0.0):.1f} ({max(whole['cpu_s'] - verdict['cpu_s'], 0.0) / previews_budget:.0%})"
        print(f"{name:26s} {verdict['cpu_s']:14.1f} {verdict['wall_s']:8.1f} {verdict['rss_mb']:7.0f} {verdict['cpu_s'] / budget:9.1%} "
              f"{previews:>15s}  {verdict['status']}, {', '.join(verdict['codes'])}"
              + (f" (limited: {', '.join(str(b) for b in verdict['limited'])})" if verdict["limited"] else ""), flush=True)
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
