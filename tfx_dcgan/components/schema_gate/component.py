"""SchemaGate: the data contract as a gate between validation and everything that trains.

    gate = SchemaGate(
        statistics=statistics_gen.outputs["statistics"],
        anomalies=example_validator.outputs["anomalies"],
        schema=import_schema_gen.outputs["schema"],
        examples=example_gen.outputs["examples"],
    )
    transform = Transform(..., schema=gate.outputs["gated_schema"])

Transform and the Trainer read the schema from the gate's output, so on every runner (local,
Kubeflow, Airflow: a plain data dependency, no `tfx.dsl.Cond`, which Airflow's launcher lacks)
they cannot start before the gate has passed the data, and do not start when it fails.
"""

from __future__ import annotations

from tfx_dcgan.components.schema_gate import executor

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

__all__ = ["SchemaGate", "SchemaGateSpec"]


class SchemaGateSpec(ComponentSpec):
    PARAMETERS = {executor.ALLOW_ANOMALIES_KEY: ExecutionParameter(type=int)}
    INPUTS = {
        executor.STATISTICS_KEY: ChannelParameter(type=standard_artifacts.ExampleStatistics),
        executor.ANOMALIES_KEY: ChannelParameter(type=standard_artifacts.ExampleAnomalies),
        executor.SCHEMA_KEY: ChannelParameter(type=standard_artifacts.Schema),
        executor.EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
    }
    OUTPUTS = {executor.OUTPUT_SCHEMA_KEY: ChannelParameter(type=standard_artifacts.Schema)}


class SchemaGate(base_component.BaseComponent):
    """Fails the run when the data breaks the schema (unless allow_anomalies); passes it on."""

    SPEC_CLASS = SchemaGateSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        statistics: types.BaseChannel,
        anomalies: types.BaseChannel,
        schema: types.BaseChannel,
        examples: types.BaseChannel,
        allow_anomalies: bool = False,
    ):
        """Builds the component.

        Args:
          statistics: StatisticsGen's output (the label range comes from it).
          anomalies: ExampleValidator's output against the curated schema.
          schema: the curated schema (copied to the output when the data passes).
          examples: the ExampleGen's output (its labels.txt is the label vocabulary).
          allow_anomalies: log the violations and go on instead of failing.
        """
        super().__init__(
            spec=SchemaGateSpec(
                statistics=statistics,
                anomalies=anomalies,
                schema=schema,
                examples=examples,
                allow_anomalies=int(bool(allow_anomalies)),
                gated_schema=types.Channel(type=standard_artifacts.Schema),
            )
        )
