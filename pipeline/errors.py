"""One error tree for the pipeline.

PipelineError
 +- PermanentError      the upload is bad: a finding, never retried
 |   +- EventError      an upload event that cannot be read
 |   +- InputVanished   gone for good: the object a message points to was deleted (the job returns quietly)
 +- TransientError      infrastructure: retried with backoff
 |   +- NotThereYet     an object a message needs is not written yet (an upload still arriving, a part not stored)
 +- ToolError           ffmpeg, ffprobe or an office tool failed (`pipeline.ffmpeg.FFmpegError`); `blame_tool_failure`
                        tells an outage of the store (transient) from bytes the tool cannot read (permanent)
"""

from __future__ import annotations


class PipelineError(Exception):
    """Raised when a stage cannot produce its output."""


class PermanentError(PipelineError):
    """Raised when the upload itself is bad: becomes a finding, never retried."""

    def __init__(self, message: str, *, code: str | None = None, detail: dict | None = None):
        super().__init__(message)
        self.code = code
        self.detail = detail or {}


class TransientError(PipelineError):
    """Raised when storage, the broker or the machine hiccups: retried with backoff."""


class NotThereYet(TransientError):
    """Raised when an object a message needs is not written yet: retried until it is."""


class InputVanishedError(PermanentError):
    """Raised when an object a message points to is gone for good (the job returns quietly)."""


class EventError(PermanentError):
    """Raised when an upload event is missing a field or has a wrong type."""


class ToolError(PipelineError):
    """Raised when ffmpeg, ffprobe or another tool exits non-zero, is killed or runs past its timeout."""

    def __init__(self, message: str, *, cmd: list[str], returncode: int | None, stderr_tail: str, timed_out: bool = False):
        super().__init__(message)
        self.cmd = cmd
        self.returncode = returncode
        self.stderr_tail = stderr_tail
        self.timed_out = timed_out
