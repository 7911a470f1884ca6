"""The serving path over real gRPC on loopback: serving/server.py, serving.client, `sample`.

Models are tiny random-init nets exported with tfx_dcgan.export into the Pusher's versioned layout
(<push_base>/<model>/<version>/saved_model.pb) and served from the shipped serving/models.config.
"""

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import tfx_dcgan  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from tfx_dcgan import export, models
from tfx_dcgan.cli import sample
from tfx_dcgan.config import ModelConfig

import grpc
import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from grpc_health.v1 import health_pb2, health_pb2_grpc
from PIL import Image
from tensorflow.core.framework import tensor_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)
from tensorflow_serving.config import model_server_config_pb2

from serving import client as client_lib
from serving import server as server_lib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS_CONFIG = os.path.join(REPO, "serving", "models.config")
CFG = ModelConfig(image_size=16, channels=3, z_dim=8, ngf=4, ndf=4)
LIMIT = 8


def _encode(array: np.ndarray, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt)
    return buffer.getvalue()


def _wait_for(predicate, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _subprocess_env() -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    push_base = str(tmp_path_factory.mktemp("push"))
    generator = models.build_generator(CFG, seed=1)
    discriminator = models.build_discriminator(CFG, seed=2)
    export.export_generator(generator, CFG, f"{push_base}/generator/1", step=5, batch_limit=LIMIT)
    export.export_discriminator_features(
        discriminator, CFG, f"{push_base}/discriminator_features/1", step=5, batch_limit=LIMIT
    )
    config = server_lib.load_model_server_config(MODELS_CONFIG, base_path_root=push_base)
    server = server_lib.ModelServer(config, port=0, poll_seconds=0)
    port = server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    yield {
        "push_base": push_base,
        "port": port,
        "server": server,
        "channel": channel,
        "client": client_lib.ServingClient(channel=channel, timeout=30),
        "stub": prediction_service_pb2_grpc.PredictionServiceStub(channel),
        "model_stub": model_service_pb2_grpc.ModelServiceStub(channel),
        "generator": generator,
        "discriminator": discriminator,
        "gen_saved": tf.saved_model.load(f"{push_base}/generator/1"),
        "disc_saved": tf.saved_model.load(f"{push_base}/discriminator_features/1"),
    }
    channel.close()
    server.stop(grace=0)


def test_shipped_config_parses_and_is_rebased(served):
    config = server_lib.load_model_server_config(MODELS_CONFIG, base_path_root="/tmp/x")
    entries = {model.name: model for model in config.model_config_list.config}
    assert sorted(entries) == ["discriminator_features", "generator"]
    assert entries["generator"].base_path == "/tmp/x/generator"
    assert entries["generator"].model_version_policy.latest.num_versions == 2
    unrooted = server_lib.load_model_server_config(MODELS_CONFIG)
    assert unrooted.model_config_list.config[0].base_path == "/models/generator"


def test_predict_equals_in_process_call(served):
    client, generator = served["client"], served["generator"]
    rng = np.random.default_rng(0)
    z = rng.uniform(-1, 1, (3, CFG.z_dim)).astype(np.float32)

    outputs = client.predict("generator", "serving_default", {"z": z})
    local = served["gen_saved"].signatures["serving_default"](z=tf.constant(z))
    np.testing.assert_array_equal(outputs["images"], local["images"].numpy())
    np.testing.assert_array_equal(outputs["raw"], local["raw"].numpy())
    np.testing.assert_allclose(outputs["raw"], generator(z, training=False).numpy(), atol=1e-5)
    assert outputs["images"].dtype == np.uint8 and outputs["images"].shape == (3, 16, 16, 3)

    images, noise = client.generate(5, seed=3)
    again, _ = client.generate(5, seed=3)
    np.testing.assert_array_equal(images, again)
    np.testing.assert_array_equal(images, client.generate_from_z(noise))
    local = served["gen_saved"].signatures["generate"](
        seed=tf.constant(3, tf.int64), count=tf.constant(5, tf.int64)
    )
    np.testing.assert_array_equal(noise, local["z"].numpy())
    np.testing.assert_array_equal(images, local["images"].numpy())

    walk_images, walk = client.interpolate(z[0], z[1:2], steps=4)
    np.testing.assert_allclose(walk[0], z[0], atol=1e-6)
    np.testing.assert_allclose(walk[-1], z[1], atol=1e-6)
    np.testing.assert_array_equal(walk_images, client.generate_from_z(walk))
    local = served["gen_saved"].signatures["interpolate"](
        z0=tf.constant(z[0]), z1=tf.constant(z[1:2]), steps=tf.constant(4, tf.int64)
    )
    np.testing.assert_array_equal(walk_images, local["images"].numpy())

    meta = client.metadata()
    assert meta["batch_limit"] == LIMIT and meta["z_dim"] == CFG.z_dim and meta["step"] == 5
    assert meta["noise"] == "uniform"

    # Requests above batch_limit are split by the client (seed + chunk index).
    many, many_z = client.generate(LIMIT + 3, seed=3)
    assert many.shape[0] == LIMIT + 3
    np.testing.assert_array_equal(many_z[:LIMIT], client.generate(LIMIT, seed=3)[1])


def test_features_equal_in_process_call(served):
    client, discriminator = served["client"], served["discriminator"]
    rng = np.random.default_rng(1)
    blobs = [
        _encode(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8), "PNG"),
        _encode(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8), "JPEG"),
    ]
    features, scores = client.features(blobs)
    local = served["disc_saved"].signatures["serving_default"](image_bytes=tf.constant(blobs))
    np.testing.assert_array_equal(features, local["features"].numpy())
    np.testing.assert_array_equal(scores, local["score"].numpy())
    assert features.shape == (2, models.feature_size(CFG))

    pixels = rng.uniform(-1, 1, (2, 16, 16, 3)).astype(np.float32)
    outputs = client.predict("discriminator_features", "features_from_pixels", {"images": pixels})
    local = served["disc_saved"].signatures["features_from_pixels"](images=tf.constant(pixels))
    for key in ("features", "score", "logits"):
        np.testing.assert_array_equal(outputs[key], local[key].numpy())
    assert client.metadata("discriminator_features")["feature_size"] == models.feature_size(CFG)
    extractor = models.build_feature_extractor(discriminator)
    np.testing.assert_allclose(outputs["features"], extractor(pixels, training=False), atol=1e-5)
    logits = discriminator(pixels, training=False).numpy()[:, 0]
    np.testing.assert_allclose(outputs["score"], 1 / (1 + np.exp(-logits)), atol=1e-5)


def _request(model="generator", signature="serving_default", version=None, label=None, **inputs):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = version
    if label is not None:
        request.model_spec.version_label = label
    for key, value in inputs.items():
        proto = value if isinstance(value, tensor_pb2.TensorProto) else tf.make_tensor_proto(value)
        request.inputs[key].CopyFrom(proto)
    return request


def _malformed_z():
    proto = tf.make_tensor_proto(np.zeros([2, CFG.z_dim], np.float32))
    proto.tensor_content = b"\x00" * 7  # not a whole number of float32 values
    return proto


Z = np.zeros([2, CFG.z_dim], np.float32)
BAD_REQUESTS = {
    "unknown model": (_request(model="nope", z=Z), grpc.StatusCode.NOT_FOUND, "'nope'"),
    "empty model name": (
        _request(model="", z=Z),
        grpc.StatusCode.INVALID_ARGUMENT,
        "model_spec.name",
    ),
    "unknown version": (_request(version=7, z=Z), grpc.StatusCode.NOT_FOUND, "model_spec.version"),
    "unknown label": (_request(label="stable", z=Z), grpc.StatusCode.NOT_FOUND, "version_label"),
    "unknown signature": (
        _request(signature="train", z=Z),
        grpc.StatusCode.FAILED_PRECONDITION,
        "'train'",
    ),
    "empty request": (_request(), grpc.StatusCode.INVALID_ARGUMENT, "expects inputs ['z']"),
    "unknown input": (_request(z=Z, w=Z), grpc.StatusCode.INVALID_ARGUMENT, "['w']"),
    "missing input": (
        _request(signature="generate", seed=np.int64(1)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "missing ['count']",
    ),
    "wrong dtype": (
        _request(z=Z.astype(np.float64)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "input 'z': expects dtype float32, got float64",
    ),
    "wrong rank": (
        _request(z=Z[0]),
        grpc.StatusCode.INVALID_ARGUMENT,
        "input 'z': expects shape [?, 8], got [8]",
    ),
    "z of the wrong size": (
        _request(z=np.zeros([2, CFG.z_dim + 1], np.float32)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "input 'z': expects shape [?, 8], got [2, 9]",
    ),
    "malformed tensor": (_request(z=_malformed_z()), grpc.StatusCode.INVALID_ARGUMENT, "input 'z'"),
    "z batch over limit": (
        _request(z=np.zeros([LIMIT + 1, CFG.z_dim], np.float32)),
        grpc.StatusCode.INVALID_ARGUMENT,
        f"z: batch size exceeds the model's batch_limit of {LIMIT}",
    ),
    "count over limit": (
        _request(signature="generate", seed=np.int64(1), count=np.int64(LIMIT + 1)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "count: batch size exceeds",
    ),
    "count int32": (
        _request(signature="generate", seed=np.int64(1), count=np.int32(2)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "input 'count': expects dtype int64, got int32",
    ),
    "interpolate z0 wrong size": (
        _request(
            signature="interpolate",
            z0=np.zeros([3], np.float32),
            z1=np.zeros([CFG.z_dim], np.float32),
            steps=np.int64(3),
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "z0: must hold z_dim=8 values",
    ),
    "corrupt image bytes": (
        _request(
            model="discriminator_features",
            image_bytes=np.array(
                [_encode(np.zeros((8, 8, 3), np.uint8)), b"\x89PNG garbage"], object
            ),
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "input 'image_bytes':",
    ),
    "pixels over limit": (
        _request(
            model="discriminator_features",
            signature="features_from_pixels",
            images=np.zeros([LIMIT + 1, 16, 16, 3], np.float32),
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "images: batch size exceeds",
    ),
    "pixels wrong size": (
        _request(
            model="discriminator_features",
            signature="features_from_pixels",
            images=np.zeros([1, 32, 32, 3], np.float32),
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "input 'images': expects shape [?, 16, 16, 3]",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_REQUESTS))
def test_bad_request_gets_official_code_and_server_keeps_serving(served, case):
    request, code, needle = BAD_REQUESTS[case]
    with pytest.raises(grpc.RpcError) as raised:
        served["stub"].Predict(request, timeout=30)
    assert raised.value.code() == code, raised.value.details()
    assert needle in raised.value.details(), raised.value.details()
    # The next good request is answered.
    good = served["stub"].Predict(_request(z=Z), timeout=30)
    assert tf.make_ndarray(good.outputs["images"]).shape == (2, 16, 16, 3)
    assert good.model_spec.version.value == 1


def test_output_filter(served):
    request = _request(z=Z)
    request.output_filter.append("images")
    response = served["stub"].Predict(request, timeout=30)
    assert list(response.outputs) == ["images"]
    assert response.model_spec.signature_name == "serving_default"
    request.output_filter.append("nonsense")
    with pytest.raises(grpc.RpcError) as raised:
        served["stub"].Predict(request, timeout=30)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "nonsense" in raised.value.details()


def test_get_model_metadata_returns_signature_def(served):
    signature_map = served["client"].signature_defs("generator")
    assert sorted(signature_map.signature_def) == sorted(export.GENERATOR_SIGNATURES)
    z_info = signature_map.signature_def["serving_default"].inputs["z"]
    assert z_info.dtype == tf.float32.as_datatype_enum
    assert [dim.size for dim in z_info.tensor_shape.dim] == [-1, CFG.z_dim]
    assert (
        "features"
        in served["client"]
        .signature_defs("discriminator_features")
        .signature_def["serving_default"]
        .outputs
    )

    stub = served["stub"]
    for metadata_field, model, code in (
        (["signature_def"], "nope", grpc.StatusCode.NOT_FOUND),
        (["model_config"], "generator", grpc.StatusCode.INVALID_ARGUMENT),
        ([], "generator", grpc.StatusCode.INVALID_ARGUMENT),
    ):
        request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=metadata_field)
        request.model_spec.name = model
        with pytest.raises(grpc.RpcError) as raised:
            stub.GetModelMetadata(request, timeout=30)
        assert raised.value.code() == code


def test_get_model_status_and_health(served):
    assert served["client"].model_status("generator") == {1: "AVAILABLE"}
    assert served["client"].model_status("discriminator_features") == {1: "AVAILABLE"}
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = "nope"
    with pytest.raises(grpc.RpcError) as raised:
        served["model_stub"].GetModelStatus(request, timeout=30)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    request.model_spec.name = "generator"
    request.model_spec.version.value = 9
    with pytest.raises(grpc.RpcError) as raised:
        served["model_stub"].GetModelStatus(request, timeout=30)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND

    health = health_pb2_grpc.HealthStub(served["channel"])
    for service in ("", "generator", "discriminator_features"):
        response = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=30)
        assert response.status == health_pb2.HealthCheckResponse.SERVING, service


def test_hot_load_new_version_and_keep_old_on_failed_load(tmp_path):
    base = tmp_path / "generator"
    generators = {v: models.build_generator(CFG, seed=10 + v) for v in (1, 2, 3)}
    export.export_generator(generators[1], CFG, str(base / "1"), step=1, batch_limit=LIMIT)
    config = text_format.Parse(
        f"""model_config_list {{ config {{ name: "generator" base_path: "{base}"
            model_platform: "tensorflow" model_version_policy {{ latest {{ num_versions: 2 }} }}
            version_labels {{ key: "stable" value: 1 }} }} }}""",
        model_server_config_pb2.ModelServerConfig(),
    )
    server = server_lib.ModelServer(config, port=0, poll_seconds=0.2, enable_health=False)
    port = server.start()
    z = np.random.default_rng(2).uniform(-1, 1, (2, CFG.z_dim)).astype(np.float32)

    def raw_from(client):
        return client.predict("generator", "serving_default", {"z": z})["raw"]

    def expected(version):
        return generators[version](z, training=False).numpy()

    try:
        with client_lib.ServingClient(f"127.0.0.1:{port}", timeout=30) as client:
            np.testing.assert_allclose(raw_from(client), expected(1), atol=1e-5)

            # The Pusher publishes version 2: the poller loads it, latest requests move to it,
            # version 1 stays available (latest 2) and is still reachable by number and label.
            export.export_generator(generators[2], CFG, str(base / "2"), step=2, batch_limit=LIMIT)
            _wait_for(
                lambda: client.model_status("generator").get(2) == "AVAILABLE", what="version 2"
            )
            np.testing.assert_allclose(raw_from(client), expected(2), atol=1e-5)
            pinned = client_lib.ServingClient(f"127.0.0.1:{port}", version=1, timeout=30)
            np.testing.assert_allclose(raw_from(pinned), expected(1), atol=1e-5)
            pinned.close()
            by_label = predict_pb2.PredictRequest()
            by_label.model_spec.name = "generator"
            by_label.model_spec.version_label = "stable"
            by_label.inputs["z"].CopyFrom(tf.make_tensor_proto(z))
            stub = prediction_service_pb2_grpc.PredictionServiceStub(client._channel)
            assert stub.Predict(by_label, timeout=30).model_spec.version.value == 1

            # A broken version 3: logged, reported as END with its error, versions 2 and 1 serve on.
            os.makedirs(base / "3")
            (base / "3" / "saved_model.pb").write_bytes(b"not a SavedModel")
            request = get_model_status_pb2.GetModelStatusRequest()
            request.model_spec.name = "generator"
            model_stub = model_service_pb2_grpc.ModelServiceStub(client._channel)

            def version_3_failed():
                statuses = model_stub.GetModelStatus(request, timeout=30).model_version_status
                return next(
                    (s for s in statuses if s.version == 3 and s.status.error_code != 0), None
                )

            failed = _wait_for(version_3_failed, what="version 3 to fail")
            assert failed.state == get_model_status_pb2.ModelVersionStatus.END
            assert failed.status.error_message
            time.sleep(0.5)  # a few more polls: still serving, no retry of the same files
            assert client.model_status("generator")[2] == "AVAILABLE"
            assert client.model_status("generator")[1] == "AVAILABLE"
            np.testing.assert_allclose(raw_from(client), expected(2), atol=1e-5)

            # The files of version 3 are replaced by a good export: retried, loaded, and the
            # policy (latest 2) retires version 1.
            staging = str(tmp_path / "staging")
            export.export_generator(generators[3], CFG, staging, step=3, batch_limit=LIMIT)
            shutil.rmtree(base / "3")
            os.rename(staging, base / "3")
            _wait_for(
                lambda: client.model_status("generator").get(3) == "AVAILABLE", what="version 3"
            )
            np.testing.assert_allclose(raw_from(client), expected(3), atol=1e-5)
            _wait_for(lambda: client.model_status("generator").get(1) == "END", what="v1 retired")
            with pytest.raises(grpc.RpcError) as raised:
                raw_from(client_lib.ServingClient(f"127.0.0.1:{port}", version=1, timeout=30))
            assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        server.stop(grace=0)


def test_features_cli_function(served, tmp_path, capsys):
    paths = []
    for index, size in enumerate(((10, 20), (33, 17))):
        path = tmp_path / f"image{index}.png"
        Image.fromarray(np.full((*size, 3), 40 * index, np.uint8)).save(path)
        paths.append(str(path))
    features, scores = sample.describe_features(served["client"], paths)
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 2 and printed[0].startswith(paths[0]) and "score=" in printed[0]
    assert features.shape == (2, models.feature_size(CFG)) and np.all((scores > 0) & (scores < 1))


def _hostile_images():
    """tests/scripts/hostile_images.py as a module (its bomb makers)."""
    import importlib.util

    path = os.path.join(REPO, "tests", "scripts", "hostile_images.py")
    spec = importlib.util.spec_from_file_location("hostile_images", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _reset_peak_mb() -> float:
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")
    return _status_mb("VmRSS")


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(field + ":"))
    return int(line.split()[1]) / 1024.0


def test_decompression_bombs_are_refused_inside_the_exported_graph(served):
    """The feature extractor's own graph checks each image's header before decoding, so the
    official TF Serving is protected too: INVALID_ARGUMENT naming the limit, memory flat."""
    hostile = _hostile_images()
    bombs = [hostile.png_bomb(), hostile.jpeg_bomb(), hostile.gif_bomb(), hostile.bmp_bomb()]
    before = _reset_peak_mb()
    for bomb in bombs:
        with pytest.raises(grpc.RpcError) as raised:
            served["client"].features([_encode(np.zeros((8, 8, 3), np.uint8)), bomb])
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "declares more than 100000000 pixels (max_image_pixels)" in raised.value.details()
    # The local server runs in this process: its peak memory grew by less than 100 MB.
    assert _status_mb("VmHWM") - before < 100
    features, _ = served["client"].features([_encode(np.zeros((300, 200, 3), np.uint8))])
    assert features.shape == (1, models.feature_size(CFG))


def test_fid_cli_scores_the_served_generator(served, tmp_path):
    """`tfx-dcgan fid --server`: the images scored are the served model's `generate` output."""
    rng = np.random.default_rng(3)
    real = tmp_path / "real"
    real.mkdir()
    for index in range(6):
        (real / f"{index}.png").write_bytes(_encode(rng.integers(0, 256, (16, 16, 3), np.uint8)))
    completed = subprocess.run(
        [sys.executable, "-m", "tfx_dcgan.cli.fid", f"--real_dir={real}",
         f"--server=127.0.0.1:{served['port']}", "--count=6", "--batch_size=6", "--seed=4",
         f"--save_samples={tmp_path / 'samples'}", f"--output_json={tmp_path / 'fid.json'}",
         "--cache_dir=none", "--kid_subsets=3"],
        capture_output=True, text=True, timeout=600, env=_subprocess_env(),
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    with open(tmp_path / "fid.json") as stream:
        result = json.load(stream)
    assert result["num_generated"] == 6 and np.isfinite(result["fid_6"])
    assert result["generated"].startswith(f"127.0.0.1:{served['port']}")
    expected = (
        served["gen_saved"]
        .signatures["generate"](seed=tf.constant(4, tf.int64), count=tf.constant(6, tf.int64))[
            "images"
        ]
        .numpy()
    )
    saved = [np.array(Image.open(tmp_path / "samples" / f"sample_{i:06d}.png")) for i in range(6)]
    np.testing.assert_array_equal(np.stack(saved), expected)


def test_server_and_sample_cli_in_subprocesses(served, tmp_path):
    """`python -m serving.server` on the shipped config, then `tfx-dcgan sample` against it."""
    env = _subprocess_env()
    # One interpreter: the server module imports no training code, and --helpshort lists every flag.
    probe = (
        "import sys, serving.server as server; "
        "print('MODULES', sorted(m for m in sys.modules if m.startswith('tfx_dcgan'))); "
        "sys.argv = ['serving.server', '--helpshort']; server.run()"
    )
    helped = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )
    assert "MODULES ['tfx_dcgan']\n" in helped.stdout, helped.stdout + helped.stderr[-3000:]
    for flag in (
        "model_config_file",
        "model_base_path_root",
        "model_name",
        "model_base_path",
        "host",
        "port",
        "port_file",
        "file_system_poll_wait_seconds",
        "max_workers",
        "max_receive_message_bytes",
        "max_send_message_bytes",
        "ssl_config_file",
        "ssl_cert_file",
        "ssl_key_file",
        "ssl_client_ca_file",
        "batching_parameters_file",
        "tensorflow_intra_op_parallelism",
        "tensorflow_inter_op_parallelism",
    ):
        assert f"--{flag}:" in helped.stdout, flag
    for flag in ("enable_health_check", "enable_reflection", "enable_batching"):
        assert f"--[no]{flag}:" in helped.stdout, flag

    port_file = str(tmp_path / "port")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "serving.server",
            f"--model_config_file={MODELS_CONFIG}",
            f"--model_base_path_root={served['push_base']}",
            "--port=0",
            f"--port_file={port_file}",
            "--enable_reflection",
            "--tensorflow_intra_op_parallelism=1",
            "--tensorflow_inter_op_parallelism=2",
        ],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_for(lambda: os.path.exists(port_file) or server.poll() is not None, 120, "port file")
        assert server.poll() is None, server.stdout.read()[-3000:]
        with open(port_file) as handle:
            port = int(handle.read())
        grid = str(tmp_path / "grid.png")
        sampled = subprocess.run(
            [
                sys.executable,
                "-m",
                "tfx_dcgan.cli.sample",
                f"--server=127.0.0.1:{port}",
                "--n=5",
                f"--out={grid}",
                "--seed=3",
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO,
            timeout=120,
        )
        assert sampled.returncode == 0, sampled.stderr[-3000:]
        picture = np.asarray(Image.open(grid))
        # 5 images -> 3 columns x 2 rows of 16 px tiles with 2 px padding.
        assert picture.shape == (2 * 18 + 2, 3 * 18 + 2, 3)
        expected, _ = served["client"].generate(5, seed=3)
        np.testing.assert_array_equal(picture[2:18, 2:18], expected[0])
    finally:
        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=60)[0]
    assert server.returncode == 0, output[-3000:]
    assert "TensorFlow threads: intra_op 1, inter_op 2" in output, output[-3000:]
