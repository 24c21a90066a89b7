"""Mutated archives: unpack returns findings, never raises, never writes outside its prefix.

The budget is fixed (derandomized, a set number of examples) so CI time is predictable.
"""

from __future__ import annotations

import io
import tracemalloc
import time
import zipfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.rules import load_rules
from config.settings import DEFAULT_RULES
from pipeline.storage import LocalStore
from pipeline.layout import Layout
from pipeline.unpack import unpack_archive
from tests import archives

RULES = load_rules(DEFAULT_RULES)
TIGHT = RULES.model_copy(update={"archive": RULES.archive.model_copy(update={"max_total_uncompressed_bytes": 8 << 20})})

BASES = [
    archives.build_zip([("报名表.docx", b"form" * 300), ("资料/应用视频.mp4", bytes(range(256)) * 64)]),
    archives.build_zip([("a.txt", b"a" * 4000), ("b.bin", bytes(range(256)) * 20)], compression=zipfile.ZIP_STORED),
    archives.build_zip([("inner.zip", archives.build_zip([("报名表.docx", b"x" * 500), ("课件.pptx", b"y" * 700)])),
                        ("教案.docx", b"z" * 900)]),
    archives.with_raw_names([("附件2 报名表.docx".encode("gbk"), b"form" * 100), ("课件.pptx".encode("gbk"), b"p" * 300)]),
    archives.build_zip([("x.txt", b"q" * 3000)], compression=zipfile.ZIP_BZIP2),
    archives.build_zip([("y.txt", b"r" * 3000)], compression=zipfile.ZIP_LZMA),
]

INTERESTING = [b"\x00\x00\x00\x00", b"\xff\xff\xff\xff", b"\xff\xff", b"\x00\x00\x00\x80", b"..\\", b"../", b"/", b"PK\x03\x04",
               b"PK\x01\x02", b"PK\x05\x06", b"\x01\x00", b"\x09\x00", b"\x63\x00"]


@st.composite
def mutated(draw):
    data = bytearray(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "splice", "truncate", "insert"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[pos] ^= draw(st.integers(1, 255))
        elif op == "splice":
            chunk = draw(st.sampled_from(INTERESTING))
            data[pos:pos + len(chunk)] = chunk
        elif op == "truncate":
            del data[pos:]
        else:
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
    return bytes(data)


@settings(max_examples=1000, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated())
def test_unpack_survives_mutations(tmp_path_factory, data):
    root = tmp_path_factory.mktemp("fuzz")
    store = LocalStore(root / "store")
    started = time.monotonic()
    # The peak of this call alone (ru_maxrss is the process's lifetime peak and could not fail):
    # a member inflated into memory instead of streamed would show here.
    tracemalloc.start()
    try:
        result = unpack_archive(io.BytesIO(data), len(data), "fuzz.zip", store, TIGHT, Layout("f", embedded=True).member)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 10
    assert peak < 16 << 20, f"unpacking held {peak >> 20} MiB"
    files = [p for p in root.rglob("*") if p.is_file()]
    assert all((root / "store" / "members") in p.parents for p in files)
    assert sum(p.stat().st_size for p in files) <= 8 << 20
    stored = [m for m in result.materials if m.role != "ignored"]
    assert all(m.key is None for m in result.materials if m.role == "ignored")       # junk is listed, never stored
    assert {m.key for m in stored} == {p.relative_to(root / "store").as_posix() for p in files}
    assert all(f.code.startswith("ARCHIVE_") for f in result.findings)


def test_a_large_member_is_streamed_not_held(tmp_path):
    """An 80 MiB member goes to the store in bounded reads: the call's own peak stays far below the member."""
    import os

    payload = os.urandom(80 << 20)
    data = archives.build_zip([("应用视频.mp4", payload)], compression=zipfile.ZIP_STORED)
    del payload
    tracemalloc.start()
    try:
        result = unpack_archive(io.BytesIO(data), len(data), "big.zip", LocalStore(tmp_path / "store"), RULES,
                                Layout("big", embedded=True).member)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [m.size for m in result.materials] == [80 << 20]
    assert peak < 40 << 20, f"unpacking an 80 MiB member held {peak >> 20} MiB"
