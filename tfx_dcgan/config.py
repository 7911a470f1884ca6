"""Typed configuration, built once by a CLI or a TFX component and passed down.

Nothing below the CLI layer reads flags: `tfx_dcgan/cli/flags.py` (the one flag module of every
entry point) builds an `ExperimentConfig` (what one training run is) and, for the pipeline runners,
a `PipelineConfig` (where the data comes from and what the pipeline does around the training), and
hands them to library functions. `to_dict` / `from_dict` round-trip through JSON, so the same
config travels in TFX `custom_config` and is stored beside checkpoints. Where a run writes (its
workdir) is not part of the config: `train_lib.train(config, workdir, ...)` takes it.

Defaults follow Radford, Metz & Chintala (2015), arXiv:1511.06434: Adam(lr 2e-4, beta1 0.5),
batch 128, z ~ U[-1, 1]^100, weights ~ N(0, 0.02). Widths default to ngf = ndf = 64 with the
authors' 5x5 kernels; the paper's LSUN generator (4x4x1024 -> 512 -> 256 -> 128 -> 3) is
`image_size=64, ngf=128`.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

__all__ = [
    "ConfigError",
    "DataConfig",
    "ModelConfig",
    "TrainConfig",
    "ExperimentConfig",
    "PipelineConfig",
    "STRATEGIES",
    "NOISE_DISTRIBUTIONS",
    "SOURCES",
    "LAYOUTS",
]

STRATEGIES = ("auto", "mirrored", "multi_worker", "one_device", "default")
NOISE_DISTRIBUTIONS = ("uniform", "normal")
SOURCES = ("images", "tfds", "tfrecord")
LAYOUTS = ("auto", "split_subroots", "single")


# The pixel cap of every image reader and of the exported feature extractor's graph: a 6000 x 4000
# (24 MP) photo passes with room to spare; a 20,000 x 20,000 PNG (1.2 GB decoded) does not.
DEFAULT_MAX_IMAGE_PIXELS = 100_000_000


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the field and what was expected."""


def _is_power_of_two(value: int) -> bool:
    return value > 0 and value & (value - 1) == 0


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Where real images come from and how they are read.

    Attributes:
      data_dir: a folder of images, flat or with one sub-folder per class (searched recursively),
        that the training loop reads itself (`tfx-dcgan train`). Empty in a pipeline: there the
        Trainer reads the Transform output, and `PipelineConfig.data_dir` is the ingest's input.
      shuffle_seed: seed of the per-epoch file order (the order is a pure function of seed and step,
        which is what makes resumption exact).
      parallel_reads: decode parallelism of the `tf.data` reader, the image-folder reader's and
        the TFX Trainer's (0 = AUTOTUNE).
      max_image_pixels: every reader of image files (the pipeline's ingest, the training reader,
        the probe's and FID's folder readers) skips, and counts, an image whose header declares
        more pixels than this, before decoding it (decompression bombs); 0 = no cap.
    """

    data_dir: str = ""
    shuffle_seed: int = 0
    parallel_reads: int = 0
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS

    def validate(self) -> None:
        if self.parallel_reads < 0:
            raise ConfigError(f"data.parallel_reads must be >= 0, got {self.parallel_reads}")
        if self.max_image_pixels < 0:
            raise ConfigError(
                f"data.max_image_pixels must be >= 0 (0 = no cap), got {self.max_image_pixels}"
            )


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Architecture of G and D (Radford et al. 2015, Section 3 and Figure 1).

    Attributes:
      image_size: side of the square images, a power of two >= 16 (32 for CIFAR-10, 64 as in the
        paper's LSUN/faces/ImageNet runs). G upsamples 4 -> image_size, D downsamples back to 4.
      channels: 3 (RGB) or 1 (grayscale).
      z_dim: length of the noise vector z.
      noise: "uniform" (the paper: U[-1, 1]) or "normal" (N(0, 1)).
      ngf: width of G's last hidden layer; layers double towards the 4x4 projection.
      ndf: width of D's first layer; layers double towards the 4x4 map.
      kernel_size: conv kernel side: 5 in the authors' code, 4 in dcgan.torch.
      sync_batch_norm: batch norm statistics over the global batch across replicas (the paper's
        semantics) instead of each replica's share.
    """

    image_size: int = 32
    channels: int = 3
    z_dim: int = 100
    noise: str = "uniform"
    ngf: int = 64
    ndf: int = 64
    kernel_size: int = 5
    sync_batch_norm: bool = False

    @property
    def num_resolution_steps(self) -> int:
        """Number of stride-2 layers between 4x4 and image_size."""
        return self.image_size.bit_length() - 3

    def validate(self) -> None:
        if not _is_power_of_two(self.image_size) or self.image_size < 16:
            raise ConfigError(
                f"model.image_size must be a power of two >= 16 (16, 32, 64, 128, ...), "
                f"got {self.image_size}"
            )
        if self.channels not in (1, 3):
            raise ConfigError(
                f"model.channels must be 1 (grayscale) or 3 (RGB), got {self.channels}"
            )
        if self.z_dim <= 0:
            raise ConfigError(f"model.z_dim must be positive, got {self.z_dim}")
        if self.noise not in NOISE_DISTRIBUTIONS:
            raise ConfigError(
                f"model.noise must be one of {NOISE_DISTRIBUTIONS}, got {self.noise!r}"
            )
        for name in ("ngf", "ndf", "kernel_size"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"model.{name} must be positive, got {getattr(self, name)}")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Optimisation, distribution and bookkeeping.

    Attributes:
      batch_size: global batch, split evenly over replicas (the paper: 128).
      steps: total training steps (one D and one G update each); resuming continues up to this.
      learning_rate, beta1: Adam's (the paper: 2e-4 and 0.5).
      seed: seeds weight init, the noise stream and the fixed sample grid.
      strategy: "auto" (MirroredStrategy over visible GPUs, else the default CPU strategy),
        "mirrored", "multi_worker" (MultiWorkerMirroredStrategy from TF_CONFIG), "one_device",
        "default".
      cpu_replicas: split the CPU into this many logical devices before TF starts (0 = leave it);
        lets MirroredStrategy run several replicas on a machine without GPUs.
      log_every: progress line and TensorBoard scalars every N steps.
      sample_every: PNG grid of the fixed z and a TensorBoard image every N steps (0 = only at end).
      checkpoint_every: checkpoint every N steps (and always at the end and on interruption).
      keep_checkpoints: how many recent checkpoints CheckpointManager keeps.
      sample_grid: number of images in the fixed-z sample grid (a square number reads best).
      deterministic: enable TF op determinism (slower; exact replays, used by resume tests).
    """

    batch_size: int = 128
    steps: int = 1000
    learning_rate: float = 2e-4
    beta1: float = 0.5
    seed: int = 0
    strategy: str = "auto"
    cpu_replicas: int = 0
    log_every: int = 50
    sample_every: int = 500
    checkpoint_every: int = 500
    keep_checkpoints: int = 3
    sample_grid: int = 64
    deterministic: bool = False

    def validate(self) -> None:
        if self.batch_size <= 0:
            raise ConfigError(f"train.batch_size must be positive, got {self.batch_size}")
        if self.steps <= 0:
            raise ConfigError(f"train.steps must be positive, got {self.steps}")
        if self.learning_rate <= 0:
            raise ConfigError(f"train.learning_rate must be positive, got {self.learning_rate}")
        if not 0.0 <= self.beta1 < 1.0:
            raise ConfigError(f"train.beta1 must be in [0, 1), got {self.beta1}")
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"train.strategy must be one of {STRATEGIES}, got {self.strategy!r}")
        if self.cpu_replicas < 0:
            raise ConfigError(f"train.cpu_replicas must be >= 0, got {self.cpu_replicas}")
        for name in ("log_every", "checkpoint_every", "keep_checkpoints", "sample_grid"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"train.{name} must be positive, got {getattr(self, name)}")
        if self.sample_every < 0:
            raise ConfigError(f"train.sample_every must be >= 0, got {self.sample_every}")


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    """Everything one training run needs except where it writes (see `train_lib.train`)."""

    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)

    def validate(self) -> ExperimentConfig:
        self.data.validate()
        self.model.validate()
        self.train.validate()
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ExperimentConfig:
        """Rebuilds a config; unknown keys raise ConfigError naming them.

        A top-level "workdir" (written by tfx-dcgan before the workdir left the config) is ignored,
        so config.json files of older runs still load.
        """
        sections = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}
        unknown = set(values) - set(sections) - {"workdir"}
        if unknown:
            raise ConfigError(f"unknown config sections: {sorted(unknown)}")
        kwargs: dict[str, Any] = {}
        for name, section_cls in sections.items():
            section_values = dict(values.get(name, {}))
            known = {f.name for f in dataclasses.fields(section_cls)}
            bad = set(section_values) - known
            if bad:
                raise ConfigError(f"unknown fields in config section '{name}': {sorted(bad)}")
            kwargs[name] = section_cls(**section_values)
        return cls(**kwargs)


def _has_scheme(path: str) -> bool:
    """True for gs://, s3://, hdfs:// ... paths (which cannot be checked on this machine)."""
    return "://" in path


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """What the TFX pipeline does around the training run; field names are the flags' names.

    Attributes:
      pipeline_name: the ML Metadata pipeline context (and the Kubeflow pipeline's name).
      pipeline_root: where component outputs are written (a folder, or gs://...).
      source: "images" (image folders), "tfds" (a prepared TensorFlow Datasets data set) or
        "tfrecord" (existing TFRecords of tf.Example); all give the same raw features.
      data_dir: source "images": the image folder (class folders, flat, or train/ + test/).
      layout: source "images": how `data_dir` is split. "auto" looks at the folder when the
        pipeline is built (train/ + test/ sub-roots or not); "split_subroots" (the split patterns
        train/*/* and test/*/*: class folders under train/ and test/ become 'train' and 'eval';
        files directly in train/ or test/ are not read); "single" (the pattern *, hash-split
        9:1). A pipeline compiled where the data cannot be read (Kubeflow, gs://) needs one of
        the last two; the same value means the same patterns on every runner.
      tfds_name, tfds_data_dir, tfds_split_mapping, tfds_image_key, tfds_label_key: source
        "tfds": 'name[/config][:version]' prepared in tfds_data_dir; {tfds_split: output_split}
        (empty: train=train, test=eval); the image and label features ('' = unlabelled).
      tfrecord_pattern, feature_map, label_names: source "tfrecord": '/d/*.tfrecord.gz' or
        'train=/d/train-*,eval=/d/eval-*'; {our_feature: their_feature}; label texts by index.
      schema_path: the curated schema ImportSchemaGen imports ('' = tfx_dcgan/schema/schema.pbtxt).
      beam_workers: DirectRunner worker processes: 0 = one per core, 1 = in-process.
      beam_args: extra Beam options; one that sets --runner replaces the DirectRunner defaults.
      enable_cache: reuse outputs of component executions whose inputs did not change.
      allow_anomalies: let the run go on to Transform and training when the data breaks the
        schema (ExampleValidator's anomalies, labels outside labels.txt); off: SchemaGate stops it.
      probe: run the FeatureProbeEvaluator and push only models it blesses.
      probe_threshold: bless when the probe's test accuracy is >= this, in [0, 1].
      probe_max_train_examples, probe_max_test_examples: seeded subsets for the probe (0 = all).
      fid: measure FID and KID of the generator's samples against the eval split in the
        evaluator (with the reference Inception network; weights from
        `bash scripts/ensure_fid_weights.sh`). Needs `probe` (the evaluator runs both).
      fid_count: generated images scored; 0 = as many as the eval split holds, up to 10,000.
      fid_ceiling: bless only when FID <= this as well; 0 = no ceiling (the default).
      fid_baselines: also score a random-init generator and real train images at the same count.
      fid_batch_size: images per Inception forward pass.
      fid_cache_dir: cache of the real split's features ('' = ~/.cache/tfx-dcgan/fid_features).
      inception_weights: the converted network weights ('' = the default cache path).
      push_base: the TF Serving model base path the Pusher publishes to.
      push_unblessed: push whatever the probe says (with --noprobe: push unconditionally).
      max_logged_skipped: how many skipped image files the ingest lists in its report and log.
    """

    pipeline_name: str = "tfx_dcgan"
    pipeline_root: str = ""
    source: str = "images"
    data_dir: str = ""
    layout: str = "auto"
    tfds_name: str = ""
    tfds_data_dir: str = ""
    tfds_split_mapping: dict[str, str] = dataclasses.field(default_factory=dict)
    tfds_image_key: str = "image"
    tfds_label_key: str = "label"
    tfrecord_pattern: str = ""
    feature_map: dict[str, str] = dataclasses.field(default_factory=dict)
    label_names: tuple[str, ...] = ()
    schema_path: str = ""
    beam_workers: int = 0
    beam_args: tuple[str, ...] = ()
    enable_cache: bool = True
    allow_anomalies: bool = False
    probe: bool = True
    probe_threshold: float = 0.2
    probe_max_train_examples: int = 0
    probe_max_test_examples: int = 0
    fid: bool = True
    fid_count: int = 0
    fid_ceiling: float = 0.0
    fid_baselines: bool = False
    fid_batch_size: int = 32
    fid_cache_dir: str = ""
    inception_weights: str = ""
    push_base: str = ""
    push_unblessed: bool = False
    max_logged_skipped: int = 20

    def validate(self, check_local_paths: bool = True) -> PipelineConfig:
        """Checks every field; with `check_local_paths`, that local input folders exist.

        Raises:
          ConfigError: the message names the field (`pipeline.<flag>`) and what was expected.
        """
        if not self.pipeline_name:
            raise ConfigError("pipeline.pipeline_name must not be empty")
        if not self.pipeline_root:
            raise ConfigError("pipeline.pipeline_root must be set (where artifacts are written)")
        if not self.push_base:
            raise ConfigError("pipeline.push_base must be set (the TF Serving model base path)")
        if self.source not in SOURCES:
            raise ConfigError(f"pipeline.source must be one of {SOURCES}, got {self.source!r}")
        if self.layout not in LAYOUTS:
            raise ConfigError(f"pipeline.layout must be one of {LAYOUTS}, got {self.layout!r}")
        if self.source == "images":
            if not self.data_dir:
                raise ConfigError("pipeline.data_dir must be set for --source=images")
            if check_local_paths and not _has_scheme(self.data_dir):
                from tfx_dcgan import fileio  # TensorFlow only when a path is checked

                if not fileio.isdir(self.data_dir):
                    raise ConfigError(f"pipeline.data_dir={self.data_dir!r} is not a folder")
        if self.source == "tfds" and not (self.tfds_name and self.tfds_data_dir):
            raise ConfigError(
                "pipeline.source=tfds needs --tfds_name and --tfds_data_dir (a prepared data_dir)"
            )
        for source_split, output_split in self.tfds_split_mapping.items():
            if (
                not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", output_split)
                or ".." in output_split
            ):
                raise ConfigError(
                    f"pipeline.tfds_split_mapping: output split {output_split!r} (for "
                    f"{source_split!r}) must be a plain name of letters, digits, '_', '-', '.': "
                    "it names a folder"
                )
        if self.source == "tfrecord" and not self.tfrecord_pattern:
            raise ConfigError("pipeline.source=tfrecord needs --tfrecord_pattern")
        if self.beam_workers < 0:
            raise ConfigError(f"pipeline.beam_workers must be >= 0, got {self.beam_workers}")
        if not 0.0 <= self.probe_threshold <= 1.0:
            raise ConfigError(
                f"pipeline.probe_threshold must be in [0, 1], got {self.probe_threshold}"
            )
        for name in (
            "probe_max_train_examples",
            "probe_max_test_examples",
            "max_logged_skipped",
            "fid_count",
            "fid_ceiling",
        ):
            if getattr(self, name) < 0:
                raise ConfigError(f"pipeline.{name} must be >= 0, got {getattr(self, name)}")
        if self.fid_batch_size <= 0:
            raise ConfigError(
                f"pipeline.fid_batch_size must be positive, got {self.fid_batch_size}"
            )
        if self.fid_ceiling and not (self.fid and self.probe):
            raise ConfigError(
                "pipeline.fid_ceiling needs the FID it bounds: --fid and --probe (the evaluator)"
            )
        if not self.probe and not self.push_unblessed:
            raise ConfigError(
                "pipeline.probe is off (--noprobe), which leaves nothing to bless the model: add "
                "--push_unblessed to push it unconditionally"
            )
        return self

    def beam_pipeline_args(self) -> list[str]:
        """Beam options of every Beam-based component: DirectRunner defaults plus `beam_args`."""
        if any(arg.startswith("--runner") for arg in self.beam_args):
            return list(self.beam_args)
        if self.beam_workers == 1:
            direct = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]
        else:
            direct = [
                "--direct_running_mode=multi_processing",
                f"--direct_num_workers={self.beam_workers}",
            ]
        return direct + list(self.beam_args)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def replace(config: Any, **changes: Any) -> Any:
    """`dataclasses.replace` re-exported for callers that build configs step by step."""
    return dataclasses.replace(config, **changes)
