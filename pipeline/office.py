"""Legacy Office files (.doc, .ppt, .xls and WPS's .wps/.dps/.et): what they really are, and their text.

Teachers still send Word 97 forms and PowerPoint 2003 decks, and files whose name lies
(a .doc that is really a .docx, an RTF or a web page saved by WPS). The bytes decide:
an OLE2 compound file goes to antiword (.doc: fast and exact on Chinese text) or to our
own walk of PowerPoint's text atoms (.ppt: catppt returns nothing on modern decks);
anything else, or what those refuse, is converted by LibreOffice headless into the OOXML
format our readers already know. LibreOffice runs with a fresh profile per call (two
instances sharing one profile silently produce nothing), without network where the
kernel allows a private namespace, under a timeout that kills its process group.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from functools import cache
from pathlib import Path

from . import ffmpeg

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
MAX_PPT_STREAM = 256 * 1024 * 1024
MAX_PPT_RECORDS = 2_000_000
# PowerPoint binary records (MS-PPT 2.13.24): text atoms, and the containers whose text is template.
TEXT_CHARS_ATOM, TEXT_BYTES_ATOM = 0x0FA0, 0x0FA8
MAIN_MASTER = 0x03F8
ANTIWORD_TIMEOUT_S = 30
LIBREOFFICE_TIMEOUT_S = 120
TOOL_MEMORY_BYTES = 2 * 1024**3      # address space; LibreOffice converts within 2 GiB
CHILD_PATH = "/usr/local/bin:/usr/bin:/bin"   # what LibreOffice's launcher script calls (dirname, uname ...)


def sniff_office(path: str) -> str | None:
    """The file's family from its first bytes: ooxml, odf, ole, rtf, pdf, html, or None."""
    with open(path, "rb") as handle:
        head = handle.read(512)
    if head.startswith(OLE_MAGIC):
        return "ole"
    if head.startswith(b"PK\x03\x04"):
        return "odf" if head[30:38] == b"mimetype" else "ooxml"
    if head.startswith(b"{\\rtf"):
        return "rtf"
    if head.startswith(b"%PDF-"):
        return "pdf"
    lowered = head.lstrip(b"\xef\xbb\xbf \r\n\t").lower()
    if lowered.startswith((b"<html", b"<!doctype html", b"<?xml", b"mime-version:")):
        return "html"
    return None


def _run(argv: list[str], timeout_s: float, failure: str, cwd: str | None = None) -> bytes:
    """The tool's stdout, through the pipeline's hardened runner (own process group, memory cap,
    the whole group killed on timeout: LibreOffice forks).

    Raises:
        ValueError: `failure` when the tool fails (its own message names local paths: not for a
            teacher's eyes), or the timeout.
    """
    # The tool is found here, as ffmpeg is; the child gets a fixed environment of its own.
    argv = [shutil.which(argv[0]) or argv[0], *argv[1:]]
    env = {"PATH": CHILD_PATH, "HOME": cwd or "/tmp", "LANG": "C.UTF-8"}
    try:
        return ffmpeg.run(argv, timeout_s=timeout_s, memory_bytes=TOOL_MEMORY_BYTES, cwd=cwd, env=env).stdout
    except ffmpeg.FFmpegError as exc:
        raise ValueError(f"读取超时（{timeout_s:.0f}秒）" if exc.timed_out else failure) from None


def antiword_text(path: str) -> str:
    """Word 97-2003 text; table rows come out as tab-separated cells, as the form reader wants."""
    if shutil.which("antiword") is None:
        raise ValueError("未安装antiword")
    out = _run(["antiword", "-m", "UTF-8.txt", "-w", "0", path], ANTIWORD_TIMEOUT_S, "文件损坏或不是有效的Word 97-2003文档")
    lines = []
    for line in out.decode("utf-8", "replace").splitlines():
        stripped = line.strip()
        if stripped.startswith("|") and stripped.endswith("|"):
            line = "\t".join(cell.strip() for cell in stripped.strip("|").split("|"))
        lines.append(line)
    return "\n".join(lines)


def ppt_text(path: str) -> str:
    """Slide and notes text of a PowerPoint 97-2003 deck, from its text atoms; master slides skipped."""
    import olefile

    with olefile.OleFileIO(path) as ole:
        if not ole.exists("PowerPoint Document"):
            raise ValueError("不是有效的PowerPoint 97-2003文件")
        if ole.get_size("PowerPoint Document") > MAX_PPT_STREAM:
            raise ValueError("演示文稿内容过大")
        data = ole.openstream("PowerPoint Document").read()
    parts: list[str] = []
    # (end offset, record type) of the containers we are inside.
    stack: list[tuple[int, int]] = []
    offset, records = 0, 0
    while offset + 8 <= len(data) and records < MAX_PPT_RECORDS:
        records += 1
        while stack and offset >= stack[-1][0]:
            stack.pop()
        ver_instance, rec_type, length = struct.unpack_from("<HHI", data, offset)
        body = offset + 8
        if ver_instance & 0x000F == 0x000F:          # a container: its children follow
            stack.append((min(body + length, len(data)), rec_type))
            offset = body
            continue
        if not any(kind == MAIN_MASTER for _, kind in stack):
            chunk = data[body:body + length]
            if rec_type == TEXT_CHARS_ATOM:
                parts.append(chunk.decode("utf-16-le", "replace"))
            elif rec_type == TEXT_BYTES_ATOM:
                parts.append(chunk.decode("latin-1"))
        offset = body + length
    # "*" is the date/number placeholder of the notes and handout masters.
    return "\n".join(p.replace("\r", "\n").replace("\x0b", "\n") for p in parts if p.strip() not in ("", "*"))


@cache
def _network_isolation() -> list[str]:
    """`unshare -rn` when the kernel lets us: LibreOffice then cannot fetch what a document links."""
    if shutil.which("unshare") is None:
        return []
    try:
        ok = subprocess.run(["unshare", "-rn", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        ok = False
    return ["unshare", "-rn"] if ok else []


# LibreOffice's import filter per (family, target): named, so that a damaged file fails
# instead of being imported as plain text by LibreOffice's last-resort detection.
IMPORT_FILTERS = {("ole", "docx"): "MS Word 97", ("ole", "pptx"): "MS PowerPoint 97", ("ole", "xlsx"): "MS Excel 97",
                  ("rtf", "docx"): "Rich Text Format", ("html", "docx"): "HTML (StarWriter)"}


# The fresh profile starts with links and fields never updated and macros never run: a
# document that points at a local file or carries a macro gets neither during conversion.
HARDENED_PROFILE = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema">
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="MacroSecurityLevel" oor:op="fuse"><value>3</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="DisableMacrosExecution" oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Writer/Content/Update"><prop oor:name="Link" oor:op="fuse"><value>2</value></prop></item>
<item oor:path="/org.openoffice.Office.Writer/Content/Update"><prop oor:name="Field" oor:op="fuse"><value>false</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Content/Update"><prop oor:name="Link" oor:op="fuse"><value>1</value></prop></item>
</oor:items>
"""


def convert_with_libreoffice(path: str, family: str, target: str, workdir: str) -> Path:
    """Convert `path` (of the sniffed `family`) into `workdir` as `target` (docx, pptx, xlsx).

    Raises:
        ValueError: LibreOffice is missing, timed out or produced nothing.
    """
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        raise ValueError("未安装LibreOffice")
    source = Path(workdir, "input" + Path(path).suffix.lower())
    shutil.copyfile(path, source)                    # a name LibreOffice cannot misread as an option
    user = Path(workdir, "profile", "user")
    user.mkdir(parents=True)
    (user / "registrymodifications.xcu").write_text(HARDENED_PROFILE, encoding="utf-8")
    profile = Path(workdir, "profile").as_uri()
    if family not in ("odf", "ooxml") and (family, target) not in IMPORT_FILTERS:
        raise ValueError("文件内容不是可识别的文档格式")
    infilter = [f"--infilter={IMPORT_FILTERS[family, target]}"] if (family, target) in IMPORT_FILTERS else []
    argv = [*_network_isolation(), soffice, "--headless", "--norestore", "--nolockcheck", "--nodefault",
            f"-env:UserInstallation={profile}", *infilter, "--convert-to", target, "--outdir", str(Path(workdir, "out")), str(source)]
    _run(argv, LIBREOFFICE_TIMEOUT_S, "文件损坏或格式不符，无法读取", cwd=workdir)
    produced = Path(workdir, "out", f"input.{target}")
    if not produced.is_file() or produced.stat().st_size == 0:
        raise ValueError("文件损坏或格式不符，无法读取")
    return produced

