"""TfdsExampleGen and TFRecordExampleGen: their executors on real TFX artifacts, no orchestrator.

A tiny TFDS data set is prepared in a temporary data_dir (nothing downloads); each executor's `Do`
runs with Beam's in-memory DirectRunner, and the output must carry exactly the image ingest's
feature names and types, decodable images, the right labels and split counts.
"""

from __future__ import annotations

import glob
import json
import os

import tfx_dcgan  # noqa: F401  (TF_USE_LEGACY_KERAS / oneDNN before TensorFlow loads)
from tfx_dcgan import features, image_ops, progress
from tfx_dcgan.ingest import images as ingest
from tfx_dcgan.ingest import tfds_source, tfrecord_source

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

BEAM_ARGS = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]
NAMES = ("circle", "square", "star")
NUM_TRAIN, NUM_TEST, HEIGHT, WIDTH = 14, 6, 8, 10
TFDS_NAME = "tiny_shapes/small:1.0.0"


def _pixels(count: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, HEIGHT, WIDTH, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def tfds_dir(tmp_path_factory):
    """A prepared TFDS data set: 'train' (14) and 'test' (6) RGB images with ClassLabels."""
    import tensorflow_datasets as tfds

    data_dir = str(tmp_path_factory.mktemp("tfds"))
    splits = {"train": (_pixels(NUM_TRAIN, 1), np.arange(NUM_TRAIN) % 3)}
    splits["test"] = (_pixels(NUM_TEST, 2), np.arange(NUM_TEST) % 3)
    tfds.dataset_builders.store_as_tfds_dataset(
        name="tiny_shapes",
        config="small",
        version="1.0.0",
        data_dir=data_dir,
        features=tfds.features.FeaturesDict(
            {
                "image": tfds.features.Image(shape=(HEIGHT, WIDTH, 3)),
                "label": tfds.features.ClassLabel(names=list(NAMES)),
            }
        ),
        split_datasets={
            name: tf.data.Dataset.from_tensor_slices({"image": images, "label": labels})
            for name, (images, labels) in splits.items()
        },
    )
    # pixels bytes -> label: TFDS shuffles elements when it prepares, so match by content.
    truth = {}
    for images, labels in splits.values():
        for image, label in zip(images, labels):
            truth[image.tobytes()] = int(label)
    return data_dir, truth


def _run(executor_module, exec_properties: dict, uri: str):
    from tfx.dsl.components.base import base_beam_executor
    from tfx.types import standard_artifacts

    examples = standard_artifacts.Examples()
    examples.uri = uri
    os.makedirs(uri, exist_ok=True)
    context = base_beam_executor.BaseBeamExecutor.Context(
        beam_pipeline_args=BEAM_ARGS, tmp_dir=os.path.join(uri, ".tmp"), unique_id="test"
    )
    executor_module.Executor(context).Do({}, {"examples": [examples]}, exec_properties)
    return examples


def _ingest_bar(err: str) -> tuple[dict, int, dict]:
    """The console's view of an ingest from the progress lines on fd 2: the bar's open event, the
    units added by the workers and their summed counts."""
    events = [progress.decode(line) for line in err.split("\n")]  # not splitlines: \x1e splits
    events = [event for event in events if event and event.get("id") == "ingest"]
    opened = [event for event in events if event["e"] == "open"]
    assert len(opened) == 1 and events[-1]["e"] == "close", events
    added = [event for event in events if event["e"] == "add"]
    counts: dict[str, int] = {}
    for event in added:
        for key, value in event.get("post", {}).items():
            counts[key] = counts.get(key, 0) + value
    return opened[0], sum(event["n"] for event in added), counts


def _read_split(uri: str, split: str) -> list[tf.train.Example]:
    files = sorted(glob.glob(os.path.join(uri, f"Split-{split}", "*.gz")))
    assert files, f"no files in Split-{split}"
    return [
        tf.train.Example.FromString(record.numpy())
        for record in tf.data.TFRecordDataset(files, compression_type="GZIP")
    ]


def _as_dict(example: tf.train.Example) -> dict:
    """feature name -> (kind, values)."""
    out = {}
    for name, feature in example.features.feature.items():
        kind = feature.WhichOneof("kind")
        out[name] = (kind, list(getattr(feature, kind).value))
    return out


# The kinds ImageExampleGen writes, taken from the ingest's own example builder.
_REFERENCE_KINDS = {
    name: kind
    for name, (kind, _) in _as_dict(
        ingest.make_example(
            ingest.ValidatedImage(b"x", "png", 1, 1, 3, False),
            label=0,
            label_text="a",
            relative_path="p",
        )
    ).items()
}


def _check_raw_example(example: tf.train.Example) -> np.ndarray:
    """Asserts the image ingest's schema; returns the decoded pixels [H, W, 3]."""
    values = _as_dict(example)
    assert set(values) == set(features.RAW_FEATURES)
    for name, (kind, vals) in values.items():
        assert kind == _REFERENCE_KINDS[name], name
        assert len(vals) == 1, name
    encoded = values[features.IMAGE_ENCODED][1][0]
    pixels = image_ops.decode_image(tf.constant(encoded), 3).numpy()
    assert values[features.IMAGE_FORMAT][1] == [ingest.detect_format(encoded).encode()]
    assert values[features.IMAGE_HEIGHT][1] == [pixels.shape[0]]
    assert values[features.IMAGE_WIDTH][1] == [pixels.shape[1]]
    return pixels


def _tfds_properties(data_dir: str, name: str = TFDS_NAME, **overrides) -> dict:
    from tfx_dcgan.components.tfds_example_gen import executor

    return {
        executor.DATASET_NAME_KEY: name,
        executor.DATA_DIR_KEY: data_dir,
        executor.IMAGE_KEY_KEY: "image",
        executor.LABEL_KEY_KEY: "label",
        executor.SPLIT_MAPPING_KEY: json.dumps({"train": "train", "test": "eval"}),
        executor.CHANNELS_KEY: 3,
        executor.MAX_LOGGED_SKIPPED_KEY: 5,
        executor.CHUNK_SIZE_KEY: 4,  # Several Beam elements per split.
        **overrides,
    }


@pytest.fixture(scope="module")
def tfds_output(tfds_dir, tmp_path_factory):
    from tfx_dcgan.components.tfds_example_gen import executor

    data_dir, _ = tfds_dir
    uri = str(tmp_path_factory.mktemp("tfds_examples"))
    return _run(executor, _tfds_properties(data_dir), uri)


def test_tfds_examples_match_the_image_ingest(tfds_dir, tfds_output):
    _, truth = tfds_dir
    uri = tfds_output.uri
    assert tfds_output.split_names == json.dumps(["train", "eval"])
    seen_paths = set()
    for split, tfds_split, count in (("train", "train", NUM_TRAIN), ("eval", "test", NUM_TEST)):
        examples = _read_split(uri, split)
        assert len(examples) == count
        for example in examples:
            pixels = _check_raw_example(example)
            values = _as_dict(example)
            label = values[features.LABEL][1][0]
            assert truth[pixels.tobytes()] == label  # PNG is lossless: the exact pixels.
            assert values[features.LABEL_TEXT][1] == [NAMES[label].encode()]
            assert values[features.IMAGE_FORMAT][1] == [b"png"]
            assert values[features.IMAGE_CHANNELS][1] == [3]
            path = values[features.IMAGE_PATH][1][0].decode()
            assert path.startswith(f"tfds://tiny_shapes/{tfds_split}/")
            seen_paths.add(path)
    assert len(seen_paths) == NUM_TRAIN + NUM_TEST
    with open(os.path.join(uri, "labels.txt")) as handle:
        assert handle.read().splitlines() == list(NAMES)
    with open(os.path.join(uri, "ingest_report.json")) as handle:
        report = json.load(handle)
    assert report["num_images"] == report["num_elements"] == NUM_TRAIN + NUM_TEST
    assert report["num_skipped"] == 0
    assert tfds_output.get_int_custom_property("num_images") == NUM_TRAIN + NUM_TEST
    assert tfds_output.get_int_custom_property("num_classes") == 3
    assert json.loads(tfds_output.get_string_custom_property("label_vocabulary")) == list(NAMES)
    assert not os.path.exists(os.path.join(uri, "_skipped"))


def test_tfds_ingest_reports_each_chunk_to_the_console(tfds_dir, tmp_path, monkeypatch, capfd):
    from tfx_dcgan.components.tfds_example_gen import executor

    monkeypatch.setenv(progress.ENV, "1")
    capfd.readouterr()
    _run(executor, _tfds_properties(tfds_dir[0]), str(tmp_path / "examples"))
    opened, chunks, counts = _ingest_bar(capfd.readouterr().err)
    # chunk_size 4: 14 train elements in 4 chunks, 6 test elements in 2.
    assert (opened["total"], opened["unit"]) == (6, "chunk")
    assert chunks == 6
    assert counts == {"images": NUM_TRAIN + NUM_TEST, "skipped": 0}


def test_tfds_not_prepared_is_a_clear_error(tfds_dir, tmp_path):
    from tfx_dcgan.components.tfds_example_gen import executor

    data_dir, _ = tfds_dir
    for name in ("mnist", "no_such_data_set", "tiny_shapes/small:9.9.9"):
        with pytest.raises(tfds_source.TfdsNotPreparedError) as error:
            _run(executor, _tfds_properties(data_dir, name), str(tmp_path / name.replace("/", "_")))
        message = str(error.value)
        assert repr(name) in message and repr(data_dir) in message
        assert "not prepared" in message and len(message) < 1000
    with pytest.raises(ValueError, match="no image feature 'img'"):
        tfds_source.load_source(TFDS_NAME, data_dir, image_key="img")


def test_tfds_split_slices_become_ranges(tfds_dir):
    data_dir, _ = tfds_dir
    source = tfds_source.load_source(TFDS_NAME, data_dir, label_key="")
    assert source.label_names == () and source.split_sizes == {"train": 14, "test": 6}
    chunks = tfds_source.plan_chunks(
        source, {"train[:50%]": "train", "train[50%:]+test": "eval"}, chunk_size=3
    )
    covered = {}
    for chunk in chunks:
        assert chunk.end - chunk.start <= 3
        for index in range(chunk.start, chunk.end):
            covered[(chunk.tfds_split, index)] = chunk.output_split
    assert sorted(covered) == sorted(
        [("train", i) for i in range(14)] + [("test", i) for i in range(6)]
    )
    assert {i for (s, i), out in covered.items() if s == "train" and out == "train"} == set(
        range(7)
    )
    with pytest.raises(ValueError, match="both select"):
        tfds_source.plan_chunks(source, {"train": "train", "train[:2]": "eval"})
    with pytest.raises(ValueError, match="bad split 'validation'"):
        tfds_source.plan_chunks(source, {"validation": "eval"})


def _png(pixels: np.ndarray) -> bytes:
    return tf.io.encode_png(pixels).numpy()


def _write_records(path: str, examples: list[tf.train.Example]) -> None:
    with tf.io.TFRecordWriter(path) as writer:
        for example in examples:
            writer.write(example.SerializeToString())


def _foreign(image: bytes | None, label: int | None, extra: float = 1.0) -> tf.train.Example:
    example = tf.train.Example()
    feature = example.features.feature
    if image is not None:
        feature["img_bytes"].bytes_list.value.append(image)
    if label is not None:
        feature["class_id"].int64_list.value.append(label)
    feature["score"].float_list.value.append(extra)
    return example


def _tfrecord_properties(input_base: str, patterns: dict[str, str], **overrides) -> dict:
    from tfx_dcgan.components.tfrecord_example_gen import executor

    from tfx.proto import example_gen_pb2
    from tfx.utils import proto_utils

    input_config = example_gen_pb2.Input(
        splits=[example_gen_pb2.Input.Split(name=n, pattern=p) for n, p in patterns.items()]
    )
    return {
        "input_base": input_base,
        "input_config": proto_utils.proto_to_json(input_config),
        "output_config": proto_utils.proto_to_json(example_gen_pb2.Output()),
        "output_data_format": example_gen_pb2.FORMAT_TF_EXAMPLE,
        "output_file_format": example_gen_pb2.FORMAT_TFRECORDS_GZIP,
        executor.FEATURE_MAP_KEY: "{}",
        executor.CHANNELS_KEY: 3,
        executor.LABEL_NAMES_KEY: "[]",
        executor.COMPRESSION_KEY: "auto",
        executor.MAX_LOGGED_SKIPPED_KEY: 5,
        **overrides,
    }


def test_tfrecord_remap_fills_our_features_and_skips_bad_records(tmp_path, monkeypatch, capfd):
    from tfx_dcgan.components.tfrecord_example_gen import executor

    monkeypatch.setenv(progress.ENV, "1")  # the console's bar is checked below

    source_dir = tmp_path / "records"
    source_dir.mkdir()
    train_pixels, eval_pixels = _pixels(5, 3), _pixels(3, 4)
    webp_pixels = _pixels(1, 5)[0]
    Image.fromarray(webp_pixels).save(tmp_path / "one.webp", lossless=True)
    train = [_foreign(_png(p), i % 3) for i, p in enumerate(train_pixels)]
    train.append(_foreign(None, 1))  # No image feature.
    train.append(_foreign(b"\x89PNG\r\n\x1a\n broken", 0))  # PNG signature, undecodable.
    eval_ = [_foreign(_png(p), 2) for p in eval_pixels]
    eval_.append(_foreign((tmp_path / "one.webp").read_bytes(), 0))  # TF cannot: -> PNG.
    _write_records(str(source_dir / "train-00000.tfrecord"), train)
    _write_records(str(source_dir / "eval-00000.tfrecord"), eval_)

    feature_map = tfrecord_source.parse_feature_map("image/encoded=img_bytes, label=class_id")
    uri = str(tmp_path / "examples")
    artifact = _run(
        executor,
        _tfrecord_properties(
            str(source_dir),
            {"train": "train-*", "eval": "eval-*"},
            feature_map=json.dumps(feature_map),
            label_names=json.dumps(list(NAMES)),
        ),
        uri,
    )
    expected = {
        "train": (train_pixels, [0, 1, 2, 0, 1]),
        "eval": (np.concatenate([eval_pixels, webp_pixels[None]]), [2, 2, 2, 0]),
    }
    for split, (pixels, labels) in expected.items():
        examples = _read_split(uri, split)
        by_pixels = {}
        for example in examples:
            decoded = _check_raw_example(example)
            values = _as_dict(example)
            assert values[features.IMAGE_PATH][1][0].startswith(b"tfrecord:sha256:")
            label = values[features.LABEL][1][0]
            assert values[features.LABEL_TEXT][1] == [NAMES[label].encode()]
            by_pixels[decoded.tobytes()] = (label, values)
        for image, label in zip(pixels, labels):
            assert by_pixels[image.tobytes()][0] == label
        assert len(examples) == len(labels)
    report = json.loads((tmp_path / "examples" / "ingest_report.json").read_text())
    assert report["num_records"] == 11 and report["num_images"] == 9
    assert report["num_skipped_missing_image"] == 1
    assert report["num_skipped_corrupt_image"] == 1
    assert report["num_skipped"] == 2 and report["num_converted"] == 1
    skipped = {reason: path for path, reason, _ in report["first_skipped"]}
    assert sorted(skipped) == ["corrupt_image", "missing_image"]
    assert skipped["missing_image"].startswith("tfrecord:record-sha256:")
    assert artifact.get_int_custom_property("num_skipped") == 2
    assert (tmp_path / "examples" / "labels.txt").read_text().splitlines() == list(NAMES)
    opened, records, counts = _ingest_bar(capfd.readouterr().err)
    assert (opened["total"], opened["unit"]) == (0, "record")  # no total before reading
    assert records == 11 and counts == {"images": 9, "skipped": 2}


def test_tfrecord_records_in_our_names_pass_through_unchanged(tfds_output, tmp_path):
    from tfx_dcgan.components.tfrecord_example_gen import executor

    uri = str(tmp_path / "examples")
    artifact = _run(
        executor,
        _tfrecord_properties(tfds_output.uri, {"train": "Split-train/*", "eval": "Split-eval/*"}),
        uri,
    )
    for split in ("train", "eval"):
        before = sorted(
            (_as_dict(e) for e in _read_split(tfds_output.uri, split)),
            key=lambda v: v[features.IMAGE_PATH],
        )
        after = sorted(
            (_as_dict(e) for e in _read_split(uri, split)), key=lambda v: v[features.IMAGE_PATH]
        )
        assert after == before and len(after) > 0
    # Labels and their texts are in the records: the vocabulary is rebuilt from them.
    assert (tmp_path / "examples" / "labels.txt").read_text().splitlines() == list(NAMES)
    assert artifact.get_int_custom_property("num_skipped") == 0


def test_feature_map_parsing_and_errors():
    assert tfrecord_source.parse_feature_map('{"label": "y"}') == {"label": "y"}
    assert tfrecord_source.parse_feature_map("") == {}
    with pytest.raises(ValueError, match="recomputed from the image bytes"):
        tfrecord_source.parse_feature_map("image/height=h")
    with pytest.raises(ValueError, match="unknown feature 'pixels'"):
        tfrecord_source.parse_feature_map({"pixels": "x"})
    with pytest.raises(ValueError, match="our_feature=their_feature"):
        tfrecord_source.parse_feature_map("image/encoded")
    result = tfrecord_source.remap_record(b"not a proto \xff", {}, 3)
    assert result.example is None and result.skip_reason == tfrecord_source.NOT_AN_EXAMPLE
    bad_label = _foreign(_png(_pixels(1, 6)[0]), None)
    bad_label.features.feature["class_id"].bytes_list.value.append(b"cat")
    result = tfrecord_source.remap_record(
        bad_label.SerializeToString(), {"image/encoded": "img_bytes", "label": "class_id"}, 3
    )
    assert result.skip_reason == tfrecord_source.BAD_LABEL


def test_components_build_with_their_parameters():
    from tfx_dcgan.components.tfds_example_gen.component import TfdsExampleGen
    from tfx_dcgan.components.tfrecord_example_gen.component import TFRecordExampleGen

    component = TfdsExampleGen("tiny_shapes:1.0.0", "/data/tfds", split_mapping={"train": "train"})
    assert json.loads(component.exec_properties["split_mapping"]) == {"train": "train"}
    assert component.outputs["examples"].type_name == "Examples"
    component = TFRecordExampleGen("/data/records", feature_map="image/encoded=img_bytes")
    assert json.loads(component.exec_properties["feature_map"]) == {"image/encoded": "img_bytes"}
    with pytest.raises(ValueError, match="recomputed"):
        TFRecordExampleGen("/data/records", feature_map={"image/format": "fmt"})
    with pytest.raises(ValueError, match="channels must be 1 or 3"):
        TfdsExampleGen("x", "/data", channels=4)


def test_flag_parsers():
    assert tfrecord_source.parse_tfrecord_pattern("/d/recs/*.tfrecord.gz") == (
        "/d/recs",
        {"single_split": "*.tfrecord.gz"},
    )
    assert tfrecord_source.parse_tfrecord_pattern("train=/d/a/train-*,eval=/d/b/eval-*") == (
        "/d",
        {"train": "a/train-*", "eval": "b/eval-*"},
    )
    with pytest.raises(ValueError, match="must be a folder"):
        tfrecord_source.parse_tfrecord_pattern("/d/*/x.tfrecord")
    with pytest.raises(ValueError, match="several globs need names"):
        tfrecord_source.parse_tfrecord_pattern("/d/a-*,/d/b-*")
    assert tfds_source.parse_split_mapping("train[:90%]=train, train[90%:]=eval") == {
        "train[:90%]": "train",
        "train[90%:]": "eval",
    }
    assert tfds_source.parse_split_mapping("") == {"train": "train", "test": "eval"}
    with pytest.raises(ValueError, match="tfds_split=output_split"):
        tfds_source.parse_split_mapping("train")
