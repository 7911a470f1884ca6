"""The tfx-dcgan TFX pipeline: image folders -> validated examples -> Transform -> DCGAN -> push.

    ImageExampleGen ──> StatisticsGen ──> SchemaGen (inferred, kept for comparison)
          │                  │
          │   ImportSchemaGen (curated: package:tfx_dcgan/schema/schema.pbtxt)
          │                  │
          │                  └──> ExampleValidator (anomalies against the curated schema)
          │                            └──> SchemaGate (fails the run on anomalies or labels
          │                                  outside labels.txt, unless --allow_anomalies)
          └──> Transform (preprocessing_fn, custom_config: image size, channels; gated schema)
                  └──> Trainer (run_fn: train_lib.train, exports generator + feature extractor)
                          ├──> FeatureProbeEvaluator (D features through the exported extractor
                          │       -> L2-SVM on the raw labelled examples; FID/KID of G's samples
                          │       against the eval split; ModelBlessing when accuracy >= threshold)
                          └──> VersionedPusher (<push_base>/<name>/<version>/, blessed models only)

Two arguments say everything: the runners (local_runner.py, kubeflow_v2_runner.py, the Airflow
DAG) build a `PipelineConfig` and an `ExperimentConfig` from the same flags (tfx_dcgan/cli/flags.py)
and pass them here; the Trainer gets the experiment as custom_config and the Transform gets the
image geometry from it.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import tfx_dcgan  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from tfx_dcgan import artifact
from tfx_dcgan.components import preprocessing, trainer_module
from tfx_dcgan.components.feature_probe_evaluator.component import FeatureProbeEvaluator
from tfx_dcgan.components.image_example_gen import component as image_example_gen_component
from tfx_dcgan.components.image_example_gen.component import ImageExampleGen
from tfx_dcgan.components.import_schema_gen.component import CURATED_SCHEMA, PackagedImportSchemaGen
from tfx_dcgan.components.schema_gate.component import SchemaGate
from tfx_dcgan.components.tfds_example_gen.component import TfdsExampleGen
from tfx_dcgan.components.tfrecord_example_gen.component import (
    TFRecordExampleGen,
)
from tfx_dcgan.components.tfrecord_example_gen.component import (
    default_input_config as tfrecord_input_config,
)
from tfx_dcgan.components.versioned_pusher.component import VersionedPusher
from tfx_dcgan.config import ConfigError, ExperimentConfig, PipelineConfig
from tfx_dcgan.ingest import tfrecord_source

import tensorflow as tf
from tfx import v1 as tfx

__all__ = ["CURATED_SCHEMA", "create_pipeline"]


def _image_input_config(config: PipelineConfig):
    """ImageExampleGen's split patterns for `config.layout` (see PipelineConfig)."""
    from tfx.proto import example_gen_pb2

    if config.layout == "split_subroots":
        return example_gen_pb2.Input(
            splits=[
                # File-level patterns: the ExampleGen driver's input fingerprint stats what they
                # match, and on an object store a "folder" has no size or mtime to stat.
                example_gen_pb2.Input.Split(name="train", pattern="train/*/*"),
                example_gen_pb2.Input.Split(name="eval", pattern="test/*/*"),
            ]
        )
    if config.layout == "single":
        return example_gen_pb2.Input(
            splits=[example_gen_pb2.Input.Split(name="single_split", pattern="*")]
        )
    if not tf.io.gfile.isdir(config.data_dir):
        raise ConfigError(
            f"pipeline.layout=auto looks at pipeline.data_dir={config.data_dir!r} when the pipeline "
            "is built, and it is not a readable folder here: pass --layout=split_subroots "
            "(train/ and test/ sub-roots) or --layout=single"
        )
    return image_example_gen_component.default_input_config(config.data_dir)


def _make_example_gen(config: PipelineConfig, channels: int, max_pixels: int):
    """The ExampleGen of `config.source`; every one writes the same raw features."""
    if config.source == "images":
        return ImageExampleGen(
            input_base=config.data_dir,
            channels=channels,
            input_config=_image_input_config(config),
            max_logged_skipped=config.max_logged_skipped,
            max_image_pixels=max_pixels,
        )
    if config.source == "tfds":
        return TfdsExampleGen(
            dataset_name=config.tfds_name,
            data_dir=config.tfds_data_dir,
            image_key=config.tfds_image_key,
            label_key=config.tfds_label_key,
            split_mapping=dict(config.tfds_split_mapping) or None,
            channels=channels,
            max_logged_skipped=config.max_logged_skipped,
        )
    input_base, patterns = tfrecord_source.parse_tfrecord_pattern(config.tfrecord_pattern)
    return TFRecordExampleGen(
        input_base=input_base,
        feature_map=dict(config.feature_map) or None,
        channels=channels,
        label_names=list(config.label_names) or None,
        input_config=tfrecord_input_config(patterns),
        max_logged_skipped=config.max_logged_skipped,
    )


def _data_components(config: PipelineConfig, channels: int, max_pixels: int) -> list[Any]:
    """[ExampleGen, curated ImportSchemaGen, StatisticsGen, inferred SchemaGen, ExampleValidator,
    SchemaGate]: the gate's output schema is what Transform and the Trainer read."""
    example_gen = _make_example_gen(config, channels, max_pixels)
    curated_schema = PackagedImportSchemaGen(
        schema_file=config.schema_path or CURATED_SCHEMA
    ).with_id("ImportSchemaGen")
    statistics_gen = tfx.components.StatisticsGen(
        examples=example_gen.outputs["examples"], schema=curated_schema.outputs["schema"]
    )
    inferred_schema = tfx.components.SchemaGen(
        statistics=statistics_gen.outputs["statistics"], infer_feature_shape=True
    )
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=curated_schema.outputs["schema"]
    )
    gate = SchemaGate(
        statistics=statistics_gen.outputs["statistics"],
        anomalies=example_validator.outputs["anomalies"],
        schema=curated_schema.outputs["schema"],
        examples=example_gen.outputs["examples"],
        allow_anomalies=config.allow_anomalies,
    )
    return [example_gen, curated_schema, statistics_gen, inferred_schema, example_validator, gate]


def _training_components(
    config: PipelineConfig, experiment: ExperimentConfig, example_gen: Any, gate: Any
) -> tuple[Any, Any]:
    """(Transform, Trainer): the one preprocessing graph, then the GAN loop on its output."""
    model = experiment.model
    transform = tfx.components.Transform(
        examples=example_gen.outputs["examples"],
        schema=gate.outputs["gated_schema"],
        preprocessing_fn="tfx_dcgan.components.preprocessing.preprocessing_fn",
        custom_config=preprocessing.make_custom_config(
            model.image_size, model.channels, experiment.data.max_image_pixels
        ),
        # StatisticsGen already describes the raw data; statistics of raw pixel bytes add nothing.
        disable_statistics=True,
    )
    trainer = tfx.components.Trainer(
        run_fn="tfx_dcgan.components.trainer_module.run_fn",
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=gate.outputs["gated_schema"],
        train_args=tfx.proto.TrainArgs(splits=["train"], num_steps=experiment.train.steps),
        eval_args=tfx.proto.EvalArgs(splits=["eval"], num_steps=0),
        custom_config={
            trainer_module.EXPERIMENT_KEY: experiment.to_dict(),
            # Outlives Trainer executions: a Trainer that died resumes from its checkpoints.
            trainer_module.CHECKPOINT_ROOT_KEY: os.path.join(
                config.pipeline_root, "TrainerCheckpoints"
            ),
        },
    )
    return transform, trainer


def create_pipeline(
    config: PipelineConfig,
    experiment: ExperimentConfig,
    metadata_connection_config=None,
) -> tfx.dsl.Pipeline:
    """Builds the pipeline.

    Args:
      config: the pipeline's options (source, Beam, probe, push, cache; see PipelineConfig).
      experiment: the training run; `train.steps` becomes TrainArgs.num_steps and the whole config
        reaches the Trainer (strategy, cpu_replicas and sync_batch_norm included). Its
        `data.data_dir` is unused: the Trainer reads the Transform output.
      metadata_connection_config: MLMD connection (None: the orchestrator's default).

    Returns:
      A tfx.dsl.Pipeline.

    Raises:
      ConfigError: an invalid config (the message names the field).
    """
    config.validate(check_local_paths=False)
    experiment = dataclasses.replace(
        experiment, data=dataclasses.replace(experiment.data, data_dir="")
    ).validate()
    data_components = _data_components(
        config, experiment.model.channels, experiment.data.max_image_pixels
    )
    # Transform and the Trainer read the schema the gate passed on: they never run on data that
    # breaks it.
    example_gen, gated_schema = data_components[0], data_components[-1]
    transform, trainer = _training_components(config, experiment, example_gen, gated_schema)
    probe = None
    if config.probe:
        probe = FeatureProbeEvaluator(
            examples=example_gen.outputs["examples"],
            model=trainer.outputs["model"],
            accuracy_threshold=config.probe_threshold,
            max_train_examples=config.probe_max_train_examples,
            max_test_examples=config.probe_max_test_examples,
            seed=experiment.train.seed,
            fid=config.fid,
            fid_count=config.fid_count,
            fid_ceiling=config.fid_ceiling,
            fid_baselines=config.fid_baselines,
            fid_batch_size=config.fid_batch_size,
            fid_cache_dir=config.fid_cache_dir,
            inception_weights=config.inception_weights,
        )
    pusher = VersionedPusher(
        model=trainer.outputs["model"],
        model_blessing=probe.outputs["blessing"] if probe else None,
        push_base=config.push_base,
        model_names=artifact.SERVED_MODELS,
        push_unblessed=config.push_unblessed,
    )
    return tfx.dsl.Pipeline(
        pipeline_name=config.pipeline_name,
        pipeline_root=config.pipeline_root,
        components=[
            *data_components,
            transform,
            trainer,
            *([probe] if probe else []),
            pusher,
        ],
        enable_cache=config.enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=config.beam_pipeline_args(),
    )
