"""Sample sets to FID / KID: images from folders or generators, streamed through the reference
network, scored and named with their counts.

Generated images are quantised to uint8 before the resize, as file-based tools see them, so a
folder of saved samples (`save_samples`) rescored by another tool gives the same features. No
[N, 299, 299, 3] array is ever built: images are resized one batch at a time.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable, Iterable, Iterator

from tfx_dcgan import fileio, progress, visualize
from tfx_dcgan.ingest import images as ingest
from tfx_dcgan.ingest import lister
from tfx_dcgan.metrics import distances, inception

import numpy as np
import tensorflow as tf
from PIL import Image

__all__ = [
    "count_label",
    "folder_images",
    "generated_images",
    "extract_features",
    "score",
]

log = logging.getLogger(__name__)


def count_label(count: int) -> str:
    """2000 -> '2k', 10000 -> '10k', 500 -> '500' (FID is biased by count: name it)."""
    if count >= 1000 and count % 1000 == 0:
        return f"{count // 1000}k"
    return str(count)


def folder_images(folder: str, count: int = 0, seed: int = 0) -> tuple[list[str], Iterator]:
    """(the chosen files, an iterator of uint8 [H, W, 3] images) of an image folder.

    Files are listed by the one lister (`ingest.lister`); a seeded random `count` of them are used
    when `count` is smaller than the folder (0 = all). Files that do not decode are skipped and
    logged, never fatal.
    """
    paths = [f.path for f in lister.list_tree(folder)]
    if count and count < len(paths):
        chosen = np.random.default_rng(seed).choice(len(paths), count, replace=False)
        paths = [paths[i] for i in sorted(chosen)]

    def read() -> Iterator[np.ndarray]:
        skipped = 0
        for path in paths:
            try:
                validated = ingest.validate_image(ingest.read_bytes(path), 3)
            except (OSError, tf.errors.OpError, ingest.ImageSkipped) as error:
                skipped += 1
                log.warning("%s skipped: %s", path, error)
                continue
            yield tf.io.decode_image(validated.encoded, 3, expand_animations=False).numpy()
        if skipped:
            log.warning("%s: %d files skipped", folder, skipped)

    return paths, read()


def generated_images(
    generate: Callable[[int, int], np.ndarray],
    count: int,
    *,
    batch_size: int = 64,
    seed: int = 0,
    save_dir: str = "",
) -> Iterator[np.ndarray]:
    """uint8 [H, W, C] images from `generate(seed, n)` (float [-1, 1] or uint8 [n, H, W, C]).

    Batch i is drawn with seed `seed + i`; with `save_dir`, each image is also written there as
    `sample_<index>.png` so another tool can score the same files.
    """
    index = 0
    for batch_index, start in enumerate(range(0, count, batch_size)):
        batch = visualize.to_uint8(generate(seed + batch_index, min(batch_size, count - start)))
        for image in batch:
            if save_dir:
                buffer = io.BytesIO()
                Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(
                    buffer, format="PNG"
                )
                fileio.write_atomically(
                    fileio.join(save_dir, f"sample_{index:06d}.png"), buffer.getvalue()
                )
            index += 1
            yield image


def extract_features(
    network: inception.InceptionPool3,
    images: Iterable[np.ndarray],
    *,
    expected: int = 0,
    batch_size: int = 32,
    name: str = "images",
) -> np.ndarray:
    """float32 [N, 2048] pool3 features of uint8 [H, W, C] images (sizes may differ), streamed.

    Progress is logged about every 10% of `expected` (when known).
    """
    rows: list[np.ndarray] = []
    pending: list[np.ndarray] = []
    done, next_report, start = 0, max(1, expected // 10), time.perf_counter()
    bar = progress.task(f"FID {name}", f"FID {name}", total=expected, unit="img")

    def flush() -> None:
        nonlocal done, next_report
        if all(image.shape == pending[0].shape for image in pending):
            resized = inception.reference_resize(np.stack(pending))  # one op for the batch
        else:
            resized = tf.concat([inception.reference_resize(i[None]) for i in pending], axis=0)
        rows.append(network.from_resized(resized).numpy())
        done += len(pending)
        pending.clear()
        bar.update(done, total=expected)
        if expected and done >= next_report:
            rate = done / max(time.perf_counter() - start, 1e-9)
            log.info("%s: %d/%d images, %.1f images/s", name, done, expected, rate)
            next_report += max(1, expected // 10)

    with bar:
        for image in images:
            pending.append(image)
            if len(pending) == batch_size:
                flush()
        if pending:
            flush()
    if not rows:
        raise ValueError(f"{name}: no images to score")
    return np.concatenate(rows)


def score(
    real_features: np.ndarray,
    fake_features: np.ndarray,
    *,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    seed: int = 0,
) -> dict[str, float | int | str]:
    """FID and KID of two feature sets, named with the generated count (`fid_2k`, `kid_2k`)."""
    fid = distances.fid_from_features(real_features, fake_features)
    kid_mean, kid_std = distances.kernel_inception_distance(
        real_features,
        fake_features,
        num_subsets=kid_subsets,
        subset_size=kid_subset_size,
        seed=seed,
    )
    label = count_label(len(fake_features))
    return {
        f"fid_{label}": fid,
        f"kid_{label}": kid_mean,
        f"kid_{label}_std": kid_std,
        "num_real": int(len(real_features)),
        "num_generated": int(len(fake_features)),
    }
