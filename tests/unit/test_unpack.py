"""Unpack against honest and hostile archives: every case has its code and a bounded cost."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from pipeline.storage import LocalStore
from pipeline.layout import Layout
from pipeline.unpack import decode_member_name, unpack_archive, unsafe_path_reason
from tests import archives


def run_unpack(rules, tmp_path: Path, data: bytes, name: str = "submission.zip", size: int | None = None):
    store = LocalStore(tmp_path / "store")
    result = unpack_archive(io.BytesIO(data), len(data) if size is None else size, name, store, rules,
                            Layout("s1", embedded=True).member)
    return result, store


def codes(result):
    return sorted({f.code for f in result.findings})


def written(store: LocalStore) -> list[Path]:
    return sorted(p for p in store.root.rglob("*") if p.is_file()) if store.root.exists() else []


def test_members_get_decoded_paths_sizes_and_hashes(rules, tmp_path):
    data = archives.build_zip([("报名表.docx", b"form"), ("资料/应用视频.mp4", b"v" * 1000)])
    result, store = run_unpack(rules, tmp_path, data)
    assert codes(result) == []
    assert [(m.path, m.size, m.kind) for m in result.materials] == [("报名表.docx", 4, "document"), ("资料/应用视频.mp4", 1000, "video")]
    import hashlib
    assert result.materials[0].sha256 == hashlib.sha256(b"form").hexdigest()
    assert (store.root / result.materials[1].key).read_bytes() == b"v" * 1000


def test_gbk_names_without_the_utf8_flag_are_decoded(rules, tmp_path):
    data = archives.with_raw_names([("附件2 报名表.docx".encode("gbk"), b"form"), ("课件.pptx".encode("gbk"), b"ppt"),
                                    (b"plain.txt", b"x")])
    result, _ = run_unpack(rules, tmp_path, data)
    assert [m.path for m in result.materials] == ["附件2 报名表.docx", "课件.pptx", "plain.txt"]
    assert codes(result) == ["ARCHIVE_NAME_ENCODING"]


def test_unflagged_utf8_names_are_taken_as_utf8(rules, tmp_path):
    data = archives.with_raw_names([("教学设计.docx".encode("utf-8"), b"x")])
    result, _ = run_unpack(rules, tmp_path, data)
    assert result.materials[0].path == "教学设计.docx"
    assert codes(result) == []


def test_mixed_name_encodings_are_decoded_per_member(rules, tmp_path):
    data = archives.with_raw_names([("报名表.docx".encode("gbk"), b"a"), ("课件.pptx".encode("utf-8"), b"b")])
    result, _ = run_unpack(rules, tmp_path, data)
    assert [m.path for m in result.materials] == ["报名表.docx", "课件.pptx"]


@pytest.mark.parametrize("name,reason_part", [
    ("../../evil.txt", ".."), ("/etc/cron.d/evil", "绝对路径"), ("C:/Windows/evil.txt", "盘符"),
    ("docs/CON.txt", "设备名"), ("a/..\\..\\evil.txt", ".."), ("nul", "设备名"),
])
def test_unsafe_paths_are_never_written(rules, tmp_path, name, reason_part):
    data = archives.build_zip([(name, b"owned"), ("报名表.docx", b"form")])
    result, store = run_unpack(rules, tmp_path, data)
    assert "ARCHIVE_UNSAFE_PATH" in codes(result)
    finding = next(f for f in result.findings if f.code == "ARCHIVE_UNSAFE_PATH")
    assert reason_part in finding.message
    assert [m.path for m in result.materials] == ["报名表.docx"]
    assert all(store.root in p.parents for p in written(store))
    assert not (tmp_path / "evil.txt").exists()


def test_symlink_members_are_refused(rules, tmp_path):
    data = archives.build_zip([archives.symlink_entry("link", "/etc/passwd"), ("报名表.docx", b"form")])
    result, store = run_unpack(rules, tmp_path, data)
    assert codes(result) == ["ARCHIVE_UNSAFE_PATH"]
    assert not any(p.is_symlink() for p in store.root.rglob("*"))


def test_encrypted_members(rules, tmp_path):
    data = archives.encrypted_with_zip_cli(tmp_path, "报名表.txt", b"secret form" * 100)
    if data is None:
        pytest.skip("Debian zip not installed")
    result, _ = run_unpack(rules, tmp_path, data)
    assert "ARCHIVE_ENCRYPTED" in codes(result)
    assert result.materials == []


@pytest.mark.parametrize("data,reason", [
    (b"", "empty"), (b"this is not a zip at all" * 10, "text"), (b"%PDF-1.4\n" + b"\0" * 200, "pdf"),
    (b"Rar!\x1a\x07\x00" + b"\0" * 100, "rar"),
])
def test_not_a_zip(rules, tmp_path, data, reason):
    result, store = run_unpack(rules, tmp_path, data)
    assert codes(result) == ["ARCHIVE_UNREADABLE"]
    assert result.stopped and result.materials == []
    assert result.findings[0].path is None and "submission.zip" in result.findings[0].message


def test_truncated_zip(rules, tmp_path):
    data = archives.build_zip([("a.txt", b"a" * 5000), ("b.txt", b"b" * 5000)], compression=zipfile.ZIP_STORED)
    for cut in (len(data) // 2, len(data) - 10):
        result, _ = run_unpack(rules, tmp_path / str(cut), data[:cut])
        assert codes(result) == ["ARCHIVE_UNREADABLE"]


def test_bad_crc_is_reported_and_the_partial_member_removed(rules, tmp_path):
    data = archives.corrupt_crc(archives.build_zip([("a.txt", b"a" * 5000), ("报名表.docx", b"ok")], compression=zipfile.ZIP_STORED))
    result, store = run_unpack(rules, tmp_path, data)
    assert codes(result) == ["ARCHIVE_UNREADABLE"]
    assert result.findings[0].path == "a.txt" and "CRC" in result.findings[0].message
    assert [m.path for m in result.materials] == ["报名表.docx"]
    assert len(written(store)) == 1


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_compression_methods(rules, tmp_path, compression):
    body = bytes(range(256)) * 400
    result, _ = run_unpack(rules, tmp_path, archives.build_zip([("教案.docx", body)], compression=compression))
    assert codes(result) == [] and result.materials[0].size == len(body)


def test_deflate64_from_7zip(rules, tmp_path):
    body = bytes(range(256)) * 4000
    data = archives.deflate64_with_7z(tmp_path, "video.mp4", body)
    if data is None:
        pytest.skip("7z not installed")
    assert zipfile.ZipFile(io.BytesIO(data)).infolist()[0].compress_type == 9
    result, store = run_unpack(rules, tmp_path, data)
    assert codes(result) == []
    assert (store.root / result.materials[0].key).read_bytes() == body


def test_ratio_bomb_is_stopped_before_inflating(rules, tmp_path):
    data = archives.build_zip([("zeros.txt", b"\0" * (40 << 20))])
    assert len(data) < 100_000
    result, store = run_unpack(rules, tmp_path, data)
    assert codes(result) == ["ARCHIVE_BOMB"] and result.materials == [] and written(store) == []


def test_member_that_inflates_past_its_declared_size_is_stopped(rules, tmp_path):
    data = archives.lying_size(b"A" * (5 << 20), declared=1 << 20)
    result, store = run_unpack(rules, tmp_path, data)
    assert codes(result) == ["ARCHIVE_BOMB"]
    assert written(store) == []


def test_overlapping_members_are_a_bomb(rules, tmp_path):
    result, store = run_unpack(rules, tmp_path, archives.overlapping())
    assert codes(result) == ["ARCHIVE_BOMB"] and written(store) == []


def test_member_count_bomb(rules, tmp_path):
    data = archives.build_zip([(f"f{i}.txt", b"") for i in range(rules.archive.max_members + 1)], compression=zipfile.ZIP_STORED)
    result, _ = run_unpack(rules, tmp_path, data)
    assert codes(result) == ["ARCHIVE_BOMB"]


def test_total_uncompressed_limit(rules, tmp_path):
    tight = rules.model_copy(update={"archive": rules.archive.model_copy(update={"max_total_uncompressed_bytes": 50_000})})
    data = archives.build_zip([("a.bin", bytes(range(256)) * 150), ("b.bin", bytes(range(256)) * 150)])
    result, store = run_unpack(tight, tmp_path, data)
    assert codes(result) == ["ARCHIVE_BOMB"] and written(store) == []


def test_one_inner_zip_level_is_unpacked(rules, tmp_path):
    inner = archives.build_zip([("报名表.docx", b"form"), ("应用视频.mp4", b"v")])
    result, store = run_unpack(rules, tmp_path, archives.build_zip([("材料.zip", inner), ("说明.txt", b"x")]))
    assert codes(result) == ["ARCHIVE_NESTED"]
    assert sorted(m.path for m in result.materials) == ["材料.zip/应用视频.mp4", "材料.zip/报名表.docx", "说明.txt"]
    assert len(written(store)) == 3


def test_nesting_deeper_than_allowed_is_a_bomb(rules, tmp_path):
    level3 = archives.build_zip([("a.txt", b"a")])
    level2 = archives.build_zip([("c.zip", level3)])
    result, store = run_unpack(rules, tmp_path, archives.build_zip([("b.zip", level2)]))
    assert codes(result) == ["ARCHIVE_BOMB"] and written(store) == []


def test_inner_rar_and_7z_are_kept_and_reported(rules, tmp_path):
    data = archives.build_zip([("素材.rar", b"Rar!\x1a\x07\x00junk"), ("素材.7z", b"7z\xbc\xaf\x27\x1c"), ("报名表.docx", b"f")])
    result, _ = run_unpack(rules, tmp_path, data)
    assert codes(result) == ["ARCHIVE_UNSUPPORTED_INNER"]
    assert len([f for f in result.findings if f.code == "ARCHIVE_UNSUPPORTED_INNER"]) == 2
    assert len(result.materials) == 3


JUNK = ["__MACOSX/._报名表.docx", "._课件.pptx", "资料/Thumbs.db", "desktop.ini", "~$案例介绍.docx", ".~lock.教学设计.docx#",
        "~WRL0003.tmp", "资料/~DF1A2B.TMP", ".DS_Store", "课件/.~课件.pptx", "$RECYCLE.BIN/S-1-5/x.docx", "快捷方式.lnk"]


def test_editor_and_system_junk_is_listed_as_ignored_and_never_stored(rules, tmp_path):
    data = archives.build_zip([(name, b"x") for name in JUNK] + [("报名表.docx", b"f"), ("资料/", b""), ("~模板说明.docx", b"t")])
    result, store = run_unpack(rules, tmp_path, data)
    assert codes(result) == []
    ignored = [m for m in result.materials if m.role == "ignored"]
    assert sorted(m.path for m in ignored) == sorted(JUNK)
    assert all(m.key is None and m.role_source == "junk" and m.sha256 for m in ignored)
    kept = [m for m in result.materials if m.role != "ignored"]
    assert [m.path for m in kept] == ["报名表.docx", "~模板说明.docx"]     # a tilde alone is a teacher's name, not a lock


def test_an_archive_of_junk_alone_is_empty(rules, tmp_path):
    result, _ = run_unpack(rules, tmp_path, archives.build_zip([("__MACOSX/._a.docx", b"x"), ("~$a.docx", b"x")]))
    assert codes(result) == ["ARCHIVE_EMPTY"]


def test_empty_archive(rules, tmp_path):
    result, _ = run_unpack(rules, tmp_path, archives.build_zip([("__MACOSX/x", b"x"), ("dir/", b"")]))
    assert codes(result) == ["ARCHIVE_EMPTY"]


def test_too_large_is_decided_from_the_size_alone(rules, tmp_path):
    result, store = run_unpack(rules, tmp_path, b"never read", size=rules.archive.max_bytes + 1)
    assert codes(result) == ["ARCHIVE_TOO_LARGE"] and written(store) == []


def test_rerun_gives_the_same_materials(rules, tmp_path):
    data = archives.build_zip([("报名表.docx", b"form"), ("课件.pptx", b"ppt")])
    first, store = run_unpack(rules, tmp_path, data)
    second, _ = run_unpack(rules, tmp_path, data)
    assert [m.model_dump() for m in first.materials] == [m.model_dump() for m in second.materials]
    assert len(written(store)) == 2


def test_unsafe_reason_and_name_decoding_units():
    assert unsafe_path_reason("a/b/c.txt") is None
    assert unsafe_path_reason("COM1.txt") and unsafe_path_reason("lpt9") and not unsafe_path_reason("console.txt")
    info = zipfile.ZipInfo("x")
    info.orig_filename = "报名表.docx".encode("gbk").decode("cp437")
    info.flag_bits = 0
    assert decode_member_name(info) == ("报名表.docx", "gb18030")


def test_an_lzma_member_asking_for_a_4_gib_dictionary_is_a_bomb_not_an_allocation(rules, tmp_path):
    import lzma
    import struct
    import tracemalloc

    data = bytearray(archives.build_zip([("说明.txt", b"teacher text " * 200)], compression=zipfile.ZIP_LZMA))
    props = 30 + len("说明.txt".encode()) + 4        # local header, name, version and properties size
    assert data[props] == 0x5D                        # lc/lp/pb of the default preset
    struct.pack_into("<I", data, props + 1, 0xFFFFFFFF)
    tracemalloc.start()
    try:
        result, _ = run_unpack(rules, tmp_path, bytes(data))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert codes(result) == ["ARCHIVE_BOMB"] and "LZMA" in result.findings[0].message
    assert peak < 64 << 20
    ok, _ = run_unpack(rules, tmp_path / "ok", archives.build_zip([("说明.txt", b"x" * 999)], compression=zipfile.ZIP_LZMA))
    assert codes(ok) == [] and lzma is not None
