"""The QC pass against a plain decode of the same file, and the same findings before and after.

    .venv/bin/python bench/bench_qc_cost.py [--rounds 3] [--skip-set] [--skip-cost] [--verdict] [--lesson-s 2700]

1. Cost. Per file, CPU seconds of a plain single-threaded decode (`ffmpeg -threads 1 -i IN -f null -`),
   of the QC pass as it was (BEFORE: analysed 640 wide, deblocked, shake on every frame, idet on
   whole frames) and as it is (the rules file), each the lowest of --rounds runs taken in turn in
   the same run (the shared machine's drift hits all three alike), and their ratios; and the
   floor: the pass's own decode with every filter a null (no pass can cost less). Files:
   camera-like ones (1080p50 and 1080i25 H.264 High at 24 Mbit/s with grain, 1080p30 at 10
   Mbit/s with a moving camera) and the labelled QC cases. Target: the pass <= 1.0x the decode.
2. Findings. Every labelled case (the picture and sound set, the black/frozen/silent/shaky/tripod
   cases, the QC windows' video) through the pass before and after: the QC findings' codes and
   ranges; prints every difference and the largest range shift in frames.
3. With --verdict: the whole verdict path of one video (`analyse_video`: QC, subtitle search,
   upscale estimate, reuse fingerprint) for a 4-minute case video and a --lesson-s lesson,
   in CPU seconds (this process and every tool) per second of video; then what the previews'
   thumbnails cost after it (nothing decoded where they rode on the verdict path's sampling decode).
   `--code DIR` runs it on another checkout's pipeline (the "before" of a change).
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if "--code" in sys.argv:
    ROOT = Path(sys.argv[sys.argv.index("--code") + 1]).resolve()
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))

from config.rules import load_rules  # noqa: E402
from config.settings import DEFAULT_RULES  # noqa: E402
from pipeline import ffmpeg, media  # noqa: E402
from pipeline import rules as rulebook  # noqa: E402
from pipeline.layout import Layout  # noqa: E402
from pipeline.models import Material, UploadEvent  # noqa: E402
from pipeline.probe import probe_video  # noqa: E402
from pipeline.qc import qc_command, run_qc  # noqa: E402
from pipeline.sample import VideoSpec, make_video  # noqa: E402
from pipeline.stages.context import SubmissionContext  # noqa: E402
from pipeline.stages.video import analyse_video  # noqa: E402
from pipeline.storage import LocalStore  # noqa: E402

# the pass as it was before issue 27, as rules
BEFORE = {"analysis_width": 640, "skip_loop_filter": False, "shake_fps": 1000.0, "idet_column_step": 1}
QC_CODES = {"VIDEO_BLACK_SEGMENTS", "VIDEO_FROZEN_SEGMENTS", "AUDIO_SILENT_SEGMENTS", "VIDEO_SHAKY", "VIDEO_BLACK_BARS",
            "VIDEO_INTERLACED", "AUDIO_TOO_QUIET", "AUDIO_CLIPPED"}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def all_cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime + children_cpu()


def camera_files(work: Path) -> dict[str, Path]:
    """Camera-like files: high bitrate, grain (what makes a camera's file costly to decode)."""
    ff = ["ffmpeg", "-v", "error", "-y"]
    x264 = ["-c:v", "libx264", "-profile:v", "high", "-preset", "veryfast", "-b:v", "24M", "-maxrate", "24M", "-bufsize", "48M"]
    files = {
        "camera-1080p50-24M": (["-f", "lavfi", "-i", "testsrc2=s=1920x1080:r=50:d=20", "-f", "lavfi", "-i", "sine=d=20",
                                "-vf", "noise=alls=14:allf=t", *x264, "-g", "50"]),
        "camera-1080i25-24M": (["-f", "lavfi", "-i", "testsrc2=s=1920x1080:r=50:d=20", "-f", "lavfi", "-i", "sine=d=20",
                                "-vf", "noise=alls=14:allf=t,interlace=scan=tff:lowpass=0", *x264, "-flags", "+ildct+ilme",
                                "-field_order", "tt", "-g", "25"]),
        "camera-1080p30-10M": (["-f", "lavfi", "-i", "testsrc2=s=2400x1350:r=30:d=20", "-f", "lavfi", "-i", "sine=d=20",
                                "-vf", "crop=1920:1080:'200+3*sin(2*PI*t)':'135',noise=alls=12:allf=t", "-c:v", "libx264",
                                "-preset", "veryfast", "-b:v", "10M", "-maxrate", "10M", "-bufsize", "20M", "-g", "60"]),
    }
    out = {}
    for name, args in files.items():
        path = work / f"{name}.mp4"
        if not path.exists():
            subprocess.run([*ff, *args, "-c:a", "aac", "-shortest", str(path)], check=True, timeout=900)
        out[name] = path
    return out


def labelled_files(work: Path) -> dict[str, Path]:
    from tests import media
    from tests.picture_set import full_set

    out = {}
    for name, maker in (("black", media.with_black), ("frozen", media.with_freeze), ("silent", media.with_silence),
                        ("shaky", media.handheld_walk), ("tripod", media.tripod), ("seams", media.across_seams)):
        out[name] = work / f"{name}.mp4"
        if not out[name].exists():
            maker(out[name])
    for case in full_set():
        out[case.name] = work / f"{case.name}.mp4"
        if not out[case.name].exists():
            make_video(out[case.name], case.spec)
    return out


def qc_pass(store: LocalStore, path: Path, rules, work: Path):
    """The QC pass's findings and ffmpeg's CPU seconds, with the given rules, on one thread."""
    probe = probe_video(store, path.name)
    qc, cpu = run_qc(str(path), ffmpeg.DEMUXERS.get(probe.container or ""), duration_s=probe.duration_s or 0.0, fps=probe.fps,
                     has_audio=bool(probe.audio), rules=rules.qc, aspect=(probe.display_width or 16) / (probe.display_height or 9),
                     frame_size=(probe.width or 0, probe.height or 0), field_order=probe.field_order, threads=1, work_dir=work)
    findings = [f for f in rulebook.check_qc(path.name, qc, rules, probe) if f.code in QC_CODES]
    return {f.code: f.detail.get("ranges", []) for f in findings}, cpu, probe


def decode_cpu(path: Path) -> float:
    return ffmpeg.run([ffmpeg.FFMPEG, "-v", "error", "-threads", "1", *ffmpeg.input_args(str(path), None), "-f", "null", "-"],
                      timeout_s=3600, stdout=False).cpu_s


def floor_cpu(path: Path, probe, rules) -> float:
    """The pass's own decode with no analysis at all (its decoder options, every filter a null):
    under this no pass can go, whatever it measures."""
    cmd = qc_command(str(path), ffmpeg.DEMUXERS.get(probe.container or ""), rules.qc, has_audio=bool(probe.audio),
                     trf_path=path.with_suffix(".trf"), peaks_path=path.with_suffix(".peaks"), threads=1, fps=probe.fps,
                     fields=False)
    cmd[cmd.index("-filter_complex") + 1] = "[0:V:0]null[v]" + (";[0:a:0]anull[a]" if probe.audio else "")
    return ffmpeg.run(cmd, timeout_s=3600, stdout=False).cpu_s


def compare(name: str, before: dict, after: dict, fps: float) -> tuple[bool, float]:
    """Same codes, and the largest shift of a range's end, in frames."""
    shift = 0.0
    if set(before) != set(after):
        print(f"  {name}: codes before {sorted(before)} after {sorted(after)}")
        return False, shift
    for code in before:
        if len(before[code]) != len(after[code]):
            print(f"  {name}: {code} ranges before {before[code]} after {after[code]}")
            return False, shift
        for old, new in zip(before[code], after[code]):
            shift = max(shift, *(abs(a - b) * fps for a, b in zip(old, new)))
    return True, shift


def cost_and_findings(work: Path, files: dict[str, Path], rules, rounds: int, *, costs: bool) -> None:
    store = LocalStore(work)
    before_rules = rules.model_copy(update={"qc": rules.qc.model_copy(update=BEFORE)})
    same = total = 0
    worst = 0.0
    print(f"{'file':34s} {'decode':>7s} {'before':>7s} {'after':>7s}  {'before/dec':>10s} {'after/dec':>9s} {'floor/dec':>9s}"
          f"  findings")
    for name, path in files.items():
        decode, old, new, floor = [], [], [], []
        for _ in range(rounds if costs else 1):
            if costs:
                decode.append(decode_cpu(path))
            found_before, cpu_before, probe = qc_pass(store, path, before_rules, work)
            found_after, cpu_after, _ = qc_pass(store, path, rules, work)
            if costs:
                floor.append(floor_cpu(path, probe, rules))
            old.append(cpu_before)
            new.append(cpu_after)
        ok, shift = compare(name, found_before, found_after, probe.fps or 25.0)
        same += ok
        total += 1
        worst = max(worst, shift)
        summary = ",".join(sorted(c.removeprefix("VIDEO_").removeprefix("AUDIO_").lower() for c in found_after)) or "-"
        if costs:
            d = min(decode)
            print(f"{name:34s} {d:7.2f} {min(old):7.2f} {min(new):7.2f}  {min(old) / d:9.2f}x {min(new) / d:8.2f}x "
                  f"{min(floor) / d:8.2f}x  "
                  f"{'same' if ok else 'DIFFERENT'} ({summary}, shift {shift:.1f} frames)", flush=True)
        else:
            print(f"{name:34s} {'':7s} {min(old):7.2f} {min(new):7.2f}  {'':10s} {'':9s}  "
                  f"{'same' if ok else 'DIFFERENT'} ({summary}, shift {shift:.1f} frames)", flush=True)
    print(f"\nfindings the same on {same}/{total} files; largest range shift {worst:.1f} frames")


def verdict_path(work: Path, rules, lesson_s: float) -> None:
    """CPU per video second of the whole verdict path of one video, as a worker runs it."""
    clip = make_video(work / "minute.mp4", VideoSpec(duration_s=60.0, preset="veryfast", bitrate="8M", audio_lufs=-20.0))
    videos = {"case video 4 min": (work / "case.mp4", 240.0), f"lesson {lesson_s / 60:.0f} min": (work / "lesson.mp4", lesson_s)}
    for path, seconds in videos.values():
        if not path.exists():
            subprocess.run(["ffmpeg", "-v", "error", "-y", "-stream_loop", str(int(seconds // 60) + 1), "-i", str(clip), "-c", "copy",
                            "-t", str(seconds), "-movflags", "+faststart", str(path)], check=True, timeout=600)
    store = LocalStore(work)
    warm = make_video(work / "warm.mp4", VideoSpec(duration_s=2.0))
    for label, (path, seconds) in {"warm-up": (warm, 2.0), **videos}.items():
        event = UploadEvent(submission_id=path.stem, project="case", archive={"bucket": "local", "key": "x.zip"})
        ctx = SubmissionContext(event, rules, store, Layout(path.stem, embedded=True), ffmpeg_threads=1)
        material = Material(path=path.name, role="application_video" if "lesson" not in label else "classroom_recording",
                            role_source="name", size=path.stat().st_size, sha256=hashlib.sha256(path.name.encode()).hexdigest(),
                            kind="video", key=path.name)
        started, wall = all_cpu(), time.monotonic()
        report, _findings = analyse_video(ctx, material)
        spent = all_cpu() - started
        # then the previews' poster and storyboard (nothing to decode where they rode on the sampling decode)
        started = all_cpu()
        media.make_thumbnails(store, ctx.layout, material, report.probe, spec=media.spec_for(report))
        thumbs = all_cpu() - started
        if label != "warm-up":
            parts = ", ".join(f"{k} {v:.1f}" for k, v in sorted(ctx.timings.items()) if k.endswith("_cpu"))
            print(f"{label:20s} {spent:8.1f} CPU s = {spent / seconds:.3f} CPU s per video second "
                  f"({time.monotonic() - wall:.0f} s wall; {parts}); then the previews' thumbnails {thumbs:.2f} CPU s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-set", action="store_true", help="camera-like files only")
    parser.add_argument("--skip-cost", action="store_true", help="findings only (one pass each)")
    parser.add_argument("--verdict", action="store_true", help="the whole verdict path of a case video and a lesson")
    parser.add_argument("--lesson-s", type=float, default=2700.0)
    parser.add_argument("--code", help="another checkout whose pipeline the verdict path runs (before a change)")
    parser.add_argument("--work", help="keep the files here (made once)")
    args = parser.parse_args()
    rules = load_rules(DEFAULT_RULES)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="bench-qc-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        if args.verdict:
            verdict_path(work, rules, args.lesson_s)
            return
        files = camera_files(work)
        if not args.skip_set:
            files.update(labelled_files(work))
        cost_and_findings(work, files, rules, args.rounds, costs=not args.skip_cost)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
