"""The tfx-dcgan pipeline as an Airflow DAG (TFX's AirflowDagRunner), options from a flagfile.

Drop this file into the deployment's dags/ folder (as `tfx_dcgan_dag.py`; the Dockerfile's
`airflow-worker` image does) and name the options in an absl flagfile:

    export TFX_DCGAN_FLAGFILE=/etc/tfx-dcgan/pipeline.flags     # e.g. --data_dir=/data/images
    export AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT=300             # parsing imports TFX (tens of s)
    airflow dags trigger tfx_dcgan

The flags are those of `tfx-dcgan pipeline` (same names, same defaults, same meaning: both build
their configs with `local_runner.configs_from_flags`) except --dry_run, and --output_dir defaults
to $AIRFLOW_HOME/tfx_dcgan. ML Metadata is the SQLite file <output_dir>/metadata.db, as locally; a
deployment with several workers points every worker at one database (change
`metadata_connection_config` to MySQL) and at shared storage for <output_dir>.

What Airflow changes (TFX's Airflow components run the legacy launcher inside each task): the
ExampleGen driver runs (span, version and input fingerprint for the cache); `tfx.dsl.Cond` is not
supported (this pipeline has none: whether the probe runs is decided when the DAG is built); and
runtime parameters must be strings (this pipeline has none: every value is fixed at parse time,
change the flagfile and the DAG is parsed again); and the legacy launcher names output artifacts
`<key>:<run id>`, which collides for ImportSchemaGen's and SchemaGen's `schema`, so the components
with the base driver get one that appends the component id. Tested with apache-airflow 2.10.3 (SQLite),
`dag.test()` in tests/test_airflow.py.
"""

from __future__ import annotations

import datetime
import os
from typing import Any

import tfx_dcgan  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from tfx_dcgan.cli import command as cli_command

from pipelines import local_runner

__all__ = ["COMMAND", "build_dag", "DAG", "PIPELINE"]

COMMAND = cli_command.Command(
    name="pipelines/airflow_dag.py ($TFX_DCGAN_FLAGFILE)",
    flag_names=tuple(name for name in local_runner.COMMAND.flag_names if name != "dry_run"),
    defaults={
        **local_runner.COMMAND.defaults,
        "output_dir": os.path.join(
            os.environ.get("AIRFLOW_HOME", os.path.expanduser("~/airflow")), "tfx_dcgan"
        ),
    },
    help_overrides=local_runner.COMMAND.help_overrides,
)


def _unique_artifact_name_driver() -> type:
    """The legacy launcher's BaseDriver, naming outputs `<key>:<run id>:<component id>`.

    TFX's legacy launcher (Airflow's) names every output artifact `<output key>:<run id>`.
    ImportSchemaGen and the inferred SchemaGen both write `schema` of type Schema, and ML Metadata
    refuses the second (UNIQUE (type, name)): the run fails at SchemaGen. The component id makes
    the names unique. Only the Airflow DAG sets it; the local and Kubeflow runners do not use
    these drivers.
    """
    from tfx.dsl.components.base import base_driver

    class UniqueArtifactNameDriver(base_driver.BaseDriver):
        def _prepare_output_artifacts(
            self,
            input_artifacts,
            output_dict,
            exec_properties,
            execution_id,
            pipeline_info,
            component_info,
        ):
            result = super()._prepare_output_artifacts(
                input_artifacts,
                output_dict,
                exec_properties,
                execution_id,
                pipeline_info,
                component_info,
            )
            for artifacts in result.values():
                for artifact in artifacts:
                    artifact.name = f"{artifact.name}:{component_info.component_id}"
            return result

    return UniqueArtifactNameDriver


def build_dag(dag_config: dict[str, Any] | None = None) -> tuple[Any, Any]:
    """(the Airflow DAG, the TFX pipeline it runs) from $TFX_DCGAN_FLAGFILE's options.

    Args:
      dag_config: Airflow DAG arguments; default: no schedule (runs are triggered), no catch-up.

    Raises:
      ConfigError: a bad option (named as its flag), or a flag `tfx-dcgan pipeline` does not take.
    """
    cli_command.parse_environment_flagfile(COMMAND)
    pipeline_config, experiment, metadata_path = local_runner.configs_from_flags()
    from tfx import v1 as tfx
    from tfx.orchestration.airflow.airflow_dag_runner import (
        AirflowDagRunner,
        AirflowPipelineConfig,
    )

    from pipelines import pipeline

    os.makedirs(os.path.dirname(metadata_path), exist_ok=True)
    built = pipeline.create_pipeline(
        pipeline_config,
        experiment,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            metadata_path
        ),
    )
    from tfx.dsl.components.base import base_driver

    unique_names = _unique_artifact_name_driver()
    for component in built.components:
        if component.driver_class is base_driver.BaseDriver:
            component.driver_class = unique_names
    dag_config = dag_config or {
        "schedule": None,
        "start_date": datetime.datetime(2026, 1, 1),
        "catchup": False,
    }
    dag = AirflowDagRunner(AirflowPipelineConfig(airflow_dag_config=dag_config)).run(built)
    return dag, built


# Airflow finds DAGs as module-level objects when it parses this file.
DAG, PIPELINE = build_dag()
