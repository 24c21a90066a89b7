"""Unpack a submission's zip into the object store, member by member, safely.

The archive is read through a seekable reader (ranged GETs on S3), so only the central
directory and one member's stream are in flight at a time; nothing touches local disk.
Every limit comes from the rules file and holds while bytes stream, not after.
"""

from __future__ import annotations

import fnmatch
import hashlib
import lzma
import re
import stat as statmod
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import BinaryIO

import zipfile_deflate64  # noqa: F401  (registers Deflate64, method 9, with zipfile)

from .ruleset import Rules

from .findings import make_finding
from .models import Finding, Material
from .storage import ObjectStore

SUPPORTED_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, 9, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
METHOD_NAMES = {0: "stored", 8: "deflate", 9: "deflate64", 12: "bzip2", 14: "lzma", 99: "aes"}
_DEVICE_NAMES = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))}
_DRIVE = re.compile(r"^[A-Za-z]:")
_UNICODE_PATH_EXTRA = 0x7075
# Hand a store's multipart writer a whole part per read: minio assembles parts by `+=` on
# bytes, so small reads cost quadratic copying (136 MB copied per 16 MB part at 1 MB reads).
_READ = 32 * 1024 * 1024
# What the archive libraries raise on damaged data, per call; caught there and nowhere else, so
# that a bug of ours (a KeyError, an IndexError) is never read as the teacher's broken zip.
# Parsing the central directory (zipfile.ZipFile): bad records, names that do not decode,
# offsets that seek before the start.
DIRECTORY_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, struct.error, OverflowError)
# Opening a member (ZipFile.open): a bad local header, a local name flagged UTF-8 that is not,
# a method zipfile cannot read, an encryption bit only the local header has.
MEMBER_OPEN_ERRORS = (zipfile.BadZipFile, UnicodeDecodeError, NotImplementedError, RuntimeError, EOFError)
# Inflating a member: CRC mismatch (BadZipFile), a cut stream (EOFError), zlib's, lzma's, and
# bz2's OSError.
MEMBER_DATA_ERRORS = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError)


class ArchiveBomb(Exception):
    """Raised when a limit on sizes, ratios, counts or nesting is crossed."""


class MemberTooLarge(ArchiveBomb):
    """Raised when a member inflates past what it declared or what the budget allows."""


class DamagedData(Exception):
    """Raised when zipfile or a decompressor reported damaged archive data (the cause is chained)."""


def lzma_dictionary_bytes(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> int | None:
    """The dictionary an LZMA member asks the decompressor to allocate, read from its properties
    (after the local header: version, properties size, then lc/lp/pb and the dictionary size).
    A hostile member can ask for 4 GiB with a few bytes; None when it cannot be read."""
    if info.compress_type != zipfile.ZIP_LZMA:
        return None
    try:
        archive.fp.seek(info.header_offset)
        header = archive.fp.read(30)
        if len(header) < 30 or header[:4] != b"PK\x03\x04":
            return None
        name_len, extra_len = struct.unpack("<HH", header[26:30])
        archive.fp.seek(info.header_offset + 30 + name_len + extra_len)
        props = archive.fp.read(9)
    except (OSError, ValueError):
        return None
    if len(props) < 9:
        return None
    return struct.unpack("<I", props[5:9])[0]


def open_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo):
    try:
        return archive.open(info)
    except MEMBER_OPEN_ERRORS as exc:
        raise DamagedData(str(exc)) from exc


@dataclass
class UnpackResult:
    materials: list[Material] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    stopped: bool = False
    total_uncompressed: int = 0
    members_seen: int = 0
    name_encodings: dict[str, int] = field(default_factory=dict)


@dataclass
class _Budget:
    """What is left of the limits, shared by the outer archive and its inner zips."""

    bytes_left: int
    members_left: int


class _LimitedHashingReader:
    """Counts, hashes and caps a member's stream while it is being stored."""

    def __init__(self, stream: BinaryIO, limit: int, budget: _Budget):
        self._stream, self._limit, self._budget = stream, limit, budget
        self.size = 0
        self.digest = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        n = _READ if n is None or n < 0 else min(n, _READ)
        try:
            data = self._stream.read(n)
        except MEMBER_DATA_ERRORS as exc:
            raise DamagedData(str(exc)) from exc
        if data:
            self.size += len(data)
            self._budget.bytes_left -= len(data)
            if self.size > self._limit:
                raise MemberTooLarge(f"member inflates past its declared {self._limit} bytes")
            if self._budget.bytes_left < 0:
                raise MemberTooLarge("total uncompressed size over the limit")
            self.digest.update(data)
        return data


def decode_member_name(info: zipfile.ZipInfo) -> tuple[str, str]:
    """The member's name as the teacher wrote it, and the encoding it was read in.

    UTF-8 flagged names are kept; an Info-ZIP Unicode Path field wins when its CRC matches;
    otherwise the raw bytes are tried as UTF-8, then GB18030 (Windows' and Chinese tools'
    default), else left as CP437.
    """
    if info.flag_bits & 0x800:
        return info.orig_filename, "utf-8"
    raw = info.orig_filename.encode("cp437", errors="replace")
    unicode_name = _unicode_path_extra(info.extra, raw)
    if unicode_name is not None:
        return unicode_name, "utf-8"
    if raw.isascii():
        return info.orig_filename, "ascii"
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return info.orig_filename, "cp437"


def _unicode_path_extra(extra: bytes, raw_name: bytes) -> str | None:
    offset = 0
    while offset + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, offset)
        body = extra[offset + 4 : offset + 4 + size]
        offset += 4 + size
        if tag == _UNICODE_PATH_EXTRA and len(body) >= 5 and body[0] == 1:
            (crc,) = struct.unpack_from("<I", body, 1)
            if crc == zlib.crc32(raw_name):
                try:
                    return body[5:].decode("utf-8")
                except UnicodeDecodeError:
                    return None
    return None


def unsafe_path_reason(name: str, info: zipfile.ZipInfo | None = None) -> str | None:
    """Why a member may not be written, or None when its path is safe."""
    if info is not None and info.create_system == 3 and statmod.S_ISLNK(info.external_attr >> 16):
        return "符号链接"
    if any(ord(ch) < 32 for ch in name):
        return "文件名含控制字符"
    normalized = name.replace("\\", "/")
    if normalized.startswith("/"):
        return "绝对路径"
    if _DRIVE.match(normalized):
        return "含盘符"
    parts = [p for p in normalized.split("/") if p]
    if any(p == ".." for p in parts):
        return "含上级目录“..”"
    for part in parts:
        stem = part.split(".")[0].strip().upper()
        if stem in _DEVICE_NAMES:
            return f"Windows设备名“{part}”"
    return None


def clean_member_path(name: str) -> str:
    """Forward slashes, no empty or '.' parts: the path used in messages and the verdict."""
    return "/".join(p for p in name.replace("\\", "/").split("/") if p not in ("", "."))


def is_ignored(path: str, rules: Rules) -> bool:
    """Editor and system junk (lock and temp files, Thumbs.db, __MACOSX/ ...), by the rules file's globs."""
    parts = path.split("/")
    base = parts[-1].casefold()
    if any(part in rules.archive.ignored_dirs for part in parts[:-1]):
        return True
    return any(fnmatch.fnmatchcase(base, pattern.casefold()) for pattern in rules.archive.ignored_patterns)


JUNK_HASH_MAX_BYTES = 16 * 1024 * 1024


def _inflates_past_declared(stream) -> bool:
    """After zipfile stopped at the declared size: would the member have inflated further?

    zipfile truncates at `file_size` and then reports a CRC mismatch; a decompressor that
    has not reached its end, or compressed bytes left unread, means the member lied.
    """
    decompressor = getattr(stream, "_decompressor", None)
    left = getattr(stream, "_compress_left", 0)
    unfinished = decompressor is not None and hasattr(decompressor, "eof") and not decompressor.eof
    return bool(left > 0 or unfinished)


def _end_record(source: BinaryIO) -> tuple[int, int, int] | None:
    """(entries, central directory size, its offset) from the end record, before parsing it."""
    try:
        endrec = zipfile._EndRecData(source)  # noqa: SLF001 (zipfile's own EOCD reader, Zip64 aware)
    except OSError:
        return None
    if not endrec:
        return None
    return endrec[zipfile._ECD_ENTRIES_TOTAL], endrec[zipfile._ECD_SIZE], endrec[zipfile._ECD_OFFSET]


def _check_overlaps(infos: list[zipfile.ZipInfo], archive_size: int) -> str | None:
    """Members must not share local data (the overlapping-member bomb) nor run past the end."""
    spans = []
    for info in infos:
        if info.filename.endswith("/") and info.compress_size == 0:
            continue
        start = info.header_offset
        end = start + 30 + len(info.orig_filename.encode("cp437", errors="replace")) + info.compress_size
        if end > archive_size:
            return "truncated"
        spans.append((start, end))
    spans.sort()
    for (s1, e1), (s2, _e2) in zip(spans, spans[1:]):
        if s2 < e1:
            return "overlap"
    return None


def _archive_finding(code: str, parent: str | None, archive_name: str, **detail) -> Finding:
    """A finding about an archive as a whole: no member path for the outer one."""
    return make_finding(code, parent, file_text=archive_name, **detail)


class Unpacker:
    """One archive (and one inner zip level) into the store, under keys from `key_for`."""

    def __init__(self, store: ObjectStore, rules: Rules, key_for: Callable[[int, str], str]):
        self.store = store
        self.rules = rules
        self.limits = rules.archive
        self.key_for = key_for
        self._index = 0
        self._written: list[str] = []

    def unpack(self, source: BinaryIO, archive_size: int, archive_name: str) -> UnpackResult:
        result = UnpackResult()
        if archive_size > self.limits.max_bytes:
            result.findings.append(_archive_finding(
                "ARCHIVE_TOO_LARGE", None, archive_name, size=archive_size, limit=self.limits.max_bytes,
                size_mb=archive_size / 1048576, limit_mb=self.limits.max_bytes / 1048576))
            result.stopped = True
            return result
        budget = _Budget(self.limits.max_total_uncompressed_bytes, self.limits.max_members)
        try:
            self._unpack_level(source, archive_size, archive_name, None, 0, budget, result)
        except ArchiveBomb as exc:
            self._discard_all(result)
            result.findings.append(_archive_finding("ARCHIVE_BOMB", None, archive_name, reason=str(exc)))
        usable = [m for m in result.materials if m.size > 0 and m.role != "ignored"]
        explained = any(f.severity == "fail" for f in result.findings)   # members refused, each with its reason
        if not result.stopped and not usable and not explained:
            result.findings.append(_archive_finding("ARCHIVE_EMPTY", None, archive_name))
        result.total_uncompressed = self.limits.max_total_uncompressed_bytes - budget.bytes_left
        return result

    def _discard_all(self, result: UnpackResult) -> None:
        """A bomb or a broken directory condemns the whole archive: remove all written so far."""
        for key in self._written:
            self.store.delete(key)
        result.materials.clear()
        result.stopped = True

    def _open_zip(self, source: BinaryIO, archive_size: int, name: str, parent: str | None, budget: _Budget,
                  result: UnpackResult) -> zipfile.ZipFile | None:
        end = _end_record(source)
        if end is None:
            result.findings.append(_archive_finding("ARCHIVE_UNREADABLE", parent, name, reason="不是zip文件或文件不完整"))
            return None
        entries, cd_size, cd_offset = end
        if entries > budget.members_left or cd_size > self.limits.max_members * (46 + self.limits.max_name_bytes + 256):
            raise ArchiveBomb(f"文件数{entries}超过上限{self.limits.max_members}")
        if cd_offset + cd_size > archive_size:
            result.findings.append(_archive_finding("ARCHIVE_UNREADABLE", parent, name, reason="文件被截断，目录区不完整"))
            return None
        try:
            return zipfile.ZipFile(source)
        except DIRECTORY_ERRORS as exc:
            result.findings.append(_archive_finding("ARCHIVE_UNREADABLE", parent, name, reason=f"目录区损坏：{type(exc).__name__}"))
            return None

    def _unpack_level(self, source, archive_size, archive_name, parent, depth, budget, result) -> None:
        archive = self._open_zip(source, archive_size, archive_name, parent, budget, result)
        if archive is None:
            if parent is None:
                result.stopped = True
            return
        with archive:
            infos = archive.infolist()
            if len(infos) > budget.members_left:
                raise ArchiveBomb(f"文件数{len(infos)}超过上限{self.limits.max_members}")
            budget.members_left -= len(infos)
            problem = _check_overlaps(infos, archive_size)
            if problem == "overlap":
                raise ArchiveBomb("多个文件共用同一段压缩数据")
            if problem == "truncated":
                result.findings.append(_archive_finding("ARCHIVE_UNREADABLE", parent, archive_name, reason="文件被截断"))
                if parent is None:
                    result.stopped = True
                return
            declared = sum(i.file_size for i in infos)
            if declared > budget.bytes_left:
                raise ArchiveBomb(f"解压后共{declared}字节，超过上限{self.limits.max_total_uncompressed_bytes}字节")
            for info in infos:
                self._unpack_member(archive, info, archive_name, parent, depth, budget, result)

    def _unpack_member(self, archive, info, archive_name, parent, depth, budget, result) -> None:
        name, encoding = decode_member_name(info)
        result.members_seen += 1
        display = clean_member_path(name)
        path = f"{parent}/{display}" if parent else display
        if encoding == "gb18030":
            result.name_encodings[path] = 1
        if not name:
            result.findings.append(make_finding("ARCHIVE_UNSAFE_PATH", f"#{result.members_seen}", reason="文件名为空或含空字符"))
            return
        if name.endswith(("/", "\\")):
            return
        reason = unsafe_path_reason(name, info)
        if reason:
            result.findings.append(make_finding("ARCHIVE_UNSAFE_PATH", path or name, reason=reason, raw_name=name))
            return
        if not display:
            return
        if is_ignored(display, self.rules):
            result.materials.append(self._ignored(archive, info, path, parent, budget))
            return
        if len(name.encode("utf-8", errors="replace")) > self.limits.max_name_bytes:
            result.findings.append(make_finding("ARCHIVE_UNSAFE_PATH", path[:200], reason="文件名过长"))
            return
        if info.flag_bits & 0x1 or info.compress_type == 99:
            result.findings.append(make_finding("ARCHIVE_ENCRYPTED", path))
            return
        if info.compress_type not in SUPPORTED_METHODS:
            method = METHOD_NAMES.get(info.compress_type, str(info.compress_type))
            result.findings.append(make_finding("ARCHIVE_UNREADABLE", path, reason=f"不支持的压缩方式{method}", method=method))
            return
        dictionary = lzma_dictionary_bytes(archive, info)
        if dictionary is not None and dictionary > self.limits.max_lzma_dictionary_bytes:
            raise ArchiveBomb(f"“{path}”的LZMA字典为{dictionary >> 20}MB，超过上限{self.limits.max_lzma_dictionary_bytes >> 20}MB")
        if info.file_size > self.limits.ratio_min_bytes and info.file_size > self.limits.max_member_ratio * max(info.compress_size, 1):
            raise ArchiveBomb(f"“{path}”压缩比{info.file_size / max(info.compress_size, 1):.0f}超过上限{self.limits.max_member_ratio:.0f}")
        kind = self.rules.kind_of(display)
        suffix = PurePosixPath(display).suffix.lower()
        if kind == "archive" and suffix == ".zip" and depth >= self.limits.max_depth:
            raise ArchiveBomb(f"压缩包嵌套超过{self.limits.max_depth + 1}层")
        key = self.key_for(self._index, display)
        self._index += 1
        reader = None
        try:
            with open_member(archive, info) as stream:
                reader = _LimitedHashingReader(stream, min(info.file_size, max(budget.bytes_left, 0)), budget)
                self._written.append(key)
                try:
                    self.store.put_stream(key, reader)
                except DamagedData as exc:
                    if isinstance(exc.__cause__, zipfile.BadZipFile) and _inflates_past_declared(stream):
                        raise MemberTooLarge(f"“{path}”解压后超过其声明的{info.file_size}字节") from None
                    raise
        except ArchiveBomb:
            self.store.delete(key)
            raise
        except DamagedData as exc:
            self.store.delete(key)
            cause = exc.__cause__ or exc
            reason = "校验失败（CRC错误）" if "CRC" in str(cause) else f"数据损坏：{type(cause).__name__}"
            result.findings.append(make_finding("ARCHIVE_UNREADABLE", path, reason=reason))
            return
        material = Material(path=path, size=reader.size, sha256=reader.digest.hexdigest(), kind=kind, key=key,
                            compressed_size=info.compress_size, from_archive=parent)
        if kind == "archive" and suffix == ".zip":
            self._unpack_inner(material, depth, budget, result)
            return
        if kind == "archive":
            result.findings.append(make_finding("ARCHIVE_UNSUPPORTED_INNER", path, format=suffix.lstrip(".").upper() or "未知"))
        result.materials.append(material)

    def _ignored(self, archive, info, path: str, parent: str | None, budget: _Budget) -> Material:
        """Junk is listed, never stored: hashed when it can be read cheaply, else listed by its declared size."""
        digest = ""
        readable = not (info.flag_bits & 0x1) and info.compress_type in SUPPORTED_METHODS
        dictionary = lzma_dictionary_bytes(archive, info)
        readable = readable and (dictionary is None or dictionary <= self.limits.max_lzma_dictionary_bytes)
        if readable and info.file_size <= JUNK_HASH_MAX_BYTES:
            try:
                with open_member(archive, info) as stream:
                    reader = _LimitedHashingReader(stream, info.file_size, budget)
                    while reader.read():
                        pass
                digest = reader.digest.hexdigest()
            except DamagedData:
                digest = ""
        return Material(path=path, role="ignored", role_source="junk", role_evidence="编辑器或系统生成的临时文件",
                        size=info.file_size, sha256=digest, kind=self.rules.kind_of(path), key=None,
                        compressed_size=info.compress_size, from_archive=parent)

    def _unpack_inner(self, material: Material, depth: int, budget: _Budget, result: UnpackResult) -> None:
        before = len(result.materials)
        findings_before = len(result.findings)
        with self.store.open(material.key) as inner:
            self._unpack_level(inner, material.size, material.path, material.path, depth + 1, budget, result)
        opened = not any(f.code == "ARCHIVE_UNREADABLE" and f.path == material.path for f in result.findings[findings_before:])
        if opened:
            self.store.delete(material.key)
            result.findings.append(make_finding("ARCHIVE_NESTED", material.path, members=len(result.materials) - before))
        else:
            result.materials.append(material)


def unpack_archive(source: BinaryIO, archive_size: int, archive_name: str, store: ObjectStore, rules: Rules,
                   key_for: Callable[[int, str], str]) -> UnpackResult:
    """Unpack `source` into `store`; every problem becomes a finding, none an exception.

    Returns:
        The materials stored (decoded paths, sizes, sha256, kinds, keys) and the findings.
    """
    result = Unpacker(store, rules, key_for).unpack(source, archive_size, archive_name)
    if result.name_encodings:
        first = next(iter(result.name_encodings))
        result.findings.append(make_finding("ARCHIVE_NAME_ENCODING", first, encoding="GBK/GB18030",
                                            members=len(result.name_encodings)))
    return result
