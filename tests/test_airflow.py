"""The Airflow DAG, run once for real: DagBag parse, `dag.test()`, ML Metadata and pushes checked.

`airflow db migrate` makes a fresh SQLite Airflow database; tests/scripts/airflow_dag_run.py
loads pipelines/airflow_dag.py through Airflow's DagBag (options from $TFX_DCGAN_FLAGFILE, as in a
deployment) and runs it with `dag.test()` in one fresh process. The same flagfile given to the
local runner (`--dry_run`) must build the same pipeline.
"""

from __future__ import annotations

import contextlib
import io
import json
import os

import tfx_dcgan  # noqa: F401

import pytest
from absl.testing import flagsaver
from conftest import PIPELINE_EDGES, run_python, write_image_folder

pytestmark = pytest.mark.slow

PIPELINE_NAME = "airflow_dcgan"
EDGES = PIPELINE_EDGES


@pytest.fixture(scope="module")
def airflow_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("airflow")
    data_dir = str(root / "images")
    write_image_folder(os.path.join(data_dir, "train"), {"cat": 8, "dog": 8}, size=16)
    write_image_folder(os.path.join(data_dir, "test"), {"cat": 3, "dog": 3}, size=16, seed=1)
    output_dir = str(root / "output")
    flagfile = str(root / "pipeline.flags")
    with open(flagfile, "w") as stream:
        stream.write(
            "\n".join(
                [
                    f"--data_dir={data_dir}",
                    f"--output_dir={output_dir}",
                    f"--pipeline_name={PIPELINE_NAME}",
                    "--layout=split_subroots",
                    "--image_size=16",
                    "--z_dim=16",
                    "--ngf=8",
                    "--ndf=8",
                    "--batch_size=8",
                    "--steps=2",
                    "--log_every=1",
                    "--sample_every=0",
                    "--checkpoint_every=2",
                    "--sample_grid=4",
                    "--beam_workers=1",
                    "--probe_threshold=0.0",
                ]
            )
            + "\n"
        )
    env = {
        "AIRFLOW_HOME": str(root / "airflow_home"),
        "TFX_DCGAN_FLAGFILE": flagfile,
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "600",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
    }
    migrated = run_python(["-m", "airflow", "db", "migrate"], timeout=300, env=env)
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    out = str(root / "result.json")
    completed = run_python(["tests/scripts/airflow_dag_run.py", out], timeout=1200, env=env)
    assert completed.returncode == 0, completed.stderr[-5000:]
    with open(out) as stream:
        result = json.load(stream)
    result.update(flagfile=flagfile, output_dir=output_dir)
    return result


def test_the_dag_is_the_pipeline(airflow_run):
    assert airflow_run["dag_id"] == PIPELINE_NAME
    assert airflow_run["structure"] == EDGES


def test_dag_test_runs_every_task_to_success(airflow_run):
    assert airflow_run["dag_run_state"] == "success"
    assert airflow_run["task_states"] == {task: "success" for task in EDGES}


def test_every_node_is_complete_in_mlmd(airflow_run):
    from ml_metadata import metadata_store
    from ml_metadata.proto import metadata_store_pb2

    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = os.path.join(airflow_run["output_dir"], "metadata.db")
    store = metadata_store.MetadataStore(config)
    executions = store.get_executions()
    types = {t.id: t.name for t in store.get_execution_types()}
    by_component: dict[str, set[str]] = {}
    for execution in executions:
        component = execution.properties["component_id"].string_value or types[execution.type_id]
        state = metadata_store_pb2.Execution.State.Name(execution.last_known_state)
        by_component.setdefault(component, set()).add(state)
    assert by_component == {task: {"COMPLETE"} for task in EDGES}


def test_each_pushed_version_holds_a_saved_model(airflow_run):
    serving = os.path.join(airflow_run["output_dir"], "serving")
    for model in ("generator", "discriminator_features"):
        versions = os.listdir(os.path.join(serving, model))
        assert versions, model
        for version in versions:
            assert os.path.isfile(os.path.join(serving, model, version, "saved_model.pb"))


def test_the_flagfile_builds_the_same_pipeline_as_the_local_runner(airflow_run, monkeypatch):
    from pipelines import local_runner

    monkeypatch.setenv("TFX_DCGAN_FLAGFILE", airflow_run["flagfile"])
    stdout = io.StringIO()
    with flagsaver.flagsaver(), contextlib.redirect_stdout(stdout):
        with pytest.raises(SystemExit) as exit_info:
            local_runner.run(["tfx-dcgan pipeline", "--dry_run"])
    assert (exit_info.value.code or 0) == 0
    local = json.loads(stdout.getvalue()[stdout.getvalue().index("{") :])
    assert local == airflow_run["pipeline"]
