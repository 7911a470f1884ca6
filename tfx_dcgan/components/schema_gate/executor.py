"""SchemaGate's executor: the data contract, checked before anything is transformed or trained.

`Do` calls `contract_violations`, a plain function over folders, on:
  * ExampleValidator's anomalies (`Split-<name>/SchemaDiff.pb` of the ExampleAnomalies artifact:
    the data against the curated schema's domains and presence rules);
  * the label range against the label vocabulary (`labels.txt` of the Examples artifact): the
    largest label in the statistics must name a line of it, the smallest be >= -1 (unlabelled).
    The schema's static domain (-1..999) cannot know the class count; this check does.

With violations it raises `SchemaContractError` listing every one (the run stops here, before
Transform and the Trainer, on every runner: they read the schema from this component's output),
unless `allow_anomalies` is set, in which case it logs them and lets the run go on. Either way
the output Schema artifact (a copy of the input schema) carries `num_anomalies` and `anomalies`
(JSON) custom properties, which the run summary prints.
"""

from __future__ import annotations

import json
import os
from typing import Any

from tfx_dcgan import features, fileio

import tensorflow as tf
from absl import logging
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils

__all__ = [
    "Executor",
    "SchemaContractError",
    "ANOMALIES_KEY",
    "STATISTICS_KEY",
    "SCHEMA_KEY",
    "EXAMPLES_KEY",
    "OUTPUT_SCHEMA_KEY",
    "ALLOW_ANOMALIES_KEY",
    "read_anomalies",
    "label_range_violations",
    "contract_violations",
]

ANOMALIES_KEY = "anomalies"
STATISTICS_KEY = "statistics"
SCHEMA_KEY = "schema"
EXAMPLES_KEY = "examples"
OUTPUT_SCHEMA_KEY = "gated_schema"
ALLOW_ANOMALIES_KEY = "allow_anomalies"
ANOMALIES_FILE = "SchemaDiff.pb"
LABELS_FILE = "labels.txt"


class SchemaContractError(RuntimeError):
    """The data breaks the schema; the message lists each violation and how to proceed anyway."""


def read_anomalies(anomalies_uri: str, splits: list[str]) -> list[str]:
    """ "split 'train': feature 'image/format': Unexpected string values (...)" per anomaly."""
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    found = []
    for split in splits:
        path = os.path.join(anomalies_uri, f"Split-{split}", ANOMALIES_FILE)
        if not fileio.exists(path):
            continue
        anomalies = anomalies_pb2.Anomalies.FromString(fileio.read_bytes(path))
        for name, info in sorted(anomalies.anomaly_info.items()):
            found.append(
                f"split {split!r}: feature {name!r}: {info.description or info.short_description}"
            )
        if anomalies.HasField("dataset_anomaly_info"):
            info = anomalies.dataset_anomaly_info
            found.append(f"split {split!r}: data set: {info.description or info.short_description}")
    return found


def _label_extremes(statistics: Any, split: str) -> tuple[float, float] | None:
    from tfx.components.statistics_gen import stats_artifact_utils

    proto = stats_artifact_utils.load_statistics(statistics, split).proto()
    for dataset in proto.datasets:
        for feature in dataset.features:
            if feature.path.step and feature.path.step[-1] == features.LABEL:
                stats = feature.num_stats
                if stats.common_stats.num_non_missing:
                    return stats.min, stats.max
    return None


def label_range_violations(statistics: Any, splits: list[str], vocabulary: list[str]) -> list[str]:
    """Labels outside -1 .. len(vocabulary) - 1, per split, from the statistics."""
    found = []
    for split in splits:
        extremes = _label_extremes(statistics, split)
        if extremes is None:
            continue
        low, high = extremes
        if high > len(vocabulary) - 1 or low < features.UNLABELLED:
            found.append(
                f"split {split!r}: feature 'label': values {int(low)}..{int(high)}, but the label "
                f"vocabulary ({LABELS_FILE}) has {len(vocabulary)} names (labels "
                f"{features.UNLABELLED}..{len(vocabulary) - 1}, -1 = unlabelled)"
            )
    return found


def contract_violations(anomalies: Any, statistics: Any, examples_uri: str) -> list[str]:
    """Every violation of the data contract (see the module docstring), as sentences."""
    splits = artifact_utils.decode_split_names(anomalies.split_names)
    found = read_anomalies(anomalies.uri, splits)
    labels_path = os.path.join(examples_uri, LABELS_FILE)
    if fileio.exists(labels_path):
        vocabulary = fileio.read_text(labels_path).splitlines()
        stats_splits = artifact_utils.decode_split_names(statistics.split_names)
        found += label_range_violations(statistics, stats_splits, vocabulary)
    return found


class Executor(base_executor.BaseExecutor):
    """Fails the run on a broken data contract, else passes the schema on (see module docstring)."""

    def Do(  # noqa: N802 - TFX API.
        self,
        input_dict: dict[str, list],
        output_dict: dict[str, list],
        exec_properties: dict[str, Any],
    ) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        anomalies = artifact_utils.get_single_instance(input_dict[ANOMALIES_KEY])
        statistics = artifact_utils.get_single_instance(input_dict[STATISTICS_KEY])
        examples = artifact_utils.get_single_instance(input_dict[EXAMPLES_KEY])
        schema = artifact_utils.get_single_instance(input_dict[SCHEMA_KEY])
        gated = artifact_utils.get_single_instance(output_dict[OUTPUT_SCHEMA_KEY])
        found = contract_violations(anomalies, statistics, examples.uri)
        allow = bool(int(exec_properties.get(ALLOW_ANOMALIES_KEY) or 0))
        if found and not allow:
            raise SchemaContractError(
                f"the data breaks the schema in {len(found)} way(s), so the run stops before "
                "Transform and the Trainer:\n  " + "\n  ".join(found) + "\nFix the data, widen "
                "the schema (--schema_path), or pass --allow_anomalies to train anyway."
            )
        for line in found:
            logging.warning("SchemaGate (allow_anomalies): %s", line)
        tf.io.gfile.makedirs(gated.uri)
        for name in tf.io.gfile.listdir(schema.uri):
            source = os.path.join(schema.uri, name)
            if not tf.io.gfile.isdir(source):
                tf.io.gfile.copy(source, os.path.join(gated.uri, name), overwrite=True)
        gated.set_int_custom_property("num_anomalies", len(found))
        gated.set_string_custom_property("anomalies", json.dumps(found))
        logging.info("SchemaGate: %d anomalies; schema passed on to %s", len(found), gated.uri)
