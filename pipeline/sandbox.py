"""Run a parser on hostile bytes in a forked child with a timeout and a memory cap.

Parsers of media and office files are libraries, not subprocesses, so they get the same
bounds a tool gets: a hang or an explosion kills the child, never the worker.
"""

from __future__ import annotations

import multiprocessing
import resource
from collections.abc import Callable
from typing import Any

DEFAULT_MEMORY = 2 * 1024**3


class ChildFailed(Exception):
    """Raised when the child timed out, crashed, ran out of memory or raised."""


def mapped_bytes() -> int:
    """This process's address space now (VmSize): a forked child starts with all of it."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _child(conn, func: Callable[..., Any], args: tuple, memory_bytes: int | None) -> None:
    try:
        if memory_bytes:
            # Headroom over what the parent already maps (a worker that loaded the OCR models
            # maps gigabytes): an absolute cap below that leaves the parser unable to map lxml.
            limit = mapped_bytes() + memory_bytes
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        conn.send(("ok", func(*args)))
    except MemoryError:
        conn.send(("error", "MemoryError: over the memory cap"))
    except Exception as exc:  # reported to the parent as data
        conn.send(("error", f"{type(exc).__name__}: {exc}"[:500]))
    finally:
        conn.close()


def call_bounded(func: Callable[..., Any], *args: Any, timeout_s: float, memory_bytes: int | None = DEFAULT_MEMORY) -> Any:
    """`func(*args)` in a forked child; its return value must pickle.

    Raises:
        ChildFailed: with the reason (timeout, crash, or the child's exception).
    """
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, func, args, memory_bytes), daemon=True)
    proc.start()
    child.close()
    try:
        if not parent.poll(timeout_s):
            raise ChildFailed(f"timed out after {timeout_s:.0f}s")
        status, payload = parent.recv()
    except EOFError as exc:
        raise ChildFailed(f"crashed (exit {proc.exitcode})") from exc
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5)
        parent.close()
    if status != "ok":
        raise ChildFailed(payload)
    return payload
