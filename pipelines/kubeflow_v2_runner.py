"""Compiles the tfx-dcgan pipeline to a Kubeflow Pipelines v2 / Vertex AI pipeline-spec JSON.

    python -m pipelines.kubeflow_v2_runner \\
        --default_image=us-docker.pkg.dev/PROJECT/repo/tfx-dcgan:0.1.0 \\
        --pipeline_root=gs://BUCKET/tfx-dcgan --data_dir=gs://BUCKET/images \\
        --layout=split_subroots --push_base=gs://BUCKET/serving \\
        --output_file=tfx_dcgan_pipeline.json

Every flag of the local runner (model, training, strategy, source, Beam, probe, push, cache) means
the same here and reaches the compiled spec: both runners parse tfx_dcgan/cli/flags.py into the
same PipelineConfig and ExperimentConfig. Every value is compiled as a constant: the spec has no
KFP pipeline parameters (change a value by compiling again; the JSON is cheap).

What the compiled spec relies on, and what this runner does for it:

  * The image (`--default_image`, built from the repository's Dockerfile) holds this package
    installed from the lock and sets TF_USE_LEGACY_KERAS=1: tasks run `tfx_dcgan.*` by import path.
  * The curated schema is `package:tfx_dcgan/schema/schema.pbtxt`, resolved inside the container;
    a local --schema_path is refused (give a gs:// URI the tasks can read).
  * Beam workers get the package from the same image: `--sdk_container_image=<default_image>` is
    added to the Beam args unless --beam_arg already says how (sdk_container_image,
    extra_package, setup_file or environment_config).
  * Ingest caching: see --kubeflow_backend. For `kfp` the ingest task's cachingOptions are off in
    the JSON; for `vertex` the ExampleGen driver (a pre-cache check the compiler adds to
    FileBasedExampleGen subclasses such as ImageExampleGen) fingerprints the input files. The
    split patterns name files (`train/*/*`), so the fingerprint sees every image.

Nothing is read from --data_dir at compile time unless it is a local folder and --layout=auto.
Submit the JSON with the KFP client or Vertex AI (`aiplatform.PipelineJob(template_path=...)`).
Pushes to gs:// are not atomic (see tfx_dcgan/components/versioned_pusher/executor.py); TF
Serving should poll a POSIX volume.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from typing import Any

import tfx_dcgan  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from tfx_dcgan.cli import command as cli_command
from tfx_dcgan.cli import flags as cli_flags
from tfx_dcgan.config import ConfigError, ExperimentConfig, PipelineConfig

from absl import app

FLAGS = cli_flags.FLAGS

COMMAND = cli_command.Command(
    name="python -m pipelines.kubeflow_v2_runner",
    flag_names=(
        "default_image",
        "pipeline_root",
        "output_file",
        "kubeflow_backend",
        *(n for n in cli_flags.PIPELINE_FLAGS if n != "pipeline_root"),
        *(n for n in cli_flags.EXPERIMENT_FLAGS if n != "data_dir"),
    ),
    defaults=cli_flags.MAIN_JOB_DEFAULTS,
    help_overrides={
        "pipeline_root": "Artifact root, e.g. gs://BUCKET/tfx-dcgan (required).",
        "default_image": "Container image with this project installed (required).",
    },
)


INGEST_TASKS = ("ImageExampleGen", "TfdsExampleGen", "TFRecordExampleGen")
# Beam options that already tell remote workers where this package comes from.
_PACKAGE_BEAM_OPTIONS = ("sdk_container_image", "extra_package", "setup_file", "environment_config")


def beam_args_for_image(beam_args: tuple[str, ...], image: str) -> tuple[str, ...]:
    """`beam_args` plus `--sdk_container_image=<image>` unless they already say how workers get
    the package."""
    for arg in beam_args:
        if arg.lstrip("-").split("=", 1)[0] in _PACKAGE_BEAM_OPTIONS:
            return tuple(beam_args)
    return (*beam_args, f"--sdk_container_image={image}")


def set_ingest_caching(spec: dict[str, Any], backend: str) -> list[str]:
    """Turns the ingest task's cache off for open-source KFP (in place); the tasks changed.

    Args:
      spec: the compiled JSON (with or without the `pipelineSpec` wrapper).
      backend: "kfp" or "vertex" (vertex keeps the driver-fingerprinted cache).
    """
    if backend != "kfp":
        return []
    tasks = spec.get("pipelineSpec", spec)["root"]["dag"]["tasks"]
    changed = []
    for name in INGEST_TASKS:
        if name in tasks:
            tasks[name]["cachingOptions"] = {"enableCache": False}
            changed.append(name)
    return changed


def _check_schema_path(schema_path: str) -> None:
    if schema_path and "://" not in schema_path and not schema_path.startswith("package:"):
        raise ConfigError(
            f"--schema_path={schema_path!r} is a path of this machine, which the Kubeflow tasks "
            "cannot read: give a URI they can (gs://BUCKET/schema.pbtxt) or leave it empty for "
            "the curated schema shipped in the image (package:tfx_dcgan/schema/schema.pbtxt)"
        )


def configs_from_flags() -> tuple[PipelineConfig, ExperimentConfig]:
    """(pipeline config, experiment config) from the parsed flags; nothing remote is read.

    Raises:
      ConfigError: a missing or bad flag (named in the message).
    """
    for name in ("default_image", "pipeline_root"):
        if not FLAGS[name].value:
            raise ConfigError(f"--{name} is required (see `{COMMAND.name} --help`)")
    experiment = cli_command.experiment_from_flags(data_dir="").validate()
    pipeline_config = cli_command.pipeline_config_from_flags(
        pipeline_root=FLAGS.pipeline_root,
        push_base=os.path.join(FLAGS.pipeline_root, "serving"),
        check_local_paths=False,
    )
    _check_schema_path(FLAGS.schema_path or "")
    pipeline_config = dataclasses.replace(
        pipeline_config,
        schema_path=FLAGS.schema_path or "",
        beam_args=beam_args_for_image(pipeline_config.beam_args, FLAGS.default_image),
    )
    return pipeline_config, experiment


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    try:
        pipeline_config, experiment = configs_from_flags()
    except ConfigError as error:
        print(f"error: {cli_command.flag_error_message(error)}", file=sys.stderr)
        return 2
    from tfx import v1 as tfx

    from pipelines import pipeline

    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
            default_image=FLAGS.default_image
        ),
        output_dir=os.path.dirname(os.path.abspath(FLAGS.output_file)),
        output_filename=os.path.basename(FLAGS.output_file),
    )
    # Kubeflow pipeline names are DNS-style: no underscores.
    kubeflow_config = dataclasses.replace(
        pipeline_config, pipeline_name=pipeline_config.pipeline_name.replace("_", "-")
    )
    try:
        built = pipeline.create_pipeline(kubeflow_config, experiment)
    except ConfigError as error:
        print(f"error: {cli_command.flag_error_message(error)}", file=sys.stderr)
        return 2
    runner.run(built)
    with open(FLAGS.output_file) as stream:
        spec = json.load(stream)
    uncached = set_ingest_caching(spec, FLAGS.kubeflow_backend)
    with open(FLAGS.output_file, "w") as stream:
        json.dump(spec, stream, indent=2, sort_keys=True)
    print(f"wrote {os.path.abspath(FLAGS.output_file)}")
    if uncached:
        print(f"cache off for {', '.join(uncached)} (--kubeflow_backend=kfp; see --help)")
    return 0


def run(argv: list[str] | None = None) -> None:
    """Console entry: parses flags and runs main."""
    from tfx_dcgan.cli import run_command

    run_command(main, argv, COMMAND, __doc__)


if __name__ == "__main__":
    run()
