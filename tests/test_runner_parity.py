"""One argv, two runners: every option reaches the local pipeline and the compiled Kubeflow spec.

The local runner's real entry point builds the pipeline without running it (`--dry_run` prints each
component's execution properties); the Kubeflow V2 runner compiles the same argv to pipeline-spec
JSON in a fresh process. The expected values are written out here, not computed by the code under
test.
"""

from __future__ import annotations

import contextlib
import io
import json
import os

import tfx_dcgan  # noqa: F401

import pytest
from absl.testing import flagsaver
from conftest import run_python

pytestmark = pytest.mark.slow

# Every ExperimentConfig field and every PipelineConfig option, each away from its default.
SHARED_ARGV = [
    "--pipeline_name=parity_dcgan",
    "--layout=split_subroots",
    "--probe_threshold=0.37",
    "--noenable_cache",
    "--push_unblessed",
    "--push_base=/srv/models",
    "--probe_max_train_examples=100",
    "--probe_max_test_examples=50",
    "--max_logged_skipped=7",
    "--beam_workers=1",
    "--beam_arg=--max_num_workers=2",
    "--steps=7",
    "--sync_batch_norm",
    "--strategy=mirrored",
    "--cpu_replicas=2",
    "--image_size=16",
    "--channels=1",
    "--z_dim=50",
    "--noise=normal",
    "--ngf=24",
    "--ndf=40",
    "--kernel_size=3",
    "--batch_size=32",
    "--learning_rate=0.0003",
    "--beta1=0.6",
    "--seed=5",
    "--shuffle_seed=6",
    "--parallel_reads=3",
    "--max_image_pixels=5000000",
    "--fid_count=64",
    "--fid_ceiling=80",
    "--fid_baselines",
    "--fid_batch_size=8",
    "--fid_cache_dir=/srv/fid_cache",
    "--inception_weights=/srv/fid_weights.npz",
    "--allow_anomalies",
    "--log_every=3",
    "--sample_every=4",
    "--checkpoint_every=5",
    "--keep_checkpoints=2",
    "--sample_grid=16",
    "--deterministic",
]

EXPECTED_EXPERIMENT = {
    "data": {"data_dir": "", "shuffle_seed": 6, "parallel_reads": 3, "max_image_pixels": 5000000},
    "model": {
        "image_size": 16,
        "channels": 1,
        "z_dim": 50,
        "noise": "normal",
        "ngf": 24,
        "ndf": 40,
        "kernel_size": 3,
        "sync_batch_norm": True,
    },
    "train": {
        "batch_size": 32,
        "steps": 7,
        "learning_rate": 0.0003,
        "beta1": 0.6,
        "seed": 5,
        "strategy": "mirrored",
        "cpu_replicas": 2,
        "log_every": 3,
        "sample_every": 4,
        "checkpoint_every": 5,
        "keep_checkpoints": 2,
        "sample_grid": 16,
        "deterministic": True,
    },
}
EXPECTED_QUALITY = {
    "fid": 1,
    "fid_count": 64,
    "fid_ceiling": 80.0,
    "fid_baselines": 1,
    "fid_batch_size": 8,
    "fid_cache_dir": "/srv/fid_cache",
    "inception_weights": "/srv/fid_weights.npz",
}
EXPECTED_BEAM_ARGS = [
    "--direct_running_mode=in_memory",
    "--direct_num_workers=1",
    "--max_num_workers=2",
]
# File-level patterns (class folder, then file): the ingest driver's fingerprint stats each file.
EXPECTED_SPLITS = [
    {"name": "train", "pattern": "train/*/*"},
    {"name": "eval", "pattern": "test/*/*"},
]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("parity_images")
    for split in ("train", "test"):
        os.makedirs(root / split / "a")
    return str(root)


def _run_local(argv: list[str]) -> tuple[int, str, str]:
    """`tfx-dcgan pipeline ARGV` in this process; (exit code, stdout, stderr)."""
    from pipelines import local_runner

    stdout, stderr = io.StringIO(), io.StringIO()
    with (
        flagsaver.flagsaver(),
        contextlib.redirect_stdout(stdout),
        contextlib.redirect_stderr(stderr),
    ):
        with pytest.raises(SystemExit) as exit_info:
            local_runner.run(["tfx-dcgan pipeline", *argv])
    return exit_info.value.code or 0, stdout.getvalue(), stderr.getvalue()


@pytest.fixture(scope="module")
def local(data_dir, tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("parity_local")
    code, stdout, stderr = _run_local(
        [*SHARED_ARGV, f"--data_dir={data_dir}", f"--output_dir={output_dir}", "--dry_run"]
    )
    assert code == 0, stderr[-3000:]
    described = json.loads(stdout[stdout.index("{") :])
    assert not os.listdir(output_dir), "a dry run writes nothing"
    return described


@pytest.fixture(scope="module")
def kubeflow(data_dir, tmp_path_factory):
    output_file = tmp_path_factory.mktemp("parity_kfp") / "spec.json"
    completed = run_python(
        [
            "-m",
            "pipelines.kubeflow_v2_runner",
            *SHARED_ARGV,
            f"--data_dir={data_dir}",
            "--default_image=example.org/tfx-dcgan:test",
            "--pipeline_root=gs://bucket/root",
            f"--output_file={output_file}",
        ],
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    with open(output_file) as handle:
        spec = json.load(handle)
    return spec.get("pipelineSpec", spec)


def _kfp_parameters(spec: dict, task: str) -> dict:
    """A task's constant parameters as plain values."""
    values = {}
    for name, parameter in spec["root"]["dag"]["tasks"][task]["inputs"]["parameters"].items():
        constant = parameter["runtimeValue"]["constantValue"]
        ((kind, value),) = constant.items()
        values[name] = int(value) if kind == "intValue" else value
    return values


def test_local_runner_passes_every_option(local):
    components = local["components"]
    probe = components["FeatureProbeEvaluator"]["exec_properties"]
    assert probe["accuracy_threshold"] == 0.37
    assert (probe["max_train_examples"], probe["max_test_examples"], probe["seed"]) == (100, 50, 5)
    assert {key: probe[key] for key in EXPECTED_QUALITY} == EXPECTED_QUALITY
    assert components["SchemaGate"]["exec_properties"]["allow_anomalies"] == 1
    trainer = components["Trainer"]["exec_properties"]
    custom_config = json.loads(trainer["custom_config"])
    assert custom_config["experiment"] == EXPECTED_EXPERIMENT
    assert json.loads(trainer["train_args"])["num_steps"] == 7
    assert json.loads(components["Transform"]["exec_properties"]["custom_config"]) == {
        "image_size": 16,
        "channels": 1,
        "max_image_pixels": 5000000,
    }
    ingest = components["ImageExampleGen"]["exec_properties"]
    assert (ingest["channels"], ingest["max_logged_skipped"]) == (1, 7)
    assert ingest["max_image_pixels"] == 5000000
    assert json.loads(ingest["input_config"])["splits"] == EXPECTED_SPLITS
    pusher = components["VersionedPusher"]["exec_properties"]
    assert (pusher["push_unblessed"], pusher["push_base"]) == (1, "/srv/models")
    assert local["enable_cache"] is False
    assert local["beam_pipeline_args"] == EXPECTED_BEAM_ARGS
    assert local["pipeline_name"] == "parity_dcgan"


def test_kubeflow_spec_carries_every_option(kubeflow):
    probe = _kfp_parameters(kubeflow, "FeatureProbeEvaluator")
    assert probe["accuracy_threshold"] == 0.37
    assert (probe["max_train_examples"], probe["max_test_examples"], probe["seed"]) == (100, 50, 5)
    quality = {key: probe[key] for key in EXPECTED_QUALITY}
    assert {**quality, "fid_ceiling": float(quality["fid_ceiling"])} == EXPECTED_QUALITY
    assert _kfp_parameters(kubeflow, "SchemaGate")["allow_anomalies"] == 1
    trainer = _kfp_parameters(kubeflow, "Trainer")
    custom_config = json.loads(trainer["custom_config"])
    assert custom_config["experiment"] == EXPECTED_EXPERIMENT
    assert custom_config["checkpoint_root"] == "gs://bucket/root/TrainerCheckpoints"
    assert json.loads(trainer["train_args"])["num_steps"] == 7
    assert json.loads(_kfp_parameters(kubeflow, "Transform")["custom_config"]) == {
        "image_size": 16,
        "channels": 1,
        "max_image_pixels": 5000000,
    }
    ingest = _kfp_parameters(kubeflow, "ImageExampleGen")
    assert (ingest["channels"], ingest["max_logged_skipped"]) == (1, 7)
    assert ingest["max_image_pixels"] == 5000000
    assert json.loads(ingest["input_config"])["splits"] == EXPECTED_SPLITS
    pusher = _kfp_parameters(kubeflow, "VersionedPusher")
    assert (pusher["push_unblessed"], pusher["push_base"]) == (1, "/srv/models")
    # --noenable_cache: no task asks for cache look-ups.
    tasks = kubeflow["root"]["dag"]["tasks"].values()
    assert not any(task.get("cachingOptions", {}).get("enableCache") for task in tasks)
    executor_args = kubeflow["deploymentSpec"]["executors"]["ImageExampleGen_executor"][
        "container"
    ]["args"]
    # The Kubeflow runner adds how Beam workers get the package: the task's image.
    assert executor_args[-4:] == [
        *EXPECTED_BEAM_ARGS,
        "--sdk_container_image=example.org/tfx-dcgan:test",
    ]
    assert kubeflow["pipelineInfo"]["name"] == "parity-dcgan"


def test_a_flag_of_another_command_is_refused(data_dir, tmp_path):
    code, _, stderr = _run_local(
        [f"--data_dir={data_dir}", f"--output_dir={tmp_path}", "--workdir=/tmp/x", "--dry_run"]
    )
    assert code == 2
    assert "tfx-dcgan pipeline does not use --workdir" in stderr
    assert not os.listdir(tmp_path)


def test_bad_pipeline_flags_name_the_flag(data_dir, tmp_path):
    code, _, stderr = _run_local(
        [f"--data_dir={data_dir}", f"--output_dir={tmp_path}", "--probe_threshold=1.5"]
    )
    assert code == 2
    assert "--probe_threshold must be in [0, 1], got 1.5" in stderr
    code, _, stderr = _run_local([f"--data_dir={data_dir}", "--noprobe", "--dry_run"])
    assert code == 2
    assert "add --push_unblessed" in stderr


def test_the_environment_flagfile_sets_the_options_without_a_command_line(
    data_dir, tmp_path, monkeypatch
):
    from tfx_dcgan.cli import command as cli_command
    from tfx_dcgan.cli import flags as cli_flags
    from tfx_dcgan.config import ConfigError

    from pipelines import local_runner

    flagfile = tmp_path / "dcgan.flags"
    flagfile.write_text(
        f"--data_dir={data_dir}\n--output_dir={tmp_path}/out\n--probe_threshold=0.5\n"
        "--steps=9\n--sync_batch_norm\n"
    )
    monkeypatch.setenv(cli_flags.FLAGFILE_ENV, str(flagfile))
    with flagsaver.flagsaver():
        cli_command.parse_environment_flagfile(local_runner.COMMAND)
        pipeline_config, experiment, metadata_path = local_runner.configs_from_flags()
    assert pipeline_config.probe_threshold == 0.5
    assert pipeline_config.data_dir == data_dir
    assert pipeline_config.pipeline_root == f"{tmp_path}/out/root"
    assert pipeline_config.push_base == f"{tmp_path}/out/serving"
    assert metadata_path == f"{tmp_path}/out/metadata.db"
    assert experiment.train.steps == 9
    assert experiment.model.sync_batch_norm is True
    # The main job's defaults where the file says nothing.
    assert (experiment.model.ngf, experiment.model.ndf, experiment.train.sample_every) == (
        32,
        32,
        250,
    )

    flagfile.write_text("--workdir=/tmp/x\n")
    with (
        flagsaver.flagsaver(),
        pytest.raises(ConfigError, match="does not use --workdir"),
    ):
        cli_command.parse_environment_flagfile(local_runner.COMMAND)
