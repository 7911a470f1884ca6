"""The one flag module: every flag of every tfx-dcgan entry point is defined here, once.

How a command reads them (its accepted flags, defaults, --help, the builders of the two configs)
is `tfx_dcgan/cli/command.py`; this module only says which flags exist.

`tfx-dcgan train`, the local pipeline runner (`tfx-dcgan pipeline`), the Kubeflow V2 runner and the
Airflow DAG parse the same flags into the same two dataclasses (with `command.py`):

    experiment_from_flags()            -> config.ExperimentConfig  (one training run)
    pipeline_config_from_flags(...)    -> config.PipelineConfig    (the pipeline around it)

A `Command` names the flags an entry point accepts (a flag of another command given to it is an
error, not silently ignored), its own defaults (the main job trains 2,000 steps at ngf = ndf = 32;
`tfx-dcgan train` keeps the library's defaults) and, where a shared flag means something more
specific there, its own help line. `--preset` sets named starting values; flags given explicitly
win.

Airflow parses DAG files with no command line: `parse_environment_flagfile(command)` reads the absl
flagfile named by the environment variable `TFX_DCGAN_FLAGFILE` (one `--flag=value` per line). Every
command reads that variable too, before its own command line, so a flagfile can be shared by a
local run, a Kubeflow compile and an Airflow DAG.

Two neighbours hold what is not a config field, and this module re-exports them: `presets.py`
(the --preset values and the main job's defaults) and `client_flags.py` (the --tls* flags of the
commands that call a model server; importing this module defines them too).

Nothing below the CLI layer imports this module: library code takes the dataclasses.
"""

from __future__ import annotations

import dataclasses
import os

from tfx_dcgan.cli.client_flags import CLIENT_TLS_FLAGS, client_tls_from_flags
from tfx_dcgan.cli.presets import MAIN_JOB_DEFAULTS, PRESETS
from tfx_dcgan.config import (
    LAYOUTS,
    NOISE_DISTRIBUTIONS,
    SOURCES,
    STRATEGIES,
    DataConfig,
    ModelConfig,
    PipelineConfig,
    TrainConfig,
)

from absl import flags

__all__ = [
    "CLIENT_TLS_FLAGS",
    "client_tls_from_flags",
    "FLAGFILE_ENV",
    "PRESETS",
    "EXPERIMENT_FLAGS",
    "PIPELINE_FLAGS",
    "MAIN_JOB_DEFAULTS",
    "SAMPLE_DATA",
    "FLAGS",
]

FLAGFILE_ENV = "TFX_DCGAN_FLAGFILE"
FLAGS = flags.FLAGS

_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLE_DATA = os.path.join(_REPO_ROOT, "data", "cifar10_sample")

_MODEL = ModelConfig()
_TRAIN = TrainConfig()
_DATA = DataConfig()
_PIPELINE = PipelineConfig()

# ---------------------------------------------------------------------------------------------
# ExperimentConfig: one flag per field (flag name = field name).
# ---------------------------------------------------------------------------------------------
flags.DEFINE_enum(
    "preset",
    "none",
    list(PRESETS),
    "Starting values for the model and training flags: paper_lsun64 (the paper's 64x64 "
    "generator, ngf 128, 4x4 kernels), cifar32 (32x32, ngf=ndf=64, 5x5), quick (32x32, "
    "ngf=ndf=32, 600 steps). Flags given explicitly win.",
)
flags.DEFINE_string(
    "data_dir",
    None,
    "Folder of training images: flat, or one sub-folder per class (searched recursively; JPEG, "
    "PNG, GIF, BMP; WebP/TIFF are converted). Corrupt files are skipped and counted.",
)
flags.DEFINE_integer("shuffle_seed", _DATA.shuffle_seed, "Seed of the per-epoch image order.")
flags.DEFINE_integer(
    "parallel_reads", _DATA.parallel_reads, "Image decode parallelism (0: AUTOTUNE)."
)
flags.DEFINE_integer(
    "max_image_pixels",
    _DATA.max_image_pixels,
    "Skip (and count) images whose header declares more pixels than this, before decoding them: "
    "decompression bombs (0 = no cap; a 6000x4000 photo is 24 million).",
)
flags.DEFINE_integer(
    "image_size",
    _MODEL.image_size,
    "Image side in pixels, a power of two >= 16 (32 for CIFAR-10, 64 as in the paper). Images "
    "are centre-cropped to a square and resized.",
)
flags.DEFINE_integer(
    "channels", _MODEL.channels, "3 for RGB, 1 for grayscale (images are converted)."
)
flags.DEFINE_integer("z_dim", _MODEL.z_dim, "Length of the noise vector z (the paper: 100).")
flags.DEFINE_enum(
    "noise",
    _MODEL.noise,
    list(NOISE_DISTRIBUTIONS),
    "Distribution of z: uniform in [-1, 1] (the paper) or standard normal.",
)
flags.DEFINE_integer(
    "ngf",
    _MODEL.ngf,
    "Generator width: channels of G's last hidden layer; each layer towards the 4x4 projection "
    "doubles it (ngf 128 at 64x64 is the paper's 1024-512-256-128).",
)
flags.DEFINE_integer(
    "ndf", _MODEL.ndf, "Discriminator width: channels of D's first conv; doubles per layer."
)
flags.DEFINE_integer(
    "kernel_size", _MODEL.kernel_size, "Conv kernel side: 5 (the authors' code) or 4 (dcgan.torch)."
)
flags.DEFINE_bool(
    "sync_batch_norm",
    _MODEL.sync_batch_norm,
    "Batch-norm statistics over the global batch across replicas (the paper's semantics). Off: "
    "each replica normalises its own share.",
)
flags.DEFINE_integer(
    "batch_size",
    _TRAIN.batch_size,
    "Global batch size, split evenly over replicas (the paper: 128).",
)
flags.DEFINE_integer(
    "steps",
    _TRAIN.steps,
    "Total training steps (one D and one G update each). A resumed run continues up to this "
    "number.",
)
flags.DEFINE_float(
    "learning_rate", _TRAIN.learning_rate, "Adam learning rate for G and D (the paper: 2e-4)."
)
flags.DEFINE_float("beta1", _TRAIN.beta1, "Adam beta1 (the paper: 0.5).")
flags.DEFINE_integer(
    "seed", _TRAIN.seed, "Seeds weight init, the noise stream and the fixed sample grid."
)
flags.DEFINE_enum(
    "strategy",
    _TRAIN.strategy,
    list(STRATEGIES),
    "tf.distribute strategy: auto (MirroredStrategy over visible GPUs, else the default CPU "
    "strategy), mirrored, multi_worker (reads TF_CONFIG), one_device, default.",
)
flags.DEFINE_integer(
    "cpu_replicas",
    _TRAIN.cpu_replicas,
    "Split the CPU into this many logical devices so MirroredStrategy runs that many replicas "
    "without GPUs (0: leave the CPU whole).",
)
flags.DEFINE_integer(
    "log_every", _TRAIN.log_every, "Print progress and write TensorBoard scalars every N steps."
)
flags.DEFINE_integer(
    "sample_every",
    _TRAIN.sample_every,
    "Write a PNG grid of the fixed z (and a TensorBoard image) every N steps; 0 writes only the "
    "final grid.",
)
flags.DEFINE_integer(
    "checkpoint_every",
    _TRAIN.checkpoint_every,
    "Save a checkpoint every N steps (also at the end and on Ctrl-C / SIGTERM).",
)
flags.DEFINE_integer(
    "keep_checkpoints", _TRAIN.keep_checkpoints, "How many recent checkpoints to keep."
)
flags.DEFINE_integer("sample_grid", _TRAIN.sample_grid, "Number of images in the sample grid.")
flags.DEFINE_bool(
    "deterministic", _TRAIN.deterministic, "TF op determinism: bit-identical replays, slower."
)

# ---------------------------------------------------------------------------------------------
# Output folders and runner-specific flags.
# ---------------------------------------------------------------------------------------------
flags.DEFINE_string(
    "workdir",
    None,
    "Training folder: checkpoints/, tensorboard/, samples/*.png, config.json, train_log.jsonl. "
    "Re-running with the same workdir resumes from its latest checkpoint.",
)
flags.DEFINE_string(
    "output_dir",
    None,
    "Folder for pipeline artifacts (root/), the MLMD database (metadata.db) and pushed models "
    "(serving/).",
)
flags.DEFINE_bool(
    "dry_run",
    False,
    "Build the pipeline and print each component with its execution properties (JSON), "
    "without running anything.",
)
flags.DEFINE_string("default_image", None, "Container image with this project installed.")
flags.DEFINE_string("output_file", "tfx_dcgan_pipeline.json", "Pipeline-spec JSON to write.")
flags.DEFINE_enum(
    "kubeflow_backend",
    "kfp",
    ["kfp", "vertex"],
    "Where the compiled spec runs. kfp (open-source Kubeflow Pipelines): its cache keys on a "
    "task's inputs, command and image, never on the files under --data_dir, so the ingest task's "
    "cache is turned off in the JSON (a run always re-reads the images; later tasks are cached when "
    "their inputs are unchanged). vertex (Vertex AI Pipelines): the ingest's driver computes the "
    "input files' fingerprint before the cache lookup, so the ingest stays cacheable.",
)

# ---------------------------------------------------------------------------------------------
# PipelineConfig: one flag per field (flag name = field name).
# ---------------------------------------------------------------------------------------------
flags.DEFINE_string("pipeline_name", _PIPELINE.pipeline_name, "Pipeline name (the MLMD context).")
flags.DEFINE_string(
    "pipeline_root",
    None,
    "Artifact root: where component outputs are written (a folder, or gs://BUCKET/...).",
)
flags.DEFINE_enum(
    "source",
    _PIPELINE.source,
    list(SOURCES),
    "Input: image folders (--data_dir), a TensorFlow Datasets data set already prepared in "
    "--tfds_data_dir, or existing TFRecords of tf.Example (--tfrecord_pattern). All three give the "
    "same raw features, so everything downstream is unchanged.",
)
flags.DEFINE_enum(
    "layout",
    _PIPELINE.layout,
    list(LAYOUTS),
    "--source=images: auto (look at --data_dir when the pipeline is built: train/ and test/ "
    "sub-roots become the 'train' and 'eval' splits, else a 9:1 hash split), split_subroots "
    "(train/<class>/* and test/<class>/*), single (class folders or flat, hash-split 9:1). A "
    "pipeline compiled where --data_dir cannot be read (Kubeflow, gs://) needs one of the last two.",
)
flags.DEFINE_string(
    "tfds_name",
    None,
    "--source=tfds: 'name[/config][:version]', prepared in --tfds_data_dir (nothing downloads).",
)
flags.DEFINE_string("tfds_data_dir", None, "--source=tfds: the TFDS data_dir.")
flags.DEFINE_string(
    "tfds_split_mapping",
    "",
    "--source=tfds: 'tfds_split=output_split,...'; default train=train,test=eval; e.g. "
    "'train[:90%]=train,train[90%:]=eval'.",
)
flags.DEFINE_string("tfds_image_key", _PIPELINE.tfds_image_key, "--source=tfds: the image feature.")
flags.DEFINE_string(
    "tfds_label_key",
    _PIPELINE.tfds_label_key,
    "--source=tfds: the label feature ('' = unlabelled).",
)
flags.DEFINE_string(
    "tfrecord_pattern",
    None,
    "--source=tfrecord: '/d/*.tfrecord.gz' (hashed 9:1 into train/eval) or "
    "'train=/d/train-*,eval=/d/eval-*'. Absolute paths.",
)
flags.DEFINE_string(
    "feature_map",
    "",
    "--source=tfrecord: ours=theirs, e.g. 'image/encoded=img_bytes,label=class_id' (features "
    "already named like ours need no entry).",
)
flags.DEFINE_list(
    "label_names", [], "--source=tfrecord: label texts by index when the records carry none."
)
flags.DEFINE_string(
    "schema_path",
    None,
    "Curated schema for ImportSchemaGen; default tfx_dcgan/schema/schema.pbtxt.",
)
flags.DEFINE_integer(
    "beam_workers",
    _PIPELINE.beam_workers,
    "DirectRunner worker processes (multi-processing); 0 = one per core, 1 = in-process "
    "(fastest on small data).",
)
flags.DEFINE_multi_string(
    "beam_arg",
    [],
    "Extra Beam pipeline options, repeatable, e.g. --beam_arg=--runner=FlinkRunner "
    "--beam_arg=--flink_master=localhost:8081 (replaces the DirectRunner defaults when it sets "
    "--runner).",
)
flags.DEFINE_bool(
    "enable_cache", _PIPELINE.enable_cache, "Reuse outputs of unchanged component executions."
)
flags.DEFINE_bool(
    "allow_anomalies",
    _PIPELINE.allow_anomalies,
    "Go on to Transform and training when the data breaks the schema (ExampleValidator's "
    "anomalies, labels outside labels.txt); by default SchemaGate stops the run there and prints "
    "every anomaly.",
)
flags.DEFINE_bool(
    "probe",
    _PIPELINE.probe,
    "Run the FeatureProbeEvaluator (D's features -> linear L2-SVM, the paper's CIFAR-10 protocol) "
    "and push only a model it blesses. Needs labelled data (class sub-folders); for a flat folder "
    "use --noprobe --push_unblessed.",
)
flags.DEFINE_float(
    "probe_threshold",
    _PIPELINE.probe_threshold,
    "Bless (and push) when the probe's test accuracy is at least this, in [0, 1]. The default is "
    "twice chance on 10 classes; a trained D on the shipped sample scores well above it.",
)
flags.DEFINE_integer(
    "probe_max_train_examples", 0, "Probe on a seeded subset of this many train images (0 = all)."
)
flags.DEFINE_integer(
    "probe_max_test_examples", 0, "Score the probe on this many test images (0 = all)."
)
flags.DEFINE_bool(
    "fid",
    _PIPELINE.fid,
    "Measure FID and KID of the generator's samples against the eval split in the evaluator, "
    "with the reference Inception network (weights: bash scripts/ensure_fid_weights.sh). Figures "
    "are named with their count (fid_500); FID at different counts does not compare.",
)
flags.DEFINE_integer(
    "fid_count",
    _PIPELINE.fid_count,
    "Generated images FID/KID score (and at most as many real ones); 0 = as many as the eval "
    "split holds, up to 10,000 (500 on the shipped sample: about a minute on 2 cores).",
)
flags.DEFINE_float(
    "fid_ceiling",
    _PIPELINE.fid_ceiling,
    "Bless only when FID is at most this too; 0 = no ceiling (the default).",
)
flags.DEFINE_bool(
    "fid_baselines",
    _PIPELINE.fid_baselines,
    "Also score a random-init generator of the same architecture and real train images against "
    "the eval split at the same count: the scale's two ends (costs two more scorings).",
)
flags.DEFINE_integer("fid_batch_size", _PIPELINE.fid_batch_size, "Images per Inception pass.")
flags.DEFINE_string(
    "fid_cache_dir",
    _PIPELINE.fid_cache_dir,
    "Cache of the real split's Inception features, keyed by content, count and network "
    "('' = ~/.cache/tfx-dcgan/fid_features).",
)
flags.DEFINE_string(
    "inception_weights",
    _PIPELINE.inception_weights,
    "The converted FID network weights ('' = $TFX_DCGAN_FID_WEIGHTS, else "
    "~/.cache/tfx-dcgan/fid_inception_2015_12_05.npz).",
)
flags.DEFINE_string(
    "push_base",
    None,
    "TF Serving model base path the Pusher publishes to; default <output_dir>/serving locally, "
    "<pipeline_root>/serving on Kubeflow.",
)
flags.DEFINE_bool(
    "push_unblessed",
    _PIPELINE.push_unblessed,
    "Push every trained model: with --probe the probe still runs and records its verdict, but "
    "does not hold the push back; with --noprobe it is required (nothing else can bless).",
)
flags.DEFINE_integer(
    "max_logged_skipped",
    _PIPELINE.max_logged_skipped,
    "How many skipped image files the ingest lists in its report and log.",
)

CONFIG_SECTIONS = (("data", DataConfig), ("model", ModelConfig), ("train", TrainConfig))
EXPERIMENT_FLAGS: tuple[str, ...] = ("preset",) + tuple(
    field.name for _, cls in CONFIG_SECTIONS for field in dataclasses.fields(cls)
)
# PipelineConfig fields whose flag has another name.
PIPELINE_FIELD_FLAGS = {"beam_args": "beam_arg"}
PIPELINE_FLAGS: tuple[str, ...] = tuple(
    PIPELINE_FIELD_FLAGS.get(field.name, field.name) for field in dataclasses.fields(PipelineConfig)
)
