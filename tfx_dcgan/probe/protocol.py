"""The whole probe: features in, fitted and scored L2-SVM out (`probe_features`, `run_probe`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from tfx_dcgan.probe.config import (
    Images,
    ProbeConfig,
    ProbeError,
    ProbeResult,
)
from tfx_dcgan.probe.features import extract_features, reestimate_batch_norm, standardize_features
from tfx_dcgan.probe.svm import evaluate_classifier, fit_linear_svm

import numpy as np
import tensorflow as tf

log = logging.getLogger(__name__)

# ----------------------------------------------------------------------------------------------
# The whole probe


def _check_labels(labels: np.ndarray, what: str) -> np.ndarray:
    labels = np.asarray(labels).astype(np.int64)
    if labels.ndim != 1:
        raise ProbeError(f"{what} labels must be 1-D, got shape {labels.shape}")
    if len(labels) and labels.min() < 0:
        raise ProbeError(f"{what} holds unlabelled examples (label < 0): the probe needs labels")
    return labels


def probe_features(
    train_features: np.ndarray,
    train_labels: np.ndarray,
    test_features: np.ndarray,
    test_labels: np.ndarray,
    config: ProbeConfig,
    *,
    class_names: Sequence[str] | None = None,
    standardize: bool = True,
    labels_per_class: int | None = None,
    notes: Sequence[str] = (),
    timings: dict[str, float] | None = None,
    bn_reestimated: bool = True,
) -> ProbeResult:
    """Fits and scores the linear probe on already-extracted features.

    Args:
      train_features, test_features: float32 [N, F] and [M, F]; standardised here in place when
        `standardize` (pass copies if the caller needs the raw values).
      train_labels, test_labels: int [N], [M], class indices >= 0.
      config: the probe configuration.
      class_names: names by class index; defaults to "0", "1", ...
      standardize: scale features with train's mean/std first.
      labels_per_class: recorded in the result (k of a few-label run).
      notes, timings, bn_reestimated: carried into the result.

    Returns:
      A ProbeResult.

    Raises:
      ProbeError: fewer than two classes in train, or labels < 0.
    """
    config.validate()
    train_labels = _check_labels(train_labels, "train")
    test_labels = _check_labels(test_labels, "test")
    if len(test_labels) == 0:
        raise ProbeError("the test set is empty")
    num_classes = int(max(train_labels.max(), test_labels.max())) + 1
    names = list(class_names) if class_names else [str(i) for i in range(num_classes)]
    if len(names) < num_classes:
        raise ProbeError(f"{len(names)} class names for {num_classes} classes")
    timings = dict(timings or {})
    start = time.perf_counter()
    if standardize:
        standardize_features(train_features, test_features)
    classifier, chosen_c, validation_accuracy, info = fit_linear_svm(
        train_features, train_labels, config
    )
    accuracy, per_class, confusion = evaluate_classifier(
        classifier, test_features, test_labels, len(names)
    )
    timings.update(c_selection_s=info["c_selection_s"], refit_s=info["refit_s"])
    timings["total_s"] = timings.get("total_s", 0.0) + time.perf_counter() - start
    result = ProbeResult(
        accuracy=accuracy,
        per_class_accuracy=per_class,
        confusion_matrix=confusion,
        class_names=names,
        chosen_c=chosen_c,
        validation_accuracy=validation_accuracy,
        solver=info["solver"],
        num_train=int(len(train_labels)),
        num_validation=info["num_validation"],
        num_test=int(len(test_labels)),
        labels_per_class=labels_per_class,
        feature_size=int(train_features.shape[1]),
        bn_reestimated=bn_reestimated,
        timings={key: round(value, 3) for key, value in timings.items()},
        notes=list(notes),
        seed=config.seed,
    )
    log.info("%s", result.summary())
    return result


def prepare_feature_model(
    discriminator: tf.keras.Model, train_images: Images, config: ProbeConfig
) -> tuple[tf.keras.Model, float]:
    """D with re-estimated, frozen BN statistics (or D itself when disabled), and the seconds taken."""
    start = time.perf_counter()
    if config.reestimate_batch_norm:
        discriminator = reestimate_batch_norm(
            discriminator, train_images, batch_size=config.batch_size
        )
    return discriminator, time.perf_counter() - start


def run_probe(
    discriminator: tf.keras.Model,
    train_images: Images,
    train_labels: np.ndarray,
    test_images: Images,
    test_labels: np.ndarray,
    config: ProbeConfig | None = None,
    *,
    class_names: Sequence[str] | None = None,
    notes: Sequence[str] = (),
) -> ProbeResult:
    """The paper's probe end to end: re-estimate BN on train, extract, standardise, fit, score.

    Args:
      discriminator: a model from `models.build_discriminator` (not modified).
      train_images, test_images: uint8 [N, S, S, C] pixels or float32 in [-1, 1] (see
        `iterate_batches`); BN statistics come from the train images.
      train_labels, test_labels: int [N], [M] class indices.
      config: ProbeConfig (defaults if None).
      class_names: names by class index.
      notes: caveats recorded in the result.

    Returns:
      A ProbeResult.
    """
    config = (config or ProbeConfig()).validate()
    start = time.perf_counter()
    feature_model, bn_s = prepare_feature_model(discriminator, train_images, config)
    t0 = time.perf_counter()
    train_features = extract_features(
        feature_model, train_images, batch_size=config.batch_size, name="train features"
    )
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    test_features = extract_features(
        feature_model, test_images, batch_size=config.batch_size, name="test features"
    )
    test_s = time.perf_counter() - t0
    timings = {
        "bn_reestimation_s": bn_s,
        "train_features_s": train_s,
        "test_features_s": test_s,
        "total_s": time.perf_counter() - start,
    }
    return probe_features(
        train_features,
        train_labels,
        test_features,
        test_labels,
        config,
        class_names=class_names,
        notes=notes,
        timings=timings,
        bn_reestimated=config.reestimate_batch_norm,
    )
