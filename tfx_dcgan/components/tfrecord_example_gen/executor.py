"""Beam executor of TFRecordExampleGen: TFRecords of any `tf.Example` -> our raw examples.

ImportExampleGen's reader (`beam.io.ReadFromTFRecord` per split pattern) with the feature remap
of `tfx_dcgan.ingest.tfrecord_source` applied, in the avro executor's shape: a `BaseExampleGenExecutor`
whose `GetInputSourceToExamplePTransform` returns a private `beam.ptransform_fn`. `Do` is
overridden, as in ImageExampleGen, so the skip counters (Beam metrics) and the label vocabulary
reach the output artifact.
"""

from __future__ import annotations

import json
import os
from typing import Any

from tfx_dcgan import features, fileio
from tfx_dcgan.components import example_gen_outputs
from tfx_dcgan.ingest import tfrecord_source, transforms

import apache_beam as beam
import tensorflow as tf
from absl import logging
from tfx.proto import example_gen_pb2
from tfx.types import standard_component_specs

__all__ = [
    "Executor",
    "FEATURE_MAP_KEY",
    "CHANNELS_KEY",
    "LABEL_NAMES_KEY",
    "COMPRESSION_KEY",
    "MAX_LOGGED_SKIPPED_KEY",
    "COMPRESSION_TYPES",
    "build_vocabulary",
]

FEATURE_MAP_KEY = "feature_map"  # JSON object, ours -> theirs.
CHANNELS_KEY = "channels"
LABEL_NAMES_KEY = "label_names"  # JSON list; "" or "[]": gather (label, text) pairs from the data.
COMPRESSION_KEY = "compression_type"
MAX_LOGGED_SKIPPED_KEY = "max_logged_skipped"

COMPRESSION_TYPES = {
    "auto": beam.io.filesystem.CompressionTypes.AUTO,  # By extension: .gz is gzip.
    "gzip": beam.io.filesystem.CompressionTypes.GZIP,
    "uncompressed": beam.io.filesystem.CompressionTypes.UNCOMPRESSED,
}

_COMPONENT = "TFRecordExampleGen"
_REPORT_DIR_KEY = "_report_dir"
_BATCH_SIZE = 128


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(bytes)
def _TFRecordToExample(  # noqa: N802 - Beam PTransform naming, as in TFX.
    pipeline: beam.Pipeline, exec_properties: dict[str, Any], split_pattern: str
) -> beam.pvalue.PCollection:
    """Reads one split pattern's TFRecords and remaps them onto tfx_dcgan.features.

    Args:
      pipeline: the Beam pipeline.
      exec_properties: the component's, plus the report folder Executor.Do adds.
      split_pattern: glob relative to input_base.

    Returns:
      PCollection of serialized tf.train.Example with exactly features.RAW_FEATURES.
    """
    pattern = os.path.join(exec_properties[standard_component_specs.INPUT_BASE_KEY], split_pattern)
    logging.info("TFRecordExampleGen: reading %s", pattern)
    results = (
        pipeline
        | "ReadFromTFRecord"
        >> beam.io.ReadFromTFRecord(
            pattern,
            coder=beam.coders.BytesCoder(),
            compression_type=COMPRESSION_TYPES[exec_properties.get(COMPRESSION_KEY) or "auto"],
        )
        | "Batch" >> beam.BatchElements(min_batch_size=_BATCH_SIZE, max_batch_size=_BATCH_SIZE)
        | "Remap"
        >> beam.ParDo(
            tfrecord_source.RemapDoFn(
                json.loads(exec_properties.get(FEATURE_MAP_KEY) or "{}"),
                int(exec_properties[CHANNELS_KEY]),
                json.loads(exec_properties.get(LABEL_NAMES_KEY) or "[]"),
                progress_id=example_gen_outputs.PROGRESS_ID,
            )
        ).with_outputs(
            tfrecord_source.RemapDoFn.SKIPPED, tfrecord_source.RemapDoFn.LABELS, main="examples"
        )
    )
    report_dir = exec_properties[_REPORT_DIR_KEY]
    name = example_gen_outputs.pattern_key(split_pattern)
    example_gen_outputs.sample_skipped(
        results[tfrecord_source.RemapDoFn.SKIPPED],
        report_dir,
        name,
        int(exec_properties.get(MAX_LOGGED_SKIPPED_KEY) or 20),
    )
    _ = (
        results[tfrecord_source.RemapDoFn.LABELS]
        | "DistinctLabels" >> beam.Distinct()
        | "AllLabels" >> beam.combiners.ToList()
        # write_skip_sample writes any list of tuples as JSON, from a module without TFX.
        | "WriteLabels"
        >> beam.Map(
            transforms.write_skip_sample,
            fileio.child_path(report_dir, f"labels-{name}.json", "split name"),
        )
    )
    return results.examples


def build_vocabulary(
    pairs: list[tuple[int, str]], label_names: list[str]
) -> tuple[list[str], list[str]]:
    """labels.txt lines from the given names, else from the (label, text) pairs seen.

    Args:
      pairs: distinct (label, label_text) of the labelled examples written.
      label_names: the component's label_names (may be empty).

    Returns:
      (vocabulary, warnings): line i is the text of label i ("" where no example named it);
      warnings list labels outside label_names or labels seen with several texts.
    """
    warnings = []
    labels = sorted({label for label, _ in pairs})
    if label_names:
        outside = [label for label in labels if not 0 <= label < len(label_names)]
        if outside:
            warnings.append(
                f"labels {outside[:10]} are outside label_names (0..{len(label_names) - 1})"
            )
        return list(label_names), warnings
    if not labels:
        return [], warnings
    if labels[0] < 0:
        warnings.append(f"negative labels {[label for label in labels if label < 0][:10]}")
    texts: dict[int, set[str]] = {}
    for label, text in pairs:
        texts.setdefault(label, set()).add(text)
    vocabulary = []
    for label in range(max(labels) + 1):
        names = sorted(texts.get(label, ()))
        if len(names) > 1:
            warnings.append(f"label {label} has several texts {names[:5]}; using {names[0]!r}")
        vocabulary.append(names[0] if names else "")
    return vocabulary, warnings


class Executor(example_gen_outputs.SplitPatternExecutor):
    """TFRecordExampleGen's executor (see component.py for the exec properties)."""

    COMPONENT_NAME = _COMPONENT
    INPUT_PTRANSFORM = staticmethod(_TFRecordToExample)

    def Do(  # noqa: N802 - TFX API.
        self,
        input_dict: dict[str, list],
        output_dict: dict[str, list],
        exec_properties: dict[str, Any],
    ) -> None:
        """Checks the patterns, runs the Beam remap, records counts and the label vocabulary."""
        tfrecord_source.parse_feature_map(exec_properties.get(FEATURE_MAP_KEY) or "")
        exec_properties, input_config, examples_artifact = self.start(
            input_dict, output_dict, exec_properties
        )
        input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
        _check_patterns(input_base, input_config)
        report_dir = os.path.join(examples_artifact.uri, "_report")
        tf.io.gfile.makedirs(report_dir)
        exec_properties[_REPORT_DIR_KEY] = report_dir

        pipeline = self._make_beam_pipeline()
        example_gen_outputs.write_splits(
            self.GenerateExamplesByBeam(pipeline, exec_properties),
            output_dict,
            transforms.WriteTFRecords,
        )
        # The record count is not known before the files are read: the bar counts without a total.
        totals = example_gen_outputs.run_and_count(
            pipeline, tfrecord_source.METRICS_NAMESPACE, progress_total=0, progress_unit="record"
        )
        vocabulary, warnings = _read_vocabulary(
            report_dir, json.loads(exec_properties.get(LABEL_NAMES_KEY) or "[]")
        )
        max_logged = int(exec_properties.get(MAX_LOGGED_SKIPPED_KEY) or 20)
        counts = {
            "num_records": totals.get(tfrecord_source.RECORDS_COUNTER, 0),
            **example_gen_outputs.image_counts(totals, tfrecord_source.SKIP_REASONS),
        }
        example_gen_outputs.record_outputs(
            examples_artifact,
            component_name=_COMPONENT,
            counts=counts,
            vocabulary=vocabulary,
            skipped_sample=example_gen_outputs.read_skipped_sample(report_dir, max_logged),
            output_file_format=example_gen_pb2.FORMAT_TFRECORDS_GZIP,
            extra_report={
                "source": {
                    "input_base": input_base,
                    "feature_map": json.loads(exec_properties.get(FEATURE_MAP_KEY) or "{}"),
                    "unlabelled_value": features.UNLABELLED,
                },
                "vocabulary_warnings": warnings,
            },
        )


def _check_patterns(input_base: str, input_config: example_gen_pb2.Input) -> None:
    """Raises FileNotFoundError naming the first split whose pattern matches no file."""
    for split in input_config.splits:
        if not tf.io.gfile.glob(os.path.join(input_base, split.pattern)):
            raise FileNotFoundError(
                f"{_COMPONENT}: split {split.name!r} pattern {split.pattern!r} matches no "
                f"file under input_base {input_base!r}"
            )


def _read_vocabulary(report_dir: str, label_names: list[str]) -> tuple[list[str], list[str]]:
    """(vocabulary, warnings) from the (label, text) pairs the workers wrote to `labels-*`."""
    pairs: set[tuple[int, str]] = set()
    for name in tf.io.gfile.listdir(report_dir):
        if name.startswith("labels-"):
            with tf.io.gfile.GFile(os.path.join(report_dir, name)) as handle:
                pairs.update((int(label), text) for label, text in json.load(handle))
    vocabulary, warnings = build_vocabulary(sorted(pairs), label_names)
    for warning in warnings:
        logging.warning("%s: %s", _COMPONENT, warning)
    return vocabulary, warnings
