"""Every reader of image files on one folder of odd, bad and oversized images; prints one JSON line.

    python tests/scripts/hostile_images.py FOLDER

Writes into FOLDER/class_a: odd but valid images (16-bit, palette, RGBA and grayscale PNG, CMYK
and progressive JPEG, an animated GIF, 1x1 and 1x300 images, an EXIF-rotated JPEG, a unicode name
with spaces), bad files (zero bytes, a truncated JPEG, text named .jpg, random bytes named .png)
and decompression bombs (a complete 20,000 x 20,000 PNG of 1.2 MB, and JPEG, GIF and BMP
headers declaring 0.9 to 4.3 gigapixels over a few hundred bytes of data). Then runs, each in this process: the ingest (`ingest.ingest_files`,
what ImageExampleGen maps), the training reader (`input_pipeline.load_image_folder`), the probe's
folder reader and FID's folder reader, and reports what each accepted, the skip reasons, and the
peak resident memory before and after the readers met the bombs.
"""

import io
import json
import os
import random
import struct
import sys
import zlib

import tfx_dcgan  # noqa: F401
from tfx_dcgan.ingest import images as ingest
from tfx_dcgan.ingest import lister

from PIL import Image

ODD = (
    "png16.png",
    "palette.png",
    "rgba.png",
    "gray.png",
    "cmyk.jpg",
    "progressive.jpg",
    "animated.gif",
    "one_pixel.png",
    "wide.png",
    "exif_rotated.jpg",
    "ça va ß.png",
)
BAD = ("empty.jpg", "truncated.jpg", "notes.jpg", "noise.png")
BOMBS = ("bomb.png", "bomb.jpg", "bomb.gif", "bomb.bmp")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(side: int = 20_000) -> bytes:
    """A complete PNG of side x side black RGB pixels: 1.2 GB decoded at 20,000, 1.2 MB here."""
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    compressor, row = zlib.compressobj(9), b"\x00" + bytes(3 * side)
    rows = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", rows)
        + _png_chunk(b"IEND", b"")
    )


def _encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def jpeg_bomb() -> bytes:
    """A small JPEG whose frame header is patched to declare 60,000 x 60,000."""
    data = bytearray(_encoded(Image.new("RGB", (16, 16), (90, 20, 200)), "JPEG"))
    i = 2
    while data[i + 1] not in (0xC0, 0xC2):
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    data[i + 5 : i + 9] = struct.pack(">HH", 60_000, 60_000)
    return bytes(data)


def gif_bomb() -> bytes:
    """A small GIF whose logical screen is patched to 65,535 x 65,535."""
    data = bytearray(_encoded(Image.new("P", (8, 8)), "GIF"))
    data[6:10] = struct.pack("<HH", 65_535, 65_535)
    return bytes(data)


def bmp_bomb() -> bytes:
    """A small BMP whose header is patched to 30,000 x 30,000."""
    data = bytearray(_encoded(Image.new("RGB", (4, 4)), "BMP"))
    data[18:26] = struct.pack("<ii", 30_000, 30_000)
    return bytes(data)


def write_folder(folder: str) -> None:
    rng = random.Random(0)
    pixels = Image.frombytes("RGB", (24, 20), bytes(rng.randrange(256) for _ in range(24 * 20 * 3)))
    files = {
        "png16.png": _encoded(Image.new("I;16", (20, 20), 40000), "PNG"),
        "palette.png": _encoded(pixels.convert("P"), "PNG"),
        "rgba.png": _encoded(pixels.convert("RGBA"), "PNG"),
        "gray.png": _encoded(pixels.convert("L"), "PNG"),
        "cmyk.jpg": _encoded(pixels.convert("CMYK"), "JPEG"),
        "progressive.jpg": _encoded(pixels, "JPEG", progressive=True),
        "animated.gif": _encoded(
            pixels.convert("P"), "GIF", save_all=True, append_images=[pixels.convert("P")]
        ),
        "one_pixel.png": _encoded(Image.new("RGB", (1, 1), (1, 2, 3)), "PNG"),
        "wide.png": _encoded(Image.new("RGB", (300, 1), (9, 9, 9)), "PNG"),
        "ça va ß.png": _encoded(pixels, "PNG"),
        "empty.jpg": b"",
        "notes.jpg": b"not an image, just text\n",
        "noise.png": bytes(rng.randrange(256) for _ in range(500)),
        "bomb.png": png_bomb(),
        "bomb.jpg": jpeg_bomb(),
        "bomb.gif": gif_bomb(),
        "bomb.bmp": bmp_bomb(),
    }
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    files["exif_rotated.jpg"] = _encoded(pixels, "JPEG", exif=exif.tobytes())
    full_jpeg = _encoded(pixels, "JPEG")
    files["truncated.jpg"] = full_jpeg[: len(full_jpeg) // 2]
    os.makedirs(os.path.join(folder, "class_a"), exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(folder, "class_a", name), "wb") as handle:
            handle.write(data)


def _status_mb(field: str) -> float:
    """VmRSS or VmHWM (the peak) of this process from /proc, in MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak() -> float:
    """Resets the peak (VmHWM) to the current resident size (Linux: clear_refs 5); returns it."""
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")
    return _status_mb("VmRSS")


def main() -> None:
    folder = sys.argv[1]
    write_folder(folder)
    from tfx_dcgan import input_pipeline
    from tfx_dcgan.metrics import scoring
    from tfx_dcgan.probe import data as probe_data

    def run_readers() -> dict:
        files = lister.list_image_files(folder)
        ingested = ingest.ingest_files(files, {"class_a": 0}, 3)
        by_name = {os.path.basename(f.path): r for f, r in zip(files, ingested)}
        training = input_pipeline.load_image_folder(folder, 3)
        probe = probe_data.read_image_folder(folder, 16, 3)
        fid_paths, fid_images = scoring.folder_images(folder)
        fid_count = sum(1 for _ in fid_images)
        return {
            "ingest_accepted": sorted(n for n, r in by_name.items() if r.example is not None),
            "ingest_reasons": {n: r.skip_reason for n, r in by_name.items() if r.skip_reason},
            "ingest_details": {n: r.detail for n, r in by_name.items() if n in BOMBS},
            "training_accepted": sorted(os.path.basename(p) for p in training.paths),
            "training_reasons": {os.path.basename(p): r for p, r in training.skipped},
            "probe_count": len(probe),
            "probe_skipped": probe.skipped,
            "fid_listed": len(fid_paths),
            "fid_count": fid_count,
        }

    # Warm every reader up on the same folder without the bombs, then measure with them.
    bombs = {}
    for name in BOMBS:
        path = os.path.join(folder, "class_a", name)
        with open(path, "rb") as handle:
            bombs[name] = handle.read()
        os.remove(path)
    run_readers()
    for name, data in bombs.items():
        with open(os.path.join(folder, "class_a", name), "wb") as handle:
            handle.write(data)
    # Peak growth over the resident size at the start of each measurement (the peak is reset,
    # so nothing earlier in the process can hide a growth).
    before = _reset_peak()
    result = run_readers()
    result.update(rss_before_mb=before, peak_rss_after_mb=_status_mb("VmHWM"), odd=ODD, bad=BAD)
    # The negative control: without the cap the PNG bomb reaches TensorFlow's decoder, which
    # allocates its 1.2 GB output.
    result["rss_before_uncapped_mb"] = _reset_peak()
    try:
        ingest.validate_image(bombs["bomb.png"], 3, max_pixels=0)
    except ingest.ImageSkipped as skipped:
        result["uncapped_reason"] = skipped.reason
    result["peak_rss_uncapped_mb"] = _status_mb("VmHWM")
    result["bombs"] = BOMBS
    print(json.dumps(result))


if __name__ == "__main__":
    main()
