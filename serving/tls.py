"""TLS for the gRPC endpoint: server credentials from TF Serving's SSLConfig, client credentials.

The server side takes what the official `tensorflow_model_server --ssl_config_file` takes: an
`SSLConfig` text proto holding the PEM texts (`server_key`, `server_cert`, optionally
`custom_ca` with `client_verify: true` to require client certificates signed by that CA), or the
same three things as file paths (`ssl_config_from_files`).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

import grpc
from google.protobuf import text_format

from serving import protos

__all__ = [
    "ClientTls",
    "client_channel",
    "load_ssl_config",
    "ssl_config_text",
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
    cert_file: str,
    key_file: str,
    client_ca_file: str = "",
    flag_names: tuple[str, str, str] = ("ssl_cert_file", "ssl_key_file", "ssl_client_ca_file"),
) -> protos.SSLConfig:
    """An SSLConfig from PEM files; a client CA file turns on client-certificate verification.

    Raises:
      ValueError: a file is missing or not PEM (the message names the flag and the path).
    """
    config = protos.SSLConfig(
        server_cert=_read_pem(cert_file, flag_names[0]),
        server_key=_read_pem(key_file, flag_names[1]),
    )
    if client_ca_file:
        config.custom_ca = _read_pem(client_ca_file, flag_names[2])
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


def ssl_config_text(config: protos.SSLConfig) -> str:
    """The text proto the official server's --ssl_config_file reads (PEM texts inline)."""
    return text_format.MessageToString(config)


def main(argv: list[str] | None = None) -> int:
    """`python -m serving.tls --cert C --key K [--client_ca CA] > ssl_config.txt`."""
    parser = argparse.ArgumentParser(
        prog="python -m serving.tls",
        description="Writes TF Serving's SSLConfig text proto (for --ssl_config_file of the "
        "official server and of serving/server.py) from PEM files, to standard output.",
    )
    parser.add_argument("--cert", required=True, help="the server's certificate chain (PEM)")
    parser.add_argument("--key", required=True, help="the server's private key (PEM)")
    parser.add_argument(
        "--client_ca",
        default="",
        help="require client certificates signed by this CA (PEM); sets client_verify: true",
    )
    args = parser.parse_args(argv)
    try:
        config = ssl_config_from_files(
            args.cert, args.key, args.client_ca, ("cert", "key", "client_ca")
        )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    sys.stdout.write(ssl_config_text(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
