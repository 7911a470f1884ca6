"""Beam executor of ImageExampleGen: image files -> validated raw `tf.Example`s.

Follows TFX's `custom_executors/avro_executor.py`: a `BaseExampleGenExecutor` whose
`GetInputSourceToExamplePTransform` returns a private `beam.ptransform_fn`. `Do` is overridden
because the base `Do` runs the pipeline in a `with` block and drops the Beam result, and the skip
counts (Beam metrics) must reach the output artifact.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from typing import Any

from tfx_dcgan import ingest
from tfx_dcgan.components.image_example_gen import transforms

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

__all__ = ["Executor", "LABELS_FILE", "REPORT_FILE", "read_report"]

LABELS_FILE = "labels.txt"
REPORT_FILE = "ingest_report.json"

# Private exec_properties keys: values computed in Do and read by the per-split PTransform.
_FILES_KEY = "_image_files"
_LABEL_IDS_KEY = "_label_ids"
_REPORT_DIR_KEY = "_skip_report_dir"
_SHUFFLE_SEED = 0
_CHUNK_SIZE = 128


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(bytes)
def _ImagesToExample(  # noqa: N802 - Beam PTransform naming, as in TFX.
    pipeline: beam.Pipeline, exec_properties: dict[str, Any], split_pattern: str
) -> beam.pvalue.PCollection:
    """Reads the image files matched by one split pattern into `tf.Example`s.

    Args:
      pipeline: the Beam pipeline.
      exec_properties: the component's, plus the private keys Executor.Do adds.
      split_pattern: glob relative to input_base (see ingest.list_image_files).

    Returns:
      PCollection of serialized tf.train.Example, one per valid image.
    """
    files = [
        (f.path, f.relative_path, f.label_text) for f in exec_properties[_FILES_KEY][split_pattern]
    ]
    logging.info("ImageExampleGen: %d files match %r", len(files), split_pattern)
    # A fixed-seed shuffle mixes the classes in the output (readers shuffle only within a buffer)
    # and keeps it reproducible. Beam elements are chunks of files, not files: per-element
    # overhead then stays off the per-image path, and one TF call decodes a chunk.
    random.Random(_SHUFFLE_SEED).shuffle(files)
    chunks = [files[i : i + _CHUNK_SIZE] for i in range(0, len(files), _CHUNK_SIZE)]
    results = (
        pipeline
        | "ListFiles" >> beam.Create(chunks)
        # Create makes one bundle; reshuffling spreads the chunks over the workers.
        | "Reshuffle" >> beam.Reshuffle()
        | "Ingest"
        >> beam.ParDo(
            transforms.IngestDoFn(exec_properties[_LABEL_IDS_KEY], exec_properties["channels"])
        ).with_outputs(transforms.IngestDoFn.SKIPPED, main="examples")
    )
    report_path = os.path.join(
        exec_properties[_REPORT_DIR_KEY],
        f"skipped-{hashlib.sha1(split_pattern.encode()).hexdigest()[:12]}.json",
    )
    _ = (
        results[transforms.IngestDoFn.SKIPPED]
        | "FirstSkipped"
        >> beam.combiners.Top.Smallest(max(1, exec_properties["max_logged_skipped"]))
        | "WriteSkipped" >> beam.Map(transforms.write_skip_sample, report_path)
    )
    return results.examples


def _counter_totals(result: beam.runners.runner.PipelineResult) -> dict[str, int]:
    """Sums this component's Beam counters over steps (committed, else attempted, values)."""
    totals: dict[str, int] = {}
    query = result.metrics().query(MetricsFilter().with_namespace(transforms.METRICS_NAMESPACE))
    for counter in query["counters"]:
        value = counter.committed if counter.committed is not None else counter.attempted
        totals[counter.key.metric.name] = totals.get(counter.key.metric.name, 0) + int(value or 0)
    return totals


def read_report(examples_uri: str) -> dict[str, Any]:
    """The ingest report written beside the examples (counts, vocabulary, first skipped files)."""
    with tf.io.gfile.GFile(os.path.join(examples_uri, REPORT_FILE)) as handle:
        return json.load(handle)


class Executor(BaseExampleGenExecutor):
    """ImageExampleGen's executor (see component.py for the layouts and properties)."""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:  # noqa: N802 - TFX API.
        return _ImagesToExample

    def GenerateExamplesByBeam(  # noqa: N802 - TFX API.
        self, pipeline: beam.Pipeline, exec_properties: dict[str, Any]
    ) -> dict[str, beam.pvalue.PCollection]:
        """Input splits as they are, or one input split hash-partitioned by the output config.

        The base class's version, with the partition function from `transforms` so that
        workers never import TFX.
        """
        input_config = example_gen_pb2.Input()
        proto_utils.json_to_proto(
            exec_properties[standard_component_specs.INPUT_CONFIG_KEY], input_config
        )
        output_config = example_gen_pb2.Output()
        proto_utils.json_to_proto(
            exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY], output_config
        )
        split_names = utils.generate_output_split_names(input_config, output_config)
        exec_properties["_beam_pipeline_args"] = self._beam_pipeline_args or []
        if not output_config.split_config.splits:
            return {
                name: pipeline
                | f"InputToRecord[{name}]" >> _ImagesToExample(exec_properties, split.pattern)
                for name, split in zip(split_names, input_config.splits)
            }
        if len(input_config.splits) != 1:
            raise ValueError(
                "ImageExampleGen: output_config.split_config needs exactly one input split, got "
                f"{[s.name for s in input_config.splits]}"
            )
        buckets, total = [], 0
        for split in output_config.split_config.splits:
            total += split.hash_buckets
            buckets.append(total)
        partitions = (
            pipeline
            | "InputToRecord" >> _ImagesToExample(exec_properties, input_config.splits[0].pattern)
            | "SplitData"
            >> beam.Partition(
                transforms.partition_by_feature,
                len(buckets),
                buckets,
                output_config.split_config.partition_feature_name,
            )
        )
        return {name: partitions[i] for i, name in enumerate(split_names)}

    def Do(  # noqa: N802 - TFX API.
        self,
        input_dict: dict[str, list],
        output_dict: dict[str, list],
        exec_properties: dict[str, Any],
    ) -> None:
        """Lists the files, runs the Beam ingest, records counts and the label vocabulary."""
        self._log_startup(input_dict, output_dict, exec_properties)
        exec_properties = dict(exec_properties)
        input_config = example_gen_pb2.Input()
        proto_utils.json_to_proto(
            exec_properties[standard_component_specs.INPUT_CONFIG_KEY], input_config
        )
        output_config = example_gen_pb2.Output()
        proto_utils.json_to_proto(
            exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY], output_config
        )
        examples_artifact = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.EXAMPLES_KEY]
        )
        examples_artifact.split_names = artifact_utils.encode_split_names(
            utils.generate_output_split_names(input_config, output_config)
        )

        # The vocabulary must span every split before any label is assigned, so list first.
        input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
        files = {
            split.pattern: ingest.list_image_files(input_base, split.pattern)
            for split in input_config.splits
        }
        vocabulary = ingest.build_label_vocabulary(
            f.label_text for split_files in files.values() for f in split_files
        )
        report_dir = os.path.join(examples_artifact.uri, "_skipped")
        tf.io.gfile.makedirs(report_dir)
        exec_properties[_FILES_KEY] = files
        exec_properties[_LABEL_IDS_KEY] = {text: i for i, text in enumerate(vocabulary)}
        exec_properties[_REPORT_DIR_KEY] = report_dir

        output_file_format = exec_properties.get(
            standard_component_specs.OUTPUT_FILE_FORMAT_KEY, example_gen_pb2.FORMAT_TFRECORDS_GZIP
        )
        pipeline = self._make_beam_pipeline()
        example_splits = self.GenerateExamplesByBeam(pipeline, exec_properties)
        for split_name, example_split in example_splits.items():
            _ = example_split | f"WriteSplit[{split_name}]" >> transforms.WriteTFRecords(
                artifact_utils.get_split_uri(
                    output_dict[standard_component_specs.EXAMPLES_KEY], split_name
                )
            )
        result = pipeline.run()
        result.wait_until_finish()
        totals = _counter_totals(result)

        skipped_sample = []
        for name in sorted(tf.io.gfile.listdir(report_dir)):
            with tf.io.gfile.GFile(os.path.join(report_dir, name)) as handle:
                skipped_sample.extend(json.load(handle))
        tf.io.gfile.rmtree(report_dir)
        skipped_sample = sorted(skipped_sample)[: exec_properties["max_logged_skipped"]]

        counts = {
            "num_files": sum(len(split_files) for split_files in files.values()),
            "num_images": totals.get(transforms.IMAGES_COUNTER, 0),
            "num_converted": totals.get(transforms.CONVERTED_COUNTER, 0),
        }
        for reason in ingest.SKIP_REASONS:
            counts[f"num_skipped_{reason}"] = totals.get(transforms.skipped_counter_name(reason), 0)
        counts["num_skipped"] = sum(counts[f"num_skipped_{r}"] for r in ingest.SKIP_REASONS)

        with tf.io.gfile.GFile(os.path.join(examples_artifact.uri, LABELS_FILE), "w") as handle:
            handle.write("".join(f"{text}\n" for text in vocabulary))
        report = {**counts, "label_vocabulary": vocabulary, "first_skipped": skipped_sample}
        with tf.io.gfile.GFile(os.path.join(examples_artifact.uri, REPORT_FILE), "w") as handle:
            json.dump(report, handle, indent=2)

        for key, value in counts.items():
            examples_artifact.set_int_custom_property(key, value)
        examples_artifact.set_int_custom_property("num_classes", len(vocabulary))
        examples_artifact.set_string_custom_property("label_vocabulary", json.dumps(vocabulary))
        examples_utils.set_payload_format(examples_artifact, example_gen_pb2.FORMAT_TF_EXAMPLE)
        examples_utils.set_file_format(
            examples_artifact, write_split.to_file_format_str(output_file_format)
        )

        if counts["num_skipped"]:
            logging.warning(
                "ImageExampleGen skipped %d of %d files (%s); the first %d:",
                counts["num_skipped"],
                counts["num_files"],
                ", ".join(f"{r}: {counts[f'num_skipped_{r}']}" for r in ingest.SKIP_REASONS),
                len(skipped_sample),
            )
            for relative_path, reason, detail in skipped_sample:
                logging.warning("  skipped %s: %s (%s)", relative_path, reason, detail)
        logging.info(
            "ImageExampleGen wrote %d images (%d converted to PNG), %d classes.",
            counts["num_images"],
            counts["num_converted"],
            len(vocabulary),
        )
