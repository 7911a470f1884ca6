"""Runs the tfx-dcgan pipeline with TFX's LocalDagRunner and a SQLite ML Metadata store.

    python -m pipelines.local_runner                      # the shipped CIFAR-10 sample
    python -m pipelines.local_runner --data_dir=/data/my_images --steps=2000 --ngf=64 --ndf=64

Outputs go under --output_dir: root/ (component artifacts), metadata.db (ML Metadata) and
serving/ (pushed models for TF Serving). A second run with unchanged inputs and flags is served
from the cache. The console (tfx_dcgan.console) prints the full log's path first
(<output_dir>/logs/), one line as each node starts and ends, and live bars; at the end it prints
the run's wall time and orchestration overhead and where the sample grid, the TensorBoard logs,
the MLMD database and the pushed models are.
"""

from __future__ import annotations

import json
import os
import sys

import tfx_dcgan  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from tfx_dcgan.cli import command as cli_command
from tfx_dcgan.cli import flags as cli_flags
from tfx_dcgan.config import ConfigError, ExperimentConfig, PipelineConfig

from absl import app, logging

FLAGS = cli_flags.FLAGS

COMMAND = cli_command.Command(
    name="tfx-dcgan pipeline",
    flag_names=(
        "data_dir",
        "output_dir",
        "dry_run",
        *(n for n in cli_flags.PIPELINE_FLAGS if n != "data_dir"),
        *(n for n in cli_flags.EXPERIMENT_FLAGS if n != "data_dir"),
    ),
    defaults={
        **cli_flags.MAIN_JOB_DEFAULTS,
        "data_dir": cli_flags.SAMPLE_DATA,
        "output_dir": os.path.join("runs", "pipeline"),
    },
    help_overrides={
        "data_dir": "Image folder: one sub-folder per class, flat, or with train/ and test/ "
        "sub-roots (which become the 'train' and 'eval' splits). JPEG, PNG, GIF, BMP; WebP/TIFF "
        "are converted; corrupt files are skipped and counted. Default: the shipped 3,000-image "
        "CIFAR-10 sample.",
        "pipeline_root": "Artifact root; default <output_dir>/root.",
        "steps": "Training steps (Trainer TrainArgs.num_steps). The default, with ngf = ndf = 32 "
        "and batch 128, trains 4-6 minutes on 2 CPU cores (the whole run: 5.5-9 minutes, by host "
        "CPU).",
    },
)


def configs_from_flags() -> tuple[PipelineConfig, ExperimentConfig, str]:
    """(pipeline config, experiment config, metadata path) from the parsed flags.

    Raises:
      ConfigError: a bad flag value (named in the message as the config field).
    """
    experiment = cli_command.experiment_from_flags(data_dir="").validate()
    output_dir = os.path.abspath(FLAGS.output_dir)
    pipeline_config = cli_command.pipeline_config_from_flags(
        pipeline_root=os.path.abspath(FLAGS.pipeline_root or os.path.join(output_dir, "root")),
        push_base=os.path.join(output_dir, "serving"),
    )
    return pipeline_config, experiment, os.path.join(output_dir, "metadata.db")


def _json_ready(value):
    """Execution-property values as JSON: protos as their JSON text, the rest as it is."""
    from google.protobuf import json_format, message

    if isinstance(value, message.Message):
        return json_format.MessageToDict(value, preserving_proto_field_name=True)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def describe_pipeline(built) -> dict:
    """The built pipeline as JSON-ready data: pipeline options and each component's properties."""
    return {
        "pipeline_name": built.pipeline_info.pipeline_name,
        "pipeline_root": built.pipeline_info.pipeline_root,
        "enable_cache": built.enable_cache,
        "beam_pipeline_args": list(built.beam_pipeline_args or []),
        "components": {
            component.id: {
                "type": type(component).__name__,
                "exec_properties": {
                    key: _json_ready(value) for key, value in component.exec_properties.items()
                },
            }
            for component in built.components
        },
    }


def check_fid_weights(config: PipelineConfig) -> None:
    """Fails before training when the evaluator will need FID weights that are not there.

    Raises:
      ConfigError: naming the path, the command that fetches the weights and --nofid.
    """
    if not (config.fid and config.probe):
        return
    from tfx_dcgan.metrics import inception_weights

    path = config.inception_weights or inception_weights.default_weights_path()
    if not os.path.exists(path):
        raise ConfigError(
            f"pipeline.fid needs the FID network's weights at {path} (pipeline.inception_weights): "
            f"run `{inception_weights.FETCH_COMMAND}` once, or pass --nofid"
        )


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    if FLAGS.dry_run:
        return run_pipeline()
    # The console starts first: TensorFlow loads while the flags become configs, and its C++
    # start-up lines belong in the log, not on the terminal.
    from tfx_dcgan.cli import console as cli_console

    console = cli_console.start("pipeline", FLAGS.output_dir)
    exit_code = 1
    try:
        exit_code = run_pipeline()
    finally:
        console.stop(exit_code)
    return exit_code


def run_pipeline() -> int:
    """Builds the pipeline from the flags and runs it (or, with --dry_run, prints it); the exit
    status. Each node's start and end line and the closing summary go to the console."""
    from pipelines import node_events

    timing = node_events.RunTiming(process_start=node_events.process_start_time())
    # Flag errors surface before the ~1 minute TFX import.
    try:
        pipeline_config, experiment, metadata_path = configs_from_flags()
        if experiment.train.cpu_replicas > 1 and not FLAGS.dry_run:
            # Logical CPU devices must exist before anything initialises TensorFlow's devices;
            # the Trainer runs in this process.
            from tfx_dcgan import distribute

            distribute.configure_cpu_replicas(experiment.train.cpu_replicas)
        if not FLAGS.dry_run:
            check_fid_weights(pipeline_config)
    except ConfigError as error:
        print(f"error: {cli_command.flag_error_message(error)}", file=sys.stderr)
        return 2
    if FLAGS.dry_run:
        logging.info("importing TFX (about a minute)...")
    else:
        from tfx_dcgan import progress

        progress.say("importing TFX (about a minute)...")
    from tfx import v1 as tfx

    from pipelines import pipeline, run_info

    try:
        built = pipeline.create_pipeline(
            pipeline_config,
            experiment,
            metadata_connection_config=(
                tfx.orchestration.metadata.sqlite_metadata_connection_config(metadata_path)
            ),
        )
    except ConfigError as error:
        print(f"error: {cli_command.flag_error_message(error)}", file=sys.stderr)
        return 2
    if FLAGS.dry_run:
        print(json.dumps(describe_pipeline(built), indent=2, sort_keys=True))
        return 0
    os.makedirs(os.path.dirname(metadata_path), exist_ok=True)
    failure = None
    try:
        with node_events.watch_nodes(
            [component.id for component in built.components], metadata_path, timing=timing
        ):
            tfx.orchestration.LocalDagRunner().run(built)
    except Exception as error:  # noqa: BLE001 - a component failed: report it with the summary
        failure = error
    try:
        summary = run_info.summarize_latest_run(metadata_path, pipeline_config.pipeline_name)
        print(
            run_info.format_summary(
                summary,
                metadata_path,
                pipeline_config.probe_threshold,
                pipeline_config.push_base,
                # The console showed every node's end line; the summary gives the totals.
                components=False,
                timing_line=node_events.format_overhead(timing),
            )
        )
    except LookupError:
        pass  # nothing ran far enough to be recorded
    if failure is not None:
        print(f"error: the pipeline run failed: {failure}", file=sys.stderr)
        return 1
    # -- run report (issue 15): one HTML page from MLMD; its path is the last line printed.
    from tfx_dcgan import report

    print(report.report_line(os.path.dirname(metadata_path), pipeline_config.pipeline_name))
    return 0


def run(argv: list[str] | None = None) -> None:
    """Console entry (`tfx-dcgan pipeline`): parses flags and runs main."""
    from tfx_dcgan.cli import run_command

    run_command(main, argv, COMMAND, __doc__)


if __name__ == "__main__":
    run()
