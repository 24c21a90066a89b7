"""Every hostile-archive case gives its contract code through `smartedu check --json`."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from tests import archives
from tests.helpers import codes, run_check

pytestmark = pytest.mark.integration

FORM = ("附件2 报名表.docx", b"form")
# The bytes of every unsafe member: found in no file the check writes, under any name.
EVIL = b"EVIL-MEMBER-7f3a9c"


def _cases(tmp: Path) -> dict[str, tuple[bytes, set[str]]]:
    cases = {
        "zip-slip": (archives.build_zip([("../../evil.txt", EVIL), FORM]), {"ARCHIVE_UNSAFE_PATH"}),
        "absolute": (archives.build_zip([("/etc/evil", EVIL), FORM]), {"ARCHIVE_UNSAFE_PATH"}),
        "drive": (archives.build_zip([("C:\\evil.txt", EVIL), FORM]), {"ARCHIVE_UNSAFE_PATH"}),
        "device": (archives.build_zip([("AUX.docx", EVIL), FORM]), {"ARCHIVE_UNSAFE_PATH"}),
        "symlink": (archives.build_zip([archives.symlink_entry("link.docx", "/etc/passwd" + EVIL.decode()), FORM]), {"ARCHIVE_UNSAFE_PATH"}),
        "truncated": (archives.build_zip([FORM, ("b.bin", bytes(range(256)) * 100)])[:-30], {"ARCHIVE_UNREADABLE"}),
        "bad-crc": (archives.corrupt_crc(archives.build_zip([("a.txt", b"a" * 999), FORM], compression=zipfile.ZIP_STORED)),
                    {"ARCHIVE_UNREADABLE"}),
        "ratio-bomb": (archives.build_zip([("zeros.docx", b"\0" * (30 << 20))]), {"ARCHIVE_BOMB"}),
        "overlap-bomb": (archives.overlapping(), {"ARCHIVE_BOMB"}),
        "count-bomb": (archives.build_zip([(f"f{i}.txt", b"") for i in range(2001)], compression=zipfile.ZIP_STORED), {"ARCHIVE_BOMB"}),
        "nesting-bomb": (archives.build_zip([("a.zip", archives.build_zip([("b.zip", archives.build_zip([FORM]))]))]), {"ARCHIVE_BOMB"}),
        "lying-size": (archives.lying_size(b"B" * (4 << 20), 1 << 20), {"ARCHIVE_BOMB"}),
        "nested": (archives.build_zip([("材料.zip", archives.build_zip([FORM]))]), {"ARCHIVE_NESTED"}),
        "inner-rar": (archives.build_zip([("素材.rar", b"Rar!\x1a\x07\x00"), FORM]), {"ARCHIVE_UNSUPPORTED_INNER"}),
        "gbk": (archives.with_raw_names([("附件2 报名表.docx".encode("gbk"), b"f")]), {"ARCHIVE_NAME_ENCODING"}),
        "empty": (archives.build_zip([("__MACOSX/._x", b"x")]), {"ARCHIVE_EMPTY"}),
    }
    encrypted = archives.encrypted_with_zip_cli(tmp, "报名表.txt", b"secret")
    if encrypted is not None:
        cases["encrypted"] = (encrypted, {"ARCHIVE_ENCRYPTED"})
    return cases


CASE_NAMES = ["zip-slip", "absolute", "drive", "device", "symlink", "truncated", "bad-crc", "ratio-bomb", "overlap-bomb",
              "count-bomb", "nesting-bomb", "lying-size", "nested", "inner-rar", "gbk", "empty", "encrypted"]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_hostile_archive_codes_through_check(tmp_path, name):
    cases = _cases(tmp_path)
    if name not in cases:
        pytest.skip("Debian zip not installed")
    data, expected = cases[name]
    archive = tmp_path / f"{name}.zip"
    archive.write_bytes(data)
    code, verdict, stderr = run_check(archive, "--project", "case", out=tmp_path / "out")
    assert verdict is not None, stderr
    archive_codes = {c for c in codes(verdict) if c.startswith("ARCHIVE_")}
    assert archive_codes == expected, verdict["findings"]
    assert "Traceback" not in stderr
    # Members are stored under content keys, so look for the unsafe member's bytes, not its name.
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p != archive and p.suffix != ".zip"]
    assert written, "the check wrote nothing: this test would prove nothing"
    assert [p for p in written if EVIL in p.read_bytes()] == []
