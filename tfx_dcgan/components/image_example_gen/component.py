"""ImageExampleGen: a file-based ExampleGen for folders of images.

Layouts it reads (labels are the class-folder names; their sorted list is the label vocabulary):

    <input_base>/train/<class>/*.jpg, <input_base>/test/<class>/*.jpg  -> splits 'train', 'eval'
    <input_base>/<class>/*.png                                          -> hash-bucketed splits
    <input_base>/*.png  (flat: every label is features.UNLABELLED)      -> hash-bucketed splits

It subclasses `FileBasedExampleGen` with its own spec: the same driver (span/version resolution and
the input fingerprint that lets a second run be served from the cache; the Kubeflow V2 compiler
adds that driver as the task's pre-cache check only for `FileBasedExampleGen` subclasses, and Vertex
AI Pipelines runs it), the same `input_config` /
`output_config` / `range_config`, plus `channels` (what preprocessing decodes to; images TF cannot
decode at that channel count are converted to PNG) and `max_logged_skipped`.

Beam options come from the pipeline's `beam_pipeline_args`: DirectRunner with
`--direct_running_mode=multi_processing --direct_num_workers=0` (one worker per core) locally;
`--runner=FlinkRunner --flink_master=HOST:8081 --environment_type=LOOPBACK`,
`--runner=SparkRunner --spark_master_url=spark://HOST:7077`, or
`--runner=DataflowRunner --project=P --region=R --temp_location=gs://B/tmp
--setup_file=./setup.py` on a cluster (the workers need this package installed).
"""

from __future__ import annotations

import os

from tfx_dcgan import features
from tfx_dcgan.components.image_example_gen import executor
from tfx_dcgan.ingest import images as ingest

import tensorflow as tf
from tfx import types
from tfx.components.example_gen import driver
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.proto import example_gen_pb2, range_config_pb2
from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

__all__ = [
    "ImageExampleGen",
    "ImageExampleGenSpec",
    "default_input_config",
    "default_output_config",
    "ingest_folder",
]

CHANNELS_KEY = "channels"
MAX_LOGGED_SKIPPED_KEY = "max_logged_skipped"
MAX_IMAGE_PIXELS_KEY = "max_image_pixels"

# Sub-roots that become splits, in this order of preference for the evaluation split.
TRAIN_SUBROOT = "train"
EVAL_SUBROOTS = ("test", "eval", "validation")


class ImageExampleGenSpec(ComponentSpec):
    """FileBasedExampleGenSpec plus the image options."""

    PARAMETERS = {
        **standard_component_specs.FileBasedExampleGenSpec.PARAMETERS,
        CHANNELS_KEY: ExecutionParameter(type=int),
        MAX_LOGGED_SKIPPED_KEY: ExecutionParameter(type=int),
        MAX_IMAGE_PIXELS_KEY: ExecutionParameter(type=int, optional=True),
    }
    INPUTS = {}
    OUTPUTS = {
        standard_component_specs.EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
    }


def _glob_for(input_base: str, sub_root: str) -> str:
    """'<sub_root>/*/*' when the folder holds only class folders (the input fingerprint then
    covers every image file), else '<sub_root>/*' (folders are still searched recursively)."""
    folder = os.path.join(input_base, sub_root) if sub_root else input_base
    prefix = f"{sub_root}/" if sub_root else ""
    try:
        entries = [e for e in tf.io.gfile.listdir(folder) if not e.startswith((".", "_"))]
    except tf.errors.NotFoundError:
        return f"{prefix}*"
    if entries and all(tf.io.gfile.isdir(os.path.join(folder, e)) for e in entries):
        return f"{prefix}*/*"
    return f"{prefix}*"


def default_input_config(input_base: str) -> example_gen_pb2.Input:
    """Splits from `train/` + `test/` (or `eval/`, `validation/`) sub-roots, else one split.

    Args:
      input_base: the data folder; looked at when the pipeline is built.

    Returns:
      Input config with splits 'train' and 'eval' when the sub-roots exist, else a single split
      over the whole folder (then hash buckets from the output config decide the splits).
    """
    if tf.io.gfile.isdir(os.path.join(input_base, TRAIN_SUBROOT)):
        for eval_root in EVAL_SUBROOTS:
            if tf.io.gfile.isdir(os.path.join(input_base, eval_root)):
                return example_gen_pb2.Input(
                    splits=[
                        example_gen_pb2.Input.Split(
                            name="train", pattern=_glob_for(input_base, TRAIN_SUBROOT)
                        ),
                        example_gen_pb2.Input.Split(
                            name="eval", pattern=_glob_for(input_base, eval_root)
                        ),
                    ]
                )
    return example_gen_pb2.Input(
        splits=[example_gen_pb2.Input.Split(name="single_split", pattern=_glob_for(input_base, ""))]
    )


def default_output_config(input_config: example_gen_pb2.Input) -> example_gen_pb2.Output:
    """Input splits as they are; for a single input split, train:eval = 9:1 by hashing the path.

    Hashing `image/path` (not the whole example) keeps an image in its split when it is re-encoded.
    """
    if len(input_config.splits) > 1:
        return example_gen_pb2.Output()
    return example_gen_pb2.Output(
        split_config=example_gen_pb2.SplitConfig(
            splits=[
                example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=9),
                example_gen_pb2.SplitConfig.Split(name="eval", hash_buckets=1),
            ],
            partition_feature_name=features.IMAGE_PATH,
        )
    )


class ImageExampleGen(FileBasedExampleGen):
    """Ingests image folders into gzipped TFRecords of `tf.Example` (see tfx_dcgan.features).

    Output `examples` carries custom properties: `num_images`, `num_converted`, `num_skipped`,
    `num_skipped_<reason>` for each of ingest.SKIP_REASONS, `num_classes`, `label_vocabulary`
    (a JSON list); `labels.txt` (one class name per line, line i = label i) and
    `ingest_report.json` (counts and the first `max_logged_skipped` skipped files) lie in its root.
    """

    SPEC_CLASS = ImageExampleGenSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)
    DRIVER_CLASS = driver.FileBasedDriver

    def __init__(
        self,
        input_base: str,
        channels: int = 3,
        input_config: example_gen_pb2.Input | None = None,
        output_config: example_gen_pb2.Output | None = None,
        range_config: range_config_pb2.RangeConfig | None = None,
        max_logged_skipped: int = 20,
        max_image_pixels: int = ingest.DEFAULT_MAX_PIXELS,
    ):
        """Builds the component.

        Args:
          input_base: the data folder (class folders, flat, or with train/ and test/ sub-roots).
          channels: 1 or 3: what the Transform decodes to (ModelConfig.channels).
          input_config: split patterns relative to input_base; default: default_input_config.
          output_config: default: default_output_config.
          range_config: span selection, as for FileBasedExampleGen.
          max_logged_skipped: how many skipped files are logged and kept in the report.
          max_image_pixels: images whose header declares more pixels are skipped undecoded
            (reason "too_large"; decompression bombs); 0 = no cap.

        Raises:
          ValueError: a bad `channels`, `max_logged_skipped` or `max_image_pixels`.
        """
        if max_image_pixels < 0:
            raise ValueError(
                f"ImageExampleGen: max_image_pixels must be >= 0 (0 = no cap), got {max_image_pixels}"
            )
        if channels not in (1, 3):
            raise ValueError(f"ImageExampleGen: channels must be 1 or 3, got {channels}")
        if max_logged_skipped < 0:
            raise ValueError(
                f"ImageExampleGen: max_logged_skipped must be >= 0, got {max_logged_skipped}"
            )
        input_config = input_config or default_input_config(input_base)
        output_config = output_config or default_output_config(input_config)
        spec = ImageExampleGenSpec(
            input_base=input_base,
            input_config=input_config,
            output_config=output_config,
            custom_config=None,
            range_config=range_config,
            output_data_format=example_gen_pb2.FORMAT_TF_EXAMPLE,
            output_file_format=example_gen_pb2.FORMAT_TFRECORDS_GZIP,
            channels=channels,
            max_logged_skipped=max_logged_skipped,
            max_image_pixels=max_image_pixels,
            examples=types.Channel(type=standard_artifacts.Examples),
        )
        # FileBasedExampleGen's own __init__ builds the stock spec; ours adds the options above.
        base_beam_component.BaseBeamComponent.__init__(self, spec=spec)


def ingest_folder(
    input_base: str,
    examples_uri: str,
    beam_pipeline_args: list[str],
    *,
    channels: int = 3,
    max_logged_skipped: int = 20,
) -> standard_artifacts.Examples:
    """Runs ImageExampleGen's executor once, outside any pipeline (benchmarks, tests, one-offs).

    The same executor and default split configs as the component, without an orchestrator or
    ML Metadata: the result is an Examples artifact object (not registered anywhere) whose
    custom properties carry the counts.

    Args:
      input_base: the data folder, as for ImageExampleGen.
      examples_uri: an empty or missing folder for the output splits and reports.
      beam_pipeline_args: e.g. ["--direct_running_mode=in_memory", "--direct_num_workers=1"].
      channels: 1 or 3, as for ImageExampleGen.
      max_logged_skipped: as for ImageExampleGen.

    Returns:
      The Examples artifact, its `uri` set to examples_uri.
    """
    from tfx.dsl.components.base import base_beam_executor
    from tfx.utils import proto_utils

    input_config = default_input_config(input_base)
    examples = standard_artifacts.Examples()
    examples.uri = examples_uri
    tf.io.gfile.makedirs(examples_uri)
    properties = {
        standard_component_specs.INPUT_BASE_KEY: input_base,
        standard_component_specs.INPUT_CONFIG_KEY: proto_utils.proto_to_json(input_config),
        standard_component_specs.OUTPUT_CONFIG_KEY: proto_utils.proto_to_json(
            default_output_config(input_config)
        ),
        standard_component_specs.OUTPUT_DATA_FORMAT_KEY: example_gen_pb2.FORMAT_TF_EXAMPLE,
        standard_component_specs.OUTPUT_FILE_FORMAT_KEY: example_gen_pb2.FORMAT_TFRECORDS_GZIP,
        CHANNELS_KEY: channels,
        MAX_LOGGED_SKIPPED_KEY: max_logged_skipped,
    }
    context = base_beam_executor.BaseBeamExecutor.Context(
        beam_pipeline_args=beam_pipeline_args,
        tmp_dir=os.path.join(examples_uri, ".tmp"),
        unique_id="standalone",
    )
    executor.Executor(context).Do(
        {}, {standard_component_specs.EXAMPLES_KEY: [examples]}, properties
    )
    return examples
