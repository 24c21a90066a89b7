"""Segment-parallel transcoding against one plain ffmpeg, in the same run.

    .venv/bin/python bench/bench_transcode.py [--minutes 10]

Source: 1080p30 H.264 (~10 Mbit/s) with audio. Baseline: one ffmpeg process with the same
encoder settings and thread count as one worker (1). Then the pipeline's segment path (split,
one segment per task, audio once, join), with its tasks spread over 1 and then 2
single-threaded worker processes (a process pool running the same functions the transcode
actors run). Prints wall time, CPU seconds, x realtime and the speed-ups. Targets: the
1-worker pipeline within 1.1x of the baseline's wall time; >= 1.8x from 1 to 2 workers.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline import media, transcode  # noqa: E402
from pipeline.layout import Layout  # noqa: E402
from pipeline.models import Material  # noqa: E402
from pipeline.probe import probe_video  # noqa: E402
from pipeline.storage import LocalStore  # noqa: E402
from tests import media as testmedia  # noqa: E402

SPEC = transcode.RenditionSpec()


def make_source(path: Path, seconds: int, tmp: Path) -> None:
    clip = tmp / "clip.mp4"
    testmedia.run([*testmedia.FF, "-f", "lavfi", "-i", "testsrc2=s=2400x1350:r=30:d=30", "-f", "lavfi", "-i", "sine=d=30",
                   "-filter_complex", "[0:v]crop=1920:1080:'200+40*sin(t)':'135',noise=alls=12:allf=t[v]", "-map", "[v]",
                   "-map", "1:a", "-c:v", "libx264", "-preset", "veryfast", "-b:v", "10M", "-maxrate", "10M", "-bufsize", "20M",
                   "-g", "60", "-c:a", "aac", "-shortest", str(clip)])
    testmedia.run([*testmedia.FF, "-stream_loop", str(seconds // 30), "-i", str(clip), "-c", "copy", "-t", str(seconds),
                   "-movflags", "+faststart", str(path)])


def _piece(args) -> None:
    root, material, probe, index = args
    store = LocalStore(root)
    if index >= 0:
        media.encode_piece(store, Layout("b", embedded=True), material, probe, index, threads=1)
    else:
        media.encode_audio_piece(store, Layout("b", embedded=True), material, probe)


def pipeline_run(store: LocalStore, material: Material, probe, workers: int) -> tuple[float, float, int]:
    """Wall and CPU seconds (every process, counted once: the pool's reaped workers and their
    ffmpeg children all land in this process's RUSAGE_CHILDREN), and the segment count."""
    layout = Layout("b", embedded=True)
    started = time.monotonic()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    count = media.split_source(store, layout, material, probe)
    tasks = [(store.root, material, probe, i) for i in [-1, *range(count)]]   # audio first: the longest task
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_piece, tasks))
    media.join_pieces(store, layout, material, probe, count)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return time.monotonic() - started, cpu, count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10)
    args = parser.parse_args()
    seconds = int(args.minutes * 60)
    tmp = Path(tempfile.mkdtemp(prefix="bench-transcode-"))
    try:
        store = LocalStore(tmp / "store")
        source = tmp / "source.mp4"
        make_source(source, seconds, tmp)
        store.put_file("members/src.mp4", source)
        probe = probe_video(store, "members/src.mp4")
        material = Material(path="src.mp4", size=source.stat().st_size, sha256="0" * 64, kind="video", key="members/src.mp4")
        started = time.monotonic()
        cpu = transcode.encode_single(str(source), "mov", tmp / "baseline.mp4", SPEC, sample_aspect=1.0, fps=probe.fps,
                                      has_audio=True, duration_s=seconds, threads=1)
        base_wall = time.monotonic() - started
        rows = [("baseline: one ffmpeg, 1 thread", base_wall, cpu)]
        for workers in (1, 2):
            wall, cpu, count = pipeline_run(store, material, probe, workers)
            rows.append((f"segment-parallel, {workers} worker(s)", wall, cpu))
        print(f"source: {seconds} s of 1080p30 H.264 ~10 Mbit/s; split into {count} segments of ~{SPEC.segment_s:g} s + audio once")
        print(f"{'run':34} {'wall s':>8} {'CPU s':>8} {'x realtime':>11} {'vs baseline wall':>17}")
        for name, wall, cpu in rows:
            print(f"{name:34} {wall:8.1f} {cpu:8.1f} {seconds / wall:11.2f} {wall / base_wall:16.2f}x")
        print(f"speed-up 1 -> 2 workers: {rows[1][1] / rows[2][1]:.2f}x (target >= 1.8x); "
              f"1-worker pipeline / baseline wall: {rows[1][1] / base_wall:.2f} (target <= 1.1)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
