"""FeatureProbeEvaluator's exec properties: their names, and `ProbeSettings`, the typed values
with defaults and range checks (component.py documents each one)."""

from __future__ import annotations

import json
from typing import Any

from tfx_dcgan import probe
from tfx_dcgan.metrics import sample_quality

__all__ = [
    "EXAMPLES_KEY",
    "MODEL_KEY",
    "EVALUATION_KEY",
    "BLESSING_KEY",
    "ACCURACY_THRESHOLD_KEY",
    "C_GRID_KEY",
    "MAX_TRAIN_EXAMPLES_KEY",
    "MAX_TEST_EXAMPLES_KEY",
    "VALIDATION_FRACTION_KEY",
    "TEST_FRACTION_KEY",
    "SOLVER_KEY",
    "BATCH_SIZE_KEY",
    "SEED_KEY",
    "TRAIN_SPLIT_KEY",
    "TEST_SPLIT_KEY",
    "FID_KEY",
    "FID_COUNT_KEY",
    "FID_CEILING_KEY",
    "FID_BASELINES_KEY",
    "FID_BATCH_SIZE_KEY",
    "FID_CACHE_DIR_KEY",
    "INCEPTION_WEIGHTS_KEY",
    "AUTO_TEST_SPLITS",
    "parse_c_grid",
    "ProbeSettings",
]

EXAMPLES_KEY = "examples"
MODEL_KEY = "model"
EVALUATION_KEY = "evaluation"
BLESSING_KEY = "blessing"
ACCURACY_THRESHOLD_KEY = "accuracy_threshold"
C_GRID_KEY = "c_grid"
MAX_TRAIN_EXAMPLES_KEY = "max_train_examples"
MAX_TEST_EXAMPLES_KEY = "max_test_examples"
VALIDATION_FRACTION_KEY = "validation_fraction"
TEST_FRACTION_KEY = "test_fraction"
SOLVER_KEY = "solver"
BATCH_SIZE_KEY = "batch_size"
SEED_KEY = "seed"
TRAIN_SPLIT_KEY = "train_split"
TEST_SPLIT_KEY = "test_split"
FID_KEY = "fid"
FID_COUNT_KEY = "fid_count"
FID_CEILING_KEY = "fid_ceiling"
FID_BASELINES_KEY = "fid_baselines"
FID_BATCH_SIZE_KEY = "fid_batch_size"
FID_CACHE_DIR_KEY = "fid_cache_dir"
INCEPTION_WEIGHTS_KEY = "inception_weights"

# Splits tried, in order, as the test set when the test_split exec property is empty.
AUTO_TEST_SPLITS = ("test", "eval")


def parse_c_grid(value: Any) -> tuple[float, ...]:
    """C grid from a JSON list string, a comma-separated string or a sequence; empty -> default.

    Raises:
      ValueError: naming the exec property and what was expected.
    """
    if value is None or value == "" or value == []:
        return probe.DEFAULT_C_GRID
    try:
        if isinstance(value, str):
            text = value.strip()
            items = json.loads(text) if text.startswith("[") else text.split(",")
        else:
            items = list(value)
        grid = tuple(float(item) for item in items)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"exec property {C_GRID_KEY!r} must be a list of positive numbers (JSON list or "
            f"comma-separated), got {value!r}"
        ) from error
    if not grid or any(not c > 0 for c in grid):
        raise ValueError(f"exec property {C_GRID_KEY!r} must hold positive numbers, got {value!r}")
    return grid


class ProbeSettings:
    """The exec properties, typed, with defaults (see component.py for their meaning)."""

    def __init__(self, exec_properties: dict[str, Any]) -> None:
        get = exec_properties.get
        self.accuracy_threshold = float(get(ACCURACY_THRESHOLD_KEY) or 0.0)
        self.max_train_examples = int(get(MAX_TRAIN_EXAMPLES_KEY) or 0)
        self.max_test_examples = int(get(MAX_TEST_EXAMPLES_KEY) or 0)
        self.test_fraction = float(get(TEST_FRACTION_KEY) or 0.2)
        self.train_split = str(get(TRAIN_SPLIT_KEY) or "train")
        # "" = auto: the first of AUTO_TEST_SPLITS present (the ingest names test/ "eval").
        self.test_split = str(get(TEST_SPLIT_KEY) or "")
        self.probe = probe.ProbeConfig(
            c_grid=parse_c_grid(get(C_GRID_KEY)),
            validation_fraction=float(get(VALIDATION_FRACTION_KEY) or 0.1),
            solver=str(get(SOLVER_KEY) or "auto"),
            batch_size=int(get(BATCH_SIZE_KEY) or 256),
            seed=int(get(SEED_KEY) or 0),
        )
        if not 0.0 <= self.accuracy_threshold <= 1.0:
            raise ValueError(
                f"exec property {ACCURACY_THRESHOLD_KEY!r} must be in [0, 1], got "
                f"{self.accuracy_threshold}"
            )
        if not 0.0 < self.test_fraction < 1.0:
            raise ValueError(
                f"exec property {TEST_FRACTION_KEY!r} must be in (0, 1), got {self.test_fraction}"
            )
        try:
            self.probe.validate()
        except probe.ProbeError as error:
            raise ValueError(f"FeatureProbeEvaluator exec properties: {error}") from error
        fid = get(FID_KEY)
        self.fid = True if fid is None else bool(int(fid))
        self.fid_ceiling = float(get(FID_CEILING_KEY) or 0.0)
        if self.fid_ceiling < 0:
            raise ValueError(
                f"exec property {FID_CEILING_KEY!r} must be >= 0 (0 = no ceiling), got "
                f"{self.fid_ceiling}"
            )
        if self.fid_ceiling and not self.fid:
            raise ValueError(
                f"exec property {FID_CEILING_KEY!r} is set but {FID_KEY!r} is off: a ceiling "
                "needs the FID it bounds"
            )
        try:
            self.quality = sample_quality.QualitySettings(
                count=int(get(FID_COUNT_KEY) or 0),
                baselines=bool(int(get(FID_BASELINES_KEY) or 0)),
                batch_size=int(get(FID_BATCH_SIZE_KEY) or 32),
                seed=self.probe.seed,
                cache_dir=str(get(FID_CACHE_DIR_KEY) or ""),
                weights_path=str(get(INCEPTION_WEIGHTS_KEY) or ""),
            ).validate()
        except ValueError as error:
            raise ValueError(f"FeatureProbeEvaluator exec properties: {error}") from error
