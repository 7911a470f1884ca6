"""Tests of the feature probe (tfx_dcgan.probe), its data readers and the FeatureProbeEvaluator
executor (run directly on artifacts in a temporary folder, no orchestrator)."""

import json
import os

import tfx_dcgan  # noqa: F401  (sets Keras 2 / oneDNN before TensorFlow loads)
from tfx_dcgan import features, image_ops, models, probe
from tfx_dcgan.config import DataConfig, ExperimentConfig, ModelConfig, TrainConfig
from tfx_dcgan.probe import data as probe_data

import numpy as np
import pytest
import tensorflow as tf
from absl.testing import parameterized

TINY = ModelConfig(image_size=16, channels=3, ndf=4, ngf=4, z_dim=8)


def _pattern_images(labels: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """uint8 [N, size, size, 3]: class k brightens quadrant k (of 4) and tints a channel; noise.

    Separable by construction: a linear read-out of any reasonable feature map sees the quadrant.
    """
    half = size // 2
    images = rng.integers(0, 80, size=(len(labels), size, size, 3)).astype(np.int32)
    for index, label in enumerate(labels):
        row, col = divmod(int(label) % 4, 2)
        images[index, row * half : (row + 1) * half, col * half : (col + 1) * half, :] += 150
        images[index, ..., int(label) % 3] += 20
    return np.clip(images, 0, 255).astype(np.uint8)


def _balanced_labels(num_classes: int, per_class: int, rng: np.random.Generator) -> np.ndarray:
    return rng.permutation(np.repeat(np.arange(num_classes), per_class))


def _small_config(**changes) -> probe.ProbeConfig:
    values = dict(c_grid=(1e-3, 1e-1), batch_size=32, max_iter=60)
    values.update(changes)
    return probe.ProbeConfig(**values)


class FeatureSizeTest(parameterized.TestCase):
    @parameterized.parameters(
        (16, 4, 3), (16, 8, 1), (32, 4, 3), (32, 6, 1), (64, 4, 3), (64, 8, 3)
    )
    def test_feature_size_matches_formula(self, size, ndf, channels):
        config = ModelConfig(image_size=size, channels=channels, ndf=ndf)
        discriminator = models.build_discriminator(config, seed=0)
        images = np.zeros((3, size, size, channels), np.uint8)
        values = probe.extract_features(discriminator, images, batch_size=2)
        widths = models.discriminator_widths(config)
        self.assertEqual(values.shape, (3, 16 * sum(widths)))
        self.assertEqual(values.shape[1], models.feature_size(config))
        self.assertEqual(values.dtype, np.float32)


class BatchNormReestimationTest(parameterized.TestCase):
    def setUp(self):
        super().setUp()
        rng = np.random.default_rng(0)
        self.images = rng.integers(0, 256, size=(70, 16, 16, 3)).astype(np.uint8)
        self.discriminator = models.build_discriminator(TINY, seed=1)

    def test_statistics_are_exact_population_moments_and_input_is_untouched(self):
        before = [w.copy() for w in self.discriminator.get_weights()]
        copy = probe.reestimate_batch_norm(self.discriminator, self.images, batch_size=16)
        # The caller's model keeps its weights (fresh moving stats: mean 0, variance 1).
        for old, new in zip(before, self.discriminator.get_weights()):
            np.testing.assert_array_equal(old, new)
        inputs = image_ops.to_model_range(self.images)
        for layer in copy.layers:
            if not isinstance(layer, tf.keras.layers.BatchNormalization):
                continue
            prefix = tf.keras.Model(copy.input, layer.input)
            values = prefix(inputs, training=False).numpy().astype(np.float64)
            flat = values.reshape(-1, values.shape[-1])
            np.testing.assert_allclose(
                layer.moving_mean.numpy(), flat.mean(axis=0), rtol=1e-4, atol=1e-5
            )
            np.testing.assert_allclose(
                layer.moving_variance.numpy(), flat.var(axis=0), rtol=1e-4, atol=1e-6
            )
        self.assertFalse(copy.trainable)
        self.assertFalse(
            np.allclose(
                copy.get_layer("d_bn1").moving_variance.numpy(),
                self.discriminator.get_layer("d_bn1").moving_variance.numpy(),
            )
        )

    def test_features_do_not_depend_on_the_batch(self):
        labels = np.repeat(np.arange(5), 14)
        images = _pattern_images(labels, 16, np.random.default_rng(3))
        copy = probe.reestimate_batch_norm(self.discriminator, images, batch_size=32)
        order_sorted = np.argsort(labels, kind="stable")
        order_shuffled = np.random.default_rng(4).permutation(len(labels))
        target = int(order_sorted[20])
        alone = probe.extract_features(copy, images[target : target + 1], batch_size=1)[0]
        in_sorted = probe.extract_features(copy, images[order_sorted], batch_size=35)
        in_shuffled = probe.extract_features(copy, images[order_shuffled], batch_size=64)
        sorted_row = in_sorted[int(np.flatnonzero(order_sorted == target)[0])]
        shuffled_row = in_shuffled[int(np.flatnonzero(order_shuffled == target)[0])]
        np.testing.assert_allclose(alone, sorted_row, atol=1e-6, rtol=0)
        np.testing.assert_allclose(alone, shuffled_row, atol=1e-6, rtol=0)
        # And the statistics themselves do not depend on the batch size or order.
        other = probe.reestimate_batch_norm(
            self.discriminator, images[order_shuffled], batch_size=7
        )
        for name in ("d_bn1",):
            np.testing.assert_allclose(
                copy.get_layer(name).moving_mean.numpy(),
                other.get_layer(name).moving_mean.numpy(),
                atol=1e-6,
            )


class ProbeTest(parameterized.TestCase):
    def test_separable_classes_reach_high_accuracy_and_shuffled_labels_chance(self):
        rng = np.random.default_rng(0)
        train_labels = _balanced_labels(4, 60, rng)
        test_labels = _balanced_labels(4, 50, rng)
        train_images = _pattern_images(train_labels, 16, rng)
        test_images = _pattern_images(test_labels, 16, rng)
        discriminator = models.build_discriminator(TINY, seed=0)
        result = probe.run_probe(
            discriminator,
            train_images,
            train_labels,
            test_images,
            test_labels,
            _small_config(),
            class_names=["a", "b", "c", "d"],
        )
        self.assertGreaterEqual(result.accuracy, 0.95)
        self.assertLen(result.per_class_accuracy, 4)
        self.assertEqual(np.sum(result.confusion_matrix), 200)
        self.assertEqual(result.num_test, 200)
        self.assertEqual(result.feature_size, models.feature_size(TINY))
        self.assertIn(result.chosen_c, (1e-3, 1e-1))
        self.assertTrue(result.bn_reestimated)

        shuffled = probe.run_probe(
            discriminator,
            train_images,
            rng.permutation(train_labels),
            test_images,
            rng.permutation(test_labels),
            _small_config(),
        )
        self.assertLess(shuffled.accuracy, 0.42)  # chance is 0.25; 200 test images

    def test_result_round_trips_through_json(self):
        rng = np.random.default_rng(1)
        train_x = rng.normal(size=(60, 5)).astype(np.float32)
        train_y = (train_x[:, 0] > 0).astype(np.int64)
        test_x = rng.normal(size=(30, 5)).astype(np.float32)
        test_y = np.zeros(30, np.int64)  # class 1 absent: its per-class accuracy is undefined
        result = probe.probe_features(train_x, train_y, test_x, test_y, _small_config())
        payload = json.loads(result.to_json())
        self.assertIsNone(payload["per_class_accuracy"][1])
        self.assertEqual(probe.ProbeResult.from_dict(payload).accuracy, result.accuracy)

    def test_primal_solver_agrees_with_linear_svc(self):
        rng = np.random.default_rng(2)
        centres = rng.normal(size=(3, 20)) * 1.5
        labels = rng.integers(0, 3, size=300)
        values = (centres[labels] + rng.normal(size=(300, 20))).astype(np.float32)
        from sklearn.svm import LinearSVC

        primal = probe.PrimalL2Svm(C=0.1, max_iter=500).fit(values, labels)
        reference = LinearSVC(
            C=0.1, dual=True, intercept_scaling=10.0, tol=1e-5, max_iter=100000
        ).fit(values, labels)
        agreement = np.mean(primal.predict(values) == reference.predict(values))
        self.assertGreaterEqual(agreement, 0.98)
        np.testing.assert_allclose(primal.coef_, reference.coef_, atol=0.05)

    def test_unlabelled_and_single_class_labels_are_refused(self):
        values = np.zeros((10, 4), np.float32)
        with self.assertRaisesRegex(probe.ProbeError, "two classes"):
            probe.fit_linear_svm(values, np.zeros(10, np.int64), _small_config())
        with self.assertRaisesRegex(probe.ProbeError, "unlabelled"):
            probe.probe_features(values, -np.ones(10), values, np.zeros(10), _small_config())
        self.assertFalse(probe_data.is_labelled(-np.ones(5))[0])
        self.assertIn("single class", probe_data.is_labelled(np.ones(5))[1])


class FewLabelTest(parameterized.TestCase):
    def test_k_per_class_seeded_and_refuses_too_few(self):
        labels = np.repeat(np.arange(3), [10, 12, 15])
        first = probe.few_label_indices(labels, 4, seed=7)
        np.testing.assert_array_equal(np.bincount(labels[first]), [4, 4, 4])
        np.testing.assert_array_equal(first, probe.few_label_indices(labels, 4, seed=7))
        self.assertFalse(np.array_equal(first, probe.few_label_indices(labels, 4, seed=8)))
        with self.assertRaisesRegex(probe.ProbeError, "class 0 has 10"):
            probe.few_label_indices(labels, 11)

    def test_stratified_split_holds_out_each_class(self):
        labels = np.repeat(np.arange(2), [10, 20])
        kept, held = probe.stratified_split(labels, 0.2, seed=0)
        np.testing.assert_array_equal(np.bincount(labels[held]), [2, 4])
        self.assertEmpty(np.intersect1d(kept, held))
        self.assertLen(np.union1d(kept, held), 30)


def test_decoding_keeps_the_shared_preprocessing_exactly():
    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 256, size=(20, 24, 3)).astype(np.uint8)
    encoded = tf.io.encode_png(pixels).numpy()
    decoded, kept = probe_data.decode_images([encoded, b"not an image", encoded], 16, 3)
    assert kept.tolist() == [0, 2]
    expected = image_ops.preprocess_encoded_image(tf.constant(encoded), 16, 3).numpy()
    np.testing.assert_array_equal(image_ops.to_model_range(decoded[0]).numpy(), expected)


# ------------------------------------------------------------------------------------------------
# The executor, on real artifacts in a temporary folder.


def _write_split(folder: str, images: np.ndarray, labels: np.ndarray | None) -> None:
    os.makedirs(folder, exist_ok=True)
    options = tf.io.TFRecordOptions(compression_type="GZIP")
    with tf.io.TFRecordWriter(
        os.path.join(folder, "data_tfrecord-00000-of-00001.gz"), options
    ) as w:
        for index, image in enumerate(images):
            feature = {
                features.IMAGE_ENCODED: tf.train.Feature(
                    bytes_list=tf.train.BytesList(value=[tf.io.encode_png(image).numpy()])
                )
            }
            if labels is not None:
                feature[features.LABEL] = tf.train.Feature(
                    int64_list=tf.train.Int64List(value=[int(labels[index])])
                )
                feature[features.LABEL_TEXT] = tf.train.Feature(
                    bytes_list=tf.train.BytesList(value=[f"class{labels[index]}".encode()])
                )
            example = tf.train.Example(features=tf.train.Features(feature=feature))
            w.write(example.SerializeToString())


def _write_model(model_uri: str, bn_images: np.ndarray) -> None:
    """The Trainer's model artifact for a random-init G and D, D's BN statistics frozen on
    `bn_images` as the Trainer freezes them on the training split."""
    from tfx_dcgan.components import trainer_module

    experiment = ExperimentConfig(data=DataConfig(), model=TINY, train=TrainConfig(steps=5))
    discriminator = models.build_discriminator(TINY, seed=0)
    trainer_module.write_model_artifact(
        os.path.join(model_uri, "Format-Serving"),
        experiment,
        models.build_generator(TINY, seed=0),
        discriminator,
        5,
        None,
        feature_discriminator=probe.reestimate_batch_norm(discriminator, bn_images),
        batch_norm={"source": "reestimated", "split": "train", "examples": len(bn_images)},
    )


@pytest.fixture(scope="module")
def artifact_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("probe_artifacts")
    rng = np.random.default_rng(0)
    train_labels = _balanced_labels(4, 40, rng)
    test_labels = _balanced_labels(4, 25, rng)
    labelled_train = _pattern_images(train_labels, 16, rng)
    _write_split(str(root / "labelled" / "Split-train"), labelled_train, train_labels)
    test_images = _pattern_images(test_labels, 16, rng)
    _write_split(str(root / "labelled" / "Split-test"), test_images, test_labels)
    train_images = _pattern_images(train_labels, 16, rng)
    _write_split(
        str(root / "shuffled" / "Split-train"), train_images, rng.permutation(train_labels)
    )
    # The ingest names a test/ sub-root "eval": the executor picks it as the test split.
    _write_split(str(root / "shuffled" / "Split-eval"), test_images, rng.permutation(test_labels))
    flat = _pattern_images(np.zeros(12, np.int64), 16, rng)
    _write_split(str(root / "unlabelled" / "Split-train"), flat, None)
    _write_split(str(root / "single" / "Split-train"), flat, np.zeros(12, np.int64))
    _write_model(str(root / "model"), labelled_train)
    return root


def _run_executor(root, examples_name, splits, out_name, **properties):
    from tfx_dcgan.components.feature_probe_evaluator import executor, settings

    from tfx.types import artifact_utils, standard_artifacts

    examples = standard_artifacts.Examples()
    examples.uri = str(root / examples_name)
    examples.split_names = artifact_utils.encode_split_names(splits)
    model = standard_artifacts.Model()
    model.uri = str(root / "model")
    evaluation = standard_artifacts.ModelEvaluation()
    evaluation.uri = str(root / out_name / "evaluation")
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = str(root / out_name / "blessing")
    exec_properties = {
        settings.C_GRID_KEY: "0.001,0.1",
        settings.BATCH_SIZE_KEY: 32,
        settings.FID_KEY: 0,  # test_executor_measures_fid turns it on
        **properties,
    }
    executor.Executor().Do(
        {executor.EXAMPLES_KEY: [examples], executor.MODEL_KEY: [model]},
        {executor.EVALUATION_KEY: [evaluation], executor.BLESSING_KEY: [blessing]},
        exec_properties,
    )
    with open(os.path.join(evaluation.uri, executor.METRICS_FILE)) as stream:
        payload = json.load(stream)
    return payload, evaluation, blessing


def test_executor_blesses_above_threshold_and_not_below(artifact_root):
    payload, evaluation, blessing = _run_executor(
        artifact_root, "labelled", ["train", "test"], "pass", accuracy_threshold=0.8
    )
    assert payload["status"] == "ok"
    assert payload["probe"]["accuracy"] >= 0.9
    assert payload["probe"]["num_test"] == 100
    assert payload["probe"]["class_names"] == ["class0", "class1", "class2", "class3"]
    assert payload["model"]["step"] == 5
    assert blessing.get_int_custom_property("blessed") == 1
    assert os.path.exists(os.path.join(blessing.uri, "BLESSED"))
    assert not os.path.exists(os.path.join(blessing.uri, "NOT_BLESSED"))
    assert evaluation.get_float_custom_property("accuracy") == payload["probe"]["accuracy"]

    # Same threshold, labels that carry no signal: near chance, not blessed.
    payload, evaluation, blessing = _run_executor(
        artifact_root, "shuffled", ["train", "eval"], "fail", accuracy_threshold=0.8
    )
    assert payload["status"] == "ok"
    assert payload["data"]["test_split"] == "eval"
    assert payload["probe"]["accuracy"] < 0.5
    assert blessing.get_int_custom_property("blessed") == 0
    assert os.path.exists(os.path.join(blessing.uri, "NOT_BLESSED"))
    assert not os.path.exists(os.path.join(blessing.uri, "BLESSED"))
    assert "< threshold 0.8000" in payload["reason"]
    assert evaluation.get_string_custom_property("probe_status") == "ok"


def test_executor_probes_through_the_exported_extractor_and_saves_rows(artifact_root):
    from tfx_dcgan.components.feature_probe_evaluator import executor
    from tfx_dcgan.probe import exported

    payload, evaluation, _ = _run_executor(
        artifact_root, "labelled", ["train", "test"], "rows", accuracy_threshold=0.0
    )
    extractor_info = payload["model"]["feature_extractor"]
    assert extractor_info["batch_norm"]["source"] == "reestimated"
    assert extractor_info["path"].endswith("discriminator_features")
    assert payload["probe"]["bn_reestimated"] is True
    encoded, rows, labels = exported.load_feature_rows(
        os.path.join(evaluation.uri, executor.FEATURE_ROWS_FILE)
    )
    assert len(encoded) == len(rows) == len(labels) == executor.FEATURE_ROWS
    again = exported.ExportedFeatureExtractor(extractor_info["path"]).features(encoded)
    np.testing.assert_allclose(again, rows, rtol=0, atol=1e-6)
    # The rows are the raw features, not the probe's standardised copy.
    assert np.abs(rows.mean(axis=0)).max() > 1e-3


def test_executor_measures_fid_named_with_its_count_and_caches_the_real_side(
    artifact_root, tmp_path
):
    properties = dict(
        accuracy_threshold=0.0,
        fid=1,
        fid_count=16,
        fid_baselines=1,
        fid_cache_dir=str(tmp_path / "cache"),
        fid_ceiling=1.0,
    )
    payload, evaluation, blessing = _run_executor(
        artifact_root, "labelled", ["train", "test"], "fid", **properties
    )
    quality = payload["sample_quality"]
    assert quality["name"] == "fid_16" and quality["count"] == 16
    assert np.isfinite(quality["fid_16"]) and quality["fid_16"] > 0
    assert quality["real_split"] == "test" and quality["real_cache_hit"] is False
    assert evaluation.get_float_custom_property("fid_16") == quality["fid_16"]
    assert evaluation.get_string_custom_property("fid_name") == "fid_16"
    assert blessing.get_float_custom_property("kid_16") == quality["kid_16"]
    baselines = quality["baselines"]
    # Real train images against the test images score far below a random-init generator.
    assert baselines["real_train"]["fid_16"] < baselines["random_init_generator"]["fid_16"]
    # The probe alone would bless (threshold 0); the ceiling of 1.0 is out of reach.
    assert blessing.get_int_custom_property("blessed") == 0
    assert "fid_16" in payload["reason"] and "> ceiling 1" in payload["reason"]

    again, _, _ = _run_executor(
        artifact_root, "labelled", ["train", "test"], "fid_again", **properties
    )
    assert again["sample_quality"]["real_cache_hit"] is True
    assert again["sample_quality"]["fid_16"] == pytest.approx(quality["fid_16"], abs=1e-6)


def test_executor_without_test_split_holds_out_train(artifact_root):
    payload, _, blessing = _run_executor(
        artifact_root,
        "labelled",
        ["train"],
        "holdout",
        accuracy_threshold=0.0,
        test_fraction=0.25,
    )
    assert payload["status"] == "ok"
    assert payload["probe"]["num_test"] == 40  # 25% of 4 x 40
    assert "held out" in payload["data"]["test_split"]
    assert any("no 'test' or 'eval' split" in note for note in payload["probe"]["notes"])
    assert blessing.get_int_custom_property("blessed") == 1


@pytest.mark.parametrize(
    "examples_name, reason", [("unlabelled", "carry no labels"), ("single", "single class")]
)
def test_executor_skips_unlabelled_data_without_failing(artifact_root, examples_name, reason):
    payload, evaluation, blessing = _run_executor(
        artifact_root, examples_name, ["train"], f"skip_{examples_name}", accuracy_threshold=0.0
    )
    assert payload["status"] == "skipped"
    assert reason in payload["reason"]
    assert "probe skipped" in payload["reason"]
    assert blessing.get_int_custom_property("blessed") == 0
    with open(os.path.join(blessing.uri, "NOT_BLESSED")) as stream:
        assert reason in stream.read()
    assert evaluation.get_string_custom_property("probe_status") == "skipped"


def test_component_wires_channels():
    from tfx_dcgan.components.feature_probe_evaluator.component import FeatureProbeEvaluator

    from tfx import types
    from tfx.types import standard_artifacts

    component = FeatureProbeEvaluator(
        examples=types.Channel(type=standard_artifacts.Examples),
        model=types.Channel(type=standard_artifacts.Model),
        accuracy_threshold=0.5,
        c_grid=[0.01, 0.1],
    )
    assert component.outputs["blessing"].type == standard_artifacts.ModelBlessing
    assert component.outputs["evaluation"].type == standard_artifacts.ModelEvaluation
    assert component.exec_properties["c_grid"] == "0.01,0.1"
    with pytest.raises(ValueError, match="accuracy_threshold"):
        FeatureProbeEvaluator(
            examples=types.Channel(type=standard_artifacts.Examples),
            model=types.Channel(type=standard_artifacts.Model),
            accuracy_threshold=1.5,
        )


# ------------------------------------------------------------------------------------------------
# The baseline table (tiny image folders; random D and supervised rows).


def _write_folder(root, labels, images):
    for index, (label, image) in enumerate(zip(labels, images)):
        folder = root / f"c{label}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{index:04d}.png").write_bytes(tf.io.encode_png(image).numpy())


def test_baselines_table_is_resumable(tmp_path):
    from tfx_dcgan.probe import baselines, supervised

    rng = np.random.default_rng(0)
    train_labels = _balanced_labels(3, 12, rng)
    test_labels = _balanced_labels(3, 6, rng)
    _write_folder(tmp_path / "data" / "train", train_labels, _pattern_images(train_labels, 16, rng))
    _write_folder(tmp_path / "data" / "test", test_labels, _pattern_images(test_labels, 16, rng))
    train = probe_data.read_image_folder(str(tmp_path / "data" / "train"), 16, 3)
    test = probe_data.read_image_folder(str(tmp_path / "data" / "test"), 16, 3)
    assert train.class_names == ["c0", "c1", "c2"] and len(train) == 36
    config = baselines.BaselineConfig(
        output_dir=str(tmp_path / "table"),
        kinds=("probe_random", "supervised"),
        label_budgets=(0, 4, 50),
        probe=_small_config(),
        supervised=supervised.SupervisedConfig(steps=3, few_label_steps=2, batch_size=8),
    )
    rows = baselines.run_baselines(train, test, config, model_config=TINY, run_key={"k": 1})
    by_id = {row["row_id"]: row for row in rows}
    assert by_id["probe_random-all-seed0"]["status"] == "ok"
    assert by_id["probe_random-4pc-seed0"]["num_train_labels"] == 12
    assert by_id["probe_random-4pc-seed0"]["statistics"].startswith(
        "BN and standardisation statistics from all 36 train images"
    )
    assert "the 12 labelled images" in by_id["probe_random-4pc-seed0"]["statistics"]
    assert by_id["supervised-4pc-seed0"]["budget"]["network_steps"] == 2
    assert by_id["supervised-all-seed0"]["budget"]["network_steps"] == 3
    assert by_id["probe_random-50pc-seed0"]["status"] == "skipped"
    assert "fewer than the 50 labels" in by_id["probe_random-50pc-seed0"]["reason"]
    table = (tmp_path / "table" / "results.md").read_text()
    assert "random-init D" in table and "supervised CNN" in table and "skipped" in table

    # A second run finds every row done: nothing is recomputed (the stored rows come back).
    row_file = tmp_path / "table" / "rows" / "supervised-all-seed0.json"
    before = row_file.stat().st_mtime_ns
    again = baselines.run_baselines(train, test, config, model_config=TINY, run_key={"k": 1})
    assert row_file.stat().st_mtime_ns == before
    assert [r["accuracy"] for r in again if r["status"] == "ok"] == [
        r["accuracy"] for r in rows if r["status"] == "ok"
    ]
    with pytest.raises(ValueError, match="different setup"):
        baselines.run_baselines(train, test, config, model_config=TINY, run_key={"k": 2})


def test_supervised_classifier_has_the_discriminator_conv_stack():
    from tfx_dcgan.probe import discriminators, supervised

    network = supervised.build_supervised_classifier(TINY, num_classes=7, seed=0)
    discriminator = models.build_discriminator(TINY, seed=0)
    assert network.output_shape == (None, 7)
    conv = [layer.name for layer in network.layers if layer.name.startswith(("d_conv", "d_bn"))]
    assert conv == [
        layer.name for layer in discriminator.layers if layer.name.startswith(("d_conv", "d_bn"))
    ]
    assert discriminators.infer_model_config(discriminator).ndf == TINY.ndf


def test_c_selection_standardises_without_the_held_out_rows():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(40, 3)).astype(np.float32)
    features[30:] += 100.0  # the held-out rows sit far away
    labels = np.arange(40) % 2
    fit_idx, val_idx = np.arange(30), np.arange(30, 40)
    original = features.copy()
    fit_x, fit_y, val_x, val_y = probe.selection_sets(features, labels, fit_idx, val_idx)
    np.testing.assert_allclose(fit_x.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(fit_x.std(axis=0), 1.0, atol=1e-4)
    # Scaled with the fit rows' statistics, the far rows stay far (with them included they would
    # be pulled towards the middle).
    assert val_x.mean() > 10.0
    assert list(fit_y) == list(labels[:30]) and list(val_y) == list(labels[30:])
    np.testing.assert_array_equal(features, original)  # copies: the caller's are untouched
