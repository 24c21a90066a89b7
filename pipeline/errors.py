"""One error tree for the pipeline."""

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


class InputVanishedError(PermanentError):
    """Raised when an object a message points to no longer exists (the job returns quietly)."""


class ToolError(PipelineError):
    """Raised when ffmpeg, ffprobe or another tool exits non-zero or times out."""

    def __init__(self, message: str, *, returncode: int | None, stderr_tail: str = "", timed_out: bool = False):
        super().__init__(message)
        self.returncode = returncode
        self.stderr_tail = stderr_tail
        self.timed_out = timed_out


class EventError(PermanentError):
    """Raised when an upload event is missing a field or has a wrong type."""
