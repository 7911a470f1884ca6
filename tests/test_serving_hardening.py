"""Serving made safe to expose: TLS, message-size limits, bind address, batching, path rules.

Real gRPC on loopback against serving/server.py with tiny random-init models exported by
tfx_dcgan.export; certificates are made here with `cryptography` (a self-signed CA that signs a
server and a client certificate, plus a stranger CA for negative controls).
"""

import ast
import datetime
import glob
import http.server
import io
import ipaddress
import logging
import os
import subprocess
import threading
import time

import tfx_dcgan  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from tfx_dcgan import export, fileio, models
from tfx_dcgan.cli import flags as cli_flags
from tfx_dcgan.cli import sample as sample_cli
from tfx_dcgan.components import example_gen_outputs
from tfx_dcgan.config import ConfigError, ModelConfig, PipelineConfig

import grpc
import numpy as np
import pytest
import yaml
from absl.testing import flagsaver
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from PIL import Image
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from serving import batching, protos, tls
from serving import client as client_lib
from serving import server as server_lib
from serving.errors import RequestError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS_CONFIG = os.path.join(REPO, "serving", "models.config")
CFG = ModelConfig(image_size=16, channels=3, z_dim=8, ngf=4, ndf=4)
LIMIT = 64


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def push_base(tmp_path_factory):
    base = str(tmp_path_factory.mktemp("push"))
    export.export_generator(
        models.build_generator(CFG, seed=1), CFG, f"{base}/generator/1", step=1, batch_limit=LIMIT
    )
    export.export_discriminator_features(
        models.build_discriminator(CFG, seed=2),
        CFG,
        f"{base}/discriminator_features/1",
        step=1,
        batch_limit=LIMIT,
    )
    return base


def _config(push_base):
    return server_lib.load_model_server_config(MODELS_CONFIG, base_path_root=push_base)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_key(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _certificate(subject: str, issuer_key, issuer: str, key, *, ca: bool, sans=()):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    return builder.sign(issuer_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, a server certificate for 127.0.0.1/localhost, a client certificate, a stranger CA."""
    folder = tmp_path_factory.mktemp("pki")
    files = {}

    def write(name: str, data: bytes) -> str:
        path = str(folder / name)
        with open(path, "wb") as handle:
            handle.write(data)
        files[name] = path
        return path

    ca_key = ec.generate_private_key(ec.SECP256R1())
    write("ca.pem", _certificate("test-ca", ca_key, "test-ca", ca_key, ca=True))
    server_key = ec.generate_private_key(ec.SECP256R1())
    sans = (x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    write(
        "server.pem",
        _certificate("localhost", ca_key, "test-ca", server_key, ca=False, sans=sans),
    )
    write("server.key", _pem_key(server_key))
    client_key = ec.generate_private_key(ec.SECP256R1())
    write("client.pem", _certificate("client", ca_key, "test-ca", client_key, ca=False))
    write("client.key", _pem_key(client_key))
    stranger_key = ec.generate_private_key(ec.SECP256R1())
    other_key = ec.generate_private_key(ec.SECP256R1())
    write(
        "stranger.pem", _certificate("intruder", stranger_key, "stranger-ca", other_key, ca=False)
    )
    write("stranger.key", _pem_key(other_key))
    return files


def _serve(push_base, **kwargs) -> server_lib.ModelServer:
    server = server_lib.ModelServer(_config(push_base), port=0, poll_seconds=0, **kwargs)
    server.start()
    return server


def _generate_z(client: client_lib.ServingClient, rows: int = 2) -> np.ndarray:
    z = np.random.default_rng(rows).uniform(-1, 1, (rows, CFG.z_dim)).astype(np.float32)
    return client.generate_from_z(z)


# -- TLS -----------------------------------------------------------------------------------------


def test_tls_server_answers_tls_clients_and_refuses_plaintext(push_base, pki):
    config = tls.ssl_config_from_files(pki["server.pem"], pki["server.key"])
    server = _serve(push_base, ssl_config=config)
    target = f"127.0.0.1:{server.port}"
    try:
        with client_lib.ServingClient(
            target, timeout=30, tls=tls.ClientTls(ca_file=pki["ca.pem"])
        ) as client:
            assert _generate_z(client).shape == (2, 16, 16, 3)
        # Negative control: a plaintext client on the TLS port gets no answer.
        with client_lib.ServingClient(target, timeout=10) as plain:
            with pytest.raises(grpc.RpcError) as caught:
                _generate_z(plain)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        # A client that does not trust the server's CA refuses the handshake.
        with client_lib.ServingClient(
            target, timeout=10, tls=tls.ClientTls(ca_file=pki["stranger.pem"])
        ) as wary:
            with pytest.raises(grpc.RpcError) as caught:
                _generate_z(wary)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        server.stop(grace=0)


def test_client_certificates_required_when_a_client_ca_is_given(push_base, pki, tmp_path):
    # The official server's format: `python -m serving.tls` writes the SSLConfig text proto.
    ssl_config_file = str(tmp_path / "ssl_config.txt")
    with open(ssl_config_file, "w") as handle:
        handle.write(
            tls.ssl_config_text(
                tls.ssl_config_from_files(pki["server.pem"], pki["server.key"], pki["ca.pem"])
            )
        )
    config = tls.load_ssl_config(ssl_config_file)
    assert config.client_verify and "BEGIN" in config.custom_ca
    server = _serve(push_base, ssl_config=config)
    target = f"127.0.0.1:{server.port}"
    try:
        identified = tls.ClientTls(
            ca_file=pki["ca.pem"], cert_file=pki["client.pem"], key_file=pki["client.key"]
        )
        with client_lib.ServingClient(target, timeout=30, tls=identified) as client:
            assert _generate_z(client, 3).shape == (3, 16, 16, 3)
        for refused in (
            tls.ClientTls(ca_file=pki["ca.pem"]),  # no certificate
            tls.ClientTls(
                ca_file=pki["ca.pem"],
                cert_file=pki["stranger.pem"],
                key_file=pki["stranger.key"],
            ),  # a certificate from another CA
        ):
            with client_lib.ServingClient(target, timeout=10, tls=refused) as client:
                with pytest.raises(grpc.RpcError) as caught:
                    _generate_z(client)
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE, refused
        # The sample command speaks TLS with the same identity (--tls_* flags).
        grid = str(tmp_path / "grid.png")
        with flagsaver.flagsaver():
            cli_flags.FLAGS(
                [
                    "sample",
                    f"--server={target}",
                    "--n=4",
                    f"--out={grid}",
                    f"--tls_ca_file={pki['ca.pem']}",
                    f"--tls_cert_file={pki['client.pem']}",
                    f"--tls_key_file={pki['client.key']}",
                ]
            )
            assert cli_flags.client_tls_from_flags() == identified
            assert sample_cli.main(["sample"]) in (None, 0)
        assert Image.open(grid).size[0] > 16
    finally:
        server.stop(grace=0)


def test_bad_tls_files_are_named(pki, tmp_path):
    not_pem = tmp_path / "key.txt"
    not_pem.write_text("hello")
    with pytest.raises(ValueError, match=r"--ssl_key_file=.*key.txt: not a PEM file"):
        tls.ssl_config_from_files(pki["server.pem"], str(not_pem))
    with pytest.raises(ValueError, match=r"--ssl_cert_file=.*missing.pem: cannot read"):
        tls.ssl_config_from_files(str(tmp_path / "missing.pem"), pki["server.key"])
    half = tmp_path / "half.txt"
    half.write_text(
        tls.ssl_config_text(protos.SSLConfig(server_key="-----BEGIN x", server_cert="nope"))
    )
    with pytest.raises(ValueError, match="server_cert must hold a PEM text"):
        tls.load_ssl_config(str(half))
    with pytest.raises(ValueError, match="--tls_cert_file and --tls_key_file go together"):
        tls.ClientTls(cert_file=pki["client.pem"]).validate()


# -- message size and bind address ---------------------------------------------------------------


def test_oversized_request_is_refused_with_resource_exhausted(push_base):
    assert server_lib.DEFAULT_MAX_RECEIVE_MESSAGE_BYTES == 64 * 1024 * 1024
    assert server_lib.FLAGS["max_receive_message_bytes"].default == (64 * 1024 * 1024)
    server = _serve(push_base, max_receive_message_bytes=1024 * 1024)
    try:
        with client_lib.ServingClient(f"127.0.0.1:{server.port}", timeout=30) as client:
            with pytest.raises(grpc.RpcError) as caught:
                client.features([b"\xff" * (2 * 1024 * 1024)])
            assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "larger than max" in caught.value.details()
            assert _generate_z(client).shape == (2, 16, 16, 3)  # still serving
    finally:
        server.stop(grace=0)
    with pytest.raises(ValueError, match="max_send_message_bytes must be"):
        server_lib.ModelServer(_config(push_base), max_send_message_bytes=0)


def _listening_addresses(port: int) -> list[str]:
    """Local addresses with a socket listening on `port`, from /proc/net/tcp{,6}."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as handle:
            for line in handle.readlines()[1:]:
                fields = line.split()
                address, port_hex = fields[1].rsplit(":", 1)
                if int(port_hex, 16) == port and fields[3] == "0A":  # 0A: LISTEN
                    # An IPv4-mapped IPv6 socket (::ffff:a.b.c.d) is the IPv4 address.
                    if address.startswith("0000000000000000FFFF0000"):
                        address = address[-8:]
                    elif address == "0" * 32:
                        address = "0" * 8
                    found.append(address)
    return found


def test_default_bind_is_loopback_and_other_addresses_warn(push_base, caplog):
    assert server_lib.DEFAULT_HOST == "127.0.0.1"
    assert server_lib.FLAGS["host"].default == "127.0.0.1"
    server = _serve(push_base)
    try:
        # 0100007F is 127.0.0.1 in the kernel's little-endian hex.
        assert _listening_addresses(server.port) == ["0100007F"]
    finally:
        server.stop(grace=0)
    assert not [r for r in caplog.records if "reachable from other machines" in r.getMessage()]
    with caplog.at_level(logging.WARNING):
        exposed = _serve(push_base, host="0.0.0.0")
    try:
        warnings = [r for r in caplog.records if "reachable from other machines" in r.getMessage()]
        assert warnings and "WITHOUT TLS" in warnings[0].getMessage()
        assert _listening_addresses(exposed.port) == ["00000000"]
    finally:
        exposed.stop(grace=0)
    assert server_lib.is_loopback("localhost") and server_lib.is_loopback("::1")
    assert not server_lib.is_loopback("0.0.0.0") and not server_lib.is_loopback("10.1.2.3")


# -- batching ------------------------------------------------------------------------------------


def _png(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (18 + seed % 5, 20, 3), dtype=np.uint8)).save(
        buffer, "PNG"
    )
    return buffer.getvalue()


def _requests():
    """(model, signature, inputs) of mixed sizes for the three batchable signatures."""
    rng = np.random.default_rng(7)
    items = []
    for index in range(18):
        rows = 1 + index % 3
        kind = index % 3
        if kind == 0:
            z = rng.uniform(-1, 1, (rows, CFG.z_dim)).astype(np.float32)
            items.append(("generator", "serving_default", {"z": z}))
        elif kind == 1:
            images = [_png(index * 10 + row) for row in range(rows)]
            items.append(
                (
                    "discriminator_features",
                    "serving_default",
                    {"image_bytes": np.array(images, dtype=object)},
                )
            )
        else:
            pixels = rng.uniform(-1, 1, (rows, 16, 16, 3)).astype(np.float32)
            items.append(("discriminator_features", "features_from_pixels", {"images": pixels}))
    return items


def _predict_all(client, items, concurrent: bool):
    results = [None] * len(items)

    def one(index):
        model, signature, inputs = items[index]
        results[index] = client.predict(model, signature, inputs)

    if not concurrent:
        for index in range(len(items)):
            one(index)
        return results
    barrier = threading.Barrier(len(items))

    def worker(index):
        barrier.wait()
        one(index)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(items))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return results


def test_tensorflow_thread_flags_are_checked_and_refused_once_tensorflow_runs():
    import tensorflow as tf

    with pytest.raises(ValueError, match="--tensorflow_intra_op_parallelism must be >= 0"):
        server_lib.set_tensorflow_threads(-1, 0)
    with pytest.raises(ValueError, match="--tensorflow_inter_op_parallelism must be >= 0"):
        server_lib.set_tensorflow_threads(0, -2)
    tf.constant(1.0) + 1.0  # the runtime (and its thread pools) now exists in this process
    current = (
        tf.config.threading.get_intra_op_parallelism_threads(),
        tf.config.threading.get_inter_op_parallelism_threads(),
    )
    server_lib.set_tensorflow_threads(*current)  # the same pools: nothing to change
    with pytest.raises(ValueError, match="must be set before TensorFlow starts"):
        server_lib.set_tensorflow_threads(current[0] + 3, current[1] + 3)


def test_batching_merges_concurrent_requests_bit_for_bit(push_base):
    options = batching.BatchingOptions(
        max_batch_size=32,
        batch_timeout_micros=50_000,
        max_enqueued_batches=4,
        num_batch_threads=1,
        allowed_batch_sizes=(8, 16, 32),
    )
    server = _serve(push_base, batching=options, max_workers=32)
    items = _requests()
    try:
        with client_lib.ServingClient(f"127.0.0.1:{server.port}", timeout=60) as client:
            alone = _predict_all(client, items, concurrent=False)
            assert server.stats.model_calls == len(items)  # one call each, sent one at a time
            server.stats.reset()
            merged = _predict_all(client, items, concurrent=True)
            calls = server.stats.model_calls
            # Signatures without a batch dimension pass through the batcher untouched.
            images, _ = client.generate(3, seed=5)
            assert images.shape == (3, 16, 16, 3)
            assert client.metadata()["batch_limit"] == LIMIT
    finally:
        server.stop(grace=0)
    for index, (expected, got) in enumerate(zip(alone, merged)):
        assert sorted(expected) == sorted(got)
        for key in expected:
            np.testing.assert_array_equal(got[key], expected[key], err_msg=f"{index} {key}")
    # 18 requests on 3 queues (one per signature), 50 ms to fill: far fewer model calls.
    assert calls < len(items) / 2, calls
    assert server.stats.batched_requests == len(items)
    # Against a server without batching the rows are the same up to float rounding (TF's CPU
    # kernels round differently by batch size and composition: ~1e-10 here), and the split of
    # a merged batch hands each request its own rows.
    plain = _serve(push_base)
    try:
        with client_lib.ServingClient(f"127.0.0.1:{plain.port}", timeout=60) as client:
            z = np.random.default_rng(3).uniform(-1, 1, (8, CFG.z_dim)).astype(np.float32)
            unbatched = client.predict("generator", "serving_default", {"z": z})
    finally:
        plain.stop(grace=0)
    rebatched = _serve(push_base, batching=options)
    try:
        with client_lib.ServingClient(f"127.0.0.1:{rebatched.port}", timeout=60) as client:
            halves = _predict_all(
                client,
                [("generator", "serving_default", {"z": z[:5]})]
                + [("generator", "serving_default", {"z": z[5:]})],
                concurrent=True,
            )
    finally:
        rebatched.stop(grace=0)
    for key in unbatched:
        np.testing.assert_allclose(
            np.concatenate([halves[0][key], halves[1][key]]).astype(np.float64),
            unbatched[key].astype(np.float64),
            rtol=0,
            atol=1e-6 if unbatched[key].dtype.kind == "f" else 1,
        )


def test_a_bad_request_in_a_merged_batch_fails_alone(push_base):
    options = batching.BatchingOptions(
        max_batch_size=16, batch_timeout_micros=50_000, num_batch_threads=1
    )
    server = _serve(push_base, batching=options, max_workers=16)
    items = [
        (
            "discriminator_features",
            "serving_default",
            {"image_bytes": np.array([_png(i)], dtype=object)},
        )
        for i in range(6)
    ]
    items[2] = (
        "discriminator_features",
        "serving_default",
        {"image_bytes": np.array([b"not an image"], dtype=object)},
    )
    outcomes = [None] * len(items)
    try:
        with client_lib.ServingClient(f"127.0.0.1:{server.port}", timeout=60) as client:
            barrier = threading.Barrier(len(items))

            def worker(index):
                barrier.wait()
                model, signature, inputs = items[index]
                try:
                    outcomes[index] = client.predict(model, signature, inputs)
                except grpc.RpcError as error:
                    outcomes[index] = error

            threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(items))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(120)
    finally:
        server.stop(grace=0)
    assert isinstance(outcomes[2], grpc.RpcError)
    assert outcomes[2].code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "image_bytes" in outcomes[2].details()
    for index, outcome in enumerate(outcomes):
        if index != 2:
            assert isinstance(outcome, dict) and outcome["features"].shape[0] == 1, index


def test_a_full_batch_queue_answers_unavailable():
    release = threading.Event()

    def slow_call(inputs):
        release.wait(30)
        return {"y": inputs["x"] * 2}

    batcher = batching.Batcher(
        batching.BatchingOptions(max_batch_size=2, max_enqueued_batches=1, num_batch_threads=1)
    )
    results = []
    threads = [
        threading.Thread(
            target=lambda: results.append(
                batcher.run("k", {"x": np.ones((2, 1), np.float32)}, slow_call)
            )
        )
        for _ in range(2)
    ]
    try:
        threads[0].start()
        time.sleep(0.3)  # the first batch runs (blocked); the second fills the queue
        threads[1].start()
        time.sleep(0.3)
        with pytest.raises(RequestError) as caught:
            batcher.run("k", {"x": np.ones((1, 1), np.float32)}, slow_call)
        assert caught.value.code == grpc.StatusCode.UNAVAILABLE
        assert "queue is full" in caught.value.message
    finally:
        release.set()
        for thread in threads:
            thread.join(30)
        batcher.stop()
    assert len(results) == 2 and all(np.all(out["y"] == 2) for out, _ in results)


def test_batching_parameters_file_is_read_as_the_official_server_reads_it(tmp_path):
    shipped = batching.load_batching_options(
        os.path.join(REPO, "serving", "batching_parameters.txt")
    )
    assert shipped.max_batch_size == 1024 and shipped.allowed_batch_sizes[0] == 8
    assert shipped.padded_size(3) == 8 and shipped.padded_size(9) == 16
    for text, message in (
        (
            "max_batch_size { value: 8 }\nenable_large_batch_splitting { value: true }\n",
            'no field named "enable_large_batch_splitting"',
        ),
        (
            "max_batch_size { value: 8 }\nallowed_batch_sizes: 4\n",
            r"last allowed_batch_sizes entry \(4\) must equal max_batch_size \(8\)",
        ),
        ("num_batch_threads { value: 0 }\n", "num_batch_threads must be >= 1"),
    ):
        path = tmp_path / "batching.txt"
        path.write_text(text)
        with pytest.raises(ValueError, match=message) as caught:
            batching.load_batching_options(str(path))
        assert "--batching_parameters_file=" in str(caught.value)


# -- Kubernetes readiness ------------------------------------------------------------------------


class _ModelStatusHandler(http.server.BaseHTTPRequestHandler):
    """Answers GET /v1/models/<name> as TF Serving's REST API does, for the models it holds."""

    available: set = set()

    def do_GET(self):  # noqa: N802
        name = self.path.rsplit("/", 1)[-1]
        if name in self.available:
            body = (
                '{\n "model_version_status": [\n  {\n   "version": "1",\n   "state": '
                '"AVAILABLE",\n   "status": {\n    "error_code": "OK",\n    "error_message": ""\n'
                "   }\n  }\n ]\n}\n"
            )
            self.send_response(200)
        else:
            body = '{ "error": "Could not find any versions of model ' + name + '" }'
            self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        del args


def test_kubernetes_readiness_probe_checks_every_served_model():
    config = server_lib.load_model_server_config(MODELS_CONFIG)
    served = {model.name for model in config.model_config_list.config}
    with open(os.path.join(REPO, "serving", "k8s", "deployment.yaml")) as handle:
        deployment = yaml.safe_load(handle)
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    command = container["readinessProbe"]["exec"]["command"]
    assert command[:2] == ["bash", "-c"]
    script = command[2]
    probed = set(script.split("for model in ", 1)[1].split("; do", 1)[0].split())
    assert probed == served
    assert "--grpc_channel_arguments=grpc.max_receive_message_length=67108864" in container["args"]
    # Run the probe's own command against a loopback stand-in for the REST endpoint on 8501:
    # ready only when every model is AVAILABLE.
    try:
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 8501), _ModelStatusHandler)
    except OSError as error:
        pytest.fail(f"port 8501 on 127.0.0.1 is taken, the probe needs it: {error}")
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        for available, ready in ((served, True), (served - {"generator"}, False), (set(), False)):
            _ModelStatusHandler.available = set(available)
            probe = subprocess.run(["bash", "-c", script], timeout=30, capture_output=True)
            assert (probe.returncode == 0) == ready, (available, probe.stderr)
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_tls_deployment_files_use_the_official_ssl_config_flag():
    with open(os.path.join(REPO, "serving", "k8s", "tls-patch.yaml")) as handle:
        patch = yaml.safe_load(handle)
    (container,) = patch["spec"]["template"]["spec"]["containers"]
    assert "--ssl_config_file=/tls/ssl_config.txt" in container["args"]
    with open(os.path.join(REPO, "serving", "docker-compose.tls.yml")) as handle:
        compose = yaml.safe_load(handle)
    assert (
        "--ssl_config_file=/config/ssl_config.txt" in compose["services"]["tf-serving"]["command"]
    )
    with open(os.path.join(REPO, "serving", "docker-compose.yml")) as handle:
        ports = yaml.safe_load(handle)["services"]["tf-serving"]["ports"]
    assert all(port.startswith("127.0.0.1:") for port in ports)


# -- nothing is loaded as code, no name leaves its folder ----------------------------------------


def test_the_serving_code_loads_no_code_from_files():
    """No pickle, marshal, eval/exec or dynamic import anywhere in serving/."""
    banned_modules = {"pickle", "cPickle", "dill", "marshal", "shelve", "importlib", "runpy"}
    for path in sorted(glob.glob(os.path.join(REPO, "serving", "*.py"))):
        with open(path) as handle:
            tree = ast.parse(handle.read(), path)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                names = {(node.module or "").split(".")[0]}
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in ("eval", "exec", "__import__", "compile"), (
                    f"{path}:{node.lineno}: {node.func.id}()"
                )
                continue
            else:
                continue
            assert not names & banned_modules, f"{path}:{node.lineno}: imports {names}"


def test_names_from_data_or_config_cannot_leave_their_folder(tmp_path):
    for name in ("../escape", "..", "a/../../b", "/etc/passwd", "", "sub\\..\\x"):
        with pytest.raises(ValueError, match="would leave its output folder"):
            fileio.child_path(str(tmp_path), name, "split name")
    assert fileio.child_path(str(tmp_path), "skipped-train.json") == str(
        tmp_path / "skipped-train.json"
    )
    # A split name becomes a folder (Split-<name>) and a report file name.
    exec_properties = {
        "input_config": '{"splits": [{"name": "../../outside", "pattern": "*"}]}',
        "output_config": "{}",
    }
    with pytest.raises(ValueError, match="split name '../../outside'"):
        example_gen_outputs.split_configs(exec_properties)
    config = PipelineConfig(
        pipeline_root=str(tmp_path),
        push_base=str(tmp_path),
        source="tfds",
        tfds_name="mnist",
        tfds_data_dir=str(tmp_path),
        tfds_split_mapping={"train": "../train"},
    )
    with pytest.raises(ConfigError, match="pipeline.tfds_split_mapping"):
        config.validate(check_local_paths=False)
    # A model config's base path is rebased by its last component, which must not be '..'.
    bad = tmp_path / "models.config"
    bad.write_text(
        'model_config_list { config { name: "generator" base_path: "/models/.." '
        'model_platform: "tensorflow" } }'
    )
    with pytest.raises(ValueError, match="cannot be rebased"):
        server_lib.load_model_server_config(str(bad), base_path_root=str(tmp_path))


def test_predict_requests_name_no_paths(push_base):
    """A model name or label with '../' is a lookup that fails, never a path that is opened."""
    server = _serve(push_base)
    try:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(
            grpc.insecure_channel(f"127.0.0.1:{server.port}")
        )
        for spec in ({"name": "../generator"}, {"name": "generator/../generator"}):
            request = predict_pb2.PredictRequest()
            request.model_spec.name = spec["name"]
            with pytest.raises(grpc.RpcError) as caught:
                stub.Predict(request, timeout=10)
            assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        server.stop(grace=0)
