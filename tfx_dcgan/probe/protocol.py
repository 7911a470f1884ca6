"""The probe's protocol, shared by `tfx-dcgan probe` and the FeatureProbeEvaluator.

* `prepare_probe_data`: the data set-up. Checks that train and test can be probed, holds out a
  stratified test part when there is no test set, and records in `ProbeData.notes` where every
  statistic comes from.
* `run_probe_on_data`: BN statistics re-estimated on all train images, the SVM fitted on the
  labelled ones, scored on test.
* `run_probe` / `probe_features`: the same on bare arrays (images in, or features in).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence

from tfx_dcgan.probe.config import (
    Images,
    ProbeConfig,
    ProbeError,
    ProbeResult,
)
from tfx_dcgan.probe.data import LabelledImages, hold_out, is_labelled
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


# ----------------------------------------------------------------------------------------------
# The data set-up


@dataclasses.dataclass
class ProbeData:
    """Train and test images checked for the probe.

    Attributes:
      train: the train images; BN statistics come from all of them, the SVM from those with a
        label (>= 0).
      test: the test images, every one labelled.
      test_source: where test came from, for people ("test", "20% of train held out (seed 0)").
      notes: caveats carried into the ProbeResult.
    """

    train: LabelledImages
    test: LabelledImages
    test_source: str
    notes: list[str]

    @property
    def labelled_train_indices(self) -> np.ndarray:
        """int64 [K]: the train rows the SVM is fitted on."""
        return np.flatnonzero(self.train.labels >= 0)

    @property
    def class_names(self) -> list[str]:
        return self.train.class_names or self.test.class_names


def prepare_probe_data(
    train: LabelledImages,
    test: LabelledImages | None,
    *,
    test_fraction: float,
    seed: int,
    train_name: str = "train",
    test_name: str = "test",
    no_test_reason: str = "no test set",
    allow_unlabelled_train: bool = True,
) -> ProbeData:
    """Checks the data and holds out a test part when `test` is None.

    Args:
      train: labelled train images (uint8); unlabelled rows (-1) are kept for BN statistics only.
      test: the test images, or None to hold out `test_fraction` of each class of train's
        labelled rows (seeded by `seed`; the held-out images are then out of BN statistics too).
      train_name, test_name: how the messages name the two sets.
      no_test_reason: the note's opening words when test is held out.
      allow_unlabelled_train: False refuses any unlabelled train image.

    Returns:
      ProbeData.

    Raises:
      ProbeError: a sentence naming the set and what is wrong (no labels, one class, unlabelled
        test images, class names that differ between train and test).
    """
    ok, reason = is_labelled(train.labels)
    if not ok:
        raise ProbeError(f"{train_name} cannot train a classifier: {reason}")
    unlabelled = int(np.sum(train.labels < 0))
    if unlabelled and not allow_unlabelled_train:
        raise ProbeError(f"{train_name}: {unlabelled} images carry no label")
    notes = []
    if test is None:
        labelled = train.subset(np.flatnonzero(train.labels >= 0))
        train, test = hold_out(labelled, test_fraction, seed)
        unlabelled = 0
        test_source = f"{test_fraction:.0%} of {train_name} held out (seed {seed})"
        notes.append(
            f"{no_test_reason}: tested on a stratified {test_fraction:.0%} of {train_name} held "
            "out from the probe's training (BN statistics and SVM use only the rest)"
        )
    else:
        ok, reason = is_labelled(test.labels)
        if ok and np.any(test.labels < 0):
            ok, reason = False, "some test examples carry no label"
        if not ok:
            raise ProbeError(f"{test_name} is not labelled: {reason}")
        if test.class_names and train.class_names and test.class_names != train.class_names:
            raise ProbeError(
                f"class names differ between {train_name} ({train.class_names}) and "
                f"{test_name} ({test.class_names})"
            )
        test_source = test_name
    if unlabelled:
        notes.append(f"{unlabelled} unlabelled train examples left out of the SVM fit")
    return ProbeData(train, test, test_source, notes)


def run_probe_on_data(
    discriminator: tf.keras.Model, data: ProbeData, config: ProbeConfig
) -> ProbeResult:
    """The probe on checked data: BN on all train images, SVM on the labelled ones, test scored."""
    labelled = data.labelled_train_indices
    if len(labelled) == len(data.train):
        return run_probe(
            discriminator,
            data.train.images,
            data.train.labels,
            data.test.images,
            data.test.labels,
            config,
            class_names=data.class_names,
            notes=data.notes,
        )
    start = time.perf_counter()
    feature_model, bn_s = prepare_feature_model(discriminator, data.train.images, config)
    train_features = extract_features(
        feature_model, data.train.images[labelled], batch_size=config.batch_size, name="train"
    )
    test_features = extract_features(
        feature_model, data.test.images, batch_size=config.batch_size, name="test"
    )
    timings = {"bn_reestimation_s": bn_s, "total_s": time.perf_counter() - start}
    return probe_features(
        train_features,
        data.train.labels[labelled],
        test_features,
        data.test.labels,
        config,
        class_names=data.class_names,
        notes=data.notes,
        timings=timings,
        bn_reestimated=config.reestimate_batch_norm,
    )
