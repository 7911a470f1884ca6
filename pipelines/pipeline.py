"""The tfx-dcgan TFX pipeline: image folders -> validated examples -> Transform -> DCGAN -> push.

    ImageExampleGen ──> StatisticsGen ──> SchemaGen (inferred, kept for comparison)
          │                  │
          │   ImportSchemaGen (curated tfx_dcgan/schema/schema.pbtxt)
          │                  │
          │                  └──> ExampleValidator (anomalies against the curated schema)
          └──> Transform (preprocessing_fn, custom_config: image size, channels)
                  └──> Trainer (run_fn: train_lib.train, exports generator + feature extractor)
                          ├──> FeatureProbeEvaluator (D features -> L2-SVM on the raw labelled
                          │       examples; ModelBlessing when accuracy >= threshold)
                          └──> VersionedPusher (<push_base>/<name>/<version>/, blessed models only)

Every parameter is an argument: the runners (local_runner.py, kubeflow_v2_runner.py) build an
`ExperimentConfig` from flags and pass it here; the Trainer gets it as custom_config and the
Transform gets the image geometry from it.
"""

from __future__ import annotations

import os

import tfx_dcgan  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from tfx_dcgan import preprocessing, tfrecord_source, trainer_module
from tfx_dcgan.components.feature_probe_evaluator.component import FeatureProbeEvaluator
from tfx_dcgan.components.image_example_gen.component import ImageExampleGen
from tfx_dcgan.components.tfds_example_gen.component import TfdsExampleGen
from tfx_dcgan.components.tfrecord_example_gen.component import (
    TFRecordExampleGen,
)
from tfx_dcgan.components.tfrecord_example_gen.component import (
    default_input_config as tfrecord_input_config,
)
from tfx_dcgan.components.versioned_pusher.component import DEFAULT_MODEL_NAMES, VersionedPusher
from tfx_dcgan.config import ExperimentConfig

from tfx import v1 as tfx

__all__ = ["DEFAULT_SCHEMA_PATH", "DEFAULT_BEAM_PIPELINE_ARGS", "SOURCES", "create_pipeline"]

SOURCES = ("images", "tfds", "tfrecord")

DEFAULT_SCHEMA_PATH = os.path.join(
    os.path.dirname(os.path.abspath(tfx_dcgan.__file__)), "schema", "schema.pbtxt"
)
# One Beam worker process per core. On a cluster pass e.g. --runner=DataflowRunner (see
# tfx_dcgan/components/image_example_gen/component.py for Flink, Spark and Dataflow flags).
DEFAULT_BEAM_PIPELINE_ARGS = ("--direct_running_mode=multi_processing", "--direct_num_workers=0")


def _make_example_gen(
    source: str,
    *,
    channels: int,
    max_logged_skipped: int,
    data_dir,
    input_config,
    tfds_name,
    tfds_data_dir,
    tfds_split_mapping,
    tfds_image_key,
    tfds_label_key,
    tfrecord_pattern,
    feature_map,
    label_names,
):
    """The ExampleGen of `source`; every one writes the same raw features (tfx_dcgan.features)."""
    if source == "images":
        if not data_dir:
            raise ValueError("create_pipeline: source='images' needs data_dir")
        return ImageExampleGen(
            input_base=data_dir,
            channels=channels,
            input_config=input_config,
            max_logged_skipped=max_logged_skipped,
        )
    if source == "tfds":
        if not tfds_name or not tfds_data_dir:
            raise ValueError("create_pipeline: source='tfds' needs tfds_name and tfds_data_dir")
        return TfdsExampleGen(
            dataset_name=tfds_name,
            data_dir=tfds_data_dir,
            image_key=tfds_image_key,
            label_key=tfds_label_key,
            split_mapping=tfds_split_mapping,
            channels=channels,
            max_logged_skipped=max_logged_skipped,
        )
    if source == "tfrecord":
        if not tfrecord_pattern:
            raise ValueError("create_pipeline: source='tfrecord' needs tfrecord_pattern")
        input_base, patterns = tfrecord_source.parse_tfrecord_pattern(tfrecord_pattern)
        return TFRecordExampleGen(
            input_base=input_base,
            feature_map=feature_map,
            channels=channels,
            label_names=label_names,
            input_config=input_config or tfrecord_input_config(patterns),
            max_logged_skipped=max_logged_skipped,
        )
    raise ValueError(f"create_pipeline: source must be one of {SOURCES}, got {source!r}")


def create_pipeline(
    *,
    pipeline_name: str,
    pipeline_root: str,
    data_dir: str | None = None,
    experiment: ExperimentConfig,
    push_base: str,
    metadata_connection_config=None,
    schema_path: str = DEFAULT_SCHEMA_PATH,
    beam_pipeline_args: list[str] | tuple[str, ...] = DEFAULT_BEAM_PIPELINE_ARGS,
    enable_cache: bool = True,
    enable_probe: bool = True,
    probe_accuracy_threshold: float = 0.0,
    probe_max_train_examples: int = 0,
    probe_max_test_examples: int = 0,
    push_unblessed: bool = False,
    max_logged_skipped: int = 20,
    input_config=None,
    source: str = "images",
    tfds_name: str | None = None,
    tfds_data_dir: str | None = None,
    tfds_split_mapping: dict[str, str] | None = None,
    tfds_image_key: str = "image",
    tfds_label_key: str = "label",
    tfrecord_pattern: str | None = None,
    feature_map: dict[str, str] | str | None = None,
    label_names: list[str] | None = None,
) -> tfx.dsl.Pipeline:
    """Builds the pipeline.

    Args:
      pipeline_name: the MLMD pipeline context name.
      pipeline_root: where component outputs are written.
      data_dir: image folder (class folders, flat, or train/ + test/ sub-roots).
      experiment: model and training configuration; its workdir is ignored (the Trainer trains
        in its model run directory) and `train.steps` becomes TrainArgs.num_steps.
      push_base: TF Serving model base path for VersionedPusher.
      metadata_connection_config: MLMD connection (None: the orchestrator's default).
      schema_path: the curated schema imported by ImportSchemaGen.
      beam_pipeline_args: Beam options of every Beam-based component.
      enable_cache: reuse outputs of executions whose inputs did not change.
      enable_probe: run FeatureProbeEvaluator (the paper's feature probe) and push only a model it
        blesses. Unlabelled data is never blessed: for flat folders pass False with
        push_unblessed=True.
      probe_accuracy_threshold: bless when the probe's test accuracy is >= this, in [0, 1].
      probe_max_train_examples, probe_max_test_examples: probe on seeded subsets (0 = all).
      push_unblessed: without the probe, push unconditionally (must be asked for explicitly).
      max_logged_skipped: skipped image files listed in the ingest report and log.
      input_config: ImageExampleGen's example_gen_pb2.Input; None looks at `data_dir` now
        (train/ + test/ sub-roots or not). Pass it when data_dir cannot be read where the
        pipeline is compiled (e.g. gs:// from a laptop).

    Returns:
      A tfx.dsl.Pipeline.
    """
    experiment = ExperimentConfig.from_dict({**experiment.to_dict(), "workdir": "unused"})
    experiment.validate()
    model = experiment.model

    example_gen = _make_example_gen(
        source,
        channels=model.channels,
        max_logged_skipped=max_logged_skipped,
        data_dir=data_dir,
        input_config=input_config,
        tfds_name=tfds_name,
        tfds_data_dir=tfds_data_dir,
        tfds_split_mapping=tfds_split_mapping,
        tfds_image_key=tfds_image_key,
        tfds_label_key=tfds_label_key,
        tfrecord_pattern=tfrecord_pattern,
        feature_map=feature_map,
        label_names=label_names,
    )
    curated_schema = tfx.components.ImportSchemaGen(schema_file=schema_path)
    statistics_gen = tfx.components.StatisticsGen(
        examples=example_gen.outputs["examples"], schema=curated_schema.outputs["schema"]
    )
    inferred_schema = tfx.components.SchemaGen(
        statistics=statistics_gen.outputs["statistics"], infer_feature_shape=True
    )
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=curated_schema.outputs["schema"]
    )
    transform = tfx.components.Transform(
        examples=example_gen.outputs["examples"],
        schema=curated_schema.outputs["schema"],
        preprocessing_fn="tfx_dcgan.preprocessing.preprocessing_fn",
        custom_config=preprocessing.make_custom_config(model.image_size, model.channels),
        # StatisticsGen already describes the raw data; statistics of raw pixel bytes add nothing.
        disable_statistics=True,
    )
    trainer = tfx.components.Trainer(
        run_fn="tfx_dcgan.trainer_module.run_fn",
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=curated_schema.outputs["schema"],
        train_args=tfx.proto.TrainArgs(splits=["train"], num_steps=experiment.train.steps),
        eval_args=tfx.proto.EvalArgs(splits=["eval"], num_steps=0),
        custom_config={
            trainer_module.EXPERIMENT_KEY: experiment.to_dict(),
            # Outlives Trainer executions: a Trainer that died resumes from its checkpoints.
            trainer_module.CHECKPOINT_ROOT_KEY: os.path.join(pipeline_root, "TrainerCheckpoints"),
        },
    )
    probe = None
    if enable_probe:
        probe = FeatureProbeEvaluator(
            examples=example_gen.outputs["examples"],
            model=trainer.outputs["model"],
            accuracy_threshold=probe_accuracy_threshold,
            max_train_examples=probe_max_train_examples,
            max_test_examples=probe_max_test_examples,
            seed=experiment.train.seed,
        )
    elif not push_unblessed:
        raise ValueError(
            "create_pipeline: enable_probe=False leaves nothing to bless the model; pass "
            "push_unblessed=True to push unconditionally"
        )
    pusher = VersionedPusher(
        model=trainer.outputs["model"],
        model_blessing=probe.outputs["blessing"] if probe else None,
        push_base=push_base,
        model_names=DEFAULT_MODEL_NAMES,
        push_unblessed=push_unblessed and probe is None,
    )
    return tfx.dsl.Pipeline(
        pipeline_name=pipeline_name,
        pipeline_root=pipeline_root,
        components=[
            example_gen,
            curated_schema,
            statistics_gen,
            inferred_schema,
            example_validator,
            transform,
            trainer,
            *([probe] if probe else []),
            pusher,
        ],
        enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=list(beam_pipeline_args),
    )
