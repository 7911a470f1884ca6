"""Compiles the tfx-dcgan pipeline to a Kubeflow Pipelines v2 / Vertex AI pipeline-spec JSON.

    python -m pipelines.kubeflow_v2_runner \\
        --default_image=us-docker.pkg.dev/PROJECT/repo/tfx-dcgan:0.1.0 \\
        --pipeline_root=gs://BUCKET/tfx-dcgan --data_dir=gs://BUCKET/images \\
        --layout=split_subroots --push_base=gs://BUCKET/serving \\
        --output_file=tfx_dcgan_pipeline.json

Every flag of the local runner (model, training, strategy, source, Beam, probe, push, cache) means
the same here and reaches the compiled spec: both runners parse tfx_dcgan/cli/flags.py into the
same PipelineConfig and ExperimentConfig. The image must contain this repository installed
(`pip install .[pipeline]`) and set TF_USE_LEGACY_KERAS=1, because components run `tfx_dcgan.*` by
import path. Nothing is read from --data_dir at compile time unless it is a local folder and
--layout=auto. Submit the JSON with the KFP client or Vertex AI
(`aiplatform.PipelineJob(template_path=...)`). Pushes to gs:// are not atomic (see
tfx_dcgan/components/versioned_pusher/executor.py); TF Serving should poll a POSIX volume.
"""

from __future__ import annotations

import dataclasses
import os
import sys

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
        *(n for n in cli_flags.PIPELINE_FLAGS if n != "pipeline_root"),
        *(n for n in cli_flags.EXPERIMENT_FLAGS if n != "data_dir"),
    ),
    defaults=cli_flags.MAIN_JOB_DEFAULTS,
    help_overrides={
        "pipeline_root": "Artifact root, e.g. gs://BUCKET/tfx-dcgan (required).",
        "default_image": "Container image with this project installed (required).",
    },
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
    print(f"wrote {os.path.abspath(FLAGS.output_file)}")
    return 0


def run(argv: list[str] | None = None) -> None:
    """Console entry: parses flags and runs main."""
    from tfx_dcgan.cli import run_command

    run_command(main, argv, COMMAND, __doc__)


if __name__ == "__main__":
    run()
