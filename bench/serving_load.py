"""The local server under load: N client processes x T seconds, batching off and on, one run.

For each setting (batching off/on) and each client count (default 8 and 32) it serves a
random-init generator of the main job's size (32 x 32, ngf 32, z 100; the weights do not change
the cost) from `serving/model_server.py`'s ModelServer in this process, starts the clients as separate
processes (bench/load_client.py: grpc only, loopback only), each sending batch-1 requests to
the generator's `serving_default` in a loop bounded by --seconds and --max_requests, and prints:

  requests/s, client-side p50/p99 latency, errors by code, the server's resident memory after
  warm-up and at the end, and where a request's time goes: the model call (per call; merged
  requests share one), the batching queue wait, the rest of the server's handler (checks,
  TensorProto <-> array, response), and gRPC transport + the client (client latency minus the
  handler).

Batching uses serving/batching_parameters.txt (the file the official server would read).
Clients and server share this machine's cores: run it alone.

  .venv/bin/python bench/serving_load.py                      # 8 and 32 clients, 10 s each
  .venv/bin/python bench/serving_load.py --clients 8 --seconds 5 --json /tmp/load.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

import tfx_dcgan  # noqa: E402,F401  (environment defaults before TensorFlow loads)

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def _rss_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _export(folder: str, args) -> str:
    from tfx_dcgan import export, models
    from tfx_dcgan.config import ModelConfig

    config = ModelConfig(image_size=args.image_size, channels=3, z_dim=args.z_dim, ngf=args.ngf)
    export.export_generator(
        models.build_generator(config, seed=0),
        config,
        os.path.join(folder, "generator", "1"),
        step=0,
    )
    return os.path.join(folder, "generator")


def _request_bytes(z_dim: int) -> bytes:
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = "generator"
    request.model_spec.signature_name = "serving_default"
    z = np.random.default_rng(0).uniform(-1, 1, (1, z_dim)).astype(np.float32)
    request.inputs["z"].CopyFrom(tf.make_tensor_proto(z))
    request.output_filter.append("images")
    return request.SerializeToString()


def _run_clients(target, request_file, clients, seconds, max_requests, folder, tag):
    start_at = time.time() + 3.0 + 0.15 * clients  # every client connected by then
    processes, outputs = [], []
    for index in range(clients):
        out = os.path.join(folder, f"{tag}-{index}.json")
        outputs.append(out)
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    os.path.join(REPO_ROOT, "bench", "load_client.py"),
                    f"--target={target}",
                    f"--request={request_file}",
                    f"--start_at={start_at}",
                    f"--seconds={seconds}",
                    f"--max_requests={max_requests}",
                    f"--out={out}",
                ],
                stdout=subprocess.DEVNULL,
                stderr=open(out + ".log", "w"),  # noqa: SIM115  (closed with the process)
            )
        )
    for process in processes:
        process.wait(timeout=seconds + 120)
    latencies, errors = [], {}
    for out in outputs:
        if not os.path.exists(out):
            errors["CLIENT_DIED"] = errors.get("CLIENT_DIED", 0) + 1
            continue
        with open(out) as handle:
            result = json.load(handle)
        latencies.extend(result["latencies"])
        for code, count in result["errors"].items():
            errors[code] = errors.get(code, 0) + count
    return start_at, latencies, errors


def _model_alone(base_path: str, z_dim: int) -> dict:
    """CPU ms per row of the generator's serving_default called in this process, by batch size."""
    function = tf.saved_model.load(os.path.join(base_path, "1")).signatures["serving_default"]
    result = {}
    for batch in (1, 8, 32):
        z = tf.constant(np.random.default_rng(0).uniform(-1, 1, (batch, z_dim)), tf.float32)
        for _ in range(10):
            function(z=z)
        calls = max(20, 400 // batch)
        started = time.process_time()
        for _ in range(calls):
            function(z=z)["images"].numpy()
        result[batch] = (time.process_time() - started) * 1000.0 / (calls * batch)
    return result


def _grpc_floor(request_file, response_bytes, clients, seconds, folder) -> dict:
    """The same clients against a gRPC Python server that answers canned bytes (no TF, no protos)."""
    from concurrent import futures

    import grpc

    response = b"\0" * response_bytes
    server = grpc.server(futures.ThreadPoolExecutor(16))
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "tensorflow.serving.PredictionService",
                {"Predict": grpc.unary_unary_rpc_method_handler(lambda request, context: response)},
            )
        ]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        before = os.times()
        _, latencies, errors = _run_clients(
            f"127.0.0.1:{port}", request_file, clients, seconds, 10**9, folder, "floor"
        )
        after = os.times()
    finally:
        server.stop(0)
    count = len(latencies)
    return {
        "clients": clients,
        "requests_per_s": count / seconds,
        "errors": errors,
        **_cpu_per_request(before, after, count),
    }


def _measure(base_path, batching_options, clients, args, folder, request_file) -> dict:
    from serving.model_config import single_model_config
    from serving.model_server import ModelServer

    config = single_model_config("generator", base_path)
    server = ModelServer(
        config,
        port=0,
        poll_seconds=0,
        max_workers=args.max_workers,
        batching=batching_options,
    )
    port = server.start()
    target = f"127.0.0.1:{port}"
    tag = f"{'on' if batching_options else 'off'}-{clients}"
    try:
        # Warm-up: the same clients for a few seconds, then the measured run.
        _run_clients(target, request_file, clients, args.warmup_seconds, 10**9, folder, "w" + tag)
        rss_warm = _rss_mb()
        server.stats.reset()
        before = os.times()
        start_at, latencies, errors = _run_clients(
            target, request_file, clients, args.seconds, args.max_requests, folder, tag
        )
        after = os.times()
        rss_end = _rss_mb()
        stats = server.stats.snapshot()
    finally:
        server.stop(grace=1.0)
    del start_at
    values = np.asarray(latencies) * 1000.0
    count = int(values.size)
    handler = stats.get("handler_ms", {}).get("mean", float("nan"))
    model = stats.get("model_ms", {}).get("mean", float("nan"))
    queue = stats.get("queue_ms", {}).get("mean", 0.0)
    calls = max(1, stats["model_calls"])
    requests_served = max(1, stats["requests"])
    return {
        "batching": bool(batching_options),
        "clients": clients,
        "requests": count,
        "requests_per_s": count / args.seconds,
        "p50_ms": float(np.percentile(values, 50)) if count else float("nan"),
        "p99_ms": float(np.percentile(values, 99)) if count else float("nan"),
        "errors": errors,
        "rss_mb_after_warmup": rss_warm,
        "rss_mb_end": rss_end,
        "model_calls": stats["model_calls"],
        "requests_per_model_call": requests_served / calls,
        "model_call_ms": model,
        "model_ms_per_request": model * calls / requests_served,
        "queue_ms": queue,
        # Each request waits through its whole (possibly merged) model call.
        "handler_other_ms": handler - queue - model,
        "transport_and_client_ms": float(values.mean()) - handler if count else float("nan"),
        **_cpu_per_request(before, after, count),
    }


def _cpu_per_request(before, after, count: int) -> dict:
    """CPU-ms (user + system) per request of this process (the server, all its threads) and of
    the client processes reaped between the two `os.times()`."""

    def per_request(seconds: float) -> float:
        return seconds * 1000.0 / count if count else float("nan")

    return {
        "server_cpu_ms_per_request": per_request(
            after.user + after.system - before.user - before.system
        ),
        "client_cpu_ms_per_request": per_request(
            after.children_user
            + after.children_system
            - before.children_user
            - before.children_system
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--clients", type=int, nargs="+", default=[8, 32], help="client counts, each run twice"
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per run")
    parser.add_argument(
        "--warmup_seconds", type=float, default=3.0, help="unmeasured load before each run"
    )
    parser.add_argument(
        "--max_requests", type=int, default=200_000, help="per client, bounds each run"
    )
    parser.add_argument("--max_workers", type=int, default=64, help="server gRPC threads")
    parser.add_argument(
        "--image_size", type=int, default=32, help="generator output size (the main job's: 32)"
    )
    parser.add_argument("--ngf", type=int, default=32, help="generator width (the main job's)")
    parser.add_argument("--z_dim", type=int, default=100, help="latent size")
    parser.add_argument(
        "--batching_parameters_file",
        default=os.path.join(REPO_ROOT, "serving", "batching_parameters.txt"),
        help="BatchingParameters text proto for the batching-on runs",
    )
    parser.add_argument(
        "--tensorflow_intra_op_parallelism",
        type=int,
        default=0,
        help="threads one op may use (0: TensorFlow's choice, the server's and the official "
        "server's default)",
    )
    parser.add_argument(
        "--tensorflow_inter_op_parallelism",
        type=int,
        default=0,
        help="ops run at once in one model call (0: TensorFlow's choice, the default)",
    )
    parser.add_argument("--json", default="", help="also write the results here")
    args = parser.parse_args()
    from serving.model_server import set_tensorflow_threads

    set_tensorflow_threads(
        args.tensorflow_intra_op_parallelism, args.tensorflow_inter_op_parallelism
    )
    if args.seconds <= 0 or args.seconds > 600 or min(args.clients) < 1:
        parser.error("--seconds must be in (0, 600] and --clients >= 1 (the run is bounded)")

    from serving.batching import load_batching_options

    batching_options = load_batching_options(args.batching_parameters_file)
    results = []
    with tempfile.TemporaryDirectory() as folder:
        base_path = _export(folder, args)
        request_file = os.path.join(folder, "request.bin")
        with open(request_file, "wb") as handle:
            handle.write(_request_bytes(args.z_dim))
        alone = _model_alone(base_path, args.z_dim)
        # The request's output_filter keeps only `images`: uint8 [1, S, S, 3] plus proto framing.
        response_bytes = args.image_size * args.image_size * 3 + 64
        floor = _grpc_floor(request_file, response_bytes, args.clients[0], 5.0, folder)
        for clients in args.clients:
            for options in (None, batching_options):
                result = _measure(base_path, options, clients, args, folder, request_file)
                results.append(result)
                print(json.dumps(result), flush=True)
    print()
    print(
        f"generator serving_default, batch 1, {args.image_size}x{args.image_size} ngf {args.ngf}; "
        f"{args.seconds:.0f} s per run after {args.warmup_seconds:.0f} s warm-up; TensorFlow "
        f"threads intra_op {args.tensorflow_intra_op_parallelism or 'auto'}, inter_op "
        f"{args.tensorflow_inter_op_parallelism or 'auto'}; "
        f"{os.cpu_count()} cores shared by clients and server"
    )
    header = (
        f"{'batching':>8} {'clients':>7} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'errors':>7} "
        f"{'RSS warm':>9} {'RSS end':>8} {'req/call':>8} {'call ms':>7} {'share':>6} {'queue':>6} "
        f"{'handler':>7} {'grpc+cl':>7} {'srv cpu':>7} {'cl cpu':>6}"
    )
    print(header)
    for r in results:
        print(
            f"{'on' if r['batching'] else 'off':>8} {r['clients']:>7} {r['requests_per_s']:>8.0f} "
            f"{r['p50_ms']:>7.2f} {r['p99_ms']:>7.2f} {sum(r['errors'].values()):>7} "
            f"{r['rss_mb_after_warmup']:>8.0f}M {r['rss_mb_end']:>7.0f}M "
            f"{r['requests_per_model_call']:>8.1f} {r['model_call_ms']:>7.2f} "
            f"{r['model_ms_per_request']:>6.2f} "
            f"{r['queue_ms']:>6.2f} {r['handler_other_ms']:>7.2f} "
            f"{r['transport_and_client_ms']:>7.2f} {r['server_cpu_ms_per_request']:>7.2f} "
            f"{r['client_cpu_ms_per_request']:>6.2f}"
        )
    print(
        "the model alone, in this process: CPU ms per row at batch "
        + ", ".join(f"{batch}: {value:.2f}" for batch, value in alone.items())
    )
    print(
        f"the gRPC floor: {floor['clients']} clients against a Python gRPC server answering canned "
        f"bytes: {floor['requests_per_s']:.0f} req/s, server {floor['server_cpu_ms_per_request']:.2f}"
        f" + clients {floor['client_cpu_ms_per_request']:.2f} CPU ms per request"
    )
    print(
        "call ms: one model call (a request waits through all of it); share: call time per request "
        "(a merged call shared by its requests); queue: batching wait; handler: the rest of the "
        "server's Predict; grpc+cl: client latency - handler; srv cpu / cl cpu: CPU time (user + "
        "system) per request of the server process and of all client processes (ms; the machine "
        f"has {os.cpu_count() * 1000} CPU-ms per second)"
    )
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(
                {"runs": results, "model_alone_cpu_ms_per_row": alone, "grpc_floor": floor},
                handle,
                indent=1,
            )


if __name__ == "__main__":
    main()
