"""Beam executor of ImageExampleGen: image files -> validated raw `tf.Example`s.

Follows TFX's `custom_executors/avro_executor.py`: a `BaseExampleGenExecutor` (through
`example_gen_outputs.SplitPatternExecutor`, shared with TFRecordExampleGen) whose
`GetInputSourceToExamplePTransform` returns a private `beam.ptransform_fn`. `Do` is overridden
because the base `Do` runs the pipeline in a `with` block and drops the Beam result, and the skip
counts (Beam metrics) must reach the output artifact.
"""

from __future__ import annotations

import os
import random
from typing import Any

from tfx_dcgan.components import example_gen_outputs
from tfx_dcgan.components.example_gen_outputs import LABELS_FILE, REPORT_FILE, read_report
from tfx_dcgan.ingest import images as ingest
from tfx_dcgan.ingest import lister, transforms

import apache_beam as beam
import tensorflow as tf
from absl import logging
from tfx.proto import example_gen_pb2
from tfx.types import standard_component_specs

__all__ = ["Executor", "LABELS_FILE", "REPORT_FILE", "read_report"]

# Private exec_properties keys: values computed in Do and read by the per-split PTransform.
_MANIFESTS_KEY = "_manifests"
_LABEL_IDS_KEY = "_label_ids"
_REPORT_DIR_KEY = "_skip_report_dir"
_SHUFFLE_SEED = 0
_CHUNK_SIZE = 128


def _max_pixels(exec_properties: dict[str, Any]) -> int:
    """The pixel cap (exec property "max_image_pixels"; absent in pipelines compiled before it)."""
    value = exec_properties.get("max_image_pixels")
    return ingest.DEFAULT_MAX_PIXELS if value is None else int(value)


def _write_manifests(
    files: dict[str, list[lister.ImageFile]], report_dir: str
) -> dict[str, tuple[str, int]]:
    """Writes each split's file list, shuffled with a fixed seed; pattern -> (path, count).

    The shuffle mixes the classes in the output (readers shuffle only within a buffer) and keeps
    the output reproducible.
    """
    manifests = {}
    for pattern, split_files in files.items():
        entries = [(f.path, f.relative_path, f.label_text) for f in split_files]
        random.Random(_SHUFFLE_SEED).shuffle(entries)
        key = example_gen_outputs.pattern_key(pattern)
        path = os.path.join(report_dir, f"manifest-{key}.json")
        transforms.write_manifest(entries, path)
        manifests[pattern] = (path, len(entries))
    return manifests


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(list)
def _ImagesToExample(  # noqa: N802 - Beam PTransform naming, as in TFX.
    pipeline: beam.Pipeline, exec_properties: dict[str, Any], split_pattern: str
) -> beam.pvalue.PCollection:
    """Reads the image files matched by one split pattern into `tf.Example`s.

    Args:
      pipeline: the Beam pipeline the chunks of this split's manifest start from.
      exec_properties: the component's, plus the manifests, label ids and report folder that
        Executor.Do adds under private keys.
      split_pattern: glob relative to input_base (see lister.list_image_files).

    Returns:
      PCollection of lists of serialized tf.train.Example (one per valid image, up to _CHUNK_SIZE
      a list).
    """
    manifest_path, num_files = exec_properties[_MANIFESTS_KEY][split_pattern]
    logging.info("ImageExampleGen: %d files match %r", num_files, split_pattern)
    # Beam elements are chunks of files, not files: per-element overhead then stays off the
    # per-image path, and one TF call decodes a chunk.
    num_chunks = -(-num_files // _CHUNK_SIZE)
    results = (
        pipeline
        # Create reshuffles its elements, which spreads the chunks over the workers.
        | "ChunkIndices" >> beam.Create(range(num_chunks))
        | "ListFiles" >> beam.ParDo(transforms.ManifestChunks(manifest_path, _CHUNK_SIZE))
        | "Ingest"
        >> beam.ParDo(
            transforms.IngestDoFn(
                exec_properties[_LABEL_IDS_KEY],
                exec_properties["channels"],
                max_pixels=_max_pixels(exec_properties),
                progress_id=example_gen_outputs.PROGRESS_ID,
            )
        ).with_outputs(transforms.IngestDoFn.SKIPPED, main="examples")
    )
    report_path = os.path.join(
        exec_properties[_REPORT_DIR_KEY],
        f"skipped-{example_gen_outputs.pattern_key(split_pattern)}.json",
    )
    _ = (
        results[transforms.IngestDoFn.SKIPPED]
        | "FirstSkipped"
        >> beam.combiners.Top.Smallest(max(1, exec_properties["max_logged_skipped"]))
        | "WriteSkipped" >> beam.Map(transforms.write_skip_sample, report_path)
    )
    return results.examples


class Executor(example_gen_outputs.SplitPatternExecutor):
    """ImageExampleGen's executor (see component.py for the layouts and properties)."""

    COMPONENT_NAME = "ImageExampleGen"
    INPUT_PTRANSFORM = staticmethod(_ImagesToExample)
    CHUNKED = True

    def Do(  # noqa: N802 - TFX API.
        self,
        input_dict: dict[str, list],
        output_dict: dict[str, list],
        exec_properties: dict[str, Any],
    ) -> None:
        """Lists the files, runs the Beam ingest, records counts and the label vocabulary."""
        exec_properties, input_config, examples_artifact = self.start(
            input_dict, output_dict, exec_properties
        )
        input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
        files, vocabulary = _list_splits(input_base, input_config)
        report_dir = os.path.join(examples_artifact.uri, "_skipped")
        tf.io.gfile.makedirs(report_dir)
        exec_properties[_MANIFESTS_KEY] = _write_manifests(files, report_dir)
        exec_properties[_LABEL_IDS_KEY] = {text: i for i, text in enumerate(vocabulary)}
        exec_properties[_REPORT_DIR_KEY] = report_dir

        pipeline = self._make_beam_pipeline()
        example_gen_outputs.write_splits(
            self.GenerateExamplesByBeam(pipeline, exec_properties),
            output_dict,
            transforms.WriteTFRecordChunks,
        )
        num_chunks = sum(
            -(-count // _CHUNK_SIZE) for _, count in exec_properties[_MANIFESTS_KEY].values()
        )
        totals = example_gen_outputs.run_and_count(
            pipeline, transforms.METRICS_NAMESPACE, progress_total=num_chunks, progress_unit="chunk"
        )
        skipped_sample = example_gen_outputs.read_skipped_sample(
            report_dir, exec_properties["max_logged_skipped"]
        )
        counts = {
            "num_files": sum(len(split_files) for split_files in files.values()),
            **example_gen_outputs.image_counts(totals, ingest.SKIP_REASONS),
        }
        example_gen_outputs.record_outputs(
            examples_artifact,
            component_name="ImageExampleGen",
            counts=counts,
            vocabulary=vocabulary,
            skipped_sample=skipped_sample,
            output_file_format=exec_properties.get(
                standard_component_specs.OUTPUT_FILE_FORMAT_KEY,
                example_gen_pb2.FORMAT_TFRECORDS_GZIP,
            ),
        )
        if counts["num_images"] == 0:
            raise ValueError(
                _no_images_message(counts, input_base, skipped_sample, examples_artifact.uri)
            )


def _list_splits(
    input_base: str, input_config: example_gen_pb2.Input
) -> tuple[dict[str, list[lister.ImageFile]], list[str]]:
    """(split pattern -> its files, the label vocabulary over every split).

    The vocabulary must span every split before any label is assigned, so listing comes first.
    """
    files = {
        split.pattern: lister.list_image_files(input_base, split.pattern)
        for split in input_config.splits
    }
    vocabulary = lister.build_label_vocabulary(
        f.label_text for split_files in files.values() for f in split_files
    )
    return files, vocabulary


def _no_images_message(
    counts: dict[str, int], input_base: str, skipped_sample: list[list], examples_uri: str
) -> str:
    reasons = ", ".join(
        f"{counts[f'num_skipped_{r}']} {r}"
        for r in ingest.SKIP_REASONS
        if counts[f"num_skipped_{r}"]
    )
    return (
        f"ImageExampleGen: no usable image among the {counts['num_files']} files under "
        f"input_base {input_base!r} ({reasons or 'no files matched'}); first skipped: "
        f"{[entry[0] for entry in skipped_sample[:5]]}; the report is "
        f"{os.path.join(examples_uri, REPORT_FILE)}"
    )
