"""Picture and sound checks: VIDEO_UPSCALED precision and recall on the labelled set, and the
cost of the new checks against a baseline measured in the same run.

    .venv/bin/python bench/bench_picture.py [--cost-seconds 150] [--skip-set] [--skip-cost]

Set (tests/picture_set.py, made by ffmpeg): 13 native 1080p pictures (sharp, soft, blurred,
noisy, slides; a wall, a blackboard, a projector screen, a walking figure, light grain, a 1 fps
slideshow, sparse keyframes, anamorphic 1440x1080) and 44 upscales (sharp, noisy and slides shot
at 720p, 540p and 480p, scaled by bilinear, bicubic and lanczos, 4-10 Mbit/s; 360p and
anamorphic SD 720x576 / 720x480 on sharp, slides, blackboard and noisy scenes; 8 s, a keyframe
a second), boxed, 1080i and sound cases. Each goes through the video part of the plan.
Targets: no VIDEO_UPSCALED on a native picture, none resting on exactly half the lines (960x540:
kept as evidence, `withheld`), at least 90% of the other upscales found; every other case gives
exactly its codes.

Cost, on one 1080p25 video of --cost-seconds: CPU seconds of decode only (`ffmpeg -i -f null`),
of the QC pass without and with the new filters (cropdetect, idet, ebur128, peaks), and of
the upscale estimate (ffmpeg sampling plus the knees in Python) as a share of the video's
duration (target: under 2%).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config.rules import load_rules  # noqa: E402
from config.settings import DEFAULT_RULES  # noqa: E402
from pipeline import ffmpeg  # noqa: E402
from pipeline.layout import Layout  # noqa: E402
from pipeline.models import Material, UploadEvent  # noqa: E402
from pipeline.qc import qc_command  # noqa: E402
from pipeline.sample import VideoSpec, make_video  # noqa: E402
from pipeline.storage import LocalStore  # noqa: E402
from pipeline.stages.context import SubmissionContext  # noqa: E402
from pipeline.stages.video import analyse_video  # noqa: E402
from pipeline.upscale import estimate_native_size  # noqa: E402
from tests.picture_set import CHECKED, full_set  # noqa: E402


def labelled_set(work: Path, rules) -> None:
    store = LocalStore(work)
    rows = []
    for case in full_set():
        key = f"{case.name}.mp4"
        make_video(work / key, case.spec)
        event = UploadEvent(submission_id=case.name, project="case", archive={"bucket": "local", "key": "x.zip"})
        ctx = SubmissionContext(event, rules, store, Layout(case.name, embedded=True))
        material = Material(path=key, role="application_video", role_source="name", size=1, sha256="0" * 64, kind="video", key=key)
        report, findings = analyse_video(ctx, material)
        found = {f.code for f in findings if f.code in CHECKED and f.severity != "info"}
        estimate = report.qc.upscale if report.qc else None
        rows.append((case, found, estimate))
        held = f"withheld {estimate.withheld} ({estimate.suspected_height})" if estimate and estimate.withheld else ""
        print(f"{case.name:28s} expected {sorted(case.codes)!s:34s} found {sorted(found)!s:34s} "
              f"{'native ' + str(estimate.native_height) if estimate and estimate.native_height else ''} "
              f"score {estimate.score if estimate else '-'} agree {estimate.agreeing_share if estimate else '-'} {held}", flush=True)
    ups = [(c, f, e) for c, f, e in rows if c.upscaled and not c.half_lines]
    halves = [(c, f, e) for c, f, e in rows if c.half_lines]
    natives = [(c, f, e) for c, f, e in rows if not c.upscaled and "VIDEO_UPSCALED" not in c.codes]
    tp = sum("VIDEO_UPSCALED" in f for _, f, _ in ups)
    fp = sum("VIDEO_UPSCALED" in f for _, f, _ in natives)
    exact = sum(e is not None and e.native_height == c.native_height for c, f, e in ups if "VIDEO_UPSCALED" in f)
    said_half = sum("VIDEO_UPSCALED" in f for _, f, _ in halves)
    kept_half = sum(e is not None and e.withheld == "half_lines" for _, _, e in halves)
    print(f"\nVIDEO_UPSCALED: recall {tp}/{len(ups)} = {tp / len(ups):.0%} (upscales from 720p, 576, 480, 360 lines), "
          f"precision {tp}/{tp + fp} = {tp / max(tp + fp, 1):.0%}, false warnings on natives {fp}/{len(natives)}, "
          f"size exact {exact}/{tp}")
    print(f"exactly half the lines (960x540): said {said_half}/{len(halves)}, kept as evidence (withheld half_lines) {kept_half}")
    by_source = Counter(c.native_height for c, f, _ in ups if "VIDEO_UPSCALED" in f)
    print("found by source height:", dict(sorted(by_source.items())), "of", dict(Counter(c.native_height for c, _, _ in ups)))
    wrong = [(c.name, sorted(c.codes), sorted(f)) for c, f, _ in rows if not c.upscaled and set(c.codes) != f]
    print("other cases wrong:", wrong or "none")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cost(work: Path, rules, seconds: float) -> None:
    video = make_video(work / "cost.mp4", VideoSpec(duration_s=seconds, subtitles=False, preset="veryfast", bitrate="8M",
                                                   audio_lufs=-20.0, gop_s=2.0))
    source = str(video)

    def cpu_of(cmd: list[str]) -> float:
        return ffmpeg.run(cmd, timeout_s=seconds * 20 + 60, stdout=False).cpu_s

    decode = cpu_of([ffmpeg.FFMPEG, "-v", "error", "-threads", "1", *ffmpeg.input_args(source, "mov"), "-f", "null", "-"])
    runs = {}
    for label, extended in (("qc before", False), ("qc after", True)):
        cmd = qc_command(source, "mov", rules.qc, has_audio=True, trf_path=work / f"{label}.trf", peaks_path=work / "peaks.txt",
                         threads=1, picture_and_sound=extended)
        runs[label] = cpu_of(cmd)
    started_py = time.process_time()
    estimate, ffmpeg_cpu = estimate_native_size(source, "mov", width=1920, height=1080, duration_s=seconds, rules=rules.upscale)
    python_cpu = time.process_time() - started_py
    print(f"\ncost on {seconds:.0f} s of 1080p25 (CPU seconds, 1 thread each):")
    print(f"  decode only          {decode:8.2f}   1.00x")
    for label, value in runs.items():
        print(f"  {label:20s} {value:8.2f}   {value / decode:.2f}x decode")
    print(f"  new filters add      {runs['qc after'] - runs['qc before']:8.2f}   "
          f"{(runs['qc after'] - runs['qc before']) / runs['qc before']:.1%} of the earlier pass")
    total = ffmpeg_cpu + python_cpu
    print(f"  upscale estimate     {total:8.2f}   (ffmpeg {ffmpeg_cpu:.2f} + knees {python_cpu:.2f}) = "
          f"{total / seconds:.2%} of the duration, {estimate.frames} frames judged (keyframes)")


def main() -> None:
    parser = argparse.ArgumentParser(description="VIDEO_UPSCALED precision and recall; cost of the picture and sound checks")
    parser.add_argument("--cost-seconds", type=float, default=150.0, help="length of the cost video")
    for part in ("set", "cost"):
        parser.add_argument(f"--skip-{part}", action="store_true", help=f"leave the {part} out")
    args = parser.parse_args()
    rules = load_rules(DEFAULT_RULES)
    with tempfile.TemporaryDirectory(prefix="bench-picture-") as tmp:
        for part, run in (("set", lambda: labelled_set(Path(tmp), rules)), ("cost", lambda: cost(Path(tmp), rules, args.cost_seconds))):
            if not getattr(args, f"skip_{part}"):
                run()


if __name__ == "__main__":
    main()
