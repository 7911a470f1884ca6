"""Each pipeline node's start and end as LocalDagRunner runs it, and how long its own work took.

LocalDagRunner runs the nodes one after another in this process, each through a
`tfx.orchestration.portable.launcher.Launcher`: `launch()` resolves inputs, registers the
execution in ML Metadata, checks the cache, runs the executor (`_run_executor`) and publishes.
`watch_nodes` wraps those two methods for the length of one run (and puts them back after), so
it sees each node start and end, in the pipeline's order, with no polling of ML Metadata while
the node writes to it. After a node ends, its execution's state and output artifacts are read
from ML Metadata for its end line (images ingested and skipped, training steps and images/s,
probe accuracy and FID, the versions pushed).

Orchestration overhead = wall time from process start to the end of the run, less the sum of
the executors' own time: Python and TFX start-up, compiling the pipeline, and each launcher's
input resolution, caching and publishing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from tfx_dcgan import progress

__all__ = [
    "NodeRun",
    "RunTiming",
    "format_node_end",
    "format_node_start",
    "format_overhead",
    "node_figure",
    "process_start_time",
    "watch_nodes",
]


@dataclasses.dataclass
class NodeRun:
    """One node of the run as the watcher saw it."""

    node_id: str
    index: int  # 1-based, in the pipeline's order
    count: int
    state: str = "RUNNING"  # COMPLETE, CACHED, FAILED, SKIPPED
    seconds: float = 0.0  # the launcher's wall time
    work_seconds: float = 0.0  # the executor's own time (0 when cached)
    figure: str = ""
    error: str = ""


@dataclasses.dataclass
class RunTiming:
    """Where a run's wall time went."""

    process_start: float  # epoch seconds
    run_start: float = 0.0
    run_end: float = 0.0
    nodes: dict[str, NodeRun] = dataclasses.field(default_factory=dict)

    @property
    def wall_seconds(self) -> float:
        return max(0.0, (self.run_end or time.time()) - self.process_start)

    @property
    def work_seconds(self) -> float:
        return sum(node.work_seconds for node in self.nodes.values())

    @property
    def startup_seconds(self) -> float:
        """Process start to the first node (interpreter, imports, compiling the pipeline)."""
        return max(0.0, (self.run_start or time.time()) - self.process_start)

    @property
    def overhead_seconds(self) -> float:
        return max(0.0, self.wall_seconds - self.work_seconds)

    @property
    def overhead_fraction(self) -> float:
        return self.overhead_seconds / self.wall_seconds if self.wall_seconds else 0.0


def process_start_time() -> float:
    """This process's start (epoch seconds) from /proc; now where /proc is missing."""
    try:
        with open("/proc/self/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        ticks = int(fields[19])  # field 22, starttime, counted after the ")" of the name
        with open("/proc/stat") as handle:
            boot = next(int(line.split()[1]) for line in handle if line.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return time.time()


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes} min {rest:02d} s"


def format_node_start(node: NodeRun) -> str:
    """`[ 3/10] StatisticsGen          started`."""
    return f"[{node.index:>2}/{node.count}] {node.node_id:<22} started"


def format_node_end(node: NodeRun) -> str:
    """`[ 3/10] StatisticsGen          COMPLETE  12.3 s  <figure>`."""
    line = f"[{node.index:>2}/{node.count}] {node.node_id:<22} {node.state:<8} {_duration(node.seconds):>8}"
    detail = node.figure or node.error
    return f"{line}  {detail}" if detail else line


def format_overhead(timing: RunTiming) -> str:
    """The summary's timing line: wall time, the components' own work and the overhead."""
    launchers = sum(max(0.0, n.seconds - n.work_seconds) for n in timing.nodes.values())
    return (
        f"wall time:         {_duration(timing.wall_seconds)}; components' own work "
        f"{_duration(timing.work_seconds)}; orchestration overhead "
        f"{_duration(timing.overhead_seconds)} ({timing.overhead_fraction:.0%}: start-up and "
        f"imports {_duration(timing.startup_seconds)}, launchers {_duration(launchers)})"
    )


# Figures -------------------------------------------------------------------------------------


@dataclasses.dataclass
class OutputArtifact:
    """An output artifact as the end line needs it: type, URI and custom properties."""

    type_name: str
    uri: str
    properties: dict[str, Any]


def _training_figure(model_run_uri: str, read_text: Callable[[str], str]) -> str:
    try:
        text = read_text(os.path.join(model_run_uri, "train_log.jsonl"))
    except (OSError, ValueError):
        return ""
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    rates = [
        float(line["images_per_second"])
        for line in lines
        if isinstance(line.get("images_per_second"), (int, float))
        and line["images_per_second"] == line["images_per_second"]  # not NaN
    ]
    figure = f"{lines[-1]['step']} steps"
    if rates:
        figure += f", {sum(rates) / len(rates):.0f} img/s"
    if "disc_loss" in lines[-1] and "gen_loss" in lines[-1]:
        figure += f", d_loss {lines[-1]['disc_loss']:.3f} g_loss {lines[-1]['gen_loss']:.3f}"
    return figure


def node_figure(
    artifacts: Sequence[OutputArtifact], read_text: Callable[[str], str] | None = None
) -> str:
    """The figure that matters of a node's outputs ("" when there is none to tell).

    Examples (ImageExampleGen): images ingested, converted and skipped; ModelRun (Trainer): steps
    and images/s from train_log.jsonl; ModelEvaluation: probe accuracy and FID; ModelBlessing:
    the verdict; PushedModel: the versions pushed; a gated Schema (SchemaGate): its anomalies.
    """
    if read_text is None:

        def read_text(path: str) -> str:
            with open(path) as handle:
                return handle.read()

    parts = []
    by_type = {artifact.type_name: artifact for artifact in artifacts}
    examples = by_type.get("Examples")
    if examples is not None and "num_images" in examples.properties:
        props = examples.properties
        text = f"{props['num_images']:,} images"
        if props.get("num_converted"):
            text += f" ({props['num_converted']} converted)"
        text += f", {props.get('num_skipped', 0)} skipped"
        reasons = [
            f"{key[len('num_skipped_') :]} {value}"
            for key, value in sorted(props.items())
            if key.startswith("num_skipped_") and value
        ]
        if reasons:
            text += f" ({', '.join(reasons)}; listed in ingest_report.json)"
        parts.append(text)
    if "ModelRun" in by_type:
        parts.append(_training_figure(by_type["ModelRun"].uri, read_text))
    evaluation = by_type.get("ModelEvaluation")
    if evaluation is not None:
        props = evaluation.properties
        if "accuracy" in props:
            parts.append(f"probe accuracy {props['accuracy']:.3f}")
        name = props.get("fid_name")
        if name and name in props:
            parts.append(f"{name} {props[name]:.1f}")
    blessing = by_type.get("ModelBlessing")
    if blessing is not None and "blessed" in blessing.properties:
        parts.append("BLESSED" if blessing.properties["blessed"] else "NOT BLESSED")
    pushed = by_type.get("PushedModel")
    if pushed is not None and "pushed" in pushed.properties:
        if pushed.properties["pushed"]:
            models = json.loads(pushed.properties.get("pushed_models") or "{}")
            parts.append(
                "pushed "
                + ", ".join(f"{name} v{record['version']}" for name, record in models.items())
            )
        else:
            parts.append("nothing pushed (not blessed)")
    schema = by_type.get("Schema")
    if schema is not None and "num_anomalies" in schema.properties:
        parts.append(f"{schema.properties['num_anomalies']} anomalies")
    return "; ".join(part for part in parts if part)


def _read_execution(metadata_path: str, execution_id: int) -> tuple[str, list[OutputArtifact]]:
    """(state name, output artifacts) of one execution, from ML Metadata."""
    from ml_metadata.proto import metadata_store_pb2

    from pipelines import run_info

    store = run_info.open_store(metadata_path)
    (execution,) = store.get_executions_by_id([execution_id])
    state = metadata_store_pb2.Execution.State.Name(execution.last_known_state)
    outputs = {metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT}
    ids = [
        event.artifact_id
        for event in store.get_events_by_execution_ids([execution_id])
        if event.type in outputs
    ]
    artifacts = store.get_artifacts_by_id(ids) if ids else []
    type_names = {
        t.id: t.name for t in store.get_artifact_types_by_id({a.type_id for a in artifacts})
    }
    return state, [
        OutputArtifact(
            type_name=type_names.get(artifact.type_id, ""),
            uri=artifact.uri,
            properties={
                key: getattr(value, value.WhichOneof("value"))
                for key, value in artifact.custom_properties.items()
                if value.WhichOneof("value") in ("int_value", "double_value", "string_value")
            },
        )
        for artifact in artifacts
    ]


# The watcher ---------------------------------------------------------------------------------


def _short_error(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    text = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return text if len(text) <= 160 else text[:157] + "..."


@contextlib.contextmanager
def watch_nodes(
    node_ids: Sequence[str],
    metadata_path: str,
    *,
    timing: RunTiming | None = None,
    say: Callable[[str], None] = progress.say,
) -> Iterator[RunTiming]:
    """Reports each node's start and end (through `say`) while a LocalDagRunner run is inside.

    Args:
      node_ids: the pipeline's node ids in its order (`[c.id for c in pipeline.components]`).
      metadata_path: the run's SQLite ML Metadata database (read after each node ends).
      timing: the run's timing record (its `process_start` set); a new one when None.
      say: where the lines go (the console).

    Yields:
      The RunTiming, filled in as the nodes run; `run_end` is set when the block ends.

    Raises:
      RuntimeError: this TFX's Launcher lacks the methods the watcher wraps (a TFX upgrade).
    """
    from tfx.orchestration.portable import launcher as launcher_lib

    launcher_class = launcher_lib.Launcher
    for name in ("launch", "_run_executor"):
        if not callable(getattr(launcher_class, name, None)):
            raise RuntimeError(
                f"tfx.orchestration.portable.launcher.Launcher has no {name}(): the node watcher "
                "(pipelines/node_events.py) was written for TFX 1.16"
            )
    timing = timing or RunTiming(process_start=process_start_time())
    order = {node_id: index for index, node_id in enumerate(node_ids, 1)}
    original_launch, original_run_executor = launcher_class.launch, launcher_class._run_executor

    def launch(launcher, *args, **kwargs):
        node_id = launcher._pipeline_node.node_info.id
        node = NodeRun(node_id, order.get(node_id, len(order) + 1), len(order))
        timing.nodes[node_id] = node
        if not timing.run_start:
            timing.run_start = time.time()
        say(format_node_start(node))
        started = time.perf_counter()
        try:
            execution_info = original_launch(launcher, *args, **kwargs)
        except BaseException as error:
            node.seconds, node.state = time.perf_counter() - started, "FAILED"
            node.error = _short_error(error)
            say(format_node_end(node))
            raise
        node.seconds = time.perf_counter() - started
        execution_id = getattr(execution_info, "execution_id", None)
        if execution_id is None:
            node.state = "SKIPPED"
        else:
            try:
                node.state, artifacts = _read_execution(metadata_path, execution_id)
                node.figure = node_figure(artifacts)
            except Exception as error:  # noqa: BLE001 - the line must not fail the run
                node.state = node.state if node.state != "RUNNING" else "COMPLETE"
                node.figure = f"(figures unavailable: {_short_error(error)})"
        say(format_node_end(node))
        return execution_info

    def run_executor(launcher, *args, **kwargs):
        started = time.perf_counter()
        try:
            return original_run_executor(launcher, *args, **kwargs)
        finally:
            node = timing.nodes.get(launcher._pipeline_node.node_info.id)
            if node is not None:
                node.work_seconds += time.perf_counter() - started

    launcher_class.launch, launcher_class._run_executor = launch, run_executor
    try:
        yield timing
    finally:
        launcher_class.launch, launcher_class._run_executor = original_launch, original_run_executor
        timing.run_end = time.time()
