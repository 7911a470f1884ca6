"""The probe's configuration, result and error types (shared by features, svm and protocol)."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

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
