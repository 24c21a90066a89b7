"""The one hardened runner of tools (pipeline/ffmpeg.run): what it says a process cost."""

from __future__ import annotations

import sys
import threading

from pipeline import ffmpeg

BUSY = [sys.executable, "-c", "import time\nend = time.process_time() + 0.6\nwhile time.process_time() < end: pass"]


def test_a_tools_cpu_is_its_own_when_other_threads_run_tools_beside_it():
    """Jobs run side by side in threads (a long video's windows, a worker's threads): a process's
    CPU seconds must not take in the children another thread reaped meanwhile (budgets rest on them)."""
    results = {}
    idle = threading.Thread(target=lambda: results.update(idle=ffmpeg.run(["sleep", "1.5"], timeout_s=30, stdout=False)))
    idle.start()
    busy = ffmpeg.run(BUSY, timeout_s=30, stdout=False)
    idle.join()
    assert busy.cpu_s >= 0.5
    assert results["idle"].cpu_s < 0.2, results["idle"].cpu_s
