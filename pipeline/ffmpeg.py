"""ffmpeg and ffprobe: pure command builders and one hardened runner.

Self-contained on purpose (imports nothing from the rest of the pipeline but its error
class, from the dependency-free `errors` module): settings such
as threads, niceness, timeout and memory come in as arguments, results go out as values.
Uploads are hostile: every input gets a protocol whitelist and, where the format is
known from its bytes, a forced demuxer, so a playlist or concat script disguised as a
video can never make ffmpeg open another file or URL.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import subprocess
import time
from collections import deque
from dataclasses import dataclass

from .errors import ToolError

FFMPEG = "ffmpeg"      # Debian's, from PATH
FFPROBE = "ffprobe"
DEFAULT_MEMORY_BYTES = 4 * 1024**3
STDERR_TAIL_LINES = 20

# The ffmpeg demuxers we allow for each container sniffed from the bytes.
DEMUXERS = {
    "mp4": "mov", "mov": "mov", "3gp": "mov", "isobmff": "mov",
    "matroska": "matroska", "webm": "matroska",
    "avi": "avi", "flv": "flv", "asf": "asf", "mpegts": "mpegts", "mpegps": "mpeg",
}


# The tool's failure is the error tree's ToolError (pipeline/errors.py imports nothing, so this
# layer still depends on no other part of the pipeline).
FFmpegError = ToolError


@dataclass(frozen=True)
class RunResult:
    returncode: int
    stdout: bytes
    stderr_tail: str
    stderr_lines: list[str]
    cpu_s: float
    wall_s: float


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


# What ffmpeg says when the network, not the file, failed it: the store is down, overloaded,
# or a presigned URL expired while a long job waited. Only meaningful for a URL input.
TRANSPORT_FAILURES = ("Connection refused", "Connection reset", "Connection timed out", "Network is unreachable",
                      "Failed to resolve hostname", "Server returned 5", "Server returned 403", "Broken pipe")


def transport_failed(error: "FFmpegError") -> bool:
    """True when a tool reading over HTTP failed on the transport, not on the bytes."""
    return any(is_url(arg) for arg in error.cmd) and any(marker in error.stderr_tail for marker in TRANSPORT_FAILURES)


def input_args(source: str, demuxer: str | None) -> list[str]:
    """Options placed before `-i`: only the protocol the source needs, the demuxer forced.

    Raises:
        ValueError: a demuxer outside the allowed set (concat, hls, tee ... never).
    """
    if demuxer is not None and demuxer not in set(DEMUXERS.values()) | {"lavfi"}:
        raise ValueError(f"demuxer {demuxer!r} is not allowed for uploads")
    protocols = "https,http,tls,tcp" if is_url(source) else "file"
    if source.startswith("https://"):
        protocols = "https,tls,tcp"
    args = ["-protocol_whitelist", protocols]
    if demuxer:
        args += ["-f", demuxer]
    if demuxer == "mov":
        args += ["-enable_drefs", "0", "-use_absolute_path", "0"]
    if not is_url(source):
        source = "file:" + os.path.abspath(source)
    return [*args, "-i", source]


def fit_filter(width: int, height: int, sample_aspect: float | None = None) -> str:
    """Fit a picture into width x height: sample aspect applied first, scaled down keeping the
    displayed shape, padded with black (never stretched), square pixels out. Rotation is
    applied by ffmpeg's autorotation on decode."""
    steps = []
    if sample_aspect and abs(sample_aspect - 1.0) > 0.01:
        steps.append("scale=trunc(iw*sar/2)*2:ih")
    steps.append(f"scale={width}:{height}:force_original_aspect_ratio=decrease:force_divisible_by=2")
    steps.append(f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2:color=black")
    steps.append("setsar=1")
    return ",".join(steps)


def ffprobe_command(source: str, demuxer: str | None) -> list[str]:
    """ffprobe's JSON command; for MP4/MOV the moov holds every stream parameter, so
    packet probing is kept tiny (a 1 GB moov-at-end file costs a few MB of ranged reads)."""
    cmd = [FFPROBE, "-v", "error", "-hide_banner", "-print_format", "json", "-show_format", "-show_streams"]
    if demuxer == "mov":
        cmd += ["-probesize", "1M", "-analyzeduration", "0"]
    return cmd + input_args(source, demuxer)


def _limits(memory_bytes: int | None, nice: int):
    def apply() -> None:
        os.setsid()
        if nice:
            os.nice(nice)
        if memory_bytes:
            resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


class _Measured(subprocess.Popen):
    """A child that keeps its own resource usage: a RUSAGE_CHILDREN delta also counts the
    children other threads reaped meanwhile (a long video's jobs side by side, a worker's
    threads), and budgets rest on these seconds (the upscale estimate's knees)."""

    rusage: resource.struct_rusage | None = None

    def _try_wait(self, wait_flags):
        # CPython's blocking reap (wait(), communicate()) calls this with its lock held: reap with wait4 instead of waitpid
        try:
            pid, status, usage = os.wait4(self.pid, wait_flags)
        except ChildProcessError:       # reaped elsewhere (SIGCHLD ignored): no status, as CPython does
            return self.pid, 0
        if pid == self.pid:
            self.rusage = usage
        return pid, status


def _cpu_of(proc: _Measured, before: resource.struct_rusage) -> float:
    usage = proc.rusage
    if usage is None:       # reaped by a poll (not through _try_wait): the delta, which may count others
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return usage.ru_utime + usage.ru_stime


def run(cmd: list[str], *, timeout_s: float, memory_bytes: int | None = DEFAULT_MEMORY_BYTES, nice: int = 0,
        keep_stderr_lines: int = 0, stdout: bool = True, cwd: str | None = None,
        env: dict[str, str] | None = None) -> RunResult:
    """Run a tool with a wall-clock timeout and a memory cap; kill its whole group on timeout.

    The one hardened runner of the pipeline: ffmpeg and ffprobe, and the office tools
    (`cwd` and `env` are theirs: LibreOffice writes its profile under a private HOME).

    Args:
        keep_stderr_lines: how many stderr lines to return whole (filters log there); the
            tail for error reports is kept regardless.

    Raises:
        FFmpegError: non-zero exit, a signal, or the timeout.
    """
    started = time.monotonic()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = _Measured(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE if stdout else subprocess.DEVNULL,
                            stderr=subprocess.PIPE, preexec_fn=_limits(memory_bytes, nice), cwd=cwd, env=env)
    tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
    kept: deque[str] = deque(maxlen=keep_stderr_lines or 1)
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        _collect(err, tail, kept, keep_stderr_lines)
        raise FFmpegError(f"{os.path.basename(cmd[0])} timed out after {timeout_s:.0f}s", cmd=cmd,
                          returncode=None, stderr_tail="\n".join(tail), timed_out=True) from None
    _collect(err, tail, kept, keep_stderr_lines)
    cpu = _cpu_of(proc, before)
    if proc.returncode != 0:
        raise FFmpegError(f"{os.path.basename(cmd[0])} exited with {proc.returncode}", cmd=cmd,
                          returncode=proc.returncode, stderr_tail="\n".join(tail))
    return RunResult(proc.returncode, out or b"", "\n".join(tail), list(kept) if keep_stderr_lines else [],
                     cpu, time.monotonic() - started)


def _collect(err: bytes | None, tail: deque, kept: deque, keep: int) -> None:
    for line in (err or b"").decode("utf-8", errors="replace").splitlines():
        tail.append(line)
        if keep:
            kept.append(line)


def ffprobe(source: str, demuxer: str | None, *, timeout_s: float = 60) -> dict:
    """ffprobe's JSON for one input.

    Raises:
        FFmpegError: ffprobe failed or its output is not JSON.
    """
    cmd = ffprobe_command(source, demuxer)
    result = run(cmd, timeout_s=timeout_s, memory_bytes=1024**3)
    try:
        return json.loads(result.stdout or b"{}")
    except json.JSONDecodeError as exc:
        raise FFmpegError("ffprobe printed no JSON", cmd=cmd, returncode=0, stderr_tail=result.stderr_tail) from exc


def redact(cmd: list[str]) -> list[str]:
    """A command line fit for logs: presigned URLs lose their query string (the signature)."""
    return [arg.split("?", 1)[0] + "?<redacted>" if is_url(arg) and "?" in arg else arg for arg in cmd]
