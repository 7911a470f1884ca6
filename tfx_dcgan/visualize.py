"""Image grids as PNG files and arrays (for samples, latent walks and TensorBoard)."""

from __future__ import annotations

import io
import math

from tfx_dcgan import fileio

import numpy as np
from PIL import Image

__all__ = ["to_uint8", "make_grid", "save_image_grid"]


def to_uint8(images: np.ndarray) -> np.ndarray:
    """float images in [-1, 1] (or uint8 already) -> uint8 [0, 255], same shape."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images
    return np.round((np.clip(images.astype(np.float32), -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)


def make_grid(images: np.ndarray, columns: int | None = None, padding: int = 2) -> np.ndarray:
    """Tiles images into one picture.

    Args:
      images: [N, H, W, C] (C = 1 or 3), uint8 or float in [-1, 1].
      columns: images per row (default: ceil(sqrt(N)), a square grid).
      padding: pixels of black between tiles.

    Returns:
      uint8 [rows * (H + padding) + padding, columns * (W + padding) + padding, C].
    """
    images = to_uint8(images)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"expected images [N, H, W, 1 or 3], got shape {images.shape}")
    count, height, width, channels = images.shape
    columns = columns or max(1, math.ceil(math.sqrt(count)))
    rows = max(1, math.ceil(count / columns))
    grid = np.zeros(
        (rows * (height + padding) + padding, columns * (width + padding) + padding, channels),
        np.uint8,
    )
    for index in range(count):
        row, column = divmod(index, columns)
        top = padding + row * (height + padding)
        left = padding + column * (width + padding)
        grid[top : top + height, left : left + width] = images[index]
    return grid


def save_image_grid(
    images: np.ndarray, path: str, columns: int | None = None, scale: int = 1
) -> str:
    """Writes `make_grid(images)` as a PNG, atomically (never a half-written file).

    Args:
      images: [N, H, W, C], uint8 or float in [-1, 1].
      path: output file; parent folders are created.
      columns: images per row.
      scale: integer upscaling (nearest neighbour) so small images are easy to look at.

    Returns:
      `path`.
    """
    grid = make_grid(images, columns)
    picture = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid)
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    fileio.write_atomically(path, buffer.getvalue())
    return path
