"""FeatureProbeEvaluator's executor: the paper's linear probe on D's features and the sample
quality (FID/KID) of G, then a blessing.

`Do` resolves the artifacts and calls `evaluate_trainer_model`, a plain function over folders:

  1. open the Trainer's exported feature extractor (`discriminator_features/`, the SavedModel the
     Pusher publishes: Transform graph, then D with batch-norm statistics the Trainer
     re-estimated on the real training split and froze) and `model_config.json`;
  2. read the labelled examples (`Split-<train>/`, `Split-<test>/`, gzipped `tf.Example`s from the
     image ingest); with no test split, a stratified part of train is held out (and the metrics
     say so);
  3. features of the encoded image bytes through that SavedModel's `serving_default` (what TF
     Serving runs for a client), L2-SVM with C chosen on a held-out part of train, test accuracy;
     a few (image, feature row) pairs are saved as `feature_rows.npz` to check a served version
     against;
  4. FID and KID of the exported generator's samples against the test split, named with the
     count (`metrics.sample_quality`); optionally a FID ceiling for the blessing (off by default);
  5. write `probe_metrics.json` (human-readable) to the ModelEvaluation artifact and
     `BLESSED` / `NOT_BLESSED` to the ModelBlessing artifact, with custom property `blessed` 1/0 as
     TFX's Evaluator does (the Pusher reads that).

Unlabelled data (no labels, or a single class) skip the probe: NOT_BLESSED with the reason, no
failure (FID is still measured). Whether an unblessed model is pushed is the pipeline's decision.
"""

from __future__ import annotations

import os
import time
from typing import Any

from tfx_dcgan import artifact, probe
from tfx_dcgan.components.feature_probe_evaluator.outcome import (
    BLESSED_FILE,
    BLESSED_PROPERTY,
    FEATURE_ROWS,
    FEATURE_ROWS_FILE,
    METRICS_FILE,
    NOT_BLESSED_FILE,
    decide_blessing,
    record_properties,
    write_outcome,
)
from tfx_dcgan.components.feature_probe_evaluator.settings import (
    AUTO_TEST_SPLITS,
    BLESSING_KEY,
    EVALUATION_KEY,
    EXAMPLES_KEY,
    MODEL_KEY,
    TRAIN_SPLIT_KEY,
    ProbeSettings,
)
from tfx_dcgan.metrics import sample_quality
from tfx_dcgan.probe import data as probe_data
from tfx_dcgan.probe import exported

import tensorflow as tf
from absl import logging
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils

__all__ = [
    "Executor",
    "ProbeSettings",
    "evaluate_trainer_model",
    "FEATURE_ROWS",
    "FEATURE_ROWS_FILE",
    "METRICS_FILE",
]


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


def _probe_through_extractor(
    extractor: exported.ExportedFeatureExtractor,
    data: probe.ProbeData,
    config: probe.ProbeConfig,
    feature_rows_path: str,
) -> probe.ProbeResult:
    """Features of the encoded images through the exported extractor, then the SVM."""
    labelled = data.labelled_train_indices
    t0 = time.perf_counter()
    train_features = extractor.features(
        data.train.encoded[labelled], batch_size=config.batch_size, name="train features"
    )
    t1 = time.perf_counter()
    test_features = extractor.features(
        data.test.encoded, batch_size=config.batch_size, name="test features"
    )
    t2 = time.perf_counter()
    if feature_rows_path:
        rows = min(FEATURE_ROWS, len(test_features))
        exported.save_feature_rows(
            feature_rows_path,
            data.test.encoded[:rows],
            test_features[:rows].copy(),  # probe_features standardises in place
            data.test.labels[:rows],
        )
    notes = [
        *data.notes,
        f"features through the exported extractor {extractor.path} (preprocessing: "
        f"{extractor.preprocessing}; batch-norm statistics: {extractor.batch_norm})",
    ]
    return probe.probe_features(
        train_features,
        data.train.labels[labelled],
        test_features,
        data.test.labels,
        config,
        class_names=data.class_names,
        notes=notes,
        timings={"train_features_s": t1 - t0, "test_features_s": t2 - t1, "total_s": t2 - t0},
        bn_reestimated=extractor.batch_norm.get("source") == "reestimated",
    )


def _sample_quality(
    examples_uri: str,
    split_names: list[str],
    model_dir: str,
    model_cfg: Any,
    settings: ProbeSettings,
) -> dict[str, Any]:
    """FID/KID of the exported generator against the test split (train when there is none)."""
    real_split = _test_split(settings, split_names) or settings.train_split
    real_uri = os.path.join(examples_uri, f"Split-{real_split}")
    train_uri = ""
    if real_split != settings.train_split and settings.train_split in split_names:
        train_uri = os.path.join(examples_uri, f"Split-{settings.train_split}")
    result = sample_quality.evaluate_generator(
        artifact.paths(model_dir).generator,
        model_cfg,
        real_uri,
        settings.quality,
        available_real=sample_quality.count_examples(real_uri),
        train_split_uri=train_uri,
    )
    result["real_split"] = real_split
    if not train_uri:
        result["note"] = (
            f"no test split: generated images scored against the training split {real_split!r}, "
            "which the model trained on"
        )
    return result


def evaluate_trainer_model(
    examples_uri: str,
    split_names: list[str],
    model_uri: str,
    settings: ProbeSettings,
    *,
    feature_rows_path: str = "",
) -> dict[str, Any]:
    """Runs the probe and the sample-quality metrics on a Trainer model; decides the blessing.

    Args:
      examples_uri: the Examples artifact's folder (holding `Split-<name>/`).
      split_names: the artifact's split names.
      model_uri: the Model artifact's folder (or its serving model dir).
      settings: exec properties.
      feature_rows_path: where to save a few (image, feature row) pairs ("" = nowhere).

    Returns:
      The probe_metrics.json payload: status ("ok" or "skipped"), reason, blessed (bool),
      accuracy_threshold, fid_ceiling, model (uri, step, model_config, extractor), data (splits
      used, sizes), probe (ProbeResult.to_dict(), absent when skipped), sample_quality (FID/KID
      named with the count, absent when off), timings.
    """
    start = time.perf_counter()
    model_dir = artifact.find_serving_model_dir(model_uri)
    experiment, step = probe_data.read_model_config(model_dir)
    extractor = exported.ExportedFeatureExtractor(artifact.paths(model_dir).discriminator_features)
    payload: dict[str, Any] = {
        "status": "skipped",
        "reason": "",
        "blessed": False,
        "accuracy_threshold": settings.accuracy_threshold,
        "fid_ceiling": settings.fid_ceiling or None,
        "model": {
            "uri": model_dir,
            "step": step,
            "model_config": experiment.to_dict()["model"],
            "feature_extractor": {
                "path": extractor.path,
                "preprocessing": extractor.preprocessing,
                "batch_norm": extractor.batch_norm,
            },
        },
        "data": {"examples_uri": examples_uri, "splits": list(split_names)},
    }
    try:
        data = _read_probe_data(examples_uri, split_names, experiment.model, settings)
    except probe.ProbeError as error:
        payload["reason"] = f"probe skipped: {error}"
        logging.warning("FeatureProbeEvaluator: %s", payload["reason"])
    else:
        result = _probe_through_extractor(extractor, data, settings.probe, feature_rows_path)
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
    probe_s = time.perf_counter() - start
    if settings.fid:
        payload["sample_quality"] = _sample_quality(
            examples_uri, split_names, model_dir, experiment.model, settings
        )
    payload["blessed"], payload["reason"] = decide_blessing(payload, settings)
    payload["timings"] = {
        "probe_s": round(probe_s, 3),
        "total_s": round(time.perf_counter() - start, 3),
    }
    logging.info("FeatureProbeEvaluator: %s", payload["reason"])
    return payload


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

        tf.io.gfile.makedirs(evaluation.uri)
        payload = evaluate_trainer_model(
            examples.uri,
            split_names,
            model.uri,
            settings,
            feature_rows_path=os.path.join(evaluation.uri, FEATURE_ROWS_FILE),
        )
        write_outcome(payload, evaluation.uri, blessing.uri)
        record_properties(payload, evaluation, blessing)

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
        blessing.set_float_custom_property("fid_ceiling", settings.fid_ceiling)
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
