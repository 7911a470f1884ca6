"""One load-generating client process for bench/serving_load.py (imports grpc only).

It sends a pre-serialized PredictRequest (raw bytes, so this process needs neither TensorFlow
nor the serving protos) to `--target` in a loop from `--start_at` (a wall-clock time, so every
client starts together) for `--seconds`, at most `--max_requests`, and writes its latencies and
error codes as JSON to `--out`. Loopback targets only.
"""

from __future__ import annotations

import argparse
import json
import time

import grpc

_METHOD = "/tensorflow.serving.PredictionService/Predict"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True)
    parser.add_argument("--request", required=True, help="file with the serialized request")
    parser.add_argument("--start_at", type=float, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--max_requests", type=int, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    host = args.target.rsplit(":", 1)[0]
    if host not in ("127.0.0.1", "localhost", "[::1]"):
        raise SystemExit(f"--target={args.target}: the load client sends to loopback only")
    with open(args.request, "rb") as handle:
        request = handle.read()
    channel = grpc.insecure_channel(args.target)
    predict = channel.unary_unary(_METHOD)  # bytes in, bytes out
    grpc.channel_ready_future(channel).result(timeout=60)
    predict(request, timeout=30)  # one call to open the connection before the clock starts
    time.sleep(max(0.0, args.start_at - time.time()))
    latencies, errors = [], {}
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline and len(latencies) + sum(errors.values()) < args.max_requests:
        started = time.perf_counter()
        try:
            response = predict(request, timeout=30)
            if not response:
                raise RuntimeError("empty response")
            latencies.append(time.perf_counter() - started)
        except grpc.RpcError as error:
            errors[error.code().name] = errors.get(error.code().name, 0) + 1
        except RuntimeError:
            errors["EMPTY"] = errors.get("EMPTY", 0) + 1
    channel.close()
    with open(args.out, "w") as handle:
        json.dump({"latencies": latencies, "errors": errors}, handle)


if __name__ == "__main__":
    main()
