"""Text out of pictures: PP-OCR from the rapidocr-onnxruntime wheel (models inside it, no network).

Used for burned-in subtitles and for scanned paper: a registration form signed, stamped and
photographed, or a PDF that is only page images. Hostile pictures are judged by their header
before any decoding (a 100,000 x 100,000 PNG is refused, not decoded).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

OCR_CONFIG = Path(__file__).resolve().parent.parent / "config" / "ocr.yaml"
PAGE_IMAGE_FORMATS = {"JPEG", "PNG", "BMP", "WEBP", "TIFF", "GIF", "MPO"}

_engine = None
_engine_lock = threading.Lock()


def ocr_engine():
    """PP-OCRv4 (detection + recognition), loaded once per process.

    One inference thread: workers scale by processes, as ffmpeg does here."""
    global _engine
    with _engine_lock:
        if _engine is None:
            import cv2
            from rapidocr_onnxruntime import RapidOCR

            cv2.setNumThreads(1)
            _engine = RapidOCR(config_path=str(OCR_CONFIG))
        return _engine


@dataclass
class OcrLine:
    text: str
    score: float
    box: tuple[float, float, float, float]      # left, top, right, bottom in the page's pixels


@dataclass
class OcrPage:
    lines: list[OcrLine] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join("\t".join(cell for cell in row) for row in self.rows())

    def rows(self) -> list[list[str]]:
        """Lines grouped into table rows by their vertical centre, each row left to right.

        A label and its value in one row of a form come out as neighbouring cells, which is
        what the registration form's reader expects."""
        rows: list[list[OcrLine]] = []
        for line in sorted(self.lines, key=lambda item: (item.box[1] + item.box[3]) / 2):
            centre = (line.box[1] + line.box[3]) / 2
            height = max(line.box[3] - line.box[1], 1.0)
            if rows:
                last = rows[-1]
                last_centre = sum((l.box[1] + l.box[3]) / 2 for l in last) / len(last)
                if abs(centre - last_centre) <= 0.5 * height:
                    last.append(line)
                    continue
            rows.append([line])
        return [[l.text for l in sorted(row, key=lambda item: item.box[0])] for row in rows]


def image_size(path: str) -> tuple[int, int] | None:
    """Width and height from the header alone, or None for what is not a picture we read."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            if image.format not in PAGE_IMAGE_FORMATS:
                return None
            return image.size
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None     # Pillow refuses a declared size past its bomb limit before decoding: so do we


def load_page(path: str, max_side: int, max_pixels: int):
    """The picture as a BGR array scaled to `max_side` at most, EXIF rotation applied; None if refused."""
    import numpy as np
    from PIL import Image, ImageOps, UnidentifiedImageError

    size = image_size(path)
    if size is None or size[0] * size[1] > max_pixels or min(size) < 8:
        return None
    try:
        with Image.open(path) as image:
            image.draft("RGB", (max_side, max_side))      # JPEG: decode at a reduced scale directly
            image = ImageOps.exif_transpose(image).convert("RGB")
            image.thumbnail((max_side, max_side))
            return np.asarray(image)[:, :, ::-1].copy()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


def paper_share(path: str, max_pixels: int) -> float:
    """Share of light, unsaturated pixels: near 1 for a scanned or photographed page, low for a classroom photo.

    Decoded at a small scale, so screening a 12-megapixel photo costs milliseconds."""
    import numpy as np

    page = load_page(path, 256, max_pixels)
    if page is None:
        return 0.0
    rgb = page.astype(np.int16)
    light = rgb.min(axis=2) >= 150
    unsaturated = (rgb.max(axis=2) - rgb.min(axis=2)) <= 40
    return float((light & unsaturated).mean())


def read_page(path: str, *, max_side: int, max_pixels: int, min_score: float) -> OcrPage:
    """OCR one page image; a picture that cannot be decoded gives an empty page."""
    page = load_page(path, max_side, max_pixels)
    if page is None:
        return OcrPage()
    results, _ = ocr_engine()(page, use_cls=False)
    lines = []
    for box, text, score in results or []:
        if float(score) < min_score or not text.strip():
            continue
        xs, ys = [p[0] for p in box], [p[1] for p in box]
        lines.append(OcrLine(text=text.strip(), score=float(score), box=(min(xs), min(ys), max(xs), max(ys))))
    return OcrPage(lines=lines)


def pdf_page_images(path: str, max_pages: int, max_bytes: int = 64 * 1024 * 1024) -> list[bytes]:
    """The largest embedded picture of each of the first pages (a scan is one picture a page).

    Runs on hostile bytes: call it through `sandbox.call_bounded`."""
    from pypdf import PdfReader

    pictures = []
    for page in PdfReader(path).pages[:max_pages]:
        best: bytes | None = None
        for image in list(page.images)[:20]:
            data = image.data
            if len(data) <= max_bytes and (best is None or len(data) > len(best)):
                best = data
        if best is not None:
            pictures.append(best)
    return pictures
