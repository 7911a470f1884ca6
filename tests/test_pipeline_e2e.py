"""End-to-end test: the whole TFX pipeline on LocalDagRunner with SQLite ML Metadata.

One pipeline run (module-scoped fixture) on a tiny image set the test makes, with corrupt files
among the images, serves every assertion below; a second run in the same process checks the
cache. Tiny model (16x16, ngf = ndf = 8, batch 8, 4 steps). Beam runs in-process here
(`--direct_running_mode=in_memory`): multi-processing workers would add ~30 s of start-up per
Beam component on two cores and test nothing more of this project's code.
"""

import glob
import io
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import types

import tfx_dcgan  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from tfx_dcgan import features, models, probe, train_lib
from tfx_dcgan.components import preprocessing
from tfx_dcgan.config import ExperimentConfig, ModelConfig, PipelineConfig, TrainConfig

import numpy as np
import pytest
import tensorflow as tf
from conftest import run_python
from PIL import Image
from pty_run import run_in_pty

pytestmark = pytest.mark.slow

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PIPELINE_NAME = "e2e_dcgan"
STEPS = 4
NODES = (
    "ImageExampleGen",
    "ImportSchemaGen",
    "StatisticsGen",
    "SchemaGen",
    "ExampleValidator",
    "SchemaGate",
    "Transform",
    "Trainer",
    "FeatureProbeEvaluator",
    "VersionedPusher",
)
CLASSES = ("cat", "dog")
MODEL = ModelConfig(image_size=16, channels=3, z_dim=16, ngf=8, ndf=8)
# 20 eval images: FID/KID at the automatic count (the whole eval split) stay cheap.
EVAL_PER_CLASS = 10


def _make_dataset(root: str) -> dict:
    """train/ and test/ sub-roots with two classes, mixed formats and sizes, and bad files."""
    rng = np.random.default_rng(0)
    good = 0
    for split, per_class in (("train", 10), ("test", EVAL_PER_CLASS)):
        for class_index, name in enumerate(CLASSES):
            folder = os.path.join(root, split, name)
            os.makedirs(folder)
            for i in range(per_class):
                size = (20 + 4 * (i % 3), 24)
                pixels = rng.integers(0, 256, size + (3,), dtype=np.uint8)
                fmt = ("JPEG", "PNG", "BMP")[(i + class_index) % 3]
                Image.fromarray(pixels).save(os.path.join(folder, f"{i}.{fmt.lower()}"), fmt)
                good += 1
    # Converted, not skipped: WebP (TF cannot decode it).
    Image.fromarray(rng.integers(0, 256, (18, 18, 3), dtype=np.uint8)).save(
        os.path.join(root, "train", "cat", "extra.webp"), "WEBP", lossless=True
    )
    good += 1
    # Skipped: zero bytes, a truncated JPEG, a text file.
    open(os.path.join(root, "train", "cat", "empty.jpg"), "wb").close()
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(buffer, "JPEG")
    with open(os.path.join(root, "train", "dog", "truncated.jpg"), "wb") as handle:
        handle.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with open(os.path.join(root, "test", "dog", "notes.txt"), "w") as handle:
        handle.write("not an image\n")
    return {"good": good, "train_good": 2 * 10 + 1, "eval_good": 2 * EVAL_PER_CLASS}


def _argv(run, *extra: str) -> list[str]:
    """The main job's command line on the tests' tiny data and model."""
    return [
        f"--data_dir={run.data_dir}",
        f"--output_dir={run.root}",
        f"--pipeline_name={PIPELINE_NAME}",
        "--image_size=16",
        "--z_dim=16",
        "--ngf=8",
        "--ndf=8",
        "--batch_size=8",
        f"--steps={STEPS}",
        "--log_every=2",
        "--sample_every=0",
        "--checkpoint_every=2",
        "--sample_grid=4",
        # Beam in-process: multi-processing workers add ~30 s per Beam component on 2 cores.
        "--beam_workers=1",
        "--probe_threshold=0.0",
        # FID at the automatic count (all 20 eval images), with both ends of the scale.
        "--fid_baselines",
        f"--fid_cache_dir={os.path.join(run.root, 'fid_cache')}",
        # The Trainer honours the strategy: two replicas with batch norm over the global batch.
        "--strategy=mirrored",
        "--cpu_replicas=2",
        "--sync_batch_norm",
        *extra,
    ]


def _run_in_process(run, *extra: str) -> float:
    """The same pipeline as the runner builds from the same flags, run in this process."""
    from tfx_dcgan.cli import flags as cli_flags

    from absl.testing import flagsaver
    from tfx import v1 as tfx

    from pipelines import local_runner, pipeline

    with flagsaver.flagsaver():
        local_runner.COMMAND.apply_defaults()
        cli_flags.FLAGS(["tfx-dcgan pipeline", *_argv(run, *extra)])
        pipeline_config, experiment, metadata_path = local_runner.configs_from_flags()
    started = time.perf_counter()
    tfx.orchestration.LocalDagRunner().run(
        pipeline.create_pipeline(
            pipeline_config,
            experiment,
            tfx.orchestration.metadata.sqlite_metadata_connection_config(metadata_path),
        )
    )
    return time.perf_counter() - started


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The README's own command, `bash scripts/run.sh <flags>`, under a pseudo-terminal as a
    person runs it; `run.stdout` is what the terminal shows, `run.terminal` the whole run."""
    from pipelines import run_info

    root = str(tmp_path_factory.mktemp("e2e"))
    data_dir = os.path.join(root, "images")
    counts = _make_dataset(data_dir)
    result = types.SimpleNamespace(
        root=root,
        data_dir=data_dir,
        counts=counts,
        model=MODEL,
        pipeline_root=os.path.join(root, "root"),
        push_base=os.path.join(root, "serving"),
        metadata_path=os.path.join(root, "metadata.db"),
    )
    started = time.perf_counter()
    terminal = run_in_pty(["bash", "scripts/run.sh", *_argv(result)], timeout=900)
    result.seconds = time.perf_counter() - started
    result.terminal = terminal
    result.stdout = terminal.stdout
    assert terminal.returncode == 0, terminal.stdout[-5000:]
    result.summary = run_info.summarize_latest_run(result.metadata_path, PIPELINE_NAME)
    print(f"\nfirst pipeline run (fresh process): {result.seconds:.1f} s")
    for component in result.summary.components.values():
        print(f"  {component.node_id:<18} {component.state:<9} {component.seconds:6.1f} s")
    return result


def test_the_runner_prints_where_everything_is(run):
    assert f"pipeline run {run.summary.run_id}:" in run.stdout
    assert f"ML Metadata:       {run.metadata_path}" in run.stdout
    assert "feature probe:     test accuracy" in run.stdout
    (pushed_line,) = [
        line for line in run.stdout.splitlines() if line.startswith("pushed generator:")
    ]
    assert pushed_line.split()[-1].startswith(f"{run.push_base}/generator/")


def _node_lines(lines: list[str], node: str) -> tuple[list[str], list[str]]:
    """(start lines, end lines) of `node` on the console."""
    prefix = rf"\[\s*\d+/{len(NODES)}\] {node}\s+"
    starts = [line for line in lines if re.fullmatch(prefix + "started", line)]
    ends = [line for line in lines if re.match(prefix + r"(COMPLETE|CACHED|FAILED)\s", line)]
    return starts, ends


def test_the_console_is_short_live_and_has_one_start_and_end_line_per_node(run):
    lines = run.terminal.lines  # as the terminal shows them: a bar's refreshes are one line
    assert len(lines) <= 40, "\n".join(lines)
    for node in NODES:
        starts, ends = _node_lines(lines, node)
        assert len(starts) == 1 and len(ends) == 1, (node, "\n".join(lines))
    positions = [int(re.match(r"\[\s*(\d+)/", line).group(1)) for line in lines
                 if re.match(r"\[\s*\d+/\d+\] \S+\s+started$", line)]  # fmt: skip
    assert positions == list(range(1, len(NODES) + 1))  # in the pipeline's order
    end = {node: _node_lines(lines, node)[1][0] for node in NODES}
    assert f"{run.counts['good']} images (1 converted), 3 skipped (" in end["ImageExampleGen"]
    assert "COMPLETE" in end["Trainer"] and f"{STEPS} steps, " in end["Trainer"]
    assert "img/s" in end["Trainer"]
    assert "probe accuracy " in end["FeatureProbeEvaluator"]
    assert f"fid_{run.counts['eval_good']} " in end["FeatureProbeEvaluator"]
    assert "pushed generator v" in end["VersionedPusher"]
    # Live: the training bar was drawn and refreshed in place (then cleared).
    assert "\rtraining:" in run.terminal.transcript
    # The known noise stayed off the console; TFX's INFO chatter and IR protos too.
    for noise in ("cuFFT", "cuDNN", "TF-TRT", "Running launcher for", "node_info {"):
        assert noise not in run.stdout
    overhead = [line for line in lines if line.startswith("wall time:")]
    assert len(overhead) == 1 and "orchestration overhead" in overhead[0]


def test_the_log_path_comes_first_and_the_log_holds_the_full_run(run):
    first = run.terminal.lines[0]
    assert first.startswith(f"log: {os.path.join(run.root, 'logs', 'pipeline-')}"), first
    with open(first[len("log: ") :]) as handle:
        log = handle.read()
    # TensorFlow's C++ start-up lines, written before Python logging exists, and TFX's INFO
    # records with the pipeline IR: in the log, not on the console.
    assert "Unable to register cuFFT factory" in log
    assert "Running launcher for node_info {" in log
    assert len(log.splitlines()) > 10 * len(run.terminal.lines)
    for line in run.terminal.lines[1:]:
        assert line in log, line


def test_a_run_without_a_usable_image_shows_its_error_and_the_log(tmp_path):
    """A second, short process: the data folder holds no usable image, so the first node fails."""
    data_dir = tmp_path / "images"
    (data_dir / "a").mkdir(parents=True)
    (data_dir / "a" / "notes.txt").write_text("not an image\n")
    (data_dir / "a" / "empty.png").write_bytes(b"")
    argv = [f"--data_dir={data_dir}", f"--output_dir={tmp_path / 'out'}", "--beam_workers=1",
            "--nofid", "--steps=1"]  # fmt: skip
    terminal = run_in_pty(["bash", "scripts/run.sh", *argv], timeout=600)
    lines = terminal.lines
    assert terminal.returncode == 1, terminal.stdout[-3000:]
    assert len(lines) <= 40, "\n".join(lines)
    log_path = lines[0][len("log: ") :]
    assert lines[0].startswith("log: ") and os.path.exists(log_path)
    starts, ends = _node_lines(lines, "ImageExampleGen")
    assert len(starts) == 1 and len(ends) == 1 and " FAILED " in ends[0], "\n".join(lines)
    (error,) = [line for line in lines if line.startswith("error: the pipeline run failed:")]
    assert "no usable image among the 2 files" in error
    assert lines[-1] == f"the full log: {log_path}"


def test_the_trainer_honours_the_strategy_flags(run):
    with open(os.path.join(run.summary.model_run_dir, "train_log.jsonl")) as handle:
        lines = [json.loads(line) for line in handle]
    assert [line["step"] for line in lines] == [2, 4]
    assert {line["replicas"] for line in lines} == {2}
    with open(os.path.join(run.summary.serving_model_dir, "model_config.json")) as handle:
        stored = json.load(handle)
    assert stored["model"]["sync_batch_norm"] is True
    assert (stored["train"]["strategy"], stored["train"]["cpu_replicas"]) == ("mirrored", 2)


def _store(run):
    from pipelines import run_info

    return run_info.open_store(run.metadata_path)


def test_every_component_succeeded(run):
    states = {node: c.state for node, c in run.summary.components.items()}
    assert states == {node: "COMPLETE" for node in NODES}


def test_mlmd_holds_artifacts_and_lineage(run):
    from ml_metadata.proto import metadata_store_pb2

    store = _store(run)
    inputs = {metadata_store_pb2.Event.INPUT, metadata_store_pb2.Event.DECLARED_INPUT}
    outputs = {metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT}
    type_names = {t.id: t.name for t in store.get_execution_types()}

    def producer(artifact_id):
        events = [e for e in store.get_events_by_artifact_ids([artifact_id]) if e.type in outputs]
        assert len(events) == 1, f"artifact {artifact_id} has {len(events)} producers"
        execution = store.get_executions_by_id([events[0].execution_id])[0]
        input_ids = [
            e.artifact_id
            for e in store.get_events_by_execution_ids([execution.id])
            if e.type in inputs
        ]
        return type_names[execution.type_id], store.get_artifacts_by_id(input_ids)

    (pushed,) = store.get_artifacts_by_type("PushedModel")
    assert pushed.custom_properties["pushed"].int_value == 1
    chain = []
    frontier = [pushed]
    seen = set()
    while frontier:
        artifact = frontier.pop()
        if artifact.id in seen:
            continue
        seen.add(artifact.id)
        component, parents = producer(artifact.id)
        chain.append((artifact.type, component.rsplit(".", 1)[-1], sorted(p.type for p in parents)))
        frontier.extend(parents)
    lineage = {(a, c) for a, c, _ in chain}
    assert ("PushedModel", "VersionedPusher") in lineage
    assert ("Model", "Trainer") in lineage
    assert ("Examples", "Transform") in lineage  # transformed examples
    assert ("TransformGraph", "Transform") in lineage
    assert ("Examples", "ImageExampleGen") in lineage
    # Node id ImportSchemaGen; its execution type is the class, TFX's ImportSchemaGen subclassed.
    assert ("Schema", "PackagedImportSchemaGen") in lineage
    parents_of = {(a, c): p for a, c, p in chain}
    assert parents_of[("Model", "Trainer")] == ["Examples", "Schema", "TransformGraph"]
    # The Trainer's schema is the one SchemaGate passed on, after the validator's anomalies.
    assert parents_of[("Schema", "SchemaGate")] == [
        "ExampleAnomalies",
        "ExampleStatistics",
        "Examples",
        "Schema",
    ]
    # The curated, the inferred (for comparison) and the gated schema.
    schemas = store.get_artifacts_by_type("Schema")
    assert len(schemas) == 3
    (gated,) = [a for a in schemas if "num_anomalies" in a.custom_properties]
    assert gated.custom_properties["num_anomalies"].int_value == 0
    assert "data contract:     no anomalies (SchemaGate)" in run.stdout


def test_corrupt_files_are_counted_not_fatal(run):
    from tfx_dcgan.components.image_example_gen import executor

    report = executor.read_report(run.summary.examples_uri)
    assert report["num_images"] == run.counts["good"]
    assert report["num_converted"] == 1
    assert report["num_skipped_empty_file"] == 1
    assert report["num_skipped_corrupt_image"] == 1
    assert report["num_skipped_not_an_image"] == 1
    assert report["num_skipped"] == 3
    assert [path for path, _, _ in report["first_skipped"]] == [
        "test/dog/notes.txt",
        "train/cat/empty.jpg",
        "train/dog/truncated.jpg",
    ]
    assert report["label_vocabulary"] == list(CLASSES)
    with open(os.path.join(run.summary.examples_uri, "labels.txt")) as handle:
        assert handle.read().split() == list(CLASSES)
    (examples,) = [
        a
        for a in _store(run).get_artifacts_by_type("Examples")
        if a.uri == run.summary.examples_uri
    ]
    assert examples.custom_properties["num_skipped"].int_value == 3
    assert examples.custom_properties["num_images"].int_value == run.counts["good"]
    for split, expected in (("train", run.counts["train_good"]), ("eval", run.counts["eval_good"])):
        files = glob.glob(os.path.join(run.summary.examples_uri, f"Split-{split}", "*.gz"))
        records = list(tf.data.TFRecordDataset(files, compression_type="GZIP"))
        assert len(records) == expected
        for record in records:
            example = tf.train.Example.FromString(record.numpy())
            assert set(example.features.feature) == set(features.RAW_FEATURES)


_LOAD_GENERATOR = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tensorflow as tf
    model = tf.saved_model.load(sys.argv[1])
    z = np.load(sys.argv[2])
    out = model.signatures["serving_default"](z=tf.constant(z))
    np.save(sys.argv[3], out["raw"].numpy())
    meta = {k: v.numpy() for k, v in model.signatures["metadata"]().items()}
    print(json.dumps({k: v.decode() if isinstance(v, bytes) else v.item() for k, v in meta.items()}))
    """
)


def test_pushed_generator_equals_final_checkpoint_in_a_fresh_process(run, tmp_path):
    pushed = run.summary.pushed_models["generator"]
    assert os.path.exists(os.path.join(pushed["destination"], "saved_model.pb"))
    z = np.random.default_rng(7).uniform(-1, 1, (5, run.model.z_dim)).astype(np.float32)
    np.save(tmp_path / "z.npy", z)
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            _LOAD_GENERATOR,
            pushed["destination"],
            str(tmp_path / "z.npy"),
            str(tmp_path / "out.npy"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    metadata = json.loads(completed.stdout.strip().splitlines()[-1])
    served = np.load(tmp_path / "out.npy")

    generator, _, step = train_lib.restore_models(run.summary.model_run_dir, run.model)
    expected = generator(tf.constant(z), training=False).numpy()
    assert served.shape == (5, 16, 16, 3)
    np.testing.assert_allclose(served, expected, atol=1e-5, rtol=0)
    assert step == STEPS
    assert metadata["step"] == STEPS
    with open(os.path.join(run.summary.serving_model_dir, "model_config.json")) as handle:
        assert json.load(handle)["step"] == STEPS


def _transformed_records(run):
    store = _store(run)
    (transformed,) = [
        a
        for a in store.get_artifacts_by_type("Examples")
        if "num_images" not in a.custom_properties
    ]
    files = glob.glob(os.path.join(transformed.uri, "Split-train", "*.gz"))
    return list(tf.data.TFRecordDataset(files, compression_type="GZIP").batch(1000))[0]


def test_pushed_feature_extractor_matches_training_side_features(run):
    raw_files = glob.glob(os.path.join(run.summary.examples_uri, "Split-train", "*.gz"))
    raw = tf.io.parse_example(
        list(tf.data.TFRecordDataset(raw_files, compression_type="GZIP").batch(1000))[0],
        {features.IMAGE_ENCODED: tf.io.FixedLenFeature([], tf.string)},
    )[features.IMAGE_ENCODED]
    served_model = tf.saved_model.load(
        run.summary.pushed_models["discriminator_features"]["destination"]
    )
    served = served_model.signatures["serving_default"](image_bytes=raw)["features"].numpy()

    # Training side: Transform's output as the Trainer reads it, through the restored D.
    model_config = run.model
    transformed = tf.io.parse_example(
        _transformed_records(run),
        {features.TRANSFORMED_IMAGE: tf.io.FixedLenFeature([], tf.string)},
    )[features.TRANSFORMED_IMAGE]
    images = preprocessing.decode_transformed_images(
        transformed, model_config.image_size, model_config.channels
    )
    _, discriminator, _ = train_lib.restore_models(run.summary.model_run_dir, model_config)
    # The extractor carries BN statistics of the real training images, frozen (what the probe
    # judges), not the training-time ones that mix in generated batches.
    frozen = probe.reestimate_batch_norm(discriminator, images.numpy())
    training_side = models.build_feature_extractor(frozen)(images, training=False).numpy()
    as_trained = models.build_feature_extractor(discriminator)(images, training=False).numpy()
    assert np.abs(as_trained - training_side).max() > 1e-3

    assert (
        served.shape
        == training_side.shape
        == (run.counts["train_good"], models.feature_size(model_config))
    )
    # Transform may reorder examples: pair each training-side row with its nearest served row.
    distances = np.abs(training_side[:, None, :] - served[None, :, :]).max(axis=2)
    nearest = distances.argmin(axis=1)
    assert sorted(nearest.tolist()) == list(range(len(served)))  # A one-to-one pairing.
    assert distances.min(axis=1).max() < 1e-5


def test_the_pushed_extractor_holds_the_transform_graph_and_frozen_real_statistics(run):
    destination = run.summary.pushed_models["discriminator_features"]["destination"]
    with open(os.path.join(destination, "assets.extra", "model_config.json")) as handle:
        asset = json.load(handle)
    assert asset["preprocessing"] == "transform_graph"
    assert asset["batch_norm"]["source"] == "reestimated"
    assert asset["batch_norm"]["split"] == "train"
    assert asset["batch_norm"]["examples"] == run.counts["train_good"]
    loaded = tf.saved_model.load(destination)
    # The Transform layer is saved with the model; the fallback preprocessing saves nothing.
    assert hasattr(loaded, "preprocess") and hasattr(loaded.preprocess, "transform_layer")
    # The Transform graph decodes through image_ops, whose pixel cap refuses a bomb undecoded.
    header = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + (20_000).to_bytes(4, "big") * 2
    with pytest.raises(tf.errors.InvalidArgumentError, match="max_image_pixels"):
        loaded.signatures["serving_default"](image_bytes=tf.constant([header + b"\x08\x02"]))


def _evaluation(run) -> dict:
    with open(os.path.join(run.summary.evaluation_uri, "probe_metrics.json")) as handle:
        return json.load(handle)


def test_every_run_records_fid_and_kid_named_with_their_count(run):
    count = run.counts["eval_good"]
    name = f"fid_{count}"
    quality = run.summary.sample_quality
    assert np.isfinite(quality[name]) and quality[name] > 0
    assert np.isfinite(quality[f"kid_{count}"])
    payload = _evaluation(run)["sample_quality"]
    assert payload["name"] == name and payload["count"] == count
    assert payload["real_split"] == "eval" and payload["num_real"] == count
    assert payload[name] == pytest.approx(quality[name])
    # On the test data: real images against real images score below a random-init generator.
    assert quality[f"{name}_real_train"] < quality[f"{name}_random_init_generator"]
    assert f"sample quality:    {name} = " in run.stdout


def test_served_features_equal_the_rows_the_evaluator_judged(run):
    """gRPC on loopback to the pushed version: the same images give the evaluator's rows."""
    from tfx_dcgan.probe import exported

    from serving import client as client_lib
    from serving import server as server_lib

    encoded, rows, _ = exported.load_feature_rows(
        os.path.join(run.summary.evaluation_uri, "feature_rows.npz")
    )
    assert len(encoded) == run.counts["eval_good"]
    config = server_lib.load_model_server_config(
        os.path.join(REPO, "serving", "models.config"), base_path_root=run.push_base
    )
    server = server_lib.ModelServer(config, port=0, poll_seconds=0)
    port = server.start()
    try:
        with client_lib.ServingClient(f"127.0.0.1:{port}", timeout=60) as client:
            served, _ = client.features(encoded)
    finally:
        server.stop(grace=0)
    np.testing.assert_allclose(served, rows, rtol=0, atol=1e-5)


def test_the_trainer_writes_its_model_to_ram(run, tmp_path, monkeypatch):
    """run_fn on this run's Transform output with model_run_dir and serving_model_dir on ram://
    (an in-process stand-in for gs://): every output lands there, none in the working folder."""
    from tfx_dcgan import fileio
    from tfx_dcgan.components import trainer_module
    from tfx_dcgan.config import TrainConfig

    transformed = os.path.join(run.pipeline_root, "Transform", "transformed_examples", "*")
    train_files = sorted(glob.glob(os.path.join(transformed, "Split-train", "*")))
    (graph,) = glob.glob(os.path.join(run.pipeline_root, "Transform", "transform_graph", "*"))
    assert train_files
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    root = f"ram://trainer-{os.getpid()}"
    experiment = ExperimentConfig(
        model=MODEL, train=TrainConfig(batch_size=8, log_every=1, sample_every=0, sample_grid=4)
    )
    trainer_module.run_fn(
        types.SimpleNamespace(
            custom_config={trainer_module.EXPERIMENT_KEY: experiment.to_dict()},
            train_steps=2,
            train_files=train_files,
            transform_output=graph,
            model_run_dir=f"{root}/model_run",
            serving_model_dir=f"{root}/serving",
        )
    )
    listed = set()
    for directory, _, files in tf.io.gfile.walk(root):
        listed |= {os.path.relpath(os.path.join(directory, n), root) for n in files}
    for expected in (
        "model_run/config.json",
        "model_run/train_log.jsonl",
        "model_run/samples/final.png",
        "serving/model_config.json",
        "serving/generator/saved_model.pb",
        "serving/discriminator_features/saved_model.pb",
        "serving/keras/generator/saved_model.pb",
        "serving/keras/discriminator/saved_model.pb",
    ):
        assert expected in listed, expected
    assert any(p.startswith("model_run/checkpoints/ckpt-2") for p in listed)
    assert any(p.startswith("model_run/tensorboard/") for p in listed)
    generated = tf.saved_model.load(f"{root}/serving/generator").signatures["generate"](
        seed=tf.constant(3, tf.int64), count=tf.constant(2, tf.int64)
    )["images"]
    assert generated.shape == (2, 16, 16, 3)
    features_out = tf.saved_model.load(f"{root}/serving/discriminator_features").signatures[
        "serving_default"
    ](image_bytes=tf.reshape(tf.io.encode_png(generated[0]), [1]))["features"]
    assert features_out.shape == (1, models.feature_size(MODEL))
    assert np.all(np.isfinite(features_out.numpy()))
    assert json.loads(fileio.read_text(f"{root}/serving/model_config.json"))
    assert os.listdir(cwd) == []


def test_second_run_is_served_from_the_cache(run):
    from pipelines import run_info

    versions_before = sorted(os.listdir(os.path.join(run.push_base, "generator")))
    seconds = _run_in_process(run)
    summary = run_info.summarize_latest_run(run.metadata_path, PIPELINE_NAME)
    print(f"\nsecond (cached) pipeline run: {seconds:.1f} s")
    assert summary.run_id != run.summary.run_id
    assert {node: c.state for node, c in summary.components.items()} == {
        node: "CACHED" for node in NODES
    }
    assert sorted(os.listdir(os.path.join(run.push_base, "generator"))) == versions_before


def test_feature_probe_blesses_at_threshold_zero(run):
    summary = run.summary
    assert summary.probe_accuracy is not None and 0.0 <= summary.probe_accuracy <= 1.0
    assert summary.blessed is True and summary.pushed is True
    blessing_dirs = glob.glob(
        os.path.join(run.pipeline_root, "FeatureProbeEvaluator", "blessing", "*")
    )
    assert [os.listdir(d) for d in blessing_dirs] == [["BLESSED"]]
    metrics_files = glob.glob(
        os.path.join(
            run.pipeline_root,
            "FeatureProbeEvaluator",
            "evaluation",
            "*",
            "probe_metrics.json",
        )
    )
    metrics = json.load(open(metrics_files[0]))
    assert metrics["status"] == "ok"
    assert len(metrics["probe"]["confusion_matrix"]) == len(CLASSES)


def test_unblessed_model_is_not_pushed(run):
    """A threshold the probe cannot reach: only the evaluator and the pusher run again."""
    from pipelines import run_info

    assert run.summary.probe_accuracy < 1.0  # random pixels: the probe cannot be perfect
    versions_before = {
        name: sorted(os.listdir(os.path.join(run.push_base, name)))
        for name in ("generator", "discriminator_features")
    }
    _run_in_process(run, "--probe_threshold=1.0")
    summary = run_info.summarize_latest_run(run.metadata_path, PIPELINE_NAME)
    states = {node: c.state for node, c in summary.components.items()}
    assert states["FeatureProbeEvaluator"] == "COMPLETE"
    assert states["VersionedPusher"] == "COMPLETE"
    assert states["Trainer"] == "CACHED"
    assert summary.blessed is False and summary.pushed is False
    assert "below" in summary.blessing_reason or "threshold" in summary.blessing_reason
    for name, versions in versions_before.items():
        assert sorted(os.listdir(os.path.join(run.push_base, name))) == versions


def test_data_that_breaks_the_schema_stops_the_run_before_transform(tmp_path):
    """TFRecords whose labels run past --label_names: SchemaGate fails the run, naming the
    feature, and neither Transform nor the Trainer runs."""
    from tfx import v1 as tfx

    from pipelines import pipeline, run_info

    records = tmp_path / "records"
    records.mkdir()
    options = tf.io.TFRecordOptions(compression_type="GZIP")
    rng = np.random.default_rng(2)
    with tf.io.TFRecordWriter(str(records / "data.tfrecord.gz"), options) as writer:
        for index in range(16):
            pixels = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
            example = tf.train.Example()
            feature = example.features.feature
            feature[features.IMAGE_ENCODED].bytes_list.value.append(
                tf.io.encode_png(pixels).numpy()
            )
            feature[features.LABEL].int64_list.value.append(index % 5)  # 0..4, two names
            writer.write(example.SerializeToString())
    config = PipelineConfig(
        pipeline_name="broken_contract",
        pipeline_root=str(tmp_path / "root"),
        source="tfrecord",
        tfrecord_pattern=str(records / "*.tfrecord.gz"),
        label_names=("cat", "dog"),
        push_base=str(tmp_path / "serving"),
        beam_workers=1,
    )
    experiment = ExperimentConfig(model=MODEL, train=TrainConfig(batch_size=8, steps=2))
    metadata_path = str(tmp_path / "metadata.db")
    with pytest.raises(Exception) as failure:
        tfx.orchestration.LocalDagRunner().run(
            pipeline.create_pipeline(
                config,
                experiment,
                tfx.orchestration.metadata.sqlite_metadata_connection_config(metadata_path),
            )
        )
    message = str(failure.value)
    assert "the data breaks the schema" in message
    assert "feature 'label': values 0..4, but the label vocabulary (labels.txt) has 2 names" in (
        message
    )
    assert "--allow_anomalies" in message
    states = {
        node: c.state
        for node, c in run_info.summarize_latest_run(
            metadata_path, "broken_contract"
        ).components.items()
    }
    assert states["SchemaGate"] == "FAILED"
    assert "Transform" not in states and "Trainer" not in states
    assert states["ExampleValidator"] == "COMPLETE"


def test_compiles_for_kubeflow_v2(tmp_path):
    from tfx import v1 as tfx

    from pipelines import pipeline

    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
            default_image="example.org/tfx-dcgan:test"
        ),
        output_dir=str(tmp_path),
        output_filename="pipeline.json",
    )
    runner.run(
        pipeline.create_pipeline(
            PipelineConfig(
                pipeline_name="tfx-dcgan",
                pipeline_root="gs://bucket/root",
                data_dir="gs://bucket/images",
                layout="split_subroots",
                push_base="gs://bucket/serving",
            ),
            ExperimentConfig(),
        )
    )
    with open(tmp_path / "pipeline.json") as handle:
        spec = json.load(handle)
    spec = spec.get("pipelineSpec", spec)
    assert spec["schemaVersion"] == "2.0.0"
    assert sorted(spec["root"]["dag"]["tasks"]) == sorted(NODES)


def test_layout_auto_refuses_a_folder_it_cannot_read():
    from pipelines import pipeline

    config = PipelineConfig(
        pipeline_root="gs://bucket/root", data_dir="gs://bucket/images", push_base="gs://b/s"
    )
    with pytest.raises(ValueError, match="pass --layout=split_subroots"):
        pipeline.create_pipeline(config, ExperimentConfig())


def test_image_example_gen_default_splits_follow_the_folder_layout(tmp_path):
    from tfx_dcgan.components.image_example_gen import component

    def patterns(folder):
        config = component.default_input_config(str(folder))
        return [(s.name, s.pattern) for s in config.splits]

    for rel in ("split/train/a/1.png", "split/test/a/2.png", "classes/a/1.png", "flat/1.png"):
        os.makedirs(tmp_path / os.path.dirname(rel), exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    assert patterns(tmp_path / "split") == [("train", "train/*/*"), ("eval", "test/*/*")]
    assert patterns(tmp_path / "classes") == [("single_split", "*/*")]
    assert patterns(tmp_path / "flat") == [("single_split", "*")]
    output = component.default_output_config(component.default_input_config(str(tmp_path / "flat")))
    assert [(s.name, s.hash_buckets) for s in output.split_config.splits] == [
        ("train", 9),
        ("eval", 1),
    ]
    with pytest.raises(ValueError, match="channels must be 1 or 3"):
        component.ImageExampleGen(input_base=str(tmp_path / "flat"), channels=4)


def test_versioned_pusher_requires_an_explicit_unconditional_push():
    from tfx_dcgan.components.versioned_pusher.component import VersionedPusher

    from tfx import v1 as tfx

    model = tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model)
    with pytest.raises(ValueError, match="push_unblessed=True"):
        VersionedPusher(model=model, push_base="/tmp/serving")
    pusher = VersionedPusher(model=model, push_base="/tmp/serving", push_unblessed=True)
    assert json.loads(pusher.exec_properties["model_names"]) == [
        "generator",
        "discriminator_features",
    ]


@pytest.mark.parametrize(
    "source_kwargs,first_node",
    [
        (
            {"source": "tfds", "tfds_name": "mnist:3.0.1", "tfds_data_dir": "/data/tfds"},
            "TfdsExampleGen",
        ),
        (
            {
                "source": "tfrecord",
                "tfrecord_pattern": "/data/records/*.tfrecord.gz",
                "feature_map": {"image/encoded": "img"},
            },
            "TFRecordExampleGen",
        ),
    ],
)
def test_every_source_feeds_the_same_downstream(tmp_path, source_kwargs, first_node):
    from pipelines import pipeline

    built = pipeline.create_pipeline(
        PipelineConfig(
            pipeline_name="sources",
            pipeline_root=str(tmp_path),
            push_base=str(tmp_path / "serving"),
            **source_kwargs,
        ),
        ExperimentConfig(model=ModelConfig(image_size=16, ngf=4, ndf=4)),
    )
    ids = [component.id for component in built.components]
    assert first_node in ids and "ImageExampleGen" not in ids
    assert set(NODES) - {"ImageExampleGen"} <= set(ids)


def test_create_pipeline_rejects_a_source_without_its_input(tmp_path):
    from pipelines import pipeline

    with pytest.raises(ValueError, match="source=tfds needs --tfds_name and --tfds_data_dir"):
        pipeline.create_pipeline(
            PipelineConfig(
                pipeline_name="sources",
                pipeline_root=str(tmp_path),
                source="tfds",
                push_base=str(tmp_path),
            ),
            ExperimentConfig(),
        )


# -- run report (issue 15) -------------------------------------------------------------------------
# The page the main job wrote at the end of the shared run, in headless Chromium; then deleted and
# made again from ML Metadata alone. By now the latest run is the unblessed one above.


def _report_headings() -> list[str]:
    from tfx_dcgan.report import html_page

    return [title for _, title in html_page.SECTIONS]


def test_the_main_job_ends_with_a_report_that_renders_cleanly_in_chromium(run):
    from chromium_page import render_page

    path = os.path.join(run.root, "report.html")
    assert run.stdout.rstrip().splitlines()[-1] == f"run report:        {path}"
    page = render_page(path)
    assert page.problems() == []
    assert page.headings == [f"tfx-dcgan run report: {PIPELINE_NAME}", *_report_headings()]
    # The grid, the progress strip (one frame: --sample_every=0), the curves, the probe's two.
    assert len(page.images) == 5
    text = page.text
    assert f"run {run.summary.run_id}" in text
    assert "BLESSED" in text and "NOT BLESSED" not in text
    for name in ("notes.txt", "empty.jpg", "truncated.jpg"):
        assert name in text  # the first skipped files
    fid = next(k for k in run.summary.sample_quality if k.startswith("fid_") and k.count("_") == 1)
    assert f"{run.summary.sample_quality[fid]:.2f}" in text
    assert "ExampleValidator: no anomalies" in text
    for node in NODES:
        assert node in text
    version = run.summary.pushed_models["generator"]["version"]
    assert f"pushed version {version}" in text
    assert f"--model_base_path_root={run.push_base}" in text


def test_the_report_is_made_again_from_mlmd_alone(run, tmp_path):
    from tfx_dcgan import report

    from chromium_page import render_page

    path = os.path.join(run.root, "report.html")
    os.remove(path)
    assert report.write_report(run.root, PIPELINE_NAME) == path
    page = render_page(path)
    assert page.problems() == []
    assert page.headings[1:] == _report_headings()
    assert len(page.images) == 5
    # The latest run is the one with --probe_threshold=1.0: judged again, nothing pushed.
    assert "NOT BLESSED" in page.text and "nothing pushed" in page.text
    # And from the command line, for any earlier run.
    out = str(tmp_path / "again.html")
    completed = run_python(
        [
            "-m",
            "tfx_dcgan.cli",
            "report",
            run.root,
            f"--pipeline_name={PIPELINE_NAME}",
            f"--html={out}",
        ]
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.strip().splitlines()[-1] == out
    assert render_page(out).headings[1:] == _report_headings()


# ------------------------------------------------------------------------------------------------
# Last in this module: it trains the shared run's model further and pushes a new version.


def _durable_log(run) -> str:
    (log_path,) = glob.glob(
        os.path.join(run.pipeline_root, "TrainerCheckpoints", "*", "train_log.jsonl")
    )
    return log_path


def _durable_steps(run) -> list[int]:
    with open(_durable_log(run)) as handle:
        return [json.loads(line)["step"] for line in handle if line.strip()]


def _start_runner(run, log_path: str, *extra: str) -> subprocess.Popen:
    """The main job's command in a fresh process, its output to `log_path` (TFX writes
    thousands of lines: an unread pipe would fill and stall the run)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with open(log_path, "w") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "pipelines.local_runner", *_argv(run, *extra)],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )


def _with_log(output: str) -> str:
    """A runner's console output and the full log whose path it printed first."""
    first = output.splitlines()[0] if output else ""
    if not first.startswith("log: "):
        return output
    with open(first[len("log: ") :]) as handle:
        return output + handle.read()


def _read(path: str) -> str:
    with open(path) as handle:
        return _with_log(handle.read())


def _wait_for_durable_step(run, step: int, process: subprocess.Popen) -> int:
    deadline = time.time() + 600
    while time.time() < deadline:
        steps = _durable_steps(run)
        if steps and steps[-1] >= step:
            return steps[-1]
        assert process.poll() is None, f"the runner exited early; see {process.args}"
        time.sleep(0.02)
    raise AssertionError(f"the Trainer did not reach step {step}")


def test_an_interrupted_pipeline_reruns_from_the_trainers_checkpoints(run, tmp_path):
    """The main job asked for more steps, stopped in training twice (SIGTERM, as Kubernetes
    sends, then SIGKILL), then the same command again: the upstream nodes come from the cache,
    the Trainer resumes from its durable checkpoints, and no LIVE artifact is partial."""
    from ml_metadata.proto import metadata_store_pb2

    from pipelines import run_info

    steps = "--steps=400"
    # 1. SIGTERM during training: the Trainer saves a checkpoint at that step and fails cleanly.
    log_path = str(tmp_path / "sigterm.log")
    process = _start_runner(run, log_path, steps)
    _wait_for_durable_step(run, STEPS + 4, process)
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=300)
    output = _read(log_path)
    assert process.returncode == 1, output[-3000:]
    assert f"ckpt-{STEPS} at step {STEPS}" in output
    stopped = int(output.split("training stopped by a signal at step ")[1].split(" ")[0])
    assert stopped == _durable_steps(run)[-1]
    checkpoints = os.path.join(os.path.dirname(_durable_log(run)), "checkpoints")
    assert f"ckpt-{stopped}.index" in os.listdir(checkpoints)
    assert "error: the pipeline run failed" in output
    # 2. SIGKILL during training: no chance to save.
    log_path = str(tmp_path / "sigkill.log")
    process = _start_runner(run, log_path, steps)
    killed_at = _wait_for_durable_step(run, stopped + 6, process)
    process.kill()
    process.wait(timeout=60)
    assert f"ckpt-{stopped} at step {stopped}" in _read(log_path)
    # 3. The same command again.
    completed = run_python(["-m", "pipelines.local_runner", *_argv(run, steps)], timeout=900)
    assert completed.returncode == 0, completed.stderr[-5000:] + completed.stdout[-2000:]
    summary = run_info.summarize_latest_run(run.metadata_path, PIPELINE_NAME)
    states = {node: c.state for node, c in summary.components.items()}
    upstream = set(NODES) - {"Trainer", "FeatureProbeEvaluator", "VersionedPusher"}
    assert states == {
        **{node: "CACHED" for node in upstream},
        "Trainer": "COMPLETE",
        "FeatureProbeEvaluator": "COMPLETE",
        "VersionedPusher": "COMPLETE",
    }
    output = _with_log(completed.stdout + completed.stderr)
    resumed = int(output.split("resumed from ")[1].split(" at step ")[1].split()[0])
    assert killed_at - 2 <= resumed <= killed_at  # at most one checkpoint interval lost
    assert _durable_steps(run)[-1] == 400
    with open(os.path.join(summary.serving_model_dir, "model_config.json")) as handle:
        assert json.load(handle)["step"] == 400
    # MLMD: the SIGTERM'd Trainer is FAILED; the SIGKILL'd one, which could record nothing, stays
    # RUNNING (LocalDagRunner has no reaper); its output artifact never became LIVE.
    store = _store(run)
    trainer_node = store.get_context_by_type_and_name("node", f"{PIPELINE_NAME}.Trainer")
    trainer_states = sorted(
        metadata_store_pb2.Execution.State.Name(e.last_known_state)
        for e in store.get_executions_by_context(trainer_node.id)
    )
    assert trainer_states.count("FAILED") == 1 and trainer_states.count("RUNNING") == 1, (
        trainer_states
    )
    for artifact in store.get_artifacts():
        if artifact.state == metadata_store_pb2.Artifact.LIVE:
            assert os.path.exists(artifact.uri), artifact
            if artifact.type == "Model":
                assert os.path.exists(
                    os.path.join(artifact.uri, "Format-Serving", "generator", "saved_model.pb")
                )
