"""The Kubeflow V2 spec as a cluster would see it: compiled, inspected, and two tasks run.

The spec is compiled from a throwaway copy of the checkout that is deleted before anything runs,
so a path of the compiling machine left in the JSON fails here. Two compiled tasks
(ImportSchemaGen, then ImageExampleGen) run from their container command lines, the way the KFP
launcher runs them: the task's constant parameters copied into an ExecutorInput, output artifacts
under a local pipeline root, `{{$}}` replaced, the command run with this interpreter in a fresh
process (with TF_USE_LEGACY_KERAS=1, which the image sets). The ExampleGen driver, the pre-cache
check Vertex AI runs, fingerprints the input files.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import tfx_dcgan  # noqa: F401

import numpy as np
import pytest
from conftest import PIPELINE_EDGES, REPO_ROOT, write_corrupt_files, write_image_folder
from PIL import Image

pytestmark = pytest.mark.slow

IMAGE = "example.org/tfx-dcgan:ci"
TASKS = PIPELINE_EDGES
EXECUTORS = {
    "ImageExampleGen": "tfx_dcgan.components.image_example_gen.executor.Executor",
    "ImportSchemaGen": "tfx_dcgan.components.import_schema_gen.executor.Executor",
    "FeatureProbeEvaluator": "tfx_dcgan.components.feature_probe_evaluator.executor.Executor",
    "VersionedPusher": "tfx_dcgan.components.versioned_pusher.executor.Executor",
    "Trainer": "tfx.components.trainer.executor.GenericExecutor",
    "Transform": "tfx.components.transform.executor.Executor",
    "StatisticsGen": "tfx.components.statistics_gen.executor.Executor",
    "SchemaGen": "tfx.components.schema_gen.executor.Executor",
    "ExampleValidator": "tfx.components.example_validator.executor.Executor",
    "SchemaGate": "tfx_dcgan.components.schema_gate.executor.Executor",
}
# The local runner's Beam defaults (DirectRunner, one worker process per core), then the image.
BEAM_ARGS = [
    "--direct_running_mode=multi_processing",
    "--direct_num_workers=0",
    f"--sdk_container_image={IMAGE}",
]
RUN_EXECUTOR = "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor"
GOOD_IMAGES = {"train": 2 * 6, "eval": 2 * 3}


def _copy_checkout(destination: str) -> None:
    ignored = shutil.ignore_patterns(".venv", ".git", "runs", "build", "__pycache__", "*.egg-info")
    shutil.copytree(REPO_ROOT, destination, ignore=ignored, symlinks=True)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """(spec JSON, the data folder, the throwaway checkout's former path)."""
    data_dir = str(tmp_path_factory.mktemp("kfp_images"))
    write_image_folder(os.path.join(data_dir, "train"), {"a": 6, "b": 6}, size=16)
    write_image_folder(os.path.join(data_dir, "test"), {"a": 3, "b": 3}, size=16, seed=1)
    write_corrupt_files(os.path.join(data_dir, "train", "a"))
    checkout = str(tmp_path_factory.mktemp("kfp_checkout") / "tfx-dcgan")
    _copy_checkout(checkout)
    output_file = str(tmp_path_factory.mktemp("kfp_spec") / "spec.json")
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines.kubeflow_v2_runner",
            f"--default_image={IMAGE}",
            "--pipeline_root=gs://bucket/root",
            f"--data_dir={data_dir}",
            "--layout=split_subroots",
            "--probe_threshold=0.25",
            "--image_size=16",
            "--steps=3",
            f"--output_file={output_file}",
        ],
        cwd=checkout,
        env={**os.environ, "PYTHONPATH": checkout},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "cache off for ImageExampleGen" in completed.stdout
    shutil.rmtree(checkout)
    with open(output_file) as stream:
        text = stream.read()
    return json.loads(text), text, data_dir, checkout


def _spec(compiled) -> dict:
    return compiled[0]["pipelineSpec"]


def _executor(spec: dict, task: str) -> dict:
    label = spec["root"]["dag"]["tasks"][task]["componentRef"]["name"]
    executor_label = spec["components"][label]["executorLabel"]
    return spec["deploymentSpec"]["executors"][executor_label]["container"]


def test_every_component_and_edge(compiled):
    tasks = _spec(compiled)["root"]["dag"]["tasks"]
    assert sorted(tasks) == sorted(TASKS)
    for name, upstream in TASKS.items():
        assert sorted(tasks[name].get("dependentTasks", [])) == upstream, name


def test_the_probe_threshold_gates_the_push(compiled):
    tasks = _spec(compiled)["root"]["dag"]["tasks"]
    threshold = tasks["FeatureProbeEvaluator"]["inputs"]["parameters"]["accuracy_threshold"]
    assert threshold["runtimeValue"]["constantValue"] == {"doubleValue": 0.25}
    blessing = tasks["VersionedPusher"]["inputs"]["artifacts"]["model_blessing"]
    assert blessing["taskOutputArtifact"] == {
        "outputArtifactKey": "blessing",
        "producerTask": "FeatureProbeEvaluator",
    }
    model = tasks["VersionedPusher"]["inputs"]["artifacts"]["model"]["taskOutputArtifact"]
    assert model["producerTask"] == "Trainer"


def test_every_task_runs_the_image_with_its_executor_and_beam_args(compiled):
    spec = _spec(compiled)
    for task in TASKS:
        container = _executor(spec, task)
        assert container["image"] == IMAGE, task
        assert container["command"] == ["python", "-m", RUN_EXECUTOR], task
        assert container["args"] == [
            "--executor_class_path",
            EXECUTORS[task],
            "--json_serialized_invocation_args",
            "{{$}}",
            *BEAM_ARGS,
        ], task
    hook = _executor(spec, "ImageExampleGen")["lifecycle"]["preCacheCheck"]
    assert hook["command"][-1] == "tfx.orchestration.kubeflow.v2.file_based_example_gen.driver"


def test_the_ingest_is_never_served_from_the_kfp_cache(compiled):
    tasks = _spec(compiled)["root"]["dag"]["tasks"]
    assert tasks["ImageExampleGen"]["cachingOptions"] == {"enableCache": False}
    for name in TASKS:
        if name != "ImageExampleGen":
            assert tasks[name]["cachingOptions"] == {"enableCache": True}, name


def test_the_spec_names_no_path_of_the_compiling_machine(compiled):
    _, text, _, checkout = compiled
    assert checkout not in text
    assert REPO_ROOT not in text
    schema = _spec(compiled)["root"]["dag"]["tasks"]["ImportSchemaGen"]["inputs"]["parameters"]
    assert schema["schema_file"]["runtimeValue"]["constantValue"] == {
        "stringValue": "package:tfx_dcgan/schema/schema.pbtxt"
    }
    splits = json.loads(
        _spec(compiled)["root"]["dag"]["tasks"]["ImageExampleGen"]["inputs"]["parameters"][
            "input_config"
        ]["runtimeValue"]["constantValue"]["stringValue"]
    )["splits"]
    assert splits == [
        {"name": "train", "pattern": "train/*/*"},
        {"name": "eval", "pattern": "test/*/*"},
    ]


def _executor_input(spec: dict, task: str, root: str, inputs: dict | None = None) -> dict:
    """The ExecutorInput the launcher would pass: constants, input artifacts, output artifacts."""
    task_spec = spec["root"]["dag"]["tasks"][task]
    component = spec["components"][task_spec["componentRef"]["name"]]
    parameters = {
        name: value["runtimeValue"]["constantValue"]
        for name, value in task_spec["inputs"].get("parameters", {}).items()
    }
    outputs = {}
    for name, definition in component["outputDefinitions"]["artifacts"].items():
        uri = os.path.join(root, task, name)
        outputs[name] = {
            "artifacts": [
                {"name": f"{task}-{name}", "uri": uri, "type": definition["artifactType"]}
            ]
        }
    return {
        "inputs": {"parameters": parameters, "artifacts": inputs or {}},
        "outputs": {
            "artifacts": outputs,
            "outputFile": os.path.join(root, task, "executor_output.json"),
        },
    }


def _run_task(spec: dict, task: str, executor_input: dict, tmp_dir: str) -> None:
    container = _executor(spec, task)
    command = [sys.executable, *container["command"][1:]]
    args = [json.dumps(executor_input) if a == "{{$}}" else a for a in container["args"]]
    completed = subprocess.run(
        [*command, *args],
        env={**os.environ, "TF_USE_LEGACY_KERAS": "1", "TMPDIR": tmp_dir},
        cwd=tmp_dir,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, f"{task}: {completed.stderr[-4000:]}"


def test_two_compiled_tasks_run_from_their_container_commands(compiled, tmp_path):
    import tensorflow as tf

    spec = _spec(compiled)
    root = str(tmp_path / "pipeline_root")
    scratch = str(tmp_path / "tmp")
    os.makedirs(scratch)

    _run_task(spec, "ImportSchemaGen", _executor_input(spec, "ImportSchemaGen", root), scratch)
    with open(os.path.join(root, "ImportSchemaGen", "schema", "schema.pbtxt")) as stream:
        imported = stream.read()
    with open(os.path.join(REPO_ROOT, "tfx_dcgan", "schema", "schema.pbtxt")) as stream:
        assert imported == stream.read()

    _run_task(spec, "ImageExampleGen", _executor_input(spec, "ImageExampleGen", root), scratch)
    examples = os.path.join(root, "ImageExampleGen", "examples")
    for split, expected in GOOD_IMAGES.items():
        files = tf.io.gfile.glob(os.path.join(examples, f"Split-{split}", "*"))
        count = sum(1 for _ in tf.data.TFRecordDataset(files, compression_type="GZIP"))
        assert count == expected, split
    with open(os.path.join(examples, "ingest_report.json")) as stream:
        assert json.load(stream)["num_skipped"] == 3


def test_the_ingest_driver_fingerprints_the_image_files(compiled, tmp_path):
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2
    from tfx.orchestration.kubeflow.v2.file_based_example_gen import driver

    spec, data_dir = _spec(compiled), compiled[2]

    def fingerprint(attempt: str) -> str:
        executor_input = _executor_input(spec, "ImageExampleGen", str(tmp_path / attempt))
        message = json_format.ParseDict(executor_input, pipeline_spec_pb2.ExecutorInput())
        driver._run_driver(message)
        with open(executor_input["outputs"]["outputFile"]) as stream:
            return json.load(stream)["parameterValues"]["input_fingerprint"]

    before = fingerprint("before")
    assert "split:train,num_files:15" in before and "split:eval,num_files:6" in before
    assert fingerprint("again") == before
    pixels = np.random.default_rng(9).integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(os.path.join(data_dir, "test", "b", "added.png"))
    after = fingerprint("after")
    assert after != before and "split:eval,num_files:7" in after
