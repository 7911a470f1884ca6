"""FeatureProbeEvaluator's executor: the paper's linear probe on D's features, then a blessing.

`Do` resolves the artifacts and calls `evaluate_trainer_model`, a plain function over folders:

  1. load D from the Trainer's model artifact (`keras/discriminator/` SavedModel and
     `model_config.json` under the serving model dir);
  2. read the labelled examples (`Split-<train>/`, `Split-<test>/`, gzipped `tf.Example`s from the
     image ingest), decoding with `image_ops.preprocess_encoded_image` like Transform; with no
     test split, a stratified part of train is held out (and the metrics say so);
  3. `probe.run_probe`: BN statistics re-estimated on the real train split and frozen, features
     streamed, L2-SVM with C chosen on a held-out part of train, test accuracy;
  4. write `probe_metrics.json` (human-readable) to the ModelEvaluation artifact and
     `BLESSED` / `NOT_BLESSED` to the ModelBlessing artifact, with custom property `blessed` 1/0 as
     TFX's Evaluator does (the Pusher reads that).

Unlabelled data (no labels, or a single class) skip the probe: NOT_BLESSED with the reason, no
failure. Whether an unblessed model is pushed is the pipeline's decision.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from tfx_dcgan import probe
from tfx_dcgan.probe import data as probe_data

import tensorflow as tf
from absl import logging
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils

__all__ = [
    "Executor",
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
    "METRICS_FILE",
    "BLESSED_FILE",
    "NOT_BLESSED_FILE",
    "ProbeSettings",
    "parse_c_grid",
    "evaluate_trainer_model",
    "write_outcome",
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

METRICS_FILE = "probe_metrics.json"
# The names TFX's Evaluator writes (tfx.components.evaluator.constants).
BLESSED_FILE = "BLESSED"
NOT_BLESSED_FILE = "NOT_BLESSED"
BLESSED_PROPERTY = "blessed"
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


def _read_split(
    examples_uri: str, split: str, model_cfg: Any, max_examples: int, seed: int
) -> probe_data.LabelledImages:
    return probe_data.read_examples(
        os.path.join(examples_uri, f"Split-{split}"),
        model_cfg.image_size,
        model_cfg.channels,
        max_examples=max_examples,
        seed=seed,
    )


def _test_split(settings: ProbeSettings, split_names: list[str]) -> str:
    """The split to test on, or "" when there is none (a part of train is then held out)."""
    wanted = settings.test_split or next(
        (name for name in AUTO_TEST_SPLITS if name in split_names), ""
    )
    return wanted if wanted in split_names else ""


def _read_probe_data(
    examples_uri: str, split_names: list[str], model_cfg: Any, settings: ProbeSettings
) -> probe.ProbeData:
    """The shared protocol's data set-up on the ingest's splits (see probe.prepare_probe_data)."""
    if settings.train_split not in split_names:
        raise ValueError(
            f"examples have splits {split_names}; the train split {settings.train_split!r} "
            f"(exec property {TRAIN_SPLIT_KEY!r}) is not among them"
        )
    seed = settings.probe.seed
    train = _read_split(
        examples_uri, settings.train_split, model_cfg, settings.max_train_examples, seed
    )
    test_split = _test_split(settings, split_names)
    test = None
    if test_split and probe_data.is_labelled(train.labels)[0]:
        test = _read_split(examples_uri, test_split, model_cfg, settings.max_test_examples, seed)
    wanted = (
        repr(settings.test_split)
        if settings.test_split
        else " or ".join(map(repr, AUTO_TEST_SPLITS))
    )
    return probe.prepare_probe_data(
        train,
        test,
        test_fraction=settings.test_fraction,
        seed=seed,
        train_name=f"split {settings.train_split!r}",
        test_name=f"test split {test_split!r}",
        no_test_reason=f"no {wanted} split in {split_names}",
    )


def evaluate_trainer_model(
    examples_uri: str,
    split_names: list[str],
    model_uri: str,
    settings: ProbeSettings,
) -> dict[str, Any]:
    """Runs the probe on a Trainer model and labelled examples; decides the blessing.

    Args:
      examples_uri: the Examples artifact's folder (holding `Split-<name>/`).
      split_names: the artifact's split names.
      model_uri: the Model artifact's folder (or its serving model dir).
      settings: exec properties.

    Returns:
      The probe_metrics.json payload: status ("ok" or "skipped"), reason, blessed (bool),
      accuracy_threshold, model (uri, step, model_config), data (splits used, sizes), probe
      (ProbeResult.to_dict(), absent when skipped), timings.
    """
    start = time.perf_counter()
    discriminator, experiment, step, model_dir = probe_data.load_trainer_discriminator(model_uri)
    payload: dict[str, Any] = {
        "status": "skipped",
        "reason": "",
        "blessed": False,
        "accuracy_threshold": settings.accuracy_threshold,
        "model": {"uri": model_dir, "step": step, "model_config": experiment.to_dict()["model"]},
        "data": {"examples_uri": examples_uri, "splits": list(split_names)},
    }
    try:
        data = _read_probe_data(examples_uri, split_names, experiment.model, settings)
    except probe.ProbeError as error:
        payload["reason"] = f"probe skipped: {error}"
        logging.warning("FeatureProbeEvaluator: %s", payload["reason"])
        return payload
    result = probe.run_probe_on_data(discriminator, data, settings.probe)
    payload["status"] = "ok"
    payload["probe"] = result.to_dict()
    payload["data"].update(
        train_split=settings.train_split,
        test_split=_test_split(settings, split_names)
        or f"{settings.train_split} (held out {settings.test_fraction:.0%})",
        num_train=result.num_train,
        num_test=result.num_test,
        skipped_undecodable=data.train.skipped + data.test.skipped,
    )
    blessed = result.accuracy >= settings.accuracy_threshold
    payload["blessed"] = blessed
    comparison = ">=" if blessed else "<"
    payload["reason"] = (
        f"probe test accuracy {result.accuracy:.4f} {comparison} threshold "
        f"{settings.accuracy_threshold:.4f}: {'blessed' if blessed else 'not blessed'}"
    )
    payload["timings"] = {"total_s": round(time.perf_counter() - start, 3)}
    logging.info("FeatureProbeEvaluator: %s", payload["reason"])
    return payload


def write_outcome(payload: dict[str, Any], evaluation_uri: str, blessing_uri: str) -> None:
    """Writes probe_metrics.json and the BLESSED / NOT_BLESSED marker file (holding the reason)."""
    tf.io.gfile.makedirs(evaluation_uri)
    tf.io.gfile.makedirs(blessing_uri)
    with tf.io.gfile.GFile(os.path.join(evaluation_uri, METRICS_FILE), "w") as stream:
        stream.write(json.dumps(payload, indent=2, allow_nan=False) + "\n")
    marker = BLESSED_FILE if payload["blessed"] else NOT_BLESSED_FILE
    with tf.io.gfile.GFile(os.path.join(blessing_uri, marker), "w") as stream:
        stream.write(payload["reason"] + "\n")


class Executor(base_executor.BaseExecutor):
    """Fits the linear probe, writes the metrics artifact and the blessing."""

    def Do(
        self,
        input_dict: dict[str, list[Any]],
        output_dict: dict[str, list[Any]],
        exec_properties: dict[str, Any],
    ) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        settings = ProbeSettings(exec_properties)
        examples = artifact_utils.get_single_instance(input_dict[EXAMPLES_KEY])
        model = artifact_utils.get_single_instance(input_dict[MODEL_KEY])
        evaluation = artifact_utils.get_single_instance(output_dict[EVALUATION_KEY])
        blessing = artifact_utils.get_single_instance(output_dict[BLESSING_KEY])
        split_names = artifact_utils.decode_split_names(examples.split_names)

        payload = evaluate_trainer_model(examples.uri, split_names, model.uri, settings)
        write_outcome(payload, evaluation.uri, blessing.uri)

        result = payload.get("probe") or {}
        evaluation.set_string_custom_property("probe_status", payload["status"])
        evaluation.set_string_custom_property("reason", payload["reason"])
        if result:
            evaluation.set_float_custom_property("accuracy", result["accuracy"])
            evaluation.set_float_custom_property("chosen_c", result["chosen_c"])
            evaluation.set_int_custom_property("num_train", result["num_train"])
            evaluation.set_int_custom_property("num_test", result["num_test"])
            evaluation.set_int_custom_property("feature_size", result["feature_size"])
            blessing.set_float_custom_property("accuracy", result["accuracy"])
        blessing.set_int_custom_property(BLESSED_PROPERTY, 1 if payload["blessed"] else 0)
        blessing.set_float_custom_property("accuracy_threshold", settings.accuracy_threshold)
        blessing.set_string_custom_property("reason", payload["reason"])
        blessing.set_string_custom_property("current_model", model.uri)
        if model.id:
            blessing.set_int_custom_property("current_model_id", model.id)
        logging.info(
            "FeatureProbeEvaluator wrote %s and %s",
            os.path.join(evaluation.uri, METRICS_FILE),
            os.path.join(blessing.uri, BLESSED_FILE if payload["blessed"] else NOT_BLESSED_FILE),
        )
