"""What every tfx-dcgan ExampleGen executor writes besides the examples (executor side, imports TFX).

The TFDS and TFRecord ExampleGens record their outcome the way ImageExampleGen does, so tools that
read one (`read_report`, the run summary, the curated schema) read all:

  * custom properties on the Examples artifact: `num_images`, `num_converted`, `num_skipped`,
    `num_skipped_<reason>` per skip reason, `num_classes`, `label_vocabulary` (a JSON list), plus
    source-specific counts (`num_elements`, `num_records`);
  * `labels.txt` (line i = the text of label i) and `ingest_report.json` (the counts, the
    vocabulary and the first skipped items) in the artifact's root;
  * payload format tf.Example and the file format on the artifact.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from typing import Any

from tfx_dcgan import fileio, progress
from tfx_dcgan.ingest import transforms

import apache_beam as beam
import tensorflow as tf
from absl import logging
from apache_beam.metrics.metric import MetricsFilter
from tfx.components.example_gen import utils, write_split
from tfx.components.example_gen.base_example_gen_executor import BaseExampleGenExecutor
from tfx.components.util import examples_utils
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

LABELS_FILE = "labels.txt"
REPORT_FILE = "ingest_report.json"

__all__ = [
    "LABELS_FILE",
    "REPORT_FILE",
    "counter_totals",
    "sample_skipped",
    "read_skipped_sample",
    "generate_examples_by_beam",
    "pattern_key",
    "SplitPatternExecutor",
    "write_splits",
    "PROGRESS_ID",
    "run_and_count",
    "record_outputs",
    "read_report",
]


def counter_totals(result: beam.runners.runner.PipelineResult, namespace: str) -> dict[str, int]:
    """Sums the Beam counters of `namespace` over steps (committed, else attempted, values)."""
    totals: dict[str, int] = {}
    query = result.metrics().query(MetricsFilter().with_namespace(namespace))
    for counter in query["counters"]:
        value = counter.committed if counter.committed is not None else counter.attempted
        totals[counter.key.metric.name] = totals.get(counter.key.metric.name, 0) + int(value or 0)
    return totals


def sample_skipped(
    skipped: beam.pvalue.PCollection, report_dir: str, name: str, max_logged: int
) -> None:
    """Writes the smallest `max_logged` (path, reason, detail) items to `<report_dir>/<name>`."""
    _ = (
        skipped
        | "FirstSkipped" >> beam.combiners.Top.Smallest(max(1, max_logged))
        | "WriteSkipped"
        >> beam.Map(
            transforms.write_skip_sample,
            fileio.child_path(report_dir, f"skipped-{name}.json", "split name"),
        )
    )


def read_skipped_sample(report_dir: str, max_logged: int) -> list[list]:
    """The first `max_logged` skipped items written by sample_skipped; removes `report_dir`."""
    sample: list[list] = []
    if tf.io.gfile.isdir(report_dir):
        for name in sorted(tf.io.gfile.listdir(report_dir)):
            if name.startswith("skipped-"):
                with tf.io.gfile.GFile(os.path.join(report_dir, name)) as handle:
                    sample.extend(json.load(handle))
        tf.io.gfile.rmtree(report_dir)
    return sorted(sample)[:max_logged]


def split_configs(
    exec_properties: dict[str, Any],
) -> tuple[example_gen_pb2.Input, example_gen_pb2.Output]:
    """The input and output split configs of an ExampleGen's exec properties (JSON protos)."""
    input_config = example_gen_pb2.Input()
    proto_utils.json_to_proto(
        exec_properties[standard_component_specs.INPUT_CONFIG_KEY], input_config
    )
    output_config = example_gen_pb2.Output()
    proto_utils.json_to_proto(
        exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY], output_config
    )
    # Split names become folder names (Split-<name>) and report file names.
    for split in list(input_config.splits) + list(output_config.split_config.splits):
        fileio.safe_name(split.name, "split name")
    return input_config, output_config


def examples_artifact_with_splits(output_dict: dict[str, list], split_names: list[str]):
    """The single Examples output artifact, its split names set."""
    examples = artifact_utils.get_single_instance(
        output_dict[standard_component_specs.EXAMPLES_KEY]
    )
    examples.split_names = artifact_utils.encode_split_names(list(split_names))
    return examples


def image_counts(totals: dict[str, int], skip_reasons: tuple[str, ...]) -> dict[str, int]:
    """The count properties every ExampleGen records, from its Beam counter totals.

    One set of names for all sources: counters `images`, `converted` and
    `transforms.skipped_counter_name(reason)`; properties `num_images`, `num_converted`,
    `num_skipped_<reason>` and their sum `num_skipped`.
    """
    counts = {
        "num_images": totals.get(transforms.IMAGES_COUNTER, 0),
        "num_converted": totals.get(transforms.CONVERTED_COUNTER, 0),
    }
    for reason in skip_reasons:
        counts[f"num_skipped_{reason}"] = totals.get(transforms.skipped_counter_name(reason), 0)
    counts["num_skipped"] = sum(counts[f"num_skipped_{r}"] for r in skip_reasons)
    return counts


def generate_examples_by_beam(
    pipeline: beam.Pipeline,
    exec_properties: dict[str, Any],
    to_examples: beam.PTransform,
    component_name: str,
    chunked: bool = False,
) -> dict[str, beam.pvalue.PCollection]:
    """BaseExampleGenExecutor.GenerateExamplesByBeam without TFX on the workers.

    Input splits become output splits as they are; one input split with an output split_config
    is hash-partitioned with `transforms.partition_by_feature` (TFX's `_PartitionFn` rule).

    Args:
      pipeline: the Beam pipeline.
      exec_properties: the component's (input_config / output_config as JSON).
      to_examples: a `beam.ptransform_fn` (pipeline, exec_properties, split_pattern) ->
        PCollection of serialized tf.Example (or of lists of them, with `chunked`).
      component_name: for error messages.
      chunked: the elements are lists of serialized examples (partitioned record by record with
        the same rule; write them with `transforms.WriteTFRecordChunks`).

    Returns:
      Output split name -> PCollection of serialized tf.Example (lists of them with `chunked`).
    """
    input_config, output_config = split_configs(exec_properties)
    split_names = utils.generate_output_split_names(input_config, output_config)
    if not output_config.split_config.splits:
        return {
            name: pipeline | f"InputToRecord[{name}]" >> to_examples(exec_properties, split.pattern)
            for name, split in zip(split_names, input_config.splits)
        }
    if len(input_config.splits) != 1:
        raise ValueError(
            f"{component_name}: output_config.split_config needs exactly one input split, got "
            f"{[s.name for s in input_config.splits]}"
        )
    buckets, total = [], 0
    for split in output_config.split_config.splits:
        total += split.hash_buckets
        buckets.append(total)
    records = pipeline | "InputToRecord" >> to_examples(
        exec_properties, input_config.splits[0].pattern
    )
    feature_name = output_config.split_config.partition_feature_name
    if chunked:
        tags = [str(i) for i in range(len(buckets))]
        parts = records | "SplitData" >> beam.ParDo(
            transforms.PartitionChunks(buckets, feature_name)
        ).with_outputs(*tags)
        return {name: parts[tag] for tag, name in zip(tags, split_names)}
    partitions = records | "SplitData" >> beam.Partition(
        transforms.partition_by_feature, len(buckets), buckets, feature_name
    )
    return {name: partitions[i] for i, name in enumerate(split_names)}


def write_splits(
    example_splits: dict[str, beam.pvalue.PCollection],
    output_dict: dict[str, list],
    writer: Callable[[str], beam.PTransform],
) -> None:
    """Adds one `WriteSplit[<name>]` sink per split, into the Examples artifact's split folder.

    Args:
      example_splits: split name -> PCollection of serialised tf.Examples.
      output_dict: the executor's outputs (holding the Examples artifact).
      writer: split folder uri -> the sink PTransform (e.g. `transforms.WriteTFRecords`).
    """
    examples = output_dict[standard_component_specs.EXAMPLES_KEY]
    for split_name, example_split in example_splits.items():
        _ = example_split | f"WriteSplit[{split_name}]" >> writer(
            artifact_utils.get_split_uri(examples, split_name)
        )


# The console's bar for an ingest: run_and_count opens it, the Beam workers' DoFns advance it.
PROGRESS_ID = "ingest"


def run_and_count(
    pipeline: beam.Pipeline, namespace: str, *, progress_total: int, progress_unit: str
) -> dict[str, int]:
    """Runs the Beam pipeline to the end under the ingest's progress bar (`progress_total`
    `progress_unit`s, 0 = unknown); its counters in `namespace`, summed, by name."""
    with progress.task(PROGRESS_ID, "ingest", total=progress_total, unit=progress_unit):
        result = pipeline.run()
        result.wait_until_finish()
    return counter_totals(result, namespace)


def record_outputs(
    examples_artifact,
    *,
    component_name: str,
    counts: dict[str, int],
    vocabulary: list[str],
    skipped_sample: list[list],
    output_file_format: int = example_gen_pb2.FORMAT_TFRECORDS_GZIP,
    extra_report: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Writes labels.txt, ingest_report.json and the artifact's properties; logs skips.

    Args:
      examples_artifact: the output Examples artifact (its uri exists).
      component_name: for the log lines.
      counts: integer counts, `num_images`, `num_converted`, `num_skipped` and
        `num_skipped_<reason>` at least; each becomes an int custom property.
      vocabulary: label texts, index = label.
      skipped_sample: (path, reason, detail) items.
      output_file_format: an example_gen_pb2.FileFormat.
      extra_report: more JSON-able entries for the report (e.g. the source's description).

    Returns:
      The report written.
    """
    with tf.io.gfile.GFile(os.path.join(examples_artifact.uri, LABELS_FILE), "w") as handle:
        handle.write("".join(f"{text}\n" for text in vocabulary))
    report = {
        **counts,
        "label_vocabulary": list(vocabulary),
        "first_skipped": skipped_sample,
        **(extra_report or {}),
    }
    with tf.io.gfile.GFile(os.path.join(examples_artifact.uri, REPORT_FILE), "w") as handle:
        json.dump(report, handle, indent=2)
    for key, value in counts.items():
        examples_artifact.set_int_custom_property(key, int(value))
    examples_artifact.set_int_custom_property("num_classes", len(vocabulary))
    examples_artifact.set_string_custom_property("label_vocabulary", json.dumps(list(vocabulary)))
    examples_utils.set_payload_format(examples_artifact, example_gen_pb2.FORMAT_TF_EXAMPLE)
    examples_utils.set_file_format(
        examples_artifact, write_split.to_file_format_str(output_file_format)
    )
    if counts.get("num_skipped"):
        logging.warning(
            "%s skipped %d items (%s); the first %d:",
            component_name,
            counts["num_skipped"],
            ", ".join(
                f"{key[len('num_skipped_') :]}: {value}"
                for key, value in sorted(counts.items())
                if key.startswith("num_skipped_") and value
            ),
            len(skipped_sample),
        )
        for path, reason, detail in skipped_sample:
            logging.warning("  skipped %s: %s (%s)", path, reason, detail)
    logging.info(
        "%s wrote %d images (%d converted to PNG), %d classes.",
        component_name,
        counts.get("num_images", 0),
        counts.get("num_converted", 0),
        len(vocabulary),
    )
    return report


def read_report(examples_uri: str) -> dict[str, Any]:
    """The ingest report written beside the examples (counts, vocabulary, first skipped items)."""
    with tf.io.gfile.GFile(os.path.join(examples_uri, REPORT_FILE)) as handle:
        return json.load(handle)


def pattern_key(split_pattern: str) -> str:
    """A file-name-safe key of a split pattern (12 hex digits)."""
    return hashlib.sha1(split_pattern.encode()).hexdigest()[:12]


class SplitPatternExecutor(BaseExampleGenExecutor):
    """Base of the ExampleGens that read input_base through split patterns (images, TFRecords).

    Subclasses set `COMPONENT_NAME`, `INPUT_PTRANSFORM` (a `beam.ptransform_fn` of
    (pipeline, exec_properties, split_pattern), wrapped in `staticmethod`) and `CHUNKED` (whether
    it yields lists of serialized examples rather than single ones), and write their own `Do`:
    the base class's `Do` runs the pipeline in a `with` block and drops the Beam result, whose
    counters must reach the output artifact.
    """

    COMPONENT_NAME = ""
    INPUT_PTRANSFORM: Any = None
    CHUNKED = False

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:  # noqa: N802 - TFX API.
        return self.INPUT_PTRANSFORM

    def GenerateExamplesByBeam(  # noqa: N802 - TFX API.
        self, pipeline: beam.Pipeline, exec_properties: dict[str, Any]
    ) -> dict[str, beam.pvalue.PCollection]:
        """The base class's splitting, with a partition function that keeps TFX off workers."""
        exec_properties["_beam_pipeline_args"] = self._beam_pipeline_args or []
        return generate_examples_by_beam(
            pipeline,
            exec_properties,
            self.INPUT_PTRANSFORM,
            self.COMPONENT_NAME,
            chunked=self.CHUNKED,
        )

    def start(
        self,
        input_dict: dict[str, list],
        output_dict: dict[str, list],
        exec_properties: dict[str, Any],
    ) -> tuple[dict[str, Any], example_gen_pb2.Input, Any]:
        """Logs the start; (a copy of exec_properties, the input config, the Examples artifact).

        The artifact's split names are set from the input and output configs.
        """
        self._log_startup(input_dict, output_dict, exec_properties)
        exec_properties = dict(exec_properties)
        input_config, output_config = split_configs(exec_properties)
        examples_artifact = examples_artifact_with_splits(
            output_dict, utils.generate_output_split_names(input_config, output_config)
        )
        return exec_properties, input_config, examples_artifact
