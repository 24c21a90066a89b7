"""Subtitle detection: precision and recall on the labelled set, and its cost per minute of video.

    .venv/bin/python bench/bench_subtitles.py [--long-minutes 45] [--sizes 1920x1080,1280x720]

Labelled set: tests/subtitle_media.py's cases and harder variants (yellow small text, boxed,
two lines, a busy picture; a scrolling name caption and a corner clock as negatives),
drawtext + Noto CJK, at each size (landscape 1080p and 720p, portrait 1080x1920). Burned-in
precision/recall count `burned_in` as the positive class; accuracy is over all four outcomes.
Cost: a long 1080p25 recording with burned-in lines (a 60 s piece looped by stream copy, GOP
2 s, ~4 Mbit/s), CPU seconds of the whole detection (ffmpeg children + OCR in this process)
over the video's duration. Target: under 10%. Baseline in the same run: ffmpeg decoding 60 s
of the same file in full (`-f null`), scaled to the full duration.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config.rules import load_rules  # noqa: E402
from config.settings import DEFAULT_RULES  # noqa: E402
from pipeline import ffmpeg  # noqa: E402
from pipeline.probe import probe_video  # noqa: E402
from pipeline.storage import LocalStore  # noqa: E402
from pipeline.subtitles import detect_subtitles, ocr_engine  # noqa: E402
from tests.subtitle_media import CASES, FONT, LINES, VARIANTS, case_members, make_case, make_variant  # noqa: E402


def cpu_now() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def detect(directory: Path, name: str, rules) -> tuple[str, float, float, dict]:
    store = LocalStore(directory)
    members = case_members(directory, name)
    probe = probe_video(store, members[0].key)
    before, started = cpu_now(), time.monotonic()
    report, _ = detect_subtitles(store, members[0], members, probe, str(directory / members[0].path),
                                 ffmpeg.DEMUXERS[probe.container], rules.subtitles, threads=1)
    return report.kind, cpu_now() - before, time.monotonic() - started, {**report.evidence, "duration_s": probe.duration_s}


def labelled_set(work: Path, sizes: list[str], rules) -> None:
    print(f"{'case':34} {'size':10} {'expected':10} {'found':10} {'CPU s':>6} {'CPU s/min':>9}")
    tp = fp = fn = correct = total = 0
    for size in sizes:
        directory = work / size
        for case in [*CASES, *VARIANTS]:
            (make_variant if case in VARIANTS else make_case)(case, directory, size=size)
            found, cpu, _, evidence = detect(directory, case.name, rules)
            per_min = cpu / (evidence["duration_s"] / 60)
            print(f"{case.name:34} {size:10} {case.expected:10} {found:10} {cpu:6.2f} {per_min:9.2f}")
            total += 1
            correct += found == case.expected
            tp += found == "burned_in" and case.expected == "burned_in"
            fp += found == "burned_in" and case.expected != "burned_in"
            fn += found != "burned_in" and case.expected == "burned_in"
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    print(f"burned-in precision {precision:.2f} recall {recall:.2f}; four-outcome accuracy {correct}/{total}")


def long_recording(work: Path, minutes: int) -> Path:
    piece, path = work / "piece.mp4", work / f"recording-{minutes}min.mp4"
    lines = [f"drawtext=fontfile={FONT}:text='{line}':x=(w-text_w)/2:y=h-text_h-70:fontsize=56:fontcolor=white:borderw=3:"
             f"bordercolor=black:enable='between(t,{i * 6},{i * 6 + 5.99})'" for i, line in enumerate(LINES)]
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=1920x1080:r=25:d=60", "-vf", ",".join(lines),
                    "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "4M", "-g", "50", "-pix_fmt", "yuv420p", str(piece)],
                   check=True, timeout=600)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-stream_loop", str(minutes), "-i", str(piece), "-c", "copy",
                    "-t", str(minutes * 60), "-movflags", "+faststart", str(path)], check=True, timeout=600)
    return path


def long_cost(work: Path, minutes: int, rules) -> None:
    path = long_recording(work, minutes)
    before = cpu_now()
    subprocess.run(["ffmpeg", "-v", "error", "-threads", "1", "-t", "60", "-i", str(path), "-f", "null", "-"], check=True)
    decode_60 = cpu_now() - before
    found, cpu, wall, evidence = detect(work, path.stem, rules)
    duration = evidence["duration_s"]
    print(f"\n{minutes}-minute 1080p25 recording ({path.stat().st_size / 1e6:.0f} MB): {found}, "
          f"{evidence.get('samples')} samples, text in {evidence.get('samples_with_text')}")
    print(f"  detection: {cpu:.1f} CPU s, {wall:.1f} s wall = {cpu / duration * 100:.2f}% of the duration (target < 10%), "
          f"{cpu / (duration / 60):.2f} CPU s per minute")
    full = decode_60 * duration / 60
    print(f"  baseline: full single-threaded decode {decode_60:.1f} CPU s per minute -> {full:.0f} CPU s for the whole "
          f"video; detection = {cpu / full:.3f}x of decoding it")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--long-minutes", type=int, default=45)
    parser.add_argument("--sizes", default="1920x1080,1280x720,1080x1920")
    args = parser.parse_args()
    rules = load_rules(DEFAULT_RULES)
    started = time.monotonic()
    ocr_engine()
    print(f"OCR model load: {time.monotonic() - started:.2f} s (rapidocr-onnxruntime, PP-OCRv4 det+rec in the wheel)")
    with tempfile.TemporaryDirectory(prefix="bench-subs-") as tmp:
        labelled_set(Path(tmp), args.sizes.split(","), rules)
        if args.long_minutes:
            long_cost(Path(tmp), args.long_minutes, rules)


if __name__ == "__main__":
    main()
