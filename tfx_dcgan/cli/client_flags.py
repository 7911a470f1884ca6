"""The flags of the commands that call a model server (`sample`, `fid`): TLS to --server.

Defined when `tfx_dcgan.cli.flags` is imported (it imports this module), so the one flag module
still defines every flag; `client_tls_from_flags` turns them into a `serving.tls.ClientTls`.
"""

from __future__ import annotations

from absl import flags

__all__ = ["CLIENT_TLS_FLAGS", "client_tls_from_flags"]

FLAGS = flags.FLAGS

# TLS of the commands that call a model server (--server): `sample`, `fid`.
flags.DEFINE_bool(
    "tls",
    False,
    "Speak TLS to --server, trusting the system's CA store (or --tls_ca_file). Implied by any "
    "other --tls_* flag.",
)
flags.DEFINE_string(
    "tls_ca_file",
    None,
    "TLS: PEM of the CA (or self-signed certificate) that signed the server's certificate.",
)
flags.DEFINE_string(
    "tls_cert_file", None, "TLS: this client's certificate (PEM), for servers that verify clients."
)
flags.DEFINE_string("tls_key_file", None, "TLS: this client's private key (PEM).")
flags.DEFINE_string(
    "tls_server_name",
    None,
    "TLS: check the server's certificate against this name instead of --server's host.",
)
CLIENT_TLS_FLAGS: tuple[str, ...] = (
    "tls",
    "tls_ca_file",
    "tls_cert_file",
    "tls_key_file",
    "tls_server_name",
)


def client_tls_from_flags():
    """The `serving.tls.ClientTls` the --tls* flags ask for, or None for plaintext.

    Raises:
      ValueError: --tls_cert_file without --tls_key_file (or the reverse).
    """
    if not any(FLAGS[name].value for name in CLIENT_TLS_FLAGS):
        return None
    from serving import tls  # grpc only when a server is called

    return tls.ClientTls(
        ca_file=FLAGS.tls_ca_file or "",
        cert_file=FLAGS.tls_cert_file or "",
        key_file=FLAGS.tls_key_file or "",
        server_name=FLAGS.tls_server_name or "",
    ).validate()
