"""Latency and throughput of Predict through the local server on loopback, against the floor.

Measures, for the generator's `serving_default` (z float32 [batch, z_dim] -> uint8 images):
  * in-process: the same SavedModel signature called directly (`tf.saved_model.load`), the floor;
  * gRPC: Predict through `serving/server.py` running in its own process on 127.0.0.1 (client and
    server do not share a GIL), one request at a time: p50 / p99 latency, and the ratio to the
    floor (what gRPC + TensorProto conversion cost);
  * throughput: `--clients` threads sending batch-1 requests concurrently, bounded by
    `--throughput_requests` in total and `--max_seconds`.

By default it exports a random-init generator of the given size (the weights do not change the
cost) into a temporary versioned folder. `--model_base_path` serves an existing Pusher folder
(<path>/<version>/saved_model.pb) instead; `--server host:port` skips starting a server and
benchmarks one already running (e.g. the official tensorflow_model_server with the same model;
the in-process floor then needs --model_base_path).

Example (from the repository root):
  .venv/bin/python bench/serving.py --image_size 32 --ngf 8 --requests 200 --max_seconds 10
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

import tfx_dcgan  # noqa: E402,F401  (environment defaults before TensorFlow loads)

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def _percentiles(seconds: list[float]) -> dict[str, float]:
    values = np.asarray(seconds) * 1000.0
    return {
        "p50_ms": float(np.percentile(values, 50)),
        "p99_ms": float(np.percentile(values, 99)),
        "mean_ms": float(values.mean()),
        "n": int(values.size),
    }


def _timed(call, requests: int, warmup: int, max_seconds: float) -> list[float]:
    for _ in range(warmup):
        call()
    times = []
    deadline = time.monotonic() + max_seconds
    while len(times) < requests and time.monotonic() < deadline:
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def _export_tiny(folder: str, args) -> str:
    from tfx_dcgan import export, models
    from tfx_dcgan.config import ModelConfig

    config = ModelConfig(
        image_size=args.image_size, channels=3, z_dim=args.z_dim, ngf=args.ngf, ndf=args.ngf
    )
    base = os.path.join(folder, "generator")
    export.export_generator(
        models.build_generator(config, seed=0), config, os.path.join(base, "1"), step=0
    )
    return base


def _start_server(base_path: str, folder: str) -> tuple[subprocess.Popen, int]:
    port_file = os.path.join(folder, "port")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "serving.server",
            "--model_name=generator",
            f"--model_base_path={base_path}",
            "--port=0",
            f"--port_file={port_file}",
            "--file_system_poll_wait_seconds=0",
        ],
        cwd=REPO_ROOT,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 180
    while not os.path.exists(port_file):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"server did not start: {process.stderr.read()[-2000:]}")
        time.sleep(0.1)
    with open(port_file) as handle:
        return process, int(handle.read())


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image_size", type=int, default=32)
    parser.add_argument("--ngf", type=int, default=8, help="G (and D) width of the tiny model")
    parser.add_argument("--z_dim", type=int, default=100)
    parser.add_argument("--batch_sizes", default="1,64")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per batch size")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--throughput_requests", type=int, default=1000)
    parser.add_argument("--max_seconds", type=float, default=10.0, help="bound of each phase")
    parser.add_argument("--model_base_path", default=None, help="serve this Pusher folder instead")
    parser.add_argument("--server", default=None, help="host:port of a running server to measure")
    parser.add_argument("--json_out", default=None)
    return parser.parse_args()


def _measure_latency(client, signature, z_dim: int, args: argparse.Namespace) -> dict:
    """Per batch size: in-process signature call (the floor) against the same call over gRPC."""
    rng = np.random.default_rng(0)
    latency = {}
    for batch in (int(b) for b in args.batch_sizes.split(",")):
        z = rng.uniform(-1, 1, (batch, z_dim)).astype(np.float32)
        z_tensor = tf.constant(z)
        floor = _timed(
            lambda: signature(z=z_tensor)["images"].numpy(),  # noqa: B023
            args.requests,
            args.warmup,
            args.max_seconds,
        )
        remote = _timed(
            lambda: client.predict("generator", "serving_default", {"z": z}),  # noqa: B023
            args.requests,
            args.warmup,
            args.max_seconds,
        )
        entry = {"in_process": _percentiles(floor), "grpc": _percentiles(remote)}
        entry["p50_ratio"] = entry["grpc"]["p50_ms"] / entry["in_process"]["p50_ms"]
        latency[batch] = entry
    return latency


def _measure_throughput(target: str, z_dim: int, args: argparse.Namespace) -> dict:
    """Requests/s of `args.clients` concurrent clients, each on its own channel, batch 1."""
    from serving.client import ServingClient

    z1 = np.random.default_rng(1).uniform(-1, 1, (1, z_dim)).astype(np.float32)
    count = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + args.max_seconds

    def worker():
        with ServingClient(target, timeout=60) as own:
            while time.monotonic() < deadline:
                with lock:
                    if count[0] >= args.throughput_requests:
                        return
                    count[0] += 1
                own.predict("generator", "serving_default", {"z": z1})

    threads = [threading.Thread(target=worker) for _ in range(args.clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    return {
        "clients": args.clients,
        "requests": count[0],
        "seconds": elapsed,
        "requests_per_s": count[0] / elapsed,
    }


def _print_results(results: dict, args: argparse.Namespace) -> None:
    print(f"model: generator {args.image_size}x{args.image_size}, ngf {args.ngf}, z {args.z_dim}")
    print(f"{'batch':>5} {'in-process p50/p99 ms':>22} {'gRPC p50/p99 ms':>18} {'gRPC/floor':>10}")
    for batch, entry in results["latency"].items():
        floor, remote = entry["in_process"], entry["grpc"]
        print(
            f"{batch:>5} {floor['p50_ms']:>10.2f} / {floor['p99_ms']:<9.2f} "
            f"{remote['p50_ms']:>7.2f} / {remote['p99_ms']:<8.2f} {entry['p50_ratio']:>8.1f}x"
        )
    t = results["throughput"]
    print(
        f"throughput: {t['requests_per_s']:.0f} requests/s (batch 1) with {t['clients']} clients "
        f"({t['requests']} requests in {t['seconds']:.1f} s)"
    )


def main() -> None:
    args = _parse_args()
    from serving.client import ServingClient

    results: dict = {"config": vars(args).copy(), "latency": {}, "throughput": {}}
    with tempfile.TemporaryDirectory() as folder:
        base_path = args.model_base_path or _export_tiny(folder, args)
        versions = sorted(int(v) for v in os.listdir(base_path) if v.isdigit())
        signature = tf.saved_model.load(os.path.join(base_path, str(versions[-1]))).signatures[
            "serving_default"
        ]
        z_dim = int(signature.structured_input_signature[1]["z"].shape[-1])
        process = None
        if args.server:
            target = args.server
        else:
            process, port = _start_server(base_path, folder)
            target = f"127.0.0.1:{port}"
        try:
            with ServingClient(target, timeout=60) as client:
                results["latency"] = _measure_latency(client, signature, z_dim, args)
            results["throughput"] = _measure_throughput(target, z_dim, args)
        finally:
            if process is not None:
                process.terminate()
                process.wait(timeout=60)
    _print_results(results, args)
    if args.json_out:
        with open(args.json_out, "w") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
