"""The cost corpus: members that would hold a worker for hours if nothing bounded them.

Each maker writes one file cheaply (long videos are stream copies of a short segment, huge
documents are their XML written directly, the giant picture is a PNG header over a zlib stream
of zeros). Used by tests/integration/test_cost.py and bench/bench_cost.py.
"""

from __future__ import annotations

import io
import struct
import subprocess
import zipfile
import zlib
from pathlib import Path

from pipeline.sample import VideoSpec, make_docx, make_pptx, make_video

FF = ["ffmpeg", "-v", "error", "-y"]


def _made(path: Path, make) -> Path:
    """`make(partial)` writes the file under a temporary name, renamed once whole: a run killed
    halfway never leaves a truncated file that a later run would take for made."""
    if not path.exists():
        partial = path.with_name(f".partial-{path.name}")
        make(partial)
        partial.replace(path)
    return path


def segment(work: Path, bitrate: str = "150k") -> Path:
    """A minute of 1080p25 with burned-in captions and speech-like sound, at a low bitrate."""
    return _made(work / f"segment-{bitrate}.mp4",
                 lambda out: make_video(out, VideoSpec(duration_s=60.0, bitrate=bitrate, gop_s=2.0, audio_lufs=-20.0)))


def long_video(work: Path, hours: float, bitrate: str = "150k") -> Path:
    """`hours` of video by stream copy of the segment (seconds to make, a real file to decode)."""
    source = segment(work, bitrate)
    return _made(work / f"long-{hours:g}h.mp4", lambda out: subprocess.run(
        [*FF, "-stream_loop", str(int(hours * 60) - 1), "-i", str(source), "-c", "copy", "-movflags", "+faststart", "-f", "mp4",
         str(out)], check=True, timeout=600))


def _lavfi(out: Path, picture: str, seconds: float, *extra: str) -> None:
    """A test pattern with a tone, encoded fast (x264 ultrafast, AAC)."""
    subprocess.run([*FF, "-f", "lavfi", "-i", f"testsrc2={picture}:duration={seconds:g}", "-f", "lavfi", "-i",
                    f"sine=duration={seconds:g}", *extra, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                    "-c:a", "aac", "-b:a", "32k", "-shortest", "-f", "mp4", str(out)], check=True, timeout=600)


def huge_frame_video(work: Path) -> Path:
    """Two seconds of 8K (7680x4320)."""
    return _made(work / "8k.mp4", lambda out: _lavfi(out, "size=7680x4320:rate=25", 2))


def fast_video(work: Path) -> Path:
    """Ten seconds of 1080p at 120 fps."""
    return _made(work / "120fps.mp4", lambda out: _lavfi(out, "size=1920x1080:rate=120", 10))


def many_streams_video(work: Path, streams: int = 200) -> Path:
    """An MP4 with one picture and `streams` audio streams."""
    maps = ["-map", "0:v", *[arg for _ in range(streams) for arg in ("-map", "1:a")]]
    return _made(work / f"{streams}-audio-streams.mp4", lambda out: _lavfi(out, "size=1920x1080:rate=25", 3, *maps))


def many_pages_pdf(work: Path, pages: int = 20_000) -> Path:
    """A PDF of `pages` pages sharing one content stream (a line of Latin text each)."""
    path = work / f"{pages}-pages.pdf"
    if path.exists():
        return path
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", None,
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    content = b"BT /F1 12 Tf 72 720 Td (Case introduction page text, the same on every page.) Tj ET"
    objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    first_page = len(objects) + 1
    kids = " ".join(f"{first_page + i} 0 R" for i in range(pages)).encode()
    objects[1] = b"<< /Type /Pages /Count %d /Kids [" % pages + kids + b"] >>"
    for _ in range(pages):
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
                       b"/Resources << /Font << /F1 3 0 R >> >> >>")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    path.write_bytes(out.getvalue())
    return path


def _rewrite(package: Path, part: str, body: bytes, out: Path) -> Path:
    with zipfile.ZipFile(package) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, body if info.filename == part else source.read(info))
    return out


def many_paragraphs_docx(work: Path, paragraphs: int = 100_000) -> Path:
    """A .docx whose body holds `paragraphs` paragraphs (its XML written directly)."""
    path = work / f"{paragraphs}-paragraphs.docx"
    if path.exists():
        return path
    template = make_docx(work / "template.docx", "案例介绍", ["x"])
    with zipfile.ZipFile(template) as package:
        xml = package.read("word/document.xml").decode()
    head, _, tail = xml.partition("<w:body>")
    _, _, after = tail.partition("<w:sectPr")
    body = "".join(f"<w:p><w:r><w:t>第{i}段：依托国家平台开展课堂教学的实践与思考。</w:t></w:r></w:p>" for i in range(paragraphs))
    return _rewrite(template, "word/document.xml", (head + "<w:body>" + body + "<w:sectPr" + after).encode(), path)


def many_slides_pptx(work: Path, slides: int = 5_000) -> Path:
    """A .pptx of `slides` slides: python-pptx's own parts, the slide list written directly."""
    path = work / f"{slides}-slides.pptx"
    if path.exists():
        return path
    template = make_pptx(work / "template.pptx", "课件", ["第一页"])
    with zipfile.ZipFile(template) as source:
        parts = {info.filename: source.read(info) for info in source.infolist()}
    slide = parts["ppt/slides/slide2.xml"]
    slide_rels = parts["ppt/slides/_rels/slide2.xml.rels"]
    presentation = parts["ppt/presentation.xml"].decode()
    rels = parts["ppt/_rels/presentation.xml.rels"].decode()
    types = parts["[Content_Types].xml"].decode()
    ids = "".join(f'<p:sldId id="{1000 + i}" r:id="rIdS{i}"/>' for i in range(slides))
    start, end = presentation.index("<p:sldIdLst>"), presentation.index("</p:sldIdLst>")
    presentation = presentation[:start] + "<p:sldIdLst>" + ids + presentation[end:]
    rels = rels.replace("</Relationships>", "".join(
        f'<Relationship Id="rIdS{i}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/slide" '
        f'Target="slides/many{i}.xml"/>' for i in range(slides)) + "</Relationships>")
    types = types.replace("</Types>", "".join(
        f'<Override PartName="/ppt/slides/many{i}.xml" '
        f'ContentType="application/vnd.openxmlformats-officedocument.presentationml.slide+xml"/>' for i in range(slides)) + "</Types>")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in parts.items():
            replaced = {"ppt/presentation.xml": presentation, "ppt/_rels/presentation.xml.rels": rels, "[Content_Types].xml": types}
            target.writestr(name, replaced[name].encode() if name in replaced else data)
        for i in range(slides):
            target.writestr(f"ppt/slides/many{i}.xml", slide)
            target.writestr(f"ppt/slides/_rels/many{i}.xml.rels", slide_rels)
    return path


def many_rows_xlsx(work: Path, rows: int = 1_000_000) -> Path:
    """A .xlsx whose first sheet has `rows` rows (its XML written directly)."""
    path = work / f"{rows}-rows.xlsx"
    if path.exists():
        return path
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["x"])
    template = work / "template.xlsx"
    book.save(template)
    body = "".join(f'<row r="{i}"><c r="A{i}" t="inlineStr"><is><t>第{i}行</t></is></c></row>' for i in range(1, rows + 1))
    sheet = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet '
             'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>' + body + "</sheetData></worksheet>")
    return _rewrite(template, "xl/worksheets/sheet1.xml", sheet.encode(), path)


def giant_png(work: Path, side: int = 30_000) -> Path:
    """A grey PNG of side x side pixels: a valid header over a zlib stream of zeros (a few MB)."""
    path = work / f"{side}x{side}.png"
    if path.exists():
        return path

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    packer = zlib.compressobj(9)
    row = bytes(side + 1)
    data = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b""))
    return path
