"""The deployment files in serving/ parse as what the official tensorflow_model_server reads.

models.config is checked with tensorflow-serving-api's own ModelServerConfig. The pip package
does not ship BatchingParameters or MonitoringConfig, so their message types are rebuilt here from
TF Serving's .proto definitions (session_bundle_config.proto, monitoring_config.proto) and the
files parsed strictly against them: a misspelt field fails.
"""

import os

import pytest
import yaml
from google.protobuf import (
    descriptor_pb2,
    descriptor_pool,
    message_factory,
    text_format,
    wrappers_pb2,
)
from tensorflow_serving.config import model_server_config_pb2

SERVING = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "serving")
_F = descriptor_pb2.FieldDescriptorProto


def _message_classes():
    pool = descriptor_pool.DescriptorPool()
    wrappers = descriptor_pb2.FileDescriptorProto()
    wrappers_pb2.DESCRIPTOR.CopyToProto(wrappers)
    pool.Add(wrappers)
    fd = descriptor_pb2.FileDescriptorProto(
        name="tfx_dcgan_test/serving_configs.proto",
        package="tensorflow.serving",
        syntax="proto3",
        dependency=["google/protobuf/wrappers.proto"],
    )

    def add(message, fields):
        proto = fd.message_type.add(name=message)
        for number, (name, kind, type_name, repeated) in enumerate(fields, start=1):
            field = proto.field.add(
                name=name,
                number=number,
                type=kind,
                label=_F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL,
            )
            if type_name:
                field.type_name = type_name

    int64_value = ".google.protobuf.Int64Value"
    add(
        "BatchingParameters",
        [
            ("max_batch_size", _F.TYPE_MESSAGE, int64_value, False),
            ("batch_timeout_micros", _F.TYPE_MESSAGE, int64_value, False),
            ("max_enqueued_batches", _F.TYPE_MESSAGE, int64_value, False),
            ("num_batch_threads", _F.TYPE_MESSAGE, int64_value, False),
            ("thread_pool_name", _F.TYPE_MESSAGE, ".google.protobuf.StringValue", False),
            ("allowed_batch_sizes", _F.TYPE_INT64, None, True),
            ("pad_variable_length_inputs", _F.TYPE_BOOL, None, False),
        ],
    )
    add(
        "PrometheusConfig",
        [("enable", _F.TYPE_BOOL, None, False), ("path", _F.TYPE_STRING, None, False)],
    )
    add(
        "MonitoringConfig",
        [("prometheus_config", _F.TYPE_MESSAGE, ".tensorflow.serving.PrometheusConfig", False)],
    )
    pool.Add(fd)
    # protobuf 3.20 API (MessageFactory.GetPrototype; GetMessageClass arrived in 4.x).
    factory = message_factory.MessageFactory(pool)
    return {
        name: factory.GetPrototype(pool.FindMessageTypeByName(f"tensorflow.serving.{name}"))
        for name in ("BatchingParameters", "MonitoringConfig")
    }


def _read(name):
    with open(os.path.join(SERVING, name)) as handle:
        return handle.read()


def test_models_config_serves_both_models_latest_two():
    config = text_format.Parse(_read("models.config"), model_server_config_pb2.ModelServerConfig())
    entries = {model.name: model for model in config.model_config_list.config}
    assert sorted(entries) == ["discriminator_features", "generator"]
    for name, model in entries.items():
        assert model.base_path == f"/models/{name}"
        assert model.model_platform == "tensorflow"
        assert model.model_version_policy.latest.num_versions == 2


def test_batching_and_monitoring_configs_parse_strictly():
    classes = _message_classes()
    batching = text_format.Parse(_read("batching_parameters.txt"), classes["BatchingParameters"]())
    sizes = list(batching.allowed_batch_sizes)
    # TF Serving requires increasing allowed sizes ending at max_batch_size.
    assert sizes == sorted(sizes) and sizes[-1] == batching.max_batch_size.value == 1024
    assert batching.num_batch_threads.value >= 1
    monitoring = text_format.Parse(_read("monitoring.config"), classes["MonitoringConfig"]())
    assert monitoring.prometheus_config.enable
    assert monitoring.prometheus_config.path == "/monitoring/prometheus/metrics"
    with pytest.raises(text_format.ParseError):
        text_format.Parse("max_batch_sise { value: 1 }", classes["BatchingParameters"]())


def test_compose_and_kubernetes_manifests():
    compose = yaml.safe_load(_read("docker-compose.yml"))
    service = compose["services"]["tf-serving"]
    assert service["image"].startswith("tensorflow/serving:")
    assert "--model_config_file=/config/models.config" in service["command"]
    assert any(volume.endswith(":/models:ro") for volume in service["volumes"])
    assert {"127.0.0.1:8500:8500", "127.0.0.1:8501:8501"} <= set(service["ports"])

    deployment = yaml.safe_load(_read(os.path.join("k8s", "deployment.yaml")))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert deployment["kind"] == "Deployment"
    # Every model's status (tests/test_serving_hardening.py runs the probe's command).
    assert container["readinessProbe"]["exec"]["command"][:2] == ["bash", "-c"]
    assert {port["containerPort"] for port in container["ports"]} == {8500, 8501}
    assert "--model_config_file=/config/models.config" in container["args"]
    assert {mount["mountPath"] for mount in container["volumeMounts"]} == {"/models", "/config"}
    assert (
        deployment["spec"]["selector"]["matchLabels"]
        == deployment["spec"]["template"]["metadata"]["labels"]
    )

    service_manifest = yaml.safe_load(_read(os.path.join("k8s", "service.yaml")))
    assert service_manifest["kind"] == "Service"
    assert service_manifest["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert {port["port"] for port in service_manifest["spec"]["ports"]} == {8500, 8501}
