"""TLS for the gRPC endpoint: server credentials from TF Serving's SSLConfig, client credentials.

The server side takes what the official `tensorflow_model_server --ssl_config_file` takes: an
`SSLConfig` text proto holding the PEM texts (`server_key`, `server_cert`, optionally
`custom_ca` with `client_verify: true` to require client certificates signed by that CA), or the
same three things as file paths (`ssl_config_from_files`).
"""

from __future__ import annotations

import dataclasses

import grpc

from serving import protos

__all__ = [
    "ClientTls",
    "client_channel",
    "load_ssl_config",
    "server_credentials",
    "ssl_config_from_files",
]

_PEM_MARK = "-----BEGIN "


def _read_pem(path: str, flag: str) -> str:
    try:
        with open(path, encoding="ascii") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"--{flag}={path}: cannot read a PEM file ({error})") from error
    if _PEM_MARK not in text:
        raise ValueError(f"--{flag}={path}: not a PEM file (no '{_PEM_MARK}...' block)")
    return text


def ssl_config_from_files(
    cert_file: str, key_file: str, client_ca_file: str = ""
) -> protos.SSLConfig:
    """An SSLConfig from PEM files; a client CA file turns on client-certificate verification.

    Raises:
      ValueError: a file is missing or not PEM (the message names the flag and the path).
    """
    config = protos.SSLConfig(
        server_cert=_read_pem(cert_file, "ssl_cert_file"),
        server_key=_read_pem(key_file, "ssl_key_file"),
    )
    if client_ca_file:
        config.custom_ca = _read_pem(client_ca_file, "ssl_client_ca_file")
        config.client_verify = True
    return config


def load_ssl_config(path: str) -> protos.SSLConfig:
    """Reads the official server's `--ssl_config_file` (an SSLConfig text proto) and checks it."""
    config = protos.parse_text_file(path, protos.SSLConfig, "ssl_config_file")
    for field in ("server_key", "server_cert"):
        if _PEM_MARK not in getattr(config, field):
            raise ValueError(f"--ssl_config_file={path}: {field} must hold a PEM text")
    if config.client_verify and not config.custom_ca:
        raise ValueError(
            f"--ssl_config_file={path}: client_verify needs custom_ca (the CA that signs the "
            "client certificates)"
        )
    return config


def server_credentials(config: protos.SSLConfig) -> grpc.ServerCredentials:
    """gRPC server credentials; with client_verify, clients must present a certificate."""
    return grpc.ssl_server_credentials(
        [(config.server_key.encode(), config.server_cert.encode())],
        root_certificates=config.custom_ca.encode() if config.custom_ca else None,
        require_client_auth=bool(config.client_verify),
    )


@dataclasses.dataclass(frozen=True)
class ClientTls:
    """How a client speaks TLS to the server.

    Attributes:
      ca_file: PEM of the CA (or the self-signed certificate) that signed the server's certificate;
        empty: the system's trust store.
      cert_file, key_file: the client's certificate and key, for servers that verify clients.
      server_name: the name to check the server's certificate against, when it differs from the
        host of the target (e.g. a certificate for "tfx-dcgan-serving" reached on 127.0.0.1).
    """

    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    server_name: str = ""

    def validate(self) -> ClientTls:
        if bool(self.cert_file) != bool(self.key_file):
            raise ValueError("--tls_cert_file and --tls_key_file go together (a client identity)")
        return self

    def credentials(self) -> grpc.ChannelCredentials:
        self.validate()
        return grpc.ssl_channel_credentials(
            root_certificates=_read_pem(self.ca_file, "tls_ca_file").encode()
            if self.ca_file
            else None,
            private_key=_read_pem(self.key_file, "tls_key_file").encode()
            if self.key_file
            else None,
            certificate_chain=_read_pem(self.cert_file, "tls_cert_file").encode()
            if self.cert_file
            else None,
        )


def client_channel(target: str, tls: ClientTls | None, options: list[tuple]) -> grpc.Channel:
    """A channel to `target`: TLS when `tls` is given, plaintext otherwise."""
    if tls is None:
        return grpc.insecure_channel(target, options=options)
    options = list(options)
    if tls.server_name:
        options.append(("grpc.ssl_target_name_override", tls.server_name))
    return grpc.secure_channel(target, tls.credentials(), options=options)
