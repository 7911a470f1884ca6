"""FeatureProbeEvaluator's outcome: the blessing decision, the files it writes and the MLMD
custom properties it records (plain functions over the payload `executor` builds)."""

from __future__ import annotations

import json
import os
from typing import Any

from tfx_dcgan.components.feature_probe_evaluator.settings import ProbeSettings

import tensorflow as tf

__all__ = [
    "METRICS_FILE",
    "FEATURE_ROWS_FILE",
    "FEATURE_ROWS",
    "BLESSED_FILE",
    "NOT_BLESSED_FILE",
    "BLESSED_PROPERTY",
    "decide_blessing",
    "write_outcome",
    "record_properties",
]

METRICS_FILE = "probe_metrics.json"
# (encoded test images, their feature rows through the exported extractor, labels).
FEATURE_ROWS_FILE = "feature_rows.npz"
FEATURE_ROWS = 32
# The names TFX's Evaluator writes (tfx.components.evaluator.constants).
BLESSED_FILE = "BLESSED"
NOT_BLESSED_FILE = "NOT_BLESSED"
BLESSED_PROPERTY = "blessed"


def decide_blessing(payload: dict[str, Any], settings: ProbeSettings) -> tuple[bool, str]:
    """(blessed, reason): probe accuracy >= threshold and, with a ceiling, FID <= ceiling."""
    if payload["status"] != "ok":
        return False, payload["reason"]
    accuracy = payload["probe"]["accuracy"]
    blessed = accuracy >= settings.accuracy_threshold
    comparison = ">=" if blessed else "<"
    reasons = [
        f"probe test accuracy {accuracy:.4f} {comparison} threshold "
        f"{settings.accuracy_threshold:.4f}"
    ]
    quality = payload.get("sample_quality")
    if settings.fid_ceiling and quality:
        fid = quality[quality["name"]]
        below = fid <= settings.fid_ceiling
        blessed = blessed and below
        reasons.append(
            f"{quality['name']} {fid:.2f} {'<=' if below else '>'} ceiling {settings.fid_ceiling:g}"
        )
    return blessed, "; ".join(reasons) + (": blessed" if blessed else ": not blessed")


def write_outcome(payload: dict[str, Any], evaluation_uri: str, blessing_uri: str) -> None:
    """Writes probe_metrics.json and the BLESSED / NOT_BLESSED marker file (holding the reason)."""
    tf.io.gfile.makedirs(evaluation_uri)
    tf.io.gfile.makedirs(blessing_uri)
    with tf.io.gfile.GFile(os.path.join(evaluation_uri, METRICS_FILE), "w") as stream:
        stream.write(json.dumps(payload, indent=2, allow_nan=False) + "\n")
    marker = BLESSED_FILE if payload["blessed"] else NOT_BLESSED_FILE
    with tf.io.gfile.GFile(os.path.join(blessing_uri, marker), "w") as stream:
        stream.write(payload["reason"] + "\n")


def record_properties(payload: dict[str, Any], evaluation: Any, blessing: Any) -> None:
    """The sample-quality figures as MLMD custom properties of both artifacts, named with the
    count (`fid_500`), plus `fid` / `fid_count` / `fid_name` for queries that span counts."""
    quality = payload.get("sample_quality")
    if not quality:
        return
    name = quality["name"]
    label = name[len("fid_") :]
    for target in (evaluation, blessing):
        for key in (name, f"kid_{label}", f"kid_{label}_std"):
            target.set_float_custom_property(key, float(quality[key]))
        target.set_float_custom_property("fid", float(quality[name]))
        target.set_int_custom_property("fid_count", int(quality["count"]))
        target.set_string_custom_property("fid_name", name)
    for baseline, figures in quality.get("baselines", {}).items():
        fid_key = next(key for key in figures if key.startswith("fid_"))
        evaluation.set_float_custom_property(f"{fid_key}_{baseline}", float(figures[fid_key]))
