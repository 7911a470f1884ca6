"""The feature probe: how good are D's features for classification? (Radford et al. 2015, Sec. 5.1).

The paper's CIFAR-10 protocol: take every conv layer of the discriminator, max-pool each to a 4x4
grid, flatten and concatenate (`models.build_feature_extractor`), then fit a regularised linear
L2-SVM on the training split and report test accuracy.

Three choices here make the number mean what it should:

* **Batch-norm statistics are re-estimated, then frozen** (`reestimate_batch_norm`). D's moving
  statistics come from training batches that mix real and generated images, so they are not the
  statistics of real data; per-batch statistics are worse, because an image's features then depend
  on its batch-mates (with batches grouped by class they leak the label: a random-init D scored 87%
  that way on a class-sorted CIFAR-10 subset, against 55% shuffled). Like the authors' SVHN script,
  we compute the exact population mean and variance of every BN layer's input over the real training
  images, layer by layer, write them into the moving statistics and always extract with
  `training=False`; features of an image are then independent of its batch.
* **Extraction streams** in batches into one preallocated float32 [N, F] matrix, with progress
  lines (CIFAR-10's 60,000 x 7,168 features are 1.7 GB at float32).
* **The classifier is an L2-regularised squared-hinge linear SVM** (the paper's "L2-SVM"), one vs
  rest, on standardised features, with C chosen on a stratified held-out part of the training split
  (ascending C, each fit warm-started from the previous) and the model refitted on all of it with
  the chosen C. Solvers, all for the objective 0.5 ||w||^2 + C sum_i max(0, 1 - y_i f(x_i))^2:
    - "primal" (what "auto" picks): `PrimalL2Svm`, L-BFGS (scipy) on the smooth primal, two
      float32 BLAS matrix products per step on the caller's matrix, no copy, both cores. Checked
      against scikit-learn's LinearSVC in tests. Measured on 8,000 x 7,168 MNIST features (random
      D, 2 shared cores, C=1e-3, 100 iterations): 23 s for 98.0% test accuracy, where LinearSVC
      took 126 s at C=1e-4 (95.8%; its bias is penalised) and SGD 43-64 s per C (94.2-95.4%).
      Cost grows linearly in examples x features x iterations (100 at most per C).
    - "liblinear": scikit-learn's `LinearSVC` (dual coordinate descent, single thread). It copies
      the features to float64 plus liblinear's node format (~24 bytes per value): ~9 GB and many
      minutes per C for full CIFAR-10; for small sets and cross-checks.
    - "sgd": scikit-learn's `SGDClassifier(loss="squared_hinge", penalty="l2",
      alpha=1/(C n), average=True)`, the same objective scaled by 1/(C n), float32, no copy.

Everything here is plain functions on NumPy arrays and Keras models: the TFX component
(`components/feature_probe_evaluator`) and the baseline tools (`baselines.py`) both call `run_probe`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from tfx_dcgan import image_ops, models

import numpy as np
import tensorflow as tf

__all__ = [
    "DEFAULT_C_GRID",
    "SOLVERS",
    "ProbeConfig",
    "ProbeResult",
    "ProbeError",
    "iterate_batches",
    "make_inference_fn",
    "reestimate_batch_norm",
    "extract_features",
    "standardize_features",
    "selection_sets",
    "few_label_indices",
    "stratified_split",
    "fit_linear_svm",
    "evaluate_classifier",
    "probe_features",
    "prepare_feature_model",
    "run_probe",
]

log = logging.getLogger(__name__)

# C of LinearSVC's parameterisation: 0.5 ||w||^2 + C * sum_i squared_hinge_i. On standardised
# probe features the best C was 1e-4 for CIFAR-10 (9,000 train, 3,584 features; validation
# accuracy 0.556 / 0.602 / 0.566 at C = 1e-5 / 1e-4 / 1e-3) and 1e-3..1e-2 for MNIST (8,000 x
# 7,168); it shrinks roughly like 1/N as the training set grows. Half-decade steps around there.
DEFAULT_C_GRID = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3)
SOLVERS = ("auto", "liblinear", "primal", "sgd")

Images = np.ndarray | Callable[[], Iterable[Any]]


class ProbeError(ValueError):
    """The probe cannot run on this data (no labels, one class, too few examples)."""


@dataclasses.dataclass(frozen=True)
class ProbeConfig:
    """How the probe extracts features and fits the classifier.

    Attributes:
      c_grid: candidate values of the SVM's C (LinearSVC's parameterisation, see module doc).
      validation_fraction: share of each class of the training split held out to choose C.
      solver: "auto", "liblinear" or "sgd" (see module doc).
      batch_size: images per forward pass (features do not depend on it).
      seed: seeds the validation split and the solver.
      max_iter: solver iteration cap (liblinear iterations, or SGD epochs).
      tol: solver stopping tolerance.
      reestimate_batch_norm: re-estimate BN statistics on the training images before extracting
        (turn off only to reproduce the stored moving statistics' numbers).
      n_jobs: threads for SGD's one-vs-rest problems.
    """

    c_grid: tuple[float, ...] = DEFAULT_C_GRID
    validation_fraction: float = 0.1
    solver: str = "auto"
    batch_size: int = 256
    seed: int = 0
    max_iter: int = 0
    tol: float = 1e-4
    reestimate_batch_norm: bool = True
    n_jobs: int = 2

    def validate(self) -> ProbeConfig:
        if not self.c_grid or any(not (c > 0 and math.isfinite(c)) for c in self.c_grid):
            raise ProbeError(f"probe c_grid must be non-empty positive numbers, got {self.c_grid}")
        if not 0.0 < self.validation_fraction < 1.0:
            raise ProbeError(
                f"probe validation_fraction must be in (0, 1), got {self.validation_fraction}"
            )
        if self.solver not in SOLVERS:
            raise ProbeError(f"probe solver must be one of {SOLVERS}, got {self.solver!r}")
        if self.batch_size <= 0:
            raise ProbeError(f"probe batch_size must be positive, got {self.batch_size}")
        if self.max_iter < 0:
            raise ProbeError(
                f"probe max_iter must be >= 0 (0 = solver default), got {self.max_iter}"
            )
        return self


@dataclasses.dataclass
class ProbeResult:
    """What one probe run measured. `to_json` is the human-readable probe_metrics.json.

    Attributes:
      accuracy: test accuracy in [0, 1].
      per_class_accuracy: test recall of each class, in class index order.
      confusion_matrix: [num_classes][num_classes] counts, rows = true class, columns = predicted.
      class_names: names of the classes (index order).
      chosen_c: the C picked on the validation part; validation_accuracy maps each C tried (as a
        string) to its validation accuracy.
      solver: the solver that ran ("liblinear" or "sgd").
      num_train, num_validation, num_test: examples in the final fit, in the C-selection hold-out
        (part of num_train) and in the test set.
      labels_per_class: k when fitted on a k-labels-per-class subset, None for all labels.
      feature_size: length of the feature vectors.
      bn_reestimated: whether BN statistics were re-estimated on the training images.
      timings: seconds per stage (bn_reestimation_s, train_features_s, test_features_s,
        c_selection_s, refit_s, total_s).
      notes: plain-language caveats (e.g. "no test split: held out 20% of train").
      seed: the probe seed.
    """

    accuracy: float
    per_class_accuracy: list[float]
    confusion_matrix: list[list[int]]
    class_names: list[str]
    chosen_c: float
    validation_accuracy: dict[str, float]
    solver: str
    num_train: int
    num_validation: int
    num_test: int
    labels_per_class: int | None
    feature_size: int
    bn_reestimated: bool
    timings: dict[str, float]
    notes: list[str] = dataclasses.field(default_factory=list)
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types; NaN (a class absent from the test set) becomes None."""
        values = dataclasses.asdict(self)
        values["per_class_accuracy"] = [
            None if value is None or math.isnan(value) else value
            for value in values["per_class_accuracy"]
        ]
        return values

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ProbeResult:
        known = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})

    def summary(self) -> str:
        """One line: accuracy, C, sizes and time."""
        return (
            f"probe accuracy {self.accuracy:.4f} (C={self.chosen_c:g}, {self.solver}, "
            f"{self.num_train} train / {self.num_test} test, {self.feature_size} features, "
            f"{self.timings.get('total_s', float('nan')):.1f} s)"
        )


# ----------------------------------------------------------------------------------------------
# Batches


def iterate_batches(images: Images, batch_size: int) -> Iterator[tf.Tensor]:
    """Yields float32 [B, S, S, C] batches in [-1, 1].

    Args:
      images: uint8 [N, S, S, C] (pixels, scaled with `image_ops.to_model_range`) or float32
        [N, S, S, C] already in [-1, 1]; or a zero-argument callable returning a fresh iterable of
        such batches (e.g. a `tf.data.Dataset`), called once per pass.
      batch_size: batch size when `images` is an array.
    """
    if callable(images):
        for batch in images():
            yield _to_model_input(batch)
        return
    for start in range(0, len(images), batch_size):
        yield _to_model_input(images[start : start + batch_size])


def _to_model_input(batch: Any) -> tf.Tensor:
    batch = tf.convert_to_tensor(batch)
    if batch.dtype == tf.uint8:
        return image_ops.to_model_range(batch)
    return tf.cast(batch, tf.float32)


def _num_examples(images: Images) -> int | None:
    return None if callable(images) else len(images)


class _Progress:
    """Logs 'what: done/total (pct), rate, eta' at most every `every_s` seconds."""

    def __init__(self, what: str, total: int | None, every_s: float = 10.0) -> None:
        self.what, self.total, self.every_s = what, total, every_s
        self.start = self.last = time.perf_counter()
        self.done = 0

    def update(self, count: int) -> None:
        self.done += count
        now = time.perf_counter()
        if now - self.last >= self.every_s:
            self.last = now
            log.info("%s", self.line(now))

    def line(self, now: float | None = None) -> str:
        elapsed = (now or time.perf_counter()) - self.start
        rate = self.done / elapsed if elapsed > 0 else float("nan")
        if self.total:
            eta = (self.total - self.done) / rate if rate > 0 else float("nan")
            return (
                f"{self.what}: {self.done}/{self.total} ({100.0 * self.done / self.total:.0f}%), "
                f"{rate:.0f} img/s, eta {eta:.0f} s"
            )
        return f"{self.what}: {self.done} images, {rate:.0f} img/s"

    def finish(self) -> float:
        elapsed = time.perf_counter() - self.start
        log.info("%s done: %d images in %.1f s", self.what, self.done, elapsed)
        return elapsed


def make_inference_fn(model: tf.keras.Model) -> Callable[[tf.Tensor], tf.Tensor]:
    """`model(x, training=False)` as one traced function for any batch size."""
    spec = tf.TensorSpec([None, *model.input_shape[1:]], tf.float32)
    return tf.function(lambda x: model(x, training=False), input_signature=[spec])


# ----------------------------------------------------------------------------------------------
# Batch-norm re-estimation and feature extraction


def reestimate_batch_norm(
    model: tf.keras.Model, images: Images, *, batch_size: int = 256
) -> tf.keras.Model:
    """A copy of `model` whose BN layers hold the exact statistics of their inputs on `images`.

    Layers are done in order, input side first: the input of BN layer k depends on the (already
    re-estimated, frozen) statistics of layers < k, so each layer gets one pass over the data
    through the prefix of the network that feeds it. Per-channel mean and (biased) variance are
    merged across batches in float64 (Chan et al.'s pairwise update), so the result is the
    population statistic over all images and pixels, independent of batch size and order.

    The copy is frozen (`trainable = False`, which in Keras 2 also makes BN run in inference mode);
    still call it with `training=False`. The caller's model is not modified.

    Args:
      model: a functional Keras model (e.g. from `models.build_discriminator`), float32 input
        [N, S, S, C] in [-1, 1].
      images: the real training images (see `iterate_batches`).
      batch_size: images per forward pass when `images` is an array.

    Returns:
      The re-estimated copy (same layer names and weights otherwise).
    """
    copy = tf.keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    bn_layers = [
        layer for layer in copy.layers if isinstance(layer, tf.keras.layers.BatchNormalization)
    ]
    for layer in bn_layers:
        prefix = tf.keras.Model(copy.input, layer.input)
        forward = make_inference_fn(prefix)
        rank = len(layer.input.shape)
        channel_axes = [axis % rank for axis in layer.axis]
        reduce_axes = [axis for axis in range(rank) if axis not in channel_axes]

        @tf.function(input_signature=[tf.TensorSpec([None, *prefix.input_shape[1:]], tf.float32)])
        def batch_moments(x, forward=forward, reduce_axes=reduce_axes, rank=rank):
            values = forward(x)
            mean = tf.reduce_mean(values, axis=reduce_axes)
            centred = values - tf.reshape(
                mean, [1 if a in reduce_axes else -1 for a in range(rank)]
            )
            m2 = tf.reduce_sum(tf.square(centred), axis=reduce_axes)
            count = tf.reduce_prod(tf.gather(tf.shape(values), reduce_axes))
            return mean, m2, count

        total, mean, m2 = 0, None, None
        progress = _Progress(f"batch-norm statistics of {layer.name}", _num_examples(images))
        for batch in iterate_batches(images, batch_size):
            batch_mean, batch_m2, batch_count = batch_moments(batch)
            batch_mean = batch_mean.numpy().astype(np.float64)
            batch_m2 = batch_m2.numpy().astype(np.float64)
            batch_count = int(batch_count)
            if mean is None:
                total, mean, m2 = batch_count, batch_mean, batch_m2
            else:
                delta = batch_mean - mean
                new_total = total + batch_count
                mean = mean + delta * (batch_count / new_total)
                m2 = m2 + batch_m2 + delta**2 * (total * batch_count / new_total)
                total = new_total
            progress.update(int(batch.shape[0]))
        if mean is None:
            raise ProbeError("no images to re-estimate batch-norm statistics on")
        progress.finish()
        layer.moving_mean.assign(mean.reshape(layer.moving_mean.shape).astype(np.float32))
        layer.moving_variance.assign(
            (m2 / total).reshape(layer.moving_variance.shape).astype(np.float32)
        )
    copy.trainable = False
    return copy


def extract_features(
    discriminator: tf.keras.Model,
    images: Images,
    *,
    batch_size: int = 256,
    num_examples: int | None = None,
    name: str = "features",
) -> np.ndarray:
    """The paper's probe features of every image, streamed in batches.

    Args:
      discriminator: a model from `models.build_discriminator` (normally after
        `reestimate_batch_norm`); run with `training=False`.
      images: see `iterate_batches`.
      batch_size: images per forward pass when `images` is an array.
      num_examples: number of images when `images` is a callable (preallocates the output).
      name: label of the progress lines.

    Returns:
      float32 [N, models.feature_size(config)]; only this matrix is held, never per-layer float64
      copies.
    """
    extractor = models.build_feature_extractor(discriminator)
    forward = make_inference_fn(extractor)
    size = int(extractor.output_shape[-1])
    total = _num_examples(images) if num_examples is None else num_examples
    chunks: list[np.ndarray] = []
    out = np.empty((total, size), np.float32) if total is not None else None
    progress = _Progress(f"extracting {name}", total)
    offset = 0
    for batch in iterate_batches(images, batch_size):
        values = forward(batch).numpy()
        if out is not None:
            if offset + len(values) > len(out):
                raise ProbeError(f"{name}: more images than num_examples={total}")
            out[offset : offset + len(values)] = values
        else:
            chunks.append(values)
        offset += len(values)
        progress.update(len(values))
    progress.finish()
    if out is None:
        return np.concatenate(chunks) if chunks else np.zeros((0, size), np.float32)
    if offset != len(out):
        raise ProbeError(f"{name}: got {offset} images, expected {len(out)}")
    return out


def standardize_features(
    train: np.ndarray, *others: np.ndarray, chunk_rows: int = 4096
) -> tuple[np.ndarray, np.ndarray]:
    """Scales features to zero mean, unit variance on `train`, in place (no float64 copies).

    Args:
      train: float32 [N, F]; its per-feature mean/std (accumulated in float64) define the scaling.
      *others: further float32 [M, F] arrays (validation, test) scaled with train's statistics.
      chunk_rows: rows per step, bounding temporary memory.

    Returns:
      (mean, std), float64 [F]; constant features get std 1.
    """
    count = len(train)
    sums = np.zeros(train.shape[1], np.float64)
    for start in range(0, count, chunk_rows):
        sums += train[start : start + chunk_rows].sum(axis=0, dtype=np.float64)
    mean = sums / max(count, 1)
    squares = np.zeros(train.shape[1], np.float64)
    for start in range(0, count, chunk_rows):
        squares += np.square(train[start : start + chunk_rows] - mean).sum(axis=0)
    std = np.sqrt(squares / max(count, 1))
    std[std < 1e-8] = 1.0
    mean32, inv32 = mean.astype(np.float32), (1.0 / std).astype(np.float32)
    for array in (train, *others):
        for start in range(0, len(array), chunk_rows):
            block = array[start : start + chunk_rows]
            block -= mean32
            block *= inv32
    return mean, std


# ----------------------------------------------------------------------------------------------
# Label subsets and splits


def few_label_indices(labels: np.ndarray, per_class: int, seed: int = 0) -> np.ndarray:
    """Indices of `per_class` examples of every class, drawn without replacement, seeded.

    Args:
      labels: int [N], class indices >= 0.
      per_class: k, the labels kept per class.
      seed: the draw's seed (the same seed gives the same subset).

    Returns:
      Sorted int64 indices, k per class.

    Raises:
      ProbeError: some class has fewer than k examples (the message names it).
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if len(members) < per_class:
            raise ProbeError(
                f"class {int(label)} has {len(members)} labelled examples, fewer than the "
                f"{per_class} labels per class asked for"
            )
        chosen.append(rng.choice(members, size=per_class, replace=False))
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def stratified_split(
    labels: np.ndarray, fraction: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Splits indices into (kept, held_out) with `fraction` of each class held out.

    Every class with at least 2 examples gives at least one to each side.

    Returns:
      Two sorted int64 index arrays.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    kept, held = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        count = int(round(fraction * len(members)))
        if len(members) >= 2:
            count = min(max(count, 1), len(members) - 1)
        else:
            count = 0
        held.append(members[:count])
        kept.append(members[count:])
    return np.sort(np.concatenate(kept)).astype(np.int64), np.sort(np.concatenate(held)).astype(
        np.int64
    )


# ----------------------------------------------------------------------------------------------
# The linear L2-SVM


def _resolve_solver(solver: str, num_train: int, num_features: int) -> str:
    del num_train, num_features  # Measured faster and more accurate at every size tried.
    return "primal" if solver == "auto" else solver


class PrimalL2Svm:
    """One-vs-rest L2-regularised squared-hinge linear SVM solved in the primal with L-BFGS.

    Minimises, for each class k with targets y in {-1, +1},
        0.5 ||w_k||^2 + C * sum_i max(0, 1 - y_ik (w_k . x_i + b_k))^2,
    LinearSVC's objective (loss="squared_hinge", penalty="l2"; the bias is not penalised here),
    for all classes at once. The objective is smooth (once differentiable), so quasi-Newton
    converges to the same optimum liblinear's coordinate descent finds; each iteration is two
    float32 [N, F] x [F, K] matrix products, so it runs on every core through BLAS, on the caller's
    float32 matrix without copies. scipy.optimize.minimize does the L-BFGS.

    Attributes (after fit): coef_ float32 [K, F], intercept_ float32 [K], classes_ [K], n_iter_.
    """

    def __init__(
        self,
        C: float = 1.0,
        max_iter: int = 100,
        tol: float = 1e-4,
        warm_start_from: PrimalL2Svm | None = None,
    ) -> None:
        self.C, self.max_iter, self.tol = C, max_iter, tol
        self.warm_start_from = warm_start_from

    def fit(self, features: np.ndarray, labels: np.ndarray) -> PrimalL2Svm:
        from scipy.optimize import minimize

        features = np.asarray(features, np.float32)
        self.classes_, encoded = np.unique(labels, return_inverse=True)
        count, size = features.shape
        num_classes = len(self.classes_)
        targets = -np.ones((count, num_classes), np.float32)
        targets[np.arange(count), encoded] = 1.0
        # Divide by C * N: the same minimiser, with values and gradients of order one.
        scale = 1.0 / (self.C * count)

        def objective(params: np.ndarray) -> tuple[float, np.ndarray]:
            weights = params[: size * num_classes].reshape(size, num_classes)
            bias = params[size * num_classes :]
            margins = features @ weights.astype(np.float32) + bias.astype(np.float32)
            slack = np.maximum(0.0, 1.0 - targets * margins)
            value = (
                0.5 * scale * float(np.sum(weights**2))
                + float(np.sum(slack.astype(np.float64) ** 2)) / count
            )
            residual = (-2.0 / count) * targets * slack
            grad_w = scale * weights + (features.T @ residual).astype(np.float64)
            grad_b = residual.sum(axis=0, dtype=np.float64)
            return value, np.concatenate([grad_w.ravel(), grad_b])

        start = np.zeros(size * num_classes + num_classes, np.float64)
        previous = self.warm_start_from
        if previous is not None and previous.coef_.shape == (num_classes, size):
            # Along a path of growing C, the last solution is a close start (fewer iterations).
            start[: size * num_classes] = previous.coef_.T.ravel()
            start[size * num_classes :] = previous.intercept_
        solution = minimize(
            objective,
            start,
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": self.max_iter, "gtol": self.tol * 1e-2, "ftol": self.tol * 1e-3},
        )
        self.n_iter_ = int(solution.nit)
        self.converged_ = bool(solution.success)
        params = solution.x
        self.coef_ = params[: size * num_classes].reshape(size, num_classes).T.astype(np.float32)
        self.intercept_ = params[size * num_classes :].astype(np.float32)
        return self

    def decision_function(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(features, np.float32) @ self.coef_.T + self.intercept_

    def predict(self, features: np.ndarray) -> np.ndarray:
        scores = self.decision_function(features)
        return self.classes_[np.argmax(scores, axis=1)]


def _make_svm(
    solver: str, c: float, num_train: int, config: ProbeConfig, previous: Any = None
) -> Any:
    # scikit-learn costs ~1 s to import: only the probe pays it.
    from sklearn.linear_model import SGDClassifier
    from sklearn.svm import LinearSVC

    if solver == "primal":
        return PrimalL2Svm(
            C=c, max_iter=config.max_iter or 100, tol=config.tol, warm_start_from=previous
        )
    if solver == "liblinear":
        return LinearSVC(
            C=c,
            loss="squared_hinge",
            penalty="l2",
            dual=True,
            tol=config.tol,
            max_iter=config.max_iter or 2000,
            random_state=config.seed,
        )
    # 0.5||w||^2 + C sum_i h_i  ==  C n * (alpha/2 ||w||^2 + (1/n) sum_i h_i)  with alpha = 1/(C n).
    return SGDClassifier(
        loss="squared_hinge",
        penalty="l2",
        alpha=1.0 / (c * num_train),
        max_iter=config.max_iter or 30,
        tol=config.tol,
        n_iter_no_change=3,
        average=True,
        shuffle=True,
        random_state=config.seed,
        n_jobs=config.n_jobs,
    )


def _fit(
    solver: str,
    c: float,
    features: np.ndarray,
    labels: np.ndarray,
    config: ProbeConfig,
    previous: Any = None,
) -> Any:
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    classifier = _make_svm(solver, c, len(features), config, previous)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        classifier.fit(features, labels)
    if any(issubclass(w.category, ConvergenceWarning) for w in caught):
        log.info("solver %s did not fully converge at C=%g (max_iter reached)", solver, c)
    return classifier


def selection_sets(
    features: np.ndarray, labels: np.ndarray, fit_idx: np.ndarray, val_idx: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The C-selection fit and validation sets, standardised on the fit part alone.

    The held-out validation rows must not shape the scaling that C is chosen under, so the copies
    are re-standardised with the fit rows' mean and std. (Features standardised on all of train
    are an affine map of the raw ones, and a z-score is invariant to it: this equals scaling the
    raw features with the fit rows' statistics.)

    Returns:
      (fit_x, fit_y, val_x, val_y): float32 copies and their labels.
    """
    fit_x, val_x = features[fit_idx], features[val_idx]
    standardize_features(fit_x, val_x)
    return fit_x, labels[fit_idx], val_x, labels[val_idx]


def fit_linear_svm(
    features: np.ndarray, labels: np.ndarray, config: ProbeConfig
) -> tuple[Any, float, dict[str, float], dict[str, Any]]:
    """Chooses C on a stratified hold-out of the training data, then refits on all of it.

    During C selection the fit part is re-standardised without the held-out rows
    (`selection_sets`); the refit uses `features` as given.

    Args:
      features: float32 [N, F], standardised.
      labels: int [N], at least two classes.
      config: grid, hold-out fraction, solver, seed.

    Returns:
      (classifier fitted on all N, chosen C, {str(C): validation accuracy}, info) where info has
      solver, num_validation, c_selection_s, refit_s.
    """
    config.validate()
    labels = np.asarray(labels)
    if len(np.unique(labels)) < 2:
        raise ProbeError("the linear probe needs at least two classes in the training labels")
    solver = _resolve_solver(config.solver, len(features), features.shape[1])
    fit_idx, val_idx = stratified_split(labels, config.validation_fraction, config.seed)
    validation_accuracy: dict[str, float] = {}
    best_classifier = None
    start = time.perf_counter()
    if len(config.c_grid) == 1 or len(val_idx) == 0:
        chosen_c = float(config.c_grid[0])
    else:
        fit_x, fit_y, val_x, val_y = selection_sets(features, labels, fit_idx, val_idx)
        previous = None
        best_classifier, best_accuracy = None, -1.0
        for c in sorted(config.c_grid):
            t0 = time.perf_counter()
            classifier = _fit(solver, c, fit_x, fit_y, config, previous)
            previous = classifier if isinstance(classifier, PrimalL2Svm) else None
            accuracy = float(np.mean(classifier.predict(val_x) == val_y))
            validation_accuracy[f"{c:g}"] = accuracy
            if accuracy > best_accuracy:
                best_classifier, best_accuracy = classifier, accuracy
            log.info(
                "C=%g: validation accuracy %.4f (%s, %d fit / %d val, %.1f s)",
                c,
                accuracy,
                solver,
                len(fit_idx),
                len(val_idx),
                time.perf_counter() - t0,
            )
        del fit_x, val_x
        # Ties go to the smaller C (stronger regularisation): the first best along the path.
        chosen_c = float(max(config.c_grid, key=lambda c: (validation_accuracy[f"{c:g}"], -c)))
    selection_s = time.perf_counter() - start
    start = time.perf_counter()
    warm = best_classifier if isinstance(best_classifier, PrimalL2Svm) else None
    classifier = _fit(solver, chosen_c, features, labels, config, warm)
    refit_s = time.perf_counter() - start
    log.info("refit on all %d train examples at C=%g: %.1f s", len(features), chosen_c, refit_s)
    info = {
        "solver": solver,
        "num_validation": int(len(val_idx)),
        "c_selection_s": selection_s,
        "refit_s": refit_s,
    }
    return classifier, chosen_c, validation_accuracy, info


def evaluate_classifier(
    classifier: Any, features: np.ndarray, labels: np.ndarray, num_classes: int
) -> tuple[float, list[float], list[list[int]]]:
    """Test accuracy, per-class accuracy (recall; NaN for a class absent from the test set) and the
    confusion matrix (rows = true class, columns = predicted)."""
    predictions = classifier.predict(features)
    labels = np.asarray(labels)
    confusion = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(confusion, (labels, predictions), 1)
    totals = confusion.sum(axis=1)
    per_class = [
        float(confusion[i, i] / totals[i]) if totals[i] else float("nan")
        for i in range(num_classes)
    ]
    accuracy = float(np.trace(confusion) / max(confusion.sum(), 1))
    return accuracy, per_class, confusion.tolist()


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
