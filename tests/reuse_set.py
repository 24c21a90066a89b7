"""The labelled set of reused footage, made by ffmpeg at test time (no binaries committed).

Sources are zooms into different regions of the Mandelbrot set (large moving shapes, as a
filmed scene has) with a speech-like sound of their own (a voice's pitch gliding, syllables
switched on and off). Positives are copies of source A as teachers hand them in; negatives are
other scenes made alike, a school's bumper in front of two different videos, two slide decks on
one template, silence and black. Used by tests/integration/test_reuse.py and bench/bench_reuse.py.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

RATE, SIZE = 25, "640x360"


def _scene(x: float, y: float, seconds: float) -> str:
    return (f"mandelbrot=size={SIZE}:rate={RATE}:maxiter=120:start_x={x}:start_y={y}:start_scale=2.5:end_scale=0.02:"
            f"end_pts={seconds * RATE * 2},trim=duration={seconds},format=yuv420p")


def _voice(pitch: float, syllable: float, seed: float) -> str:
    """A gliding pitch switched on and off like syllables: what Chromaprint hears in speech."""
    return (f"aevalsrc='0.4*sin(2*PI*({pitch}+60*sin({seed}*t)+40*sin(2.7*t+{seed}))*t)"
            f"*gt(sin(2*PI*{syllable}*t+{seed}),-0.2)':s=44100")


def _slides(colour: str, boxes: list[tuple[int, int, int, int]], seconds: float) -> str:
    """A slide template (a coloured band and a frame) with other content: boxes of 'text'."""
    drawn = ",".join(f"drawbox=x={x}:y={y}:w={w}:h={h}:color=black@0.8:t=fill" for x, y, w, h in boxes)
    return (f"color=c=white:s={SIZE}:r={RATE}:d={seconds},drawbox=x=0:y=0:w=640:h=60:color={colour}:t=fill,"
            f"drawbox=x=20:y=80:w=600:h=260:color={colour}:t=4,{drawn},format=yuv420p")


@dataclass(frozen=True)
class Clip:
    name: str
    video: str            # the lavfi graph of the picture (or a filter over the source for copies)
    audio: str | None
    seconds: float


@dataclass(frozen=True)
class Case:
    name: str
    query: str                     # the clip handed in later
    source: str                    # the earlier clip it is compared with
    reused: bool
    query_range: tuple[float, float] | None = None     # the shared stretch in the query, seconds
    source_range: tuple[float, float] | None = None


BASE_S = 40.0
SOURCES = {
    "A": (-0.7436438870, 0.1318259040, 220.0, 3.1, 1.3),
    "B": (-0.1011, 0.9563, 180.0, 2.6, 2.1),
    "C": (0.2501, 0.0000, 260.0, 3.6, 0.7),
    "D": (-1.2500, 0.0200, 200.0, 2.2, 1.7),
}


def _make(out: Path, args: list[str], timeout_s: float = 300) -> None:
    tmp = out.with_suffix(".part.mp4")
    subprocess.run(["ffmpeg", "-hide_banner", "-v", "error", "-y", *args, "-c:v", "libx264", "-preset", "veryfast",
                    "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k", "-movflags", "+faststart", "-f", "mp4", str(tmp)],
                   check=True, timeout=timeout_s)
    tmp.rename(out)


def make_sources(folder: Path) -> None:
    for name, (x, y, pitch, syllable, seed) in SOURCES.items():
        out = folder / f"{name}.mp4"
        if not out.exists():
            _make(out, ["-f", "lavfi", "-i", _scene(x, y, BASE_S), "-f", "lavfi", "-i", _voice(pitch, syllable, seed),
                        "-t", str(BASE_S), "-crf", "18"])


def make_set(folder: Path) -> list[Case]:
    """Write every clip into `folder` (once) and give the labelled pairs."""
    folder.mkdir(parents=True, exist_ok=True)
    make_sources(folder)
    a = str(folder / "A.mp4")
    copies = {
        # name: (ffmpeg args over A, query range, source range)
        "reencoded": (["-i", a, "-b:v", "300k", "-maxrate", "300k", "-bufsize", "600k"], (0, 40), (0, 40)),
        "smaller": (["-i", a, "-vf", "scale=426:240", "-crf", "28"], (0, 40), (0, 40)),
        "padded43": (["-i", a, "-vf", "scale=480:270,pad=640:360:80:45:black", "-crf", "23"], (0, 40), (0, 40)),
        "trimmed": (["-ss", "10", "-t", "25", "-i", a, "-crf", "23"], (0, 25), (10, 35)),
        "titled": (["-f", "lavfi", "-i", f"color=c=navy:s={SIZE}:r={RATE}:d=10,drawbox=x=120:y=140:w=400:h=80:color=gold:t=fill",
                    "-f", "lavfi", "-i", "anullsrc=r=44100:cl=mono:d=10", "-i", a, "-filter_complex",
                    "[0:v][1:a][2:v][2:a]concat=n=2:v=1:a=1[v][o]", "-map", "[v]", "-map", "[o]", "-crf", "23"], (10, 50), (0, 40)),
        "new_music": (["-i", a, "-f", "lavfi", "-i", _voice(330.0, 1.9, 4.4), "-map", "0:v", "-map", "1:a", "-t", str(BASE_S),
                       "-crf", "23"], (0, 40), (0, 40)),
        "mirrored": (["-i", a, "-vf", "hflip", "-crf", "23"], (0, 40), (0, 40)),
        "faster": (["-i", a, "-filter_complex", "[0:v]setpts=PTS/1.05[v];[0:a]atempo=1.05[o]", "-map", "[v]", "-map", "[o]",
                    "-crf", "23"], (0, 38.1), (0, 40)),
    }
    cases = []
    for name, (args, query_range, source_range) in copies.items():
        out = folder / f"{name}.mp4"
        if not out.exists():
            _make(out, args)
        cases.append(Case(name, name, "A", True, query_range, source_range))
    bumper = f"mandelbrot=size={SIZE}:rate={RATE}:maxiter=120:start_x=-0.16:start_y=1.04:start_scale=0.3:end_scale=0.1:end_pts=250,trim=duration=5"
    for scene in ("C", "D"):
        out = folder / f"bumper_{scene}.mp4"
        if not out.exists():
            _make(out, ["-f", "lavfi", "-i", bumper, "-f", "lavfi", "-i", _voice(500.0, 4.0, 0.3), "-i", str(folder / f"{scene}.mp4"),
                        "-filter_complex", "[0:v]format=yuv420p[b];[1:a]atrim=duration=5[t];[b][t][2:v][2:a]concat=n=2:v=1:a=1[v][o]",
                        "-map", "[v]", "-map", "[o]", "-crf", "23"])
    decks = {"slides_1": [(60, 120, 400, 24), (60, 170, 300, 24), (60, 220, 350, 24)],
             "slides_2": [(80, 110, 250, 30), (80, 200, 480, 18), (380, 260, 200, 40)]}
    for deck, boxes in decks.items():
        out = folder / f"{deck}.mp4"
        if not out.exists():
            slides = [_slides("teal", [(bx + 10 * i, by + 6 * i, bw - 20 * i, bh) for bx, by, bw, bh in boxes], 5) for i in range(6)]
            graph = ";".join(f"{s}[s{i}]" for i, s in enumerate(slides)) + ";" + "".join(f"[s{i}]" for i in range(6)) + \
                "concat=n=6:v=1:a=0[v]"
            _make(out, ["-f", "lavfi", "-i", _voice(240.0 if deck == "slides_1" else 170.0, 2.4, 0.9 if deck == "slides_1" else 2.9),
                        "-filter_complex", graph, "-map", "[v]", "-map", "0:a", "-t", "30", "-crf", "23"])
    for black in ("black_1", "black_2"):
        out = folder / f"{black}.mp4"
        if not out.exists():
            _make(out, ["-f", "lavfi", "-i", f"color=c=black:s={SIZE}:r={RATE}:d=30", "-f", "lavfi", "-i", "anullsrc=r=44100:cl=mono",
                        "-t", "30"])
    cases += [Case("other_scene", "B", "A", False), Case("other_scene_with_bumper", "bumper_C", "B", False),
              Case("same_bumper", "bumper_D", "bumper_C", False), Case("same_template", "slides_2", "slides_1", False),
              Case("black_and_silence", "black_2", "black_1", False)]
    return cases


# the order clips are handed in: every source before the copies and negatives compared with it
# (scenes C and D are handed in only behind the bumper; a copy matches the copies before it too, and names A)
ORDER = ("A", "B", "bumper_C", "slides_1", "black_1", "reencoded", "smaller", "padded43", "trimmed", "titled",
         "new_music", "mirrored", "faster", "bumper_D", "slides_2", "black_2")


def hand_in(folder: Path, clip: str, activity, rules, submission_id: str | None = None):
    """One clip handed in as its own submission's application video, through the video part of
    the plan (probe, the QC pass and its fingerprint, the match against `activity`)."""
    from pipeline.layout import Layout
    from pipeline.models import Material, UploadEvent
    from pipeline.stages.context import SubmissionContext
    from pipeline.stages.video import analyse_video
    from pipeline.storage import LocalStore

    import hashlib

    sid = submission_id or clip
    key = f"{clip}.mp4"
    event = UploadEvent(submission_id=sid, project="case", archive={"bucket": "local", "key": "x.zip"})
    ctx = SubmissionContext(event, rules, LocalStore(folder), Layout(sid, embedded=True), activity=activity)
    digest = hashlib.sha256((folder / key).read_bytes()).hexdigest()
    material = Material(path=key, role="application_video", role_source="name", size=(folder / key).stat().st_size,
                        sha256=digest, kind="video", key=key)
    report, findings = analyse_video(ctx, material)
    return report, findings, ctx.timings
