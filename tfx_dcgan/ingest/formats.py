"""What an image file is, from its bytes: format by signature, channels and dimensions from the
header, and the lossless Pillow re-encoding to PNG for the formats TensorFlow cannot decode (WebP,
TIFF, ...).

No pixel is decoded here except by `pillow_to_png`, and that only after `header_dimensions` (or
Pillow's own header read) has been checked against the pixel cap: a decompression bomb (a 389 KB
PNG that decodes to 1.2 GB) is refused from its header.
"""

from __future__ import annotations

import io

from tfx_dcgan.config import DEFAULT_MAX_IMAGE_PIXELS

from PIL import Image

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "detect_format",
    "header_channels",
    "header_dimensions",
    "pillow_dimensions",
    "pillow_channels",
    "source_channels",
    "pillow_to_png",
]

DEFAULT_MAX_PIXELS = DEFAULT_MAX_IMAGE_PIXELS

_MODE_CHANNELS = {
    "1": 1,
    "L": 1,
    "I": 1,
    "I;16": 1,
    "F": 1,
    "LA": 2,
    "La": 2,
    "RGB": 3,
    "YCbCr": 3,
    "LAB": 3,
    "HSV": 3,
    "RGBA": 4,
    "RGBa": 4,
    "CMYK": 4,
}


def detect_format(data: bytes) -> str | None:
    """The format of encoded bytes from their signature: 'jpeg', 'png', 'gif', 'bmp' or None."""
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:2] == b"BM":
        return "bmp"
    return None


_JPEG_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_PNG_COLOR_TYPE_CHANNELS = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}


def header_channels(data: bytes, fmt: str) -> int | None:
    """The source's channel count read from a JPEG/PNG/GIF/BMP header, None if unsure."""
    if fmt == "png" and len(data) > 25:
        return _PNG_COLOR_TYPE_CHANNELS.get(data[25])
    if fmt == "gif":
        return 3  # Palette images; TF decodes them to RGB.
    if fmt == "bmp" and len(data) > 29:
        bits = int.from_bytes(data[28:30], "little")
        return 4 if bits == 32 else 3
    if fmt == "jpeg":
        i = 2
        while i + 9 < len(data) and data[i] == 0xFF:
            marker = data[i + 1]
            if marker in _JPEG_SOF_MARKERS:
                return data[i + 9]  # Number of components in the frame header.
            if marker == 0xFF:
                i += 1  # Fill byte.
                continue
            i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    return None


def _jpeg_dimensions(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 < len(data) and data[i] == 0xFF:
        marker = data[i + 1]
        if marker in _JPEG_SOF_MARKERS:
            return int.from_bytes(data[i + 5 : i + 7], "big"), int.from_bytes(
                data[i + 7 : i + 9], "big"
            )
        if marker == 0xFF:
            i += 1
            continue
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    return None


def header_dimensions(data: bytes, fmt: str | None = None) -> tuple[int, int] | None:
    """(height, width) from a JPEG/PNG/GIF/BMP header, without decoding; None if not found.

    `data` may be just the file's first bytes (the JPEG frame header follows the APP segments,
    usually within the first 64 KiB).
    """
    fmt = fmt or detect_format(data)
    if fmt == "png" and len(data) >= 24:
        return int.from_bytes(data[20:24], "big"), int.from_bytes(data[16:20], "big")
    if fmt == "gif" and len(data) >= 10:
        return int.from_bytes(data[8:10], "little"), int.from_bytes(data[6:8], "little")
    if fmt == "bmp" and len(data) >= 26:
        if int.from_bytes(data[14:18], "little") == 12:  # BITMAPCOREHEADER: 16-bit sizes
            return int.from_bytes(data[20:22], "little"), int.from_bytes(data[18:20], "little")
        width = int.from_bytes(data[18:22], "little", signed=True)
        height = int.from_bytes(data[22:26], "little", signed=True)
        return abs(height), abs(width)  # negative height: a top-down bitmap
    if fmt == "jpeg":
        return _jpeg_dimensions(data)
    return None


def pillow_dimensions(data: bytes) -> tuple[int, int] | None:
    """(height, width) from Pillow's header read (no pixel decode), None if Pillow cannot tell.

    Raises:
      PIL.Image.DecompressionBombError: Pillow itself refuses the size (over 2 x its
        MAX_IMAGE_PIXELS).
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            return height, width
    except Image.DecompressionBombError:
        raise
    except Exception:  # noqa: BLE001 - any other failure just means "unknown".
        return None


def source_channels(data: bytes, fmt: str, default: int) -> int:
    """The source's channel count: from the header, else from Pillow, else `default`."""
    return header_channels(data, fmt) or pillow_channels(data) or default


def pillow_channels(data: bytes) -> int | None:
    """The source's channel count from its header (no pixel decode), None if Pillow cannot tell."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.mode == "P":
                return 4 if "transparency" in image.info else 3
            return _MODE_CHANNELS.get(image.mode, len(image.getbands()))
    except Exception:  # noqa: BLE001 - any failure just means "unknown".
        return None


def pillow_to_png(data: bytes) -> tuple[bytes, int]:
    """Decodes fully with Pillow and re-encodes losslessly to PNG (L, LA, RGB or RGBA).

    Returns:
      (png_bytes, source_channels).

    Raises:
      PIL.UnidentifiedImageError: not an image Pillow knows.
      Exception: anything else Pillow raises on corrupt or truncated data.
    """
    with Image.open(io.BytesIO(data)) as image:
        image.load()  # Full decode: truncated files raise here (LOAD_TRUNCATED_IMAGES is off).
        if image.mode == "P":
            channels = 4 if "transparency" in image.info else 3
            image = image.convert("RGBA" if channels == 4 else "RGB")
        else:
            channels = _MODE_CHANNELS.get(image.mode, len(image.getbands()))
            if image.mode not in ("L", "LA", "RGB", "RGBA"):
                target = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[channels]
                if image.mode == "CMYK":
                    target = "RGB"
                image = image.convert(target)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue(), channels
