"""Archives for tests, honest and hostile, built with zipfile plus byte surgery."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import zipfile
from pathlib import Path


def build_zip(entries: list[tuple[str | zipfile.ZipInfo, bytes]], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def with_raw_names(entries: list[tuple[bytes, bytes]]) -> bytes:
    """A zip whose names are raw bytes (e.g. GBK) without the UTF-8 flag, as Windows writes them."""
    # One letter repeated per entry: no placeholder can occur inside another one.
    assert len(entries) <= 26
    placeholders = [(chr(ord("A") + i) * len(raw)).encode() for i, (raw, _) in enumerate(entries)]
    for (raw, _), holder in zip(entries, placeholders):
        assert len(holder) == len(raw)
    data = bytearray(build_zip([(h.decode(), body) for h, (_, body) in zip(placeholders, entries)]))
    for holder, (raw, _) in zip(placeholders, entries):
        start = 0
        while (pos := data.find(holder, start)) != -1:
            data[pos:pos + len(raw)] = raw
            start = pos + len(raw)
    return bytes(data)


def symlink_entry(name: str, target: str) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (0o120777 << 16)
    return info, target.encode()


def central_directory_offset(data: bytes) -> int:
    eocd = data.rfind(b"PK\x05\x06")
    return struct.unpack_from("<I", data, eocd + 16)[0]


def central_entries(data: bytes) -> list[int]:
    offsets, pos = [], central_directory_offset(data)
    while data[pos:pos + 4] == b"PK\x01\x02":
        offsets.append(pos)
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, pos + 28)
        pos += 46 + name_len + extra_len + comment_len
    return offsets


def overlapping(size: int = 1 << 20, copies: int = 3) -> bytes:
    """Members whose central entries all point at the first member's local data."""
    data = bytearray(build_zip([(f"m{i}.txt", b"\0" * size if i == 0 else b"x") for i in range(copies)]))
    for entry in central_entries(bytes(data))[1:]:
        first = central_entries(bytes(data))[0]
        crc, csize, usize = struct.unpack_from("<III", data, first + 16)
        struct.pack_into("<III", data, entry + 16, crc, csize, usize)
        struct.pack_into("<I", data, entry + 42, 0)
    return bytes(data)


def lying_size(real: bytes, declared: int) -> bytes:
    """One deflated member that declares `declared` bytes but inflates to len(real)."""
    data = bytearray(build_zip([("doc.txt", real)]))
    struct.pack_into("<I", data, 22, declared)                       # local header
    entry = central_entries(bytes(data))[0]
    struct.pack_into("<I", data, entry + 24, declared)               # central directory
    return bytes(data)


def corrupt_crc(data: bytes) -> bytes:
    """Flip one byte inside the first stored member's data."""
    raw = bytearray(data)
    name_len, extra_len = struct.unpack_from("<HH", raw, 26)
    raw[30 + name_len + extra_len + 5] ^= 0xFF
    return bytes(raw)


def _zip_with_cli(tmp: Path, name: str, body: bytes, tool: str, argv: list[str], out_name: str) -> bytes | None:
    """Write `body` as `name`, run a Debian archiver over it, return the archive (None if absent)."""
    if shutil.which(tool) is None:
        return None
    src = tmp / name
    src.write_bytes(body)
    out = tmp / out_name
    subprocess.run([tool, *argv, str(out), str(src)], check=True, timeout=120, stdout=subprocess.DEVNULL)
    return out.read_bytes()


def encrypted_with_zip_cli(tmp: Path, name: str, body: bytes) -> bytes | None:
    return _zip_with_cli(tmp, name, body, "zip", ["-q", "-j", "-P", "secret"], "enc.zip")


def deflate64_with_7z(tmp: Path, name: str, body: bytes) -> bytes | None:
    return _zip_with_cli(tmp, name, body, "7z", ["a", "-bd", "-tzip", "-mm=Deflate64"], "d64.zip")
