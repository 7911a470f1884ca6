"""How a TFDS source's splits become Beam elements: the split mapping and the index ranges.

`parse_split_mapping` reads the --tfds_split_mapping flag; `plan_chunks` cuts the mapped TFDS
splits into ranges aligned to the shard files, refusing specs that overlap (they would leak
training images into eval). No TFX import; TFDS is imported only to parse split specs.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tfx_dcgan.ingest.tfds_source import TfdsSource

__all__ = [
    "DEFAULT_SPLIT_MAPPING",
    "DEFAULT_CHUNK_SIZE",
    "Chunk",
    "parse_split_mapping",
    "plan_chunks",
]

# TFDS split (any TFDS split spec, e.g. 'train[:90%]') -> output split of the Examples artifact.
DEFAULT_SPLIT_MAPPING = {"train": "train", "test": "eval"}
# Elements per Beam element. A range inside a shard costs a sequential skip over the records
# before it, so ranges are large and never cross a shard boundary.
DEFAULT_CHUNK_SIZE = 1024


@dataclasses.dataclass(frozen=True)
class Chunk:
    """Elements [start, end) of one TFDS split, written to `output_split`."""

    tfds_split: str
    start: int
    end: int
    output_split: str


def parse_split_mapping(text: str | Mapping[str, str] | None) -> dict[str, str]:
    """The --tfds_split_mapping flag ('train[:90%]=train,train[90%:]=eval', or JSON) -> dict.

    None or '' gives DEFAULT_SPLIT_MAPPING. Raises ValueError for a malformed item.
    """
    if text is None or (isinstance(text, str) and not text.strip()):
        return dict(DEFAULT_SPLIT_MAPPING)
    if isinstance(text, Mapping):
        return dict(text)
    if text.strip().startswith("{"):
        return dict(json.loads(text))
    mapping = {}
    for item in text.split(","):
        spec, sep, output_split = item.partition("=")
        if not sep or not spec.strip() or not output_split.strip():
            raise ValueError(
                f"TFDS split mapping: expected 'tfds_split=output_split' items separated by "
                f"commas, got {item!r} in {text!r}"
            )
        mapping[spec.strip()] = output_split.strip()
    return mapping


def _absolute_ranges(source: TfdsSource, spec: str) -> list[tuple[str, int, int]]:
    """A TFDS split spec ('train', 'train[:90%]', 'train+test') -> [(split, start, end)]."""
    import tensorflow_datasets as tfds

    try:
        instruction = tfds.core.ReadInstruction.from_spec(spec)
        absolute = instruction.to_absolute(
            {split: _SplitSize(size) for split, size in source.split_sizes.items()}
        )
    except (ValueError, KeyError, AssertionError) as error:
        raise ValueError(
            f"TFDS data set {source.name!r}: bad split {spec!r} in the split mapping ({error}); "
            f"its splits: {sorted(source.split_sizes)}"
        ) from None
    ranges = []
    for part in absolute:
        size = source.split_sizes[part.splitname]
        start = 0 if part.from_ is None else part.from_
        end = size if part.to is None else part.to
        ranges.append((part.splitname, max(0, start), min(size, end)))
    return ranges


@dataclasses.dataclass(frozen=True)
class _SplitSize:
    """The one field of a TFDS SplitInfo that `ReadInstruction.to_absolute` reads."""

    num_examples: int


def plan_chunks(
    source: TfdsSource,
    split_mapping: Mapping[str, str] | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> list[Chunk]:
    """Cuts the mapped TFDS splits into index ranges, one Beam element each.

    Args:
      source: from load_source.
      split_mapping: TFDS split spec -> output split name; several specs may feed one output
        split; default DEFAULT_SPLIT_MAPPING (train -> train, test -> eval).
      chunk_size: most elements per range; ranges never cross a TFDS shard file.

    Returns:
      Chunks in split, then index order; together they cover every mapped element once.

    Raises:
      ValueError: an unknown TFDS split, an empty output name, an empty selection, or two
        specs that select the same elements (that would leak training images into eval).
    """
    split_mapping = dict(split_mapping or DEFAULT_SPLIT_MAPPING)
    if not split_mapping:
        raise ValueError(f"TFDS data set {source.name!r}: the split mapping is empty")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    taken: dict[str, list[tuple[int, int, str]]] = {}
    chunks = []
    for spec, output_split in split_mapping.items():
        if not output_split or not isinstance(output_split, str):
            raise ValueError(
                f"TFDS data set {source.name!r}: split {spec!r} maps to an empty output split name"
            )
        for split, start, end in _absolute_ranges(source, spec):
            for other_start, other_end, other_spec in taken.get(split, []):
                if start < other_end and other_start < end:
                    raise ValueError(
                        f"TFDS data set {source.name!r}: split specs {other_spec!r} and {spec!r} "
                        f"both select elements of {split!r} [{max(start, other_start)}:"
                        f"{min(end, other_end)}]"
                    )
            taken.setdefault(split, []).append((start, end, spec))
            shard_start = 0
            for length in source.shard_lengths.get(split) or (source.split_sizes[split],):
                shard_end = shard_start + length
                low, high = max(start, shard_start), min(end, shard_end)
                for chunk_start in range(low, high, chunk_size):
                    chunk_end = min(high, chunk_start + chunk_size)
                    chunks.append(Chunk(split, chunk_start, chunk_end, output_split))
                shard_start = shard_end
    if not chunks:
        raise ValueError(
            f"TFDS data set {source.name!r}: the split mapping {split_mapping} selects no elements"
        )
    return chunks
