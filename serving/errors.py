"""The error a request gets: a gRPC status code and a message, as TF Serving answers."""

from __future__ import annotations

import grpc

GRPC_CODE_BY_VALUE = {code.value[0]: code for code in grpc.StatusCode}
SIGNATURE_DEF_FIELD = "signature_def"


class RequestError(Exception):
    """An RPC failure: a gRPC status code and a message for the client."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message
