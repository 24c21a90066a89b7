import mmap

import pytest

from pipeline.sandbox import ChildFailed, call_bounded


def _allocate(n: int) -> int:
    return len(bytearray(n))


def test_the_memory_cap_is_headroom_over_what_the_process_already_maps():
    """A worker that loaded the OCR models maps gigabytes before it forks a parser: the parser
    still gets its own allowance (an absolute cap left lxml unable to load: DOCUMENT_UNREADABLE)."""
    reserved = mmap.mmap(-1, 3 << 30)          # 3 GiB of address space, never touched
    try:
        assert call_bounded(_allocate, 200 << 20, timeout_s=60, memory_bytes=1 << 30) == 200 << 20
        with pytest.raises(ChildFailed):
            call_bounded(_allocate, 2 << 30, timeout_s=60, memory_bytes=1 << 30)     # the cap still holds
    finally:
        reserved.close()
