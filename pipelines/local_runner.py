"""Runs the tfx-dcgan pipeline with TFX's LocalDagRunner and a SQLite ML Metadata store.

    python -m pipelines.local_runner                      # the shipped CIFAR-10 sample
    python -m pipelines.local_runner --data_dir=/data/my_images --steps=2000 --ngf=64 --ndf=64

Outputs go under --output_dir: root/ (component artifacts), metadata.db (ML Metadata) and
serving/ (pushed models for TF Serving). A second run with unchanged inputs and flags is served
from the cache. At the end it prints where the sample grid, the TensorBoard logs, the MLMD
database and the pushed models are, and each component's state and wall time.
"""

from __future__ import annotations

import os
import re

import tfx_dcgan  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from tfx_dcgan.config import ConfigError, DataConfig, ExperimentConfig, ModelConfig, TrainConfig

from absl import app, flags, logging

_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_SAMPLE_DATA = os.path.join(_REPO_ROOT, "data", "cifar10_sample")

FLAGS = flags.FLAGS

flags.DEFINE_string(
    "data_dir",
    _SAMPLE_DATA,
    "Image folder: one sub-folder per class, flat, or with train/ and test/ sub-roots (which "
    "become the 'train' and 'eval' splits). JPEG, PNG, GIF, BMP; WebP/TIFF are converted; corrupt "
    "files are skipped and counted. Default: the shipped 3,000-image CIFAR-10 sample.",
)
flags.DEFINE_string(
    "output_dir",
    os.path.join("runs", "pipeline"),
    "Folder for pipeline artifacts (root/), the MLMD database (metadata.db) and pushed models "
    "(serving/).",
)
flags.DEFINE_string("pipeline_name", "tfx_dcgan", "Pipeline name (the MLMD context).")
flags.DEFINE_string("push_base", None, "TF Serving model base path; default <output_dir>/serving.")
flags.DEFINE_string(
    "schema_path",
    None,
    "Curated schema for ImportSchemaGen; default tfx_dcgan/schema/schema.pbtxt.",
)
flags.DEFINE_integer("image_size", 32, "Image side in pixels, a power of two >= 16.")
flags.DEFINE_integer("channels", 3, "3 for RGB, 1 for grayscale (images are converted).")
flags.DEFINE_integer("z_dim", 100, "Length of the noise vector z (the paper: 100).")
flags.DEFINE_integer("ngf", 32, "Generator width (channels of G's last hidden layer).")
flags.DEFINE_integer("ndf", 32, "Discriminator width (channels of D's first layer).")
flags.DEFINE_integer("kernel_size", 5, "Conv kernel side (5 as in the authors' code).")
flags.DEFINE_integer("batch_size", 128, "Global batch size (the paper: 128).")
flags.DEFINE_integer(
    "steps",
    2000,
    "Training steps (Trainer TrainArgs.num_steps). The default, with ngf = ndf = 32 and batch 128, "
    "trains 4-6 minutes on 2 CPU cores (the whole run: 5.5-9 minutes, by host CPU).",
)
flags.DEFINE_float("learning_rate", 2e-4, "Adam learning rate (the paper: 2e-4).")
flags.DEFINE_integer("seed", 0, "Seed of weights, noise and the sample grid.")
flags.DEFINE_integer("log_every", 50, "Log and TensorBoard scalars every N steps.")
flags.DEFINE_integer("sample_every", 250, "Sample grid every N steps (0: only at the end).")
flags.DEFINE_integer("checkpoint_every", 250, "Checkpoint every N steps (and at the end).")
flags.DEFINE_integer(
    "beam_workers",
    0,
    "DirectRunner worker processes (multi-processing); 0 = one per core, 1 = in-process "
    "(fastest on small data).",
)
flags.DEFINE_multi_string(
    "beam_arg",
    [],
    "Extra Beam pipeline options, repeatable, e.g. --beam_arg=--runner=FlinkRunner "
    "--beam_arg=--flink_master=localhost:8081 (replaces the DirectRunner defaults when it sets "
    "--runner).",
)
flags.DEFINE_enum(
    "source",
    "images",
    ["images", "tfds", "tfrecord"],
    "Input: image folders (--data_dir), a TensorFlow Datasets data set already prepared in "
    "--tfds_data_dir, or existing TFRecords of tf.Example (--tfrecord_pattern). All three give the "
    "same raw features, so everything downstream is unchanged.",
)
flags.DEFINE_string(
    "tfds_name",
    None,
    "--source=tfds: 'name[/config][:version]', prepared in --tfds_data_dir (nothing downloads).",
)
flags.DEFINE_string("tfds_data_dir", None, "--source=tfds: the TFDS data_dir.")
flags.DEFINE_string(
    "tfds_split_mapping",
    "",
    "--source=tfds: 'tfds_split=output_split,...'; default train=train,test=eval; e.g. "
    "'train[:90%]=train,train[90%:]=eval'.",
)
flags.DEFINE_string("tfds_image_key", "image", "--source=tfds: the image feature.")
flags.DEFINE_string(
    "tfds_label_key", "label", "--source=tfds: the label feature ('' = unlabelled)."
)
flags.DEFINE_string(
    "tfrecord_pattern",
    None,
    "--source=tfrecord: '/d/*.tfrecord.gz' (hashed 9:1 into train/eval) or "
    "'train=/d/train-*,eval=/d/eval-*'. Absolute paths.",
)
flags.DEFINE_string(
    "feature_map",
    "",
    "--source=tfrecord: ours=theirs, e.g. 'image/encoded=img_bytes,label=class_id' (features "
    "already named like ours need no entry).",
)
flags.DEFINE_list(
    "label_names", [], "--source=tfrecord: label texts by index when the records carry none."
)
flags.DEFINE_bool("enable_cache", True, "Reuse outputs of unchanged component executions.")
flags.DEFINE_bool(
    "probe",
    True,
    "Run the FeatureProbeEvaluator (D's features -> linear L2-SVM, the paper's CIFAR-10 protocol) "
    "and push only a model it blesses. Needs labelled data (class sub-folders); for a flat folder "
    "use --noprobe --push_unblessed.",
)
flags.DEFINE_float(
    "probe_threshold",
    0.2,
    "Bless (and push) when the probe's test accuracy is at least this, in [0, 1]. The default is "
    "twice chance on 10 classes; a trained D on the shipped sample scores well above it.",
)
flags.DEFINE_integer(
    "probe_max_train_examples", 0, "Probe on a seeded subset of this many train images (0 = all)."
)
flags.DEFINE_integer(
    "probe_max_test_examples", 0, "Score the probe on this many test images (0 = all)."
)
flags.DEFINE_bool(
    "push_unblessed",
    False,
    "With --noprobe: push the model unconditionally (nothing else can bless it).",
)


def _beam_pipeline_args() -> list[str]:
    if any(arg.startswith("--runner") for arg in FLAGS.beam_arg):
        return list(FLAGS.beam_arg)
    if FLAGS.beam_workers == 1:
        direct = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]
    else:
        direct = [
            "--direct_running_mode=multi_processing",
            f"--direct_num_workers={FLAGS.beam_workers}",
        ]
    return direct + list(FLAGS.beam_arg)


def _experiment() -> ExperimentConfig:
    return ExperimentConfig(
        workdir="set-by-the-trainer",
        data=DataConfig(shuffle_seed=FLAGS.seed),
        model=ModelConfig(
            image_size=FLAGS.image_size,
            channels=FLAGS.channels,
            z_dim=FLAGS.z_dim,
            ngf=FLAGS.ngf,
            ndf=FLAGS.ndf,
            kernel_size=FLAGS.kernel_size,
        ),
        train=TrainConfig(
            batch_size=FLAGS.batch_size,
            steps=FLAGS.steps,
            learning_rate=FLAGS.learning_rate,
            seed=FLAGS.seed,
            log_every=FLAGS.log_every,
            sample_every=FLAGS.sample_every,
            checkpoint_every=FLAGS.checkpoint_every,
        ),
    ).validate()


def _source_kwargs() -> dict:
    """create_pipeline's source arguments from the flags, checked before the TFX import."""
    from tfx_dcgan import tfds_source, tfrecord_source

    try:
        if FLAGS.source == "images":
            if not os.path.isdir(FLAGS.data_dir):
                raise app.UsageError(f"--data_dir={FLAGS.data_dir!r} is not a folder")
            return {"source": "images", "data_dir": os.path.abspath(FLAGS.data_dir)}
        if FLAGS.source == "tfds":
            if not FLAGS.tfds_name or not FLAGS.tfds_data_dir:
                raise app.UsageError("--source=tfds needs --tfds_name and --tfds_data_dir")
            return {
                "source": "tfds",
                "tfds_name": FLAGS.tfds_name,
                "tfds_data_dir": os.path.abspath(FLAGS.tfds_data_dir),
                "tfds_split_mapping": tfds_source.parse_split_mapping(FLAGS.tfds_split_mapping),
                "tfds_image_key": FLAGS.tfds_image_key,
                "tfds_label_key": FLAGS.tfds_label_key,
            }
        if not FLAGS.tfrecord_pattern:
            raise app.UsageError("--source=tfrecord needs --tfrecord_pattern")
        tfrecord_source.parse_tfrecord_pattern(FLAGS.tfrecord_pattern)
        return {
            "source": "tfrecord",
            "tfrecord_pattern": FLAGS.tfrecord_pattern,
            "feature_map": tfrecord_source.parse_feature_map(FLAGS.feature_map),
            "label_names": FLAGS.label_names or None,
        }
    except ValueError as error:
        raise app.UsageError(str(error)) from None


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    # Flag errors surface before the ~1 minute TFX import.
    try:
        experiment = _experiment()
    except ConfigError as error:
        raise app.UsageError(
            re.sub(r"\b(?:model|train|data)\.(\w+)", r"--\1", str(error))
        ) from error
    source_kwargs = _source_kwargs()
    if not 0.0 <= FLAGS.probe_threshold <= 1.0:
        raise app.UsageError(f"--probe_threshold must be in [0, 1], got {FLAGS.probe_threshold}")
    if not FLAGS.probe and not FLAGS.push_unblessed:
        raise app.UsageError(
            "--noprobe leaves nothing to bless the model: add --push_unblessed to push it "
            "unconditionally"
        )
    output_dir = os.path.abspath(FLAGS.output_dir)
    metadata_path = os.path.join(output_dir, "metadata.db")
    push_base = os.path.abspath(FLAGS.push_base or os.path.join(output_dir, "serving"))
    logging.info("importing TFX (about a minute)...")
    from tfx import v1 as tfx

    from pipelines import pipeline, run_info

    tfx.orchestration.LocalDagRunner().run(
        pipeline.create_pipeline(
            pipeline_name=FLAGS.pipeline_name,
            pipeline_root=os.path.join(output_dir, "root"),
            **source_kwargs,
            experiment=experiment,
            push_base=push_base,
            metadata_connection_config=(
                tfx.orchestration.metadata.sqlite_metadata_connection_config(metadata_path)
            ),
            schema_path=FLAGS.schema_path or pipeline.DEFAULT_SCHEMA_PATH,
            beam_pipeline_args=_beam_pipeline_args(),
            enable_cache=FLAGS.enable_cache,
            enable_probe=FLAGS.probe,
            probe_accuracy_threshold=FLAGS.probe_threshold,
            probe_max_train_examples=FLAGS.probe_max_train_examples,
            probe_max_test_examples=FLAGS.probe_max_test_examples,
            push_unblessed=FLAGS.push_unblessed,
        )
    )
    summary = run_info.summarize_latest_run(metadata_path, FLAGS.pipeline_name)
    lines = [f"pipeline run {summary.run_id}:"]
    for component in sorted(summary.components.values(), key=lambda c: c.execution_id):
        lines.append(f"  {component.node_id:<22} {component.state:<9} {component.seconds:7.1f} s")
    lines += [
        f"sample grid:       {summary.sample_grid}",
        f"TensorBoard:       tensorboard --logdir {summary.tensorboard_dir}",
        f"ML Metadata:       {metadata_path}",
        f"examples:          {summary.examples_uri} (ingest_report.json, labels.txt)",
        f"model artifact:    {summary.serving_model_dir}",
    ]
    if summary.probe_accuracy is not None:
        lines.append(
            f"feature probe:     test accuracy {summary.probe_accuracy:.4f} "
            f"(threshold {FLAGS.probe_threshold}): "
            + ("BLESSED" if summary.blessed else "NOT BLESSED")
        )
    elif summary.blessed is False:
        lines.append(f"feature probe:     NOT BLESSED: {summary.blessing_reason}")
    if summary.pushed is False:
        lines.append("pushed:            nothing (the model was not blessed; see above)")
    for name, pushed in summary.pushed_models.items():
        lines.append(f"pushed {name + ':':<12} {pushed['destination']}")
    lines.append(
        f"serve: model base path {push_base} (TF Serving model names: "
        f"{', '.join(summary.pushed_models) or 'none pushed'})"
    )
    print("\n".join(lines))
    return 0


def run(argv: list[str] | None = None) -> None:
    """Console entry (`tfx-dcgan pipeline`): parses flags and runs main."""
    from tfx_dcgan.cli import run_command

    run_command(main, argv, __name__)


if __name__ == "__main__":
    run()
