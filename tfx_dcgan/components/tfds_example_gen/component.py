"""TfdsExampleGen: a TensorFlow Datasets data set prepared in a local data_dir -> raw examples.

    TfdsExampleGen(dataset_name="cifar10:3.0.2", data_dir="/data/tensorflow_datasets")

writes an Examples artifact with the same feature names, types, splits ('train', 'eval' by
default), file format (gzipped TFRecords), custom properties, labels.txt and ingest_report.json as
ImageExampleGen, so StatisticsGen, the curated schema, Transform and the Trainer take it unchanged.
Nothing downloads: an unprepared data set fails with an error naming the data set and data_dir.

Caching: the component has no input artifacts, so its cache key is its parameters. TFDS data is
versioned: name the version (`name:1.0.0`) and a changed data set gets a new key; otherwise run
with caching off after re-preparing a data set in place.

Beam options come from the pipeline's `beam_pipeline_args` (see ImageExampleGen's component.py for
DirectRunner, Flink, Spark and Dataflow flags); workers need tensorflow-datasets and read data_dir,
so on a cluster it must be a shared file system (gs://, hdfs://).
"""

from __future__ import annotations

import json

from tfx_dcgan.components.tfds_example_gen import executor
from tfx_dcgan.ingest import tfds_source

from tfx import types
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

__all__ = ["TfdsExampleGen", "TfdsExampleGenSpec"]


class TfdsExampleGenSpec(ComponentSpec):
    """Parameters of TfdsExampleGen (keys in executor.py)."""

    PARAMETERS = {
        executor.DATASET_NAME_KEY: ExecutionParameter(type=str),
        executor.DATA_DIR_KEY: ExecutionParameter(type=str),
        executor.IMAGE_KEY_KEY: ExecutionParameter(type=str),
        executor.LABEL_KEY_KEY: ExecutionParameter(type=str),
        executor.SPLIT_MAPPING_KEY: ExecutionParameter(type=str),
        executor.CHANNELS_KEY: ExecutionParameter(type=int),
        executor.MAX_LOGGED_SKIPPED_KEY: ExecutionParameter(type=int),
        executor.CHUNK_SIZE_KEY: ExecutionParameter(type=int),
    }
    INPUTS = {}
    OUTPUTS = {
        standard_component_specs.EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
    }


class TfdsExampleGen(base_beam_component.BaseBeamComponent):
    """Reads a prepared TFDS data set into gzipped TFRecords of raw image `tf.Example`s."""

    SPEC_CLASS = TfdsExampleGenSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(
        self,
        dataset_name: str,
        data_dir: str,
        image_key: str = "image",
        label_key: str = "label",
        split_mapping: dict[str, str] | None = None,
        channels: int = 3,
        max_logged_skipped: int = 20,
        chunk_size: int = tfds_source.DEFAULT_CHUNK_SIZE,
    ):
        """Builds the component (nothing is read until it runs).

        Args:
          dataset_name: 'name', 'name/config', 'name:version' or 'name/config:version'.
          data_dir: the TFDS data_dir the data set is prepared in.
          image_key: top-level uint8 image feature.
          label_key: top-level integer label feature (ClassLabel names become label/text); ""
            for unlabelled data (label = features.UNLABELLED).
          split_mapping: TFDS split spec -> output split, e.g. {'train[:90%]': 'train',
            'train[90%:]': 'eval'}; default {'train': 'train', 'test': 'eval'}. The Trainer reads
            'train' and 'eval'.
          channels: 1 or 3, what the Transform decodes to (ModelConfig.channels).
          max_logged_skipped: skipped elements listed in the log and the report.
          chunk_size: elements per Beam work item.

        Raises:
          ValueError: an empty name or data_dir, bad channels, split mapping or counts.
        """
        if not dataset_name:
            raise ValueError("TfdsExampleGen: dataset_name is empty")
        if not data_dir:
            raise ValueError(f"TfdsExampleGen({dataset_name!r}): data_dir is empty")
        if channels not in (1, 3):
            raise ValueError(f"TfdsExampleGen: channels must be 1 or 3, got {channels}")
        split_mapping = dict(split_mapping or tfds_source.DEFAULT_SPLIT_MAPPING)
        if not all(
            isinstance(k, str) and k and isinstance(v, str) and v for k, v in split_mapping.items()
        ):
            raise ValueError(
                f"TfdsExampleGen: split_mapping must map TFDS split specs to output split names "
                f"(non-empty strings), got {split_mapping!r}"
            )
        if max_logged_skipped < 0 or chunk_size < 1:
            raise ValueError(
                f"TfdsExampleGen: need max_logged_skipped >= 0 and chunk_size >= 1, got "
                f"{max_logged_skipped} and {chunk_size}"
            )
        spec = TfdsExampleGenSpec(
            dataset_name=dataset_name,
            data_dir=data_dir,
            image_key=image_key,
            label_key=label_key,
            split_mapping=json.dumps(split_mapping, sort_keys=False),
            channels=channels,
            max_logged_skipped=max_logged_skipped,
            chunk_size=chunk_size,
            examples=types.Channel(type=standard_artifacts.Examples),
        )
        super().__init__(spec=spec)
