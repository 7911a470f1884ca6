"""Existing TFRecords of `tf.Example`: map their feature names onto tfx_dcgan.features.

Plain functions and one Beam DoFn, with no TFX import (Beam workers unpickle the DoFn by importing
this module); `tfx_dcgan.components.tfrecord_example_gen` runs them over TFRecord files.

A feature map names, for each of our features a source may provide, the source's feature:

    {"image/encoded": "img_bytes", "label": "class_id"}      # ours -> theirs

Unmapped features are looked up under our own names, so records already written with our names
(e.g. by ImageExampleGen) pass through unchanged. The image bytes go through
`ingest.validate_images`, the image ingest's own check (and PNG conversion for formats TF cannot
decode), which also fills the derived features image/format, image/height, image/width and
image/channels; these are always recomputed from the bytes, never copied. Then:

    label       the source's single int64, features.UNLABELLED when absent (unless mapped)
    label/text  the source's text, else `label_names[label]`, else ""
    image/path  the source's, else "tfrecord:sha256:<first 24 hex digits of the image bytes>"

Every output record has exactly features.RAW_FEATURES (other source features are dropped, so the
curated schema sees no new columns). Records without usable image bytes or with a malformed label
are skipped and counted, never fatal.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence

from tfx_dcgan import features, progress
from tfx_dcgan.ingest import images as ingest
from tfx_dcgan.ingest import transforms

import apache_beam as beam
import tensorflow as tf
from apache_beam.metrics.metric import Metrics

__all__ = [
    "MAPPABLE_FEATURES",
    "DERIVED_FEATURES",
    "MISSING_IMAGE",
    "BAD_LABEL",
    "NOT_AN_EXAMPLE",
    "SKIP_REASONS",
    "METRICS_NAMESPACE",
    "IMAGES_COUNTER",
    "CONVERTED_COUNTER",
    "RECORDS_COUNTER",
    "parse_feature_map",
    "parse_tfrecord_pattern",
    "validate_feature_map",
    "remap_records",
    "remap_record",
    "RemapDoFn",
]

# Our features a source can provide; the rest are derived from the image bytes.
MAPPABLE_FEATURES = (
    features.IMAGE_ENCODED,
    features.LABEL,
    features.LABEL_TEXT,
    features.IMAGE_PATH,
)
DERIVED_FEATURES = (
    features.IMAGE_FORMAT,
    features.IMAGE_HEIGHT,
    features.IMAGE_WIDTH,
    features.IMAGE_CHANNELS,
)

# Skip reasons beyond ingest.SKIP_REASONS (which apply to the image bytes).
MISSING_IMAGE = "missing_image"  # no single bytes value under the image feature.
BAD_LABEL = "bad_label"  # the label is not one int64 (or is missing when explicitly mapped).
NOT_AN_EXAMPLE = "not_an_example"  # the record does not parse as a tf.train.Example.
SKIP_REASONS = ingest.SKIP_REASONS + (MISSING_IMAGE, BAD_LABEL, NOT_AN_EXAMPLE)

METRICS_NAMESPACE = "TFRecordExampleGen"
RECORDS_COUNTER = "records"
IMAGES_COUNTER = transforms.IMAGES_COUNTER
CONVERTED_COUNTER = transforms.CONVERTED_COUNTER


def parse_feature_map(value: str | Mapping[str, str] | None) -> dict[str, str]:
    """A feature map from a dict, a JSON object or 'ours=theirs,ours=theirs' text.

    Args:
      value: e.g. 'image/encoded=img_bytes,label=class_id' (the --feature_map flag) or
        '{"image/encoded": "img_bytes"}'; None or '' means no renaming.

    Returns:
      The checked map, see validate_feature_map.

    Raises:
      ValueError: malformed text or a bad map.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return {}
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError as error:
                raise ValueError(f"feature map: bad JSON {text!r} ({error})") from None
        else:
            parsed = {}
            for item in text.split(","):
                ours, sep, theirs = item.partition("=")
                if not sep:
                    raise ValueError(
                        f"feature map: expected 'our_feature=their_feature' items separated by "
                        f"commas, got {item!r} in {text!r}"
                    )
                parsed[ours.strip()] = theirs.strip()
        value = parsed
    return validate_feature_map(value)


_GLOB_CHARS = re.compile(r"[*?\[]")


def parse_tfrecord_pattern(text: str) -> tuple[str, dict[str, str]]:
    """The --tfrecord_pattern flag -> (input_base, {split name: pattern relative to it}).

    Args:
      text: one glob ('/data/recs/*.tfrecord.gz': one split, hash-bucketed later) or named
        globs ('train=/data/recs/train-*,eval=/data/recs/eval-*').

    Returns:
      input_base: the deepest folder above every glob; patterns: relative globs by split
      ('single_split' for a lone glob).

    Raises:
      ValueError: an empty or malformed pattern, or a glob character in the folder part.
    """
    items = [item.strip() for item in (text or "").split(",") if item.strip()]
    if not items:
        raise ValueError("tfrecord pattern is empty; expected a glob such as /data/*.tfrecord.gz")
    named: dict[str, str] = {}
    for item in items:
        name, sep, pattern = item.partition("=")
        if not sep:
            if len(items) > 1:
                raise ValueError(
                    f"tfrecord pattern {text!r}: several globs need names, "
                    "e.g. 'train=/d/train-*,eval=/d/eval-*'"
                )
            name, pattern = "single_split", item
        named[name.strip()] = pattern.strip()
    folders = []
    for name, pattern in named.items():
        folder = os.path.dirname(pattern)
        if not name or not pattern or _GLOB_CHARS.search(folder):
            raise ValueError(
                f"tfrecord pattern {text!r}: {name!r}={pattern!r} must be a folder (no glob "
                "characters) followed by a file glob"
            )
        folders.append(folder)
    input_base = os.path.commonpath(folders) if len(folders) > 1 else folders[0]
    return input_base, {
        name: os.path.relpath(pattern, input_base) for name, pattern in named.items()
    }


def validate_feature_map(feature_map: Mapping[str, str]) -> dict[str, str]:
    """Checks an ours -> theirs map: keys among MAPPABLE_FEATURES, values non-empty and distinct.

    Raises:
      ValueError: naming the offending entry (derived features cannot be mapped: they are
        recomputed from the image bytes).
    """
    if not isinstance(feature_map, Mapping):
        raise ValueError(f"feature map must be a mapping, got {type(feature_map).__name__}")
    checked = {}
    for ours, theirs in feature_map.items():
        if ours in DERIVED_FEATURES:
            raise ValueError(
                f"feature map: {ours!r} cannot be mapped, it is recomputed from the image bytes; "
                f"mappable: {list(MAPPABLE_FEATURES)}"
            )
        if ours not in MAPPABLE_FEATURES:
            raise ValueError(
                f"feature map: unknown feature {ours!r}; mappable: {list(MAPPABLE_FEATURES)}"
            )
        if not isinstance(theirs, str) or not theirs:
            raise ValueError(f"feature map: {ours!r} maps to {theirs!r}, expected a feature name")
        checked[ours] = theirs
    sources = list(checked.values())
    if len(set(sources)) != len(sources):
        raise ValueError(f"feature map: two features map to the same source feature: {checked}")
    return checked


def _single(feature: tf.train.Feature, kind: str):
    """The one value of `feature` in its `kind` list, or None."""
    if feature.WhichOneof("kind") != kind:
        return None
    values = getattr(feature, kind).value
    return values[0] if len(values) == 1 else None


def _fields(
    source: tf.train.Example, feature_map: Mapping[str, str], label_names: Sequence[str]
) -> tuple[bytes, int, str, str | None] | tuple[str, str]:
    """(encoded, label, label_text, path or None), or (skip_reason, detail)."""
    feature = source.features.feature
    image_name = feature_map.get(features.IMAGE_ENCODED, features.IMAGE_ENCODED)
    if image_name not in feature:
        return MISSING_IMAGE, f"no feature {image_name!r}"
    encoded = _single(feature[image_name], "bytes_list")
    if encoded is None:
        return MISSING_IMAGE, f"feature {image_name!r} is not a single bytes value"

    label_name = feature_map.get(features.LABEL, features.LABEL)
    if label_name in feature:
        label = _single(feature[label_name], "int64_list")
        if label is None:
            return BAD_LABEL, f"feature {label_name!r} is not a single int64"
    elif features.LABEL in feature_map:
        return BAD_LABEL, f"no feature {label_name!r}"
    else:
        label = features.UNLABELLED

    text_name = feature_map.get(features.LABEL_TEXT, features.LABEL_TEXT)
    text = _single(feature[text_name], "bytes_list") if text_name in feature else None
    if text:
        label_text = text.decode("utf-8", errors="replace")
    elif label != features.UNLABELLED and 0 <= label < len(label_names):
        label_text = label_names[label]
    else:
        label_text = ""

    path_name = feature_map.get(features.IMAGE_PATH, features.IMAGE_PATH)
    path = _single(feature[path_name], "bytes_list") if path_name in feature else None
    return encoded, int(label), label_text, path.decode("utf-8", errors="replace") if path else None


def remap_records(
    records: Iterable[bytes],
    feature_map: Mapping[str, str],
    channels: int,
    label_names: Sequence[str] = (),
) -> list[ingest.IngestResult]:
    """Maps serialized source examples onto raw examples with our feature names.

    Args:
      records: serialized tf.train.Example, any feature names.
      feature_map: ours -> theirs (validate_feature_map); unmapped features keep our names.
      channels: 1 or 3, what preprocessing decodes to (see ingest.validate_image).
      label_names: label texts by index, used when a record has no label text.

    Returns:
      One ingest.IngestResult per record, in order: `example` (exactly features.RAW_FEATURES)
      and `converted`, or `skip_reason` in SKIP_REASONS with `detail`; `path` is the image/path.
      One TensorFlow decode call checks the batch when all its images are good.
    """
    results: list[ingest.IngestResult | None] = []
    pending: list[tuple[int, bytes, int, str, str]] = []
    for i, record in enumerate(records):
        try:
            source = tf.train.Example.FromString(record)
            fields = _fields(source, feature_map, label_names)
        except Exception as error:  # noqa: BLE001 - protobuf's DecodeError and friends.
            fields = (NOT_AN_EXAMPLE, f"{type(error).__name__}: {error}")
        if len(fields) == 2:
            # No image to name it by: the record's own hash identifies it in the report.
            record_id = f"tfrecord:record-sha256:{hashlib.sha256(record).hexdigest()[:24]}"
            results.append(ingest.IngestResult(record_id, skip_reason=fields[0], detail=fields[1]))
            continue
        encoded, label, label_text, path = fields
        if path is None:
            path = f"tfrecord:sha256:{hashlib.sha256(encoded).hexdigest()[:24]}"
        results.append(None)
        pending.append((i, encoded, label, label_text, path))
    outcomes = ingest.validate_images([encoded for _, encoded, _, _, _ in pending], channels)
    for (i, _, label, label_text, path), outcome in zip(pending, outcomes):
        if isinstance(outcome, ingest.ImageSkipped):
            results[i] = ingest.IngestResult(
                path, skip_reason=outcome.reason, detail=outcome.detail
            )
            continue
        example = ingest.make_example(
            outcome, label=label, label_text=label_text, relative_path=path
        )
        results[i] = ingest.IngestResult(path, example=example, converted=outcome.converted)
    return results


def remap_record(
    record: bytes, feature_map: Mapping[str, str], channels: int, label_names: Sequence[str] = ()
) -> ingest.IngestResult:
    """remap_records for one record."""
    return remap_records([record], feature_map, channels, label_names)[0]


class RemapDoFn(beam.DoFn):
    """Batches (lists) of serialized source examples -> serialized raw examples.

    Outputs: the main output (serialized tf.Example), SKIPPED ((path, reason, detail)) and LABELS
    ((label, label_text) of labelled examples, for the vocabulary). Every outcome increments a
    Beam counter in METRICS_NAMESPACE ('records', 'images', 'converted', 'skipped_<reason>').
    """

    SKIPPED = "skipped"
    LABELS = "labels"

    def __init__(
        self,
        feature_map: Mapping[str, str],
        channels: int,
        label_names: Sequence[str],
        progress_id: str = "",
    ):
        """Args:
        feature_map: raw feature name -> the source's feature name.
        channels: 1 or 3.
        label_names: label id -> text ([] = from the records).
        progress_id: a `tfx_dcgan.progress` bar each batch advances by its records ("" = none).
        """
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels}")
        self._progress_id = progress_id
        self._feature_map = validate_feature_map(feature_map)
        self._channels = channels
        self._label_names = tuple(label_names)
        self._records = Metrics.counter(METRICS_NAMESPACE, RECORDS_COUNTER)
        self._images = Metrics.counter(METRICS_NAMESPACE, IMAGES_COUNTER)
        self._converted = Metrics.counter(METRICS_NAMESPACE, CONVERTED_COUNTER)
        self._skipped = {
            reason: Metrics.counter(METRICS_NAMESPACE, transforms.skipped_counter_name(reason))
            for reason in SKIP_REASONS
        }

    def process(self, batch):
        images = converted = 0
        labels: set[tuple[int, str]] = set()
        for result in remap_records(batch, self._feature_map, self._channels, self._label_names):
            if result.example is None:
                self._skipped[result.skip_reason].inc()
                yield beam.pvalue.TaggedOutput(
                    self.SKIPPED, (result.path, result.skip_reason, result.detail[:300])
                )
                continue
            images += 1
            converted += int(result.converted)
            feature = result.example.features.feature
            label = feature[features.LABEL].int64_list.value[0]
            if label != features.UNLABELLED:
                labels.add((label, feature[features.LABEL_TEXT].bytes_list.value[0].decode()))
            yield result.example.SerializeToString()
        for pair in sorted(labels):
            yield beam.pvalue.TaggedOutput(self.LABELS, pair)
        self._records.inc(len(batch))
        self._images.inc(images)
        self._converted.inc(converted)
        if self._progress_id:
            progress.attach(self._progress_id).advance(
                len(batch), images=images, skipped=len(batch) - images
            )
