"""TFRecordExampleGen: ImportExampleGen for TFRecords of `tf.Example` with other feature names.

    TFRecordExampleGen(input_base="/data/records", feature_map={"image/encoded": "img_bytes",
                                                                "label": "class_id"})

A FileBasedExampleGen in all but its spec (like ImageExampleGen): the same driver (span/version
resolution and the input fingerprint that lets an unchanged input be served from the cache), the
same `input_config` / `output_config` / `range_config`, plus:

  * `feature_map`: ours -> theirs (see tfx_dcgan.ingest.tfrecord_source); records already in our feature
    names need none and pass through unchanged;
  * `channels`: what preprocessing decodes to (images TF cannot decode at that count become PNG);
  * `label_names`: label texts by index when the records carry none (labels.txt otherwise comes
    from the (label, label/text) pairs seen);
  * `compression_type`: 'auto' (by extension, .gz = gzip, as ImportExampleGen), 'gzip' or
    'uncompressed'.

Output: gzipped TFRecords with exactly tfx_dcgan.features.RAW_FEATURES, splits from input_config
or hash buckets (default train:eval = 9:1 on image/path), and ImageExampleGen's custom properties,
labels.txt and ingest_report.json. Beam options: see ImageExampleGen's component.py.
"""

from __future__ import annotations

import json

from tfx_dcgan.components.image_example_gen.component import default_output_config
from tfx_dcgan.components.tfrecord_example_gen import executor
from tfx_dcgan.ingest import tfrecord_source

from tfx import types
from tfx.components.example_gen import driver
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.proto import example_gen_pb2, range_config_pb2
from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

__all__ = ["TFRecordExampleGen", "TFRecordExampleGenSpec", "default_input_config"]


class TFRecordExampleGenSpec(ComponentSpec):
    """FileBasedExampleGenSpec plus the remap options (keys in executor.py)."""

    PARAMETERS = {
        **standard_component_specs.FileBasedExampleGenSpec.PARAMETERS,
        executor.FEATURE_MAP_KEY: ExecutionParameter(type=str),
        executor.CHANNELS_KEY: ExecutionParameter(type=int),
        executor.LABEL_NAMES_KEY: ExecutionParameter(type=str),
        executor.COMPRESSION_KEY: ExecutionParameter(type=str),
        executor.MAX_LOGGED_SKIPPED_KEY: ExecutionParameter(type=int),
    }
    INPUTS = {}
    OUTPUTS = {
        standard_component_specs.EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
    }


def default_input_config(patterns: str | dict[str, str] = "*") -> example_gen_pb2.Input:
    """Splits from globs relative to input_base (see tfrecord_source.parse_tfrecord_pattern).

    One glob (a str) is one input split that hash buckets then cut into train/eval; a dict
    {'train': ..., 'eval': ...} gives the splits as they are.
    """
    if isinstance(patterns, str):
        patterns = {"single_split": patterns}
    return example_gen_pb2.Input(
        splits=[example_gen_pb2.Input.Split(name=n, pattern=p) for n, p in patterns.items()]
    )


class TFRecordExampleGen(FileBasedExampleGen):
    """Imports TFRecords of `tf.Example`, remapping feature names onto tfx_dcgan.features."""

    SPEC_CLASS = TFRecordExampleGenSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)
    DRIVER_CLASS = driver.FileBasedDriver

    def __init__(
        self,
        input_base: str,
        feature_map: dict[str, str] | str | None = None,
        channels: int = 3,
        label_names: list[str] | None = None,
        input_config: example_gen_pb2.Input | None = None,
        output_config: example_gen_pb2.Output | None = None,
        range_config: range_config_pb2.RangeConfig | None = None,
        compression_type: str = "auto",
        max_logged_skipped: int = 20,
    ):
        """Builds the component.

        Args:
          input_base: the folder holding the TFRecord files.
          feature_map: ours -> theirs, a dict or 'ours=theirs,...' / JSON text; None: the
            records already use our names.
          channels: 1 or 3 (ModelConfig.channels).
          label_names: label texts by index (optional).
          input_config: split patterns relative to input_base; default one split over '*'
            (e.g. pass patterns 'train-*.tfrecord.gz' and 'eval-*' as 'train' and 'eval').
          output_config: default: ImageExampleGen's (input splits as they are, or 9:1 hashed on
            image/path).
          range_config: span selection, as for FileBasedExampleGen.
          compression_type: 'auto', 'gzip' or 'uncompressed'.
          max_logged_skipped: skipped records listed in the log and the report.

        Raises:
          ValueError: a bad feature map, channels, compression type or count.
        """
        mapping = tfrecord_source.parse_feature_map(feature_map)
        if channels not in (1, 3):
            raise ValueError(f"TFRecordExampleGen: channels must be 1 or 3, got {channels}")
        if compression_type not in executor.COMPRESSION_TYPES:
            raise ValueError(
                f"TFRecordExampleGen: compression_type must be one of "
                f"{sorted(executor.COMPRESSION_TYPES)}, got {compression_type!r}"
            )
        if max_logged_skipped < 0:
            raise ValueError(
                f"TFRecordExampleGen: max_logged_skipped must be >= 0, got {max_logged_skipped}"
            )
        input_config = input_config or default_input_config()
        output_config = output_config or default_output_config(input_config)
        spec = TFRecordExampleGenSpec(
            input_base=input_base,
            input_config=input_config,
            output_config=output_config,
            custom_config=None,
            range_config=range_config,
            output_data_format=example_gen_pb2.FORMAT_TF_EXAMPLE,
            output_file_format=example_gen_pb2.FORMAT_TFRECORDS_GZIP,
            feature_map=json.dumps(mapping, sort_keys=True),
            channels=channels,
            label_names=json.dumps(list(label_names or [])),
            compression_type=compression_type,
            max_logged_skipped=max_logged_skipped,
            examples=types.Channel(type=standard_artifacts.Examples),
        )
        # FileBasedExampleGen's own __init__ builds the stock spec; ours adds the options above.
        base_beam_component.BaseBeamComponent.__init__(self, spec=spec)
