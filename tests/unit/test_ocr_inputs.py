"""Hostile pictures never reach a decoder: judged by their header, refused, never raised."""

import struct
import zlib

import pytest

from pipeline import ocr


def png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("name,data", [("bomb.png", png(100_000, 100_000)), ("sliver.png", png(60_000, 2)),
                                       ("junk.jpg", b"\xff\xd8\xff\xe0garbage"), ("empty.png", b""),
                                       ("text.jpg", "报名表".encode())])
def test_hostile_pictures_are_refused_not_raised(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    assert ocr.load_page(str(path), 1280, 60_000_000) is None
    assert ocr.paper_share(str(path), 60_000_000) == 0.0
    assert ocr.read_page(str(path), max_side=1280, max_pixels=60_000_000, min_score=0.6).lines == []


def test_ocr_rows_put_a_label_and_its_value_side_by_side():
    page = ocr.OcrPage([ocr.OcrLine("作者", 0.9, (100, 300, 160, 330)), ocr.OcrLine("张三、李四", 0.9, (400, 302, 520, 334)),
                        ocr.OcrLine("作品名称", 0.9, (100, 200, 220, 232)), ocr.OcrLine("云端课堂", 0.9, (400, 198, 520, 230))])
    assert page.rows() == [["作品名称", "云端课堂"], ["作者", "张三、李四"]]
