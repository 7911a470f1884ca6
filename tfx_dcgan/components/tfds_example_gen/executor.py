"""Beam executor of TfdsExampleGen: TFDS element ranges -> validated raw `tf.Example`s.

A `BaseBeamExecutor` (there is no input file pattern, so the file-based ExampleGen machinery does
not apply): `Do` opens the prepared data set, cuts the mapped splits into index ranges
(`tfds_source.plan_chunks`), and runs

    Create(ranges) -> Reshuffle -> ParDo(TfdsToExampleDoFn) -> Partition(output split)
        -> WriteTFRecords per split (gzipped, like ImageExampleGen)

then records counts, labels.txt and ingest_report.json like ImageExampleGen
(`example_gen_outputs.record_outputs`).
"""

from __future__ import annotations

import json
import os
from typing import Any

from tfx_dcgan.components import example_gen_outputs
from tfx_dcgan.ingest import images as ingest
from tfx_dcgan.ingest import tfds_source, transforms

import apache_beam as beam
import tensorflow as tf
from tfx.dsl.components.base import base_beam_executor
from tfx.proto import example_gen_pb2

__all__ = [
    "Executor",
    "DATASET_NAME_KEY",
    "DATA_DIR_KEY",
    "IMAGE_KEY_KEY",
    "LABEL_KEY_KEY",
    "SPLIT_MAPPING_KEY",
    "CHANNELS_KEY",
    "MAX_LOGGED_SKIPPED_KEY",
    "CHUNK_SIZE_KEY",
    "output_split_names",
]

DATASET_NAME_KEY = "dataset_name"
DATA_DIR_KEY = "data_dir"
IMAGE_KEY_KEY = "image_key"
LABEL_KEY_KEY = "label_key"
SPLIT_MAPPING_KEY = "split_mapping"  # JSON object: TFDS split spec -> output split name.
CHANNELS_KEY = "channels"
MAX_LOGGED_SKIPPED_KEY = "max_logged_skipped"
CHUNK_SIZE_KEY = "chunk_size"

_COMPONENT = "TfdsExampleGen"


def output_split_names(split_mapping: dict[str, str]) -> list[str]:
    """Distinct output split names in mapping order."""
    return list(dict.fromkeys(split_mapping.values()))


class Executor(base_beam_executor.BaseBeamExecutor):
    """TfdsExampleGen's executor (see component.py for the exec properties)."""

    def Do(  # noqa: N802 - TFX API.
        self,
        input_dict: dict[str, list],
        output_dict: dict[str, list],
        exec_properties: dict[str, Any],
    ) -> None:
        """Reads the mapped TFDS splits into gzipped TFRecords, records counts and labels."""
        self._log_startup(input_dict, output_dict, exec_properties)
        split_mapping = json.loads(exec_properties.get(SPLIT_MAPPING_KEY) or "{}") or dict(
            tfds_source.DEFAULT_SPLIT_MAPPING
        )
        channels = int(exec_properties[CHANNELS_KEY])
        max_logged = int(exec_properties.get(MAX_LOGGED_SKIPPED_KEY) or 20)
        source = tfds_source.load_source(
            exec_properties[DATASET_NAME_KEY],
            exec_properties[DATA_DIR_KEY],
            image_key=exec_properties.get(IMAGE_KEY_KEY) or "image",
            label_key=exec_properties.get(LABEL_KEY_KEY) or "",
        )
        chunks = tfds_source.plan_chunks(
            source,
            split_mapping,
            int(exec_properties.get(CHUNK_SIZE_KEY) or tfds_source.DEFAULT_CHUNK_SIZE),
        )
        names = output_split_names(split_mapping)

        examples_artifact = example_gen_outputs.examples_artifact_with_splits(output_dict, names)
        report_dir = os.path.join(examples_artifact.uri, "_skipped")
        tf.io.gfile.makedirs(report_dir)

        pipeline = self._make_beam_pipeline()
        _read_chunks(pipeline, chunks, source, channels, names, output_dict, report_dir, max_logged)
        totals = example_gen_outputs.run_and_count(
            pipeline,
            tfds_source.METRICS_NAMESPACE,
            progress_total=len(chunks),
            progress_unit="chunk",
        )
        counts = {
            "num_elements": sum(chunk.end - chunk.start for chunk in chunks),
            **example_gen_outputs.image_counts(totals, ingest.SKIP_REASONS),
        }
        example_gen_outputs.record_outputs(
            examples_artifact,
            component_name=_COMPONENT,
            counts=counts,
            vocabulary=list(source.label_names),
            skipped_sample=example_gen_outputs.read_skipped_sample(report_dir, max_logged),
            output_file_format=example_gen_pb2.FORMAT_TFRECORDS_GZIP,
            extra_report={
                "source": {
                    "tfds_name": source.name,
                    "data_dir": source.data_dir,
                    "builder_dir": source.builder_dir,
                    "split_mapping": split_mapping,
                    "split_sizes": source.split_sizes,
                }
            },
        )


def _read_chunks(
    pipeline: beam.Pipeline,
    chunks: list[tfds_source.Chunk],
    source: tfds_source.TfdsSource,
    channels: int,
    names: list[str],
    output_dict: dict[str, list],
    report_dir: str,
    max_logged: int,
) -> None:
    """The Beam graph: element ranges -> tf.Examples, partitioned by output split and written."""
    results = (
        pipeline
        | "Ranges" >> beam.Create(chunks)
        # Create makes one bundle; reshuffling spreads the ranges over the workers.
        | "Reshuffle" >> beam.Reshuffle()
        | "ToExamples"
        >> beam.ParDo(
            tfds_source.TfdsToExampleDoFn(
                source, channels, progress_id=example_gen_outputs.PROGRESS_ID
            )
        ).with_outputs(tfds_source.TfdsToExampleDoFn.SKIPPED, main="examples")
    )
    partitions = results.examples | "BySplit" >> beam.Partition(
        tfds_source.output_split_index, len(names), names
    )
    example_gen_outputs.write_splits(
        {
            name: partitions[i] | f"Serialized[{name}]" >> beam.Values()
            for i, name in enumerate(names)
        },
        output_dict,
        transforms.WriteTFRecords,
    )
    example_gen_outputs.sample_skipped(
        results[tfds_source.TfdsToExampleDoFn.SKIPPED], report_dir, "tfds", max_logged
    )
