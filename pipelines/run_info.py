"""What a pipeline run left in ML Metadata: component states and wall times, output locations.

Used by the local runner (to print where things are), the end-to-end test and bench/ingest.py.
Reads only ML Metadata (SQLite), no TFX import.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

__all__ = ["ComponentRun", "RunSummary", "open_store", "summarize_latest_run"]

_STATE_NAMES = {value: name for name, value in metadata_store_pb2.Execution.State.items()}


@dataclasses.dataclass
class ComponentRun:
    """One component's execution in a pipeline run."""

    node_id: str
    state: str  # COMPLETE, CACHED, FAILED, RUNNING, ...
    seconds: float  # MLMD create -> last update time of the execution.
    execution_id: int


@dataclasses.dataclass
class RunSummary:
    """The latest run of a pipeline."""

    run_id: str
    components: dict[str, ComponentRun]
    # Latest artifact URIs of the pipeline (from any run, so a cached run still finds them).
    model_run_dir: str | None
    serving_model_dir: str | None
    examples_uri: str | None
    pushed_models: dict[str, dict]  # name -> {"version", "destination"}
    # The feature probe (None when the pipeline has no FeatureProbeEvaluator).
    probe_accuracy: float | None = None
    blessed: bool | None = None
    blessing_reason: str = ""
    pushed: bool | None = None  # the latest PushedModel's verdict
    # Sample quality ({"fid_500": 85.3, "kid_500": 0.07, ...}; empty when FID was off).
    sample_quality: dict[str, float] = dataclasses.field(default_factory=dict)
    evaluation_uri: str | None = None
    # SchemaGate's verdict: the anomalies it let through (None when it has not passed the data).
    anomalies: list[str] | None = None

    @property
    def tensorboard_dir(self) -> str | None:
        return os.path.join(self.model_run_dir, "tensorboard") if self.model_run_dir else None

    @property
    def sample_grid(self) -> str | None:
        if not self.model_run_dir:
            return None
        return os.path.join(self.model_run_dir, "samples", "final.png")


def open_store(metadata_path: str) -> metadata_store.MetadataStore:
    """Opens an existing SQLite MLMD database."""
    if not os.path.exists(metadata_path):
        raise FileNotFoundError(f"no ML Metadata database at {metadata_path}")
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = metadata_path
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE
    return metadata_store.MetadataStore(config)


def _latest_artifact(store, pipeline_context_id: int, type_name: str, having: str = ""):
    """The newest artifact of `type_name` in the pipeline (with custom property `having`)."""
    artifacts = [
        a
        for a in store.get_artifacts_by_context(pipeline_context_id)
        if a.type == type_name and (not having or having in a.custom_properties)
    ]
    if not artifacts:
        return None
    return max(artifacts, key=lambda a: a.id)


def summarize_latest_run(
    metadata_path: str, pipeline_name: str, *, executed_only: bool = False
) -> RunSummary:
    """Summarises the most recent run of `pipeline_name`.

    Args:
      metadata_path: SQLite MLMD database.
      pipeline_name: the pipeline's name.
      executed_only: skip runs in which every component was served from the cache (to time the
        components).

    Raises:
      LookupError: the database holds no run of that pipeline.
    """
    store = open_store(metadata_path)
    pipeline_context = store.get_context_by_type_and_name("pipeline", pipeline_name)
    if pipeline_context is None:
        raise LookupError(f"no pipeline {pipeline_name!r} in {metadata_path}")
    run_contexts, by_run = _executions_by_run(store, pipeline_context.id)
    if not by_run:
        raise LookupError(f"pipeline {pipeline_name!r} has no runs in {metadata_path}")
    candidates = sorted(by_run, reverse=True)
    if executed_only:
        complete = metadata_store_pb2.Execution.COMPLETE
        candidates = [
            run_id
            for run_id in candidates
            if any(e.last_known_state == complete for _, e in by_run[run_id])
        ] or candidates
    latest_run = run_contexts[candidates[0]]
    model_run = _latest_artifact(store, pipeline_context.id, "ModelRun")
    model = _latest_artifact(store, pipeline_context.id, "Model")
    examples = [
        a
        for a in store.get_artifacts_by_context(pipeline_context.id)
        if a.type == "Examples" and "num_images" in a.custom_properties
    ]
    return RunSummary(
        run_id=latest_run.name,
        components=_component_runs(by_run[latest_run.id]),
        model_run_dir=model_run.uri if model_run else None,
        serving_model_dir=os.path.join(model.uri, "Format-Serving") if model else None,
        examples_uri=max(examples, key=lambda a: a.id).uri if examples else None,
        **_outcome(store, pipeline_context.id),
    )


def _executions_by_run(store: Any, pipeline_context_id: int) -> tuple[dict[int, Any], dict]:
    """(pipeline_run contexts by id, run context id -> [(node context name, execution)]).

    Executions belong to the pipeline, pipeline_run and node contexts: the newest pipeline_run
    context among the pipeline's executions is its latest run.
    """
    run_contexts = {c.id: c for c in store.get_contexts_by_type("pipeline_run")}
    node_contexts = {c.id: c.name for c in store.get_contexts_by_type("node")}
    by_run: dict[int, list] = {}
    for execution in store.get_executions_by_context(pipeline_context_id):
        contexts = store.get_contexts_by_execution(execution.id)
        node_ids = [node_contexts[c.id] for c in contexts if c.id in node_contexts]
        for context in contexts:
            if context.id in run_contexts and node_ids:
                by_run.setdefault(context.id, []).append((node_ids[0], execution))
    return run_contexts, by_run


def _component_runs(executions: list) -> dict[str, ComponentRun]:
    components: dict[str, ComponentRun] = {}
    for node_name, execution in executions:
        node_id = node_name.split(".", 1)[-1]
        components[node_id] = ComponentRun(
            node_id=node_id,
            state=_STATE_NAMES.get(execution.last_known_state, "UNKNOWN"),
            seconds=(execution.last_update_time_since_epoch - execution.create_time_since_epoch)
            / 1000.0,
            execution_id=execution.id,
        )
    return components


def _outcome(store: Any, pipeline_context_id: int) -> dict[str, Any]:
    """The RunSummary fields of the latest probe, blessing and push."""
    pushed = _latest_artifact(store, pipeline_context_id, "PushedModel")
    pushed_models = {}
    if pushed is not None and "pushed_models" in pushed.custom_properties:
        pushed_models = json.loads(pushed.custom_properties["pushed_models"].string_value)
    blessing = _latest_artifact(store, pipeline_context_id, "ModelBlessing")
    evaluation = _latest_artifact(store, pipeline_context_id, "ModelEvaluation")
    probe_accuracy = blessed = None
    blessing_reason = ""
    if evaluation is not None and "accuracy" in evaluation.custom_properties:
        probe_accuracy = evaluation.custom_properties["accuracy"].double_value
    if blessing is not None and "blessed" in blessing.custom_properties:
        blessed = bool(blessing.custom_properties["blessed"].int_value)
        if "reason" in blessing.custom_properties:
            blessing_reason = blessing.custom_properties["reason"].string_value
    gated = _latest_artifact(store, pipeline_context_id, "Schema", "num_anomalies")
    anomalies = None
    if gated is not None:
        anomalies = json.loads(gated.custom_properties["anomalies"].string_value or "[]")
    sample_quality = {}
    if evaluation is not None and "fid_name" in evaluation.custom_properties:
        props = evaluation.custom_properties
        name = props["fid_name"].string_value
        label = name[len("fid_") :]
        sample_quality = {
            key: props[key].double_value for key in props if key.startswith((name, f"kid_{label}"))
        }
    return {
        "pushed_models": pushed_models,
        "sample_quality": sample_quality,
        "anomalies": anomalies,
        "evaluation_uri": evaluation.uri if evaluation is not None else None,
        "probe_accuracy": probe_accuracy,
        "blessed": blessed,
        "blessing_reason": blessing_reason,
        "pushed": bool(pushed.custom_properties["pushed"].int_value)
        if pushed is not None and "pushed" in pushed.custom_properties
        else None,
    }


def format_summary(
    summary: RunSummary,
    metadata_path: str,
    probe_threshold: float,
    push_base: str,
    *,
    components: bool = True,
    timing_line: str = "",
) -> str:
    """The lines `tfx-dcgan pipeline` prints after a run: states, times, where everything is.

    Args:
      components: list each component's state and time (off where the console already showed
        each node's end line).
      timing_line: the run's wall time and orchestration overhead (node_events.format_overhead).
    """
    lines = [f"pipeline run {summary.run_id}:"]
    if components:
        for component in sorted(summary.components.values(), key=lambda c: c.execution_id):
            lines.append(
                f"  {component.node_id:<22} {component.state:<9} {component.seconds:7.1f} s"
            )
    if timing_line:
        lines.append(timing_line)
    lines += [
        f"sample grid:       {summary.sample_grid}",
        f"TensorBoard:       tensorboard --logdir {summary.tensorboard_dir}",
        f"ML Metadata:       {metadata_path}",
        f"examples:          {summary.examples_uri} (ingest_report.json, labels.txt)",
        f"model artifact:    {summary.serving_model_dir}",
    ]
    if summary.anomalies is not None:
        lines.append(
            "data contract:     "
            + (
                f"{len(summary.anomalies)} anomalies, let through by --allow_anomalies:"
                if summary.anomalies
                else "no anomalies (SchemaGate)"
            )
        )
        lines += [f"  {line}" for line in summary.anomalies]
    if summary.probe_accuracy is not None:
        lines.append(
            f"feature probe:     test accuracy {summary.probe_accuracy:.4f} "
            f"(threshold {probe_threshold}): " + ("BLESSED" if summary.blessed else "NOT BLESSED")
        )
    elif summary.blessed is False:
        lines.append(f"feature probe:     NOT BLESSED: {summary.blessing_reason}")
    fid_names = [key for key in summary.sample_quality if key.startswith("fid_")]
    if fid_names:
        name = min(fid_names, key=len)
        label = name[len("fid_") :]
        line = f"sample quality:    {name} = {summary.sample_quality[name]:.2f}"
        if f"kid_{label}" in summary.sample_quality:
            line += f", kid_{label} = {summary.sample_quality[f'kid_{label}']:.4f}"
        for key in sorted(fid_names):
            if key != name:
                line += f"; {key[len(name) + 1 :]}: {summary.sample_quality[key]:.2f}"
        lines.append(line + " (against the eval split; lower is better)")
    if summary.evaluation_uri:
        lines.append(f"evaluation:        {summary.evaluation_uri}/probe_metrics.json")
    if summary.pushed is False:
        lines.append("pushed:            nothing (the model was not blessed; see above)")
    for name, pushed in summary.pushed_models.items():
        lines.append(f"pushed {name + ':':<12} {pushed['destination']}")
    lines.append(
        f"serve: model base path {push_base} (TF Serving model names: "
        f"{', '.join(summary.pushed_models) or 'none pushed'})"
    )
    return "\n".join(lines)
