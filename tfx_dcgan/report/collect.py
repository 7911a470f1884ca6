"""Everything the run report shows, gathered from ML Metadata and the artifacts it points to.

`collect_run(output_dir, pipeline_name)` starts from `<output_dir>/metadata.db` alone: the run
summary of `pipelines.run_info` (component states and times, the latest artifacts' folders, the
probe's verdict, FID/KID, the pushed versions) plus what those artifact folders hold:

  * the Trainer's ModelRun: `samples/final.png` (the sample grid), `samples/step_*.png` (the
    training-progress strip) and `train_log.jsonl` (losses, D(x), D(G(z)) per logged step);
  * the FeatureProbeEvaluator's ModelEvaluation: `probe_metrics.json` (per-class accuracy,
    confusion matrix, FID/KID with baselines);
  * ImageExampleGen's Examples: `ingest_report.json` (counts by skip reason, first skipped files);
  * ExampleValidator's ExampleAnomalies: `Split-<name>/SchemaDiff.pb`;
  * the VersionedPusher's execution: its `push_base` (for the serving command).

A missing part is recorded as a note, never an exception: the report says what is not there.
No TFX import (the CLI regenerates a report in seconds).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from typing import Any

from tfx_dcgan import fileio

__all__ = [
    "METADATA_FILE",
    "TrainingLog",
    "ProgressFrame",
    "RunReport",
    "ReportError",
    "collect_run",
    "parse_train_log",
    "pick_progress_steps",
    "anomaly_lines",
]

METADATA_FILE = "metadata.db"
_STEP_PNG = re.compile(r"^step_(\d+)\.png$")
# At most this many grids in the training-progress strip (evenly spread, the last one included).
MAX_PROGRESS_FRAMES = 6


class ReportError(RuntimeError):
    """No report can be made: no ML Metadata database, or no run of the pipeline in it."""


@dataclasses.dataclass
class TrainingLog:
    """The Trainer's logged steps (train_log.jsonl), in step order, one value per step."""

    steps: list[int]
    disc_loss: list[float]
    gen_loss: list[float]
    d_real: list[float]
    d_fake: list[float]
    images_per_second: list[float]


@dataclasses.dataclass
class ProgressFrame:
    """One grid of G(fixed z) during training."""

    step: int
    png: bytes


@dataclasses.dataclass
class RunReport:
    """What the report shows; None / empty where the run has no such data (see `notes`)."""

    pipeline_name: str
    output_dir: str
    metadata_path: str
    summary: Any  # pipelines.run_info.RunSummary of the latest run
    # Component timings of the latest run that executed something, when the latest was all cached.
    executed_summary: Any = None
    sample_grid_png: bytes | None = None
    progress: list[ProgressFrame] = dataclasses.field(default_factory=list)
    training: TrainingLog | None = None
    evaluation: dict | None = None  # probe_metrics.json
    ingest: dict | None = None  # ingest_report.json
    validator_anomalies: list[str] | None = None  # ExampleValidator's, per split and feature
    push_base: str | None = None
    notes: dict[str, str] = dataclasses.field(default_factory=dict)  # section -> why it is empty

    @property
    def all_cached(self) -> bool:
        """Every component of the latest run was served from the cache."""
        states = {c.state for c in self.summary.components.values()}
        return bool(states) and states == {"CACHED"}


def parse_train_log(text: str) -> TrainingLog:
    """train_log.jsonl's lines -> a TrainingLog in step order (a resumed run's repeated steps:
    the last line wins; lines that are not JSON objects with a step are ignored)."""
    by_step: dict[int, dict] = {}
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and isinstance(entry.get("step"), int):
            by_step[entry["step"]] = entry
    steps = sorted(by_step)

    def column(name: str) -> list[float]:
        return [float(by_step[step].get(name, float("nan"))) for step in steps]

    return TrainingLog(
        steps=steps,
        disc_loss=column("disc_loss"),
        gen_loss=column("gen_loss"),
        d_real=column("d_real"),
        d_fake=column("d_fake"),
        images_per_second=column("images_per_second"),
    )


def pick_progress_steps(steps: list[int], limit: int = MAX_PROGRESS_FRAMES) -> list[int]:
    """At most `limit` of `steps` (sorted, unique), evenly spread, the first and last kept."""
    steps = sorted(set(steps))
    if len(steps) <= limit:
        return steps
    if limit == 1:
        return steps[-1:]
    picked = {steps[round(i * (len(steps) - 1) / (limit - 1))] for i in range(limit)}
    return sorted(picked)


def anomaly_lines(anomalies_uri: str, splits: list[str]) -> list[str]:
    """ExampleValidator's anomalies, "split 'train': feature 'x': description" per anomaly.

    The same reading as SchemaGate's `read_anomalies` (tfx_dcgan/components/schema_gate), which
    lives in a module that imports TFX; this one needs only the anomalies proto.
    """
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    found = []
    for split in splits:
        path = fileio.join(anomalies_uri, f"Split-{split}", "SchemaDiff.pb")
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


def collect_run(output_dir: str, pipeline_name: str) -> RunReport:
    """Gathers the latest run of `pipeline_name` from `<output_dir>/metadata.db`.

    Raises:
      ReportError: no metadata.db in `output_dir`, or no run of the pipeline in it (the message
        names the folder, the file and the pipeline).
    """
    from pipelines import run_info

    metadata_path = fileio.join(output_dir, METADATA_FILE)
    if not fileio.isfile(metadata_path):
        raise ReportError(
            f"no ML Metadata database {METADATA_FILE} in {output_dir!r}: is it the --output_dir "
            "of a pipeline run (`tfx-dcgan pipeline --output_dir=...`)?"
        )
    try:
        summary = run_info.summarize_latest_run(metadata_path, pipeline_name)
    except LookupError as error:
        known = sorted(
            c.name for c in run_info.open_store(metadata_path).get_contexts_by_type("pipeline")
        )
        raise ReportError(
            f"{error}; pipelines recorded there: {', '.join(known) or 'none'} (--pipeline_name)"
        ) from None
    report = RunReport(
        pipeline_name=pipeline_name,
        output_dir=output_dir,
        metadata_path=metadata_path,
        summary=summary,
    )
    if report.all_cached:
        executed = run_info.summarize_latest_run(metadata_path, pipeline_name, executed_only=True)
        if executed.run_id != summary.run_id:
            report.executed_summary = executed
    _read_model_run(report)
    _read_evaluation(report)
    _read_ingest(report)
    store = run_info.open_store(metadata_path)
    _read_validator(report, store)
    _read_push_base(report, store)
    return report


def _read_json(path: str) -> dict | None:
    if not fileio.exists(path):
        return None
    return json.loads(fileio.read_text(path))


def _read_model_run(report: RunReport) -> None:
    run_dir = report.summary.model_run_dir
    if not run_dir:
        for section in ("samples", "progress", "curves"):
            report.notes[section] = "no Trainer output (ModelRun) in ML Metadata: no training yet"
        return
    grid = fileio.join(run_dir, "samples", "final.png")
    if fileio.exists(grid):
        report.sample_grid_png = fileio.read_bytes(grid)
    else:
        report.notes["samples"] = f"no sample grid at {grid}"
    samples_dir = fileio.join(run_dir, "samples")
    by_step = {}
    if fileio.isdir(samples_dir):
        for name in fileio.listdir(samples_dir):
            match = _STEP_PNG.match(name)
            if match:
                by_step[int(match.group(1))] = fileio.join(samples_dir, name)
    report.progress = [
        ProgressFrame(step=step, png=fileio.read_bytes(by_step[step]))
        for step in pick_progress_steps(list(by_step))
    ]
    if not report.progress:
        report.notes["progress"] = f"no step_*.png grids in {samples_dir}"
    elif len(report.progress) == 1:
        report.notes["progress"] = (
            "only the final grid: the Trainer wrote no intermediate grids (--sample_every=0 or "
            "fewer steps than --sample_every)"
        )
    log_path = fileio.join(run_dir, "train_log.jsonl")
    if fileio.exists(log_path):
        report.training = parse_train_log(fileio.read_text(log_path))
        if not report.training.steps:
            report.notes["curves"] = f"{log_path} holds no logged step"
    else:
        report.notes["curves"] = f"no training log at {log_path}"


def _read_evaluation(report: RunReport) -> None:
    uri = report.summary.evaluation_uri
    if not uri:
        report.notes["probe"] = "no FeatureProbeEvaluator output in ML Metadata (--noprobe?)"
        report.notes["quality"] = report.notes["probe"]
        return
    path = fileio.join(uri, "probe_metrics.json")
    report.evaluation = _read_json(path)
    if report.evaluation is None:
        report.notes["probe"] = report.notes["quality"] = f"no {path}"
        return
    if not report.evaluation.get("probe"):
        report.notes["probe"] = report.evaluation.get("reason") or "the probe was skipped"
    if not report.evaluation.get("sample_quality"):
        report.notes["quality"] = "FID/KID were not measured in this run (--nofid)"


def _read_ingest(report: RunReport) -> None:
    uri = report.summary.examples_uri
    if not uri:
        report.notes["ingest"] = "no ingested Examples in ML Metadata"
        return
    path = fileio.join(uri, "ingest_report.json")
    report.ingest = _read_json(path)
    if report.ingest is None:
        report.notes["ingest"] = f"no ingest report at {path}"


def _latest(store: Any, pipeline_name: str, type_name: str) -> Any:
    context = store.get_context_by_type_and_name("pipeline", pipeline_name)
    found = [a for a in store.get_artifacts_by_context(context.id) if a.type == type_name]
    return max(found, key=lambda a: a.id) if found else None


def _read_validator(report: RunReport, store: Any) -> None:
    artifact = _latest(store, report.pipeline_name, "ExampleAnomalies")
    if artifact is None:
        report.notes["anomalies"] = "no ExampleValidator output in ML Metadata"
        return
    splits = json.loads(artifact.properties["split_names"].string_value or "[]")
    report.validator_anomalies = anomaly_lines(artifact.uri, splits)


def _read_push_base(report: RunReport, store: Any) -> None:
    context = store.get_context_by_type_and_name("pipeline", report.pipeline_name)
    pushers = [
        e for e in store.get_executions_by_context(context.id) if "push_base" in e.custom_properties
    ]
    if pushers:
        report.push_base = (
            max(pushers, key=lambda e: e.id).custom_properties["push_base"].string_value
        )
    elif report.summary.pushed_models:
        destination = next(iter(report.summary.pushed_models.values()))["destination"]
        report.push_base = os.path.dirname(os.path.dirname(destination.rstrip("/")))
    if not report.summary.pushed_models:
        report.notes["serving"] = (
            "nothing pushed: " + (report.summary.blessing_reason or "no push recorded")
            if report.summary.pushed is False or report.summary.blessed is False
            else "no push recorded in ML Metadata"
        )
