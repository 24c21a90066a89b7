"""One sampling decode per video: the subtitle search's lower bands and the upscale estimate's
luma frames come out of the same ffmpeg process, each branch picking its own frames at its own
interval from the keyframes (`-skip_frame nokey`: a few percent of a full decode).

A consumer says what it takes from the decoded picture (a `Branch`) and whether a pass gave it
enough; a short video whose keyframes are too sparse for one of them is decoded again, every
frame, for those that still lack samples only (they share that pass too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from . import ffmpeg


@dataclass(frozen=True)
class Branch:
    """What one consumer takes from the decoded picture: its filters (from the decoded frames to
    its output) and its output's options and file."""

    chain: str
    output: list[str]


class Sampling(Protocol):
    """A consumer of the sampling decode (pipeline/subtitles.py, pipeline/upscale.py)."""

    def branch(self, keyframes_only: bool) -> Branch: ...

    def collect(self, stderr_lines: list[str], keyframes_only: bool) -> bool:
        """Read what the pass wrote; True when it is enough (no second pass wanted)."""


def sampling_command(source: str, demuxer: str | None, branches: list[Branch], *, keyframes_only: bool = True,
                     threads: int = 1, autorotate: bool = True) -> list[str]:
    """One decode of the first video stream split into every branch (hardened as the QC's);
    without `autorotate`, the frames as stored."""
    if not branches:
        raise ValueError("nothing to sample")
    labels = [f"[b{i}]" for i in range(len(branches))]
    graph = f"[0:V:0]split={len(branches)}{''.join(labels)};" if len(branches) > 1 else ""
    graph += ";".join(f"{label if len(branches) > 1 else '[0:V:0]'}{branch.chain}[o{i}]"
                      for i, (label, branch) in enumerate(zip(labels, branches)))
    outputs = [arg for i, branch in enumerate(branches) for arg in ("-map", f"[o{i}]", *branch.output)]
    return [ffmpeg.FFMPEG, "-nostdin", "-hide_banner", "-nostats", "-loglevel", "info", "-threads", str(threads),
            *(["-skip_frame", "nokey"] if keyframes_only else []), *([] if autorotate else ["-noautorotate"]),
            *ffmpeg.input_args(source, demuxer), "-filter_complex", graph, *outputs]


def sample_video(source: str, demuxer: str | None, samplings: list[Sampling], *, timeout_s: float, threads: int = 1,
                 keep_stderr_lines: int = 2000, autorotate: bool = True) -> float:
    """Keyframes for every consumer at once, then every frame for those still short of samples.
    Returns ffmpeg's CPU seconds.

    Raises:
        ffmpeg.FFmpegError: the picture could not be decoded, or not in time.
    """
    pending, cpu = list(samplings), 0.0
    for keyframes_only in (True, False):
        if not pending:
            break
        result = ffmpeg.run(sampling_command(source, demuxer, [s.branch(keyframes_only) for s in pending],
                                             keyframes_only=keyframes_only, threads=threads, autorotate=autorotate),
                            timeout_s=timeout_s, keep_stderr_lines=keep_stderr_lines, stdout=False)
        cpu += result.cpu_s
        pending = [s for s in pending if not s.collect(result.stderr_lines, keyframes_only)]
    return cpu
