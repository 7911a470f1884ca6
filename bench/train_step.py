"""Times the project's full DCGAN training step on this machine: images/s and achieved GFLOP/s.

The step is the one training uses: `gan_step.create_gan_state` + `gan_step.make_train_step` under
`tf.distribute.get_strategy()` (D update on a real and a fake batch, then G update through the
updated D; Adam(2e-4, 0.5)). The real batch is a fixed synthetic tensor, float32
[batch, size, size, 3] uniform in [-1, 1]: data loading is not timed.

Widths follow the table in ../shared/STACK.md ("Speed on this CPU") unless --ngf/--ndf are given:
  32x32: ngf=ndf=128 -> G 512-256-128, D 128-256-512
  64x64: ngf=ndf=64  -> G 512-256-128-64, D 64-128-256-512

FLOPs are counted analytically exactly as ../shared/bench/torch_dcgan_step.py counts them, so the
two scripts' GFLOP/s compare directly: 2 * 3 * (G_macs + 3 * D_macs) per step (G forward once, D
forward three times, backward ~2x forward), where the MACs are those of the convolutions and the
dense layers at the given batch.

Every variant (size x {tf.function, XLA} x oneDNN {on, off}) runs in a fresh subprocess, because
TF_ENABLE_ONEDNN_OPTS is read when TensorFlow is imported. Each prints one JSON line; a table
follows at the end. The project's default is oneDNN on (tfx_dcgan/__init__.py).

Examples (from the repository root):
  .venv/bin/python bench/train_step.py --steps 2 --warmup 1 --onednn on,off      # smoke run
  .venv/bin/python bench/train_step.py --sizes 32,64 --steps 8 --warmup 2
  .venv/bin/python bench/train_step.py --sizes 32 --modes xla --steps 3 --warmup 1
The PyTorch peer on the same shapes (see bench/README.md for its set-up):
  /tmp/torchref/bin/python ../shared/bench/torch_dcgan_step.py --size 32 --ngf 128 --ndf 128 \\
      --kernel 5 --batch 128 --steps 8 --warmup 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_WIDTHS = {32: 128, 64: 64}  # ngf = ndf, as in ../shared/STACK.md's table
MODES = ("graph", "xla")


def widths(size: int, base: int, growing: bool) -> list[int]:
    """Channel counts, as in the torch script: G shrinking from the 4x4 map, D growing."""
    n = size.bit_length() - 3  # stride-2 layers between 4x4 and size
    w = [base * 2**i for i in range(n)]
    return w if growing else w[::-1]


def conv_macs(
    size: int, channels: int, z_dim: int, ngf: int, ndf: int, k: int, batch: int
) -> tuple[int, int]:
    """Multiply-accumulates of one forward pass of G and of D over a batch (analytic).

    Identical to `conv_macs` in ../shared/bench/torch_dcgan_step.py.
    """
    gw, dw = widths(size, ngf, False), widths(size, ndf, True)
    g = z_dim * gw[0] * 16
    res = 4
    for a, b in zip(gw, gw[1:] + [channels]):
        g += res * res * a * b * k * k  # a stride-2 transposed conv: k*k*a*b MACs per input pixel
        res *= 2
    d, res, prev = 0, size, channels
    for w in dw:
        res //= 2
        d += res * res * prev * w * k * k
        prev = w
    d += dw[-1] * 16
    return g * batch, d * batch


def step_flops(size: int, channels: int, z_dim: int, ngf: int, ndf: int, k: int, batch: int) -> int:
    """FLOPs of one training step: 2 * 3 * (G_macs + 3 * D_macs), as the torch script counts."""
    g_macs, d_macs = conv_macs(size, channels, z_dim, ngf, ndf, k, batch)
    return 2 * 3 * (g_macs + 3 * d_macs)


def _load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _build_step(args: argparse.Namespace):
    """(train_step, real_images, ngf, ndf) of the variant `args` names, built in this process."""
    sys.path.insert(0, REPO_ROOT)
    import tfx_dcgan  # noqa: F401  (sets TF_USE_LEGACY_KERAS / TF_ENABLE_ONEDNN_OPTS defaults)
    from tfx_dcgan import gan_step
    from tfx_dcgan.config import ExperimentConfig, ModelConfig, TrainConfig

    import tensorflow as tf

    if args.intra_op:
        tf.config.threading.set_intra_op_parallelism_threads(args.intra_op)
    if args.inter_op:
        tf.config.threading.set_inter_op_parallelism_threads(args.inter_op)
    size = args.size
    ngf = args.ngf or DEFAULT_WIDTHS.get(size, 64)
    ndf = args.ndf or DEFAULT_WIDTHS.get(size, 64)
    config = ExperimentConfig(
        model=ModelConfig(
            image_size=size,
            channels=args.channels,
            z_dim=args.z_dim,
            ngf=ngf,
            ndf=ndf,
            kernel_size=args.kernel,
        ),
        train=TrainConfig(batch_size=args.batch, strategy="default"),
    )
    strategy = tf.distribute.get_strategy()
    state = gan_step.create_gan_state(config, strategy)
    train_step = gan_step.make_train_step(state, config, strategy, jit_compile=args.mode == "xla")
    real_images = tf.random.stateless_uniform(
        [args.batch, size, size, args.channels], seed=[1, 2], minval=-1.0, maxval=1.0
    )
    return train_step, real_images, ngf, ndf


def _time_steps(train_step, real_images, warmup: int, steps: int):
    """(first step seconds, timed step seconds, the last step's losses)."""

    def timed_step() -> tuple[float, dict[str, float]]:
        start = time.perf_counter()
        metrics = train_step(real_images)
        # Fetching the values waits for the step to finish.
        values = {name: float(value) for name, value in metrics.items()}
        return time.perf_counter() - start, values

    first_s, _ = timed_step()  # traces (and with XLA compiles) the step
    for _ in range(warmup):
        timed_step()
    times = []
    values: dict[str, float] = {}
    for _ in range(steps):
        seconds, values = timed_step()
        times.append(seconds)
    return first_s, times, values


def run_worker(args: argparse.Namespace) -> None:
    """Builds and times one variant in this process; prints one JSON line."""
    load_start = _load_average()
    wall_start = time.strftime("%H:%M:%S")
    train_step, real_images, ngf, ndf = _build_step(args)
    first_s, times, values = _time_steps(train_step, real_images, args.warmup, args.steps)

    import numpy as np
    import tensorflow as tf

    size = args.size
    median = statistics.median(times)
    flops = step_flops(size, args.channels, args.z_dim, ngf, ndf, args.kernel, args.batch)
    record = {
        "framework": f"tf {tf.__version__}",
        "variant": f"{size}x{size} {args.mode} onednn={os.environ.get('TF_ENABLE_ONEDNN_OPTS')}",
        "size": size,
        "batch": args.batch,
        "ngf": ngf,
        "ndf": ndf,
        "kernel": args.kernel,
        "mode": args.mode,
        "jit_compile": args.mode == "xla",
        "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
        "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
        "steps": args.steps,
        "warmup": args.warmup,
        "first_step_s": round(first_s, 2),
        "median_step_s": round(median, 4),
        "min_step_s": round(min(times), 4),
        "max_step_s": round(max(times), 4),
        "images_per_s": round(args.batch / median, 1),
        "gflop_per_step": round(flops / 1e9, 2),
        "gflop_per_s": round(flops / median / 1e9, 1),
        "losses_finite": all(np.isfinite(v) for v in values.values()),
        "losses": {k: round(v, 4) for k, v in values.items()},
        "started": wall_start,
        "load_avg_start": load_start,
        "load_avg_end": _load_average(),
    }
    print(json.dumps(record), flush=True)


def _split(text: str, allowed: tuple[str, ...] | None, flag: str) -> list[str]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise SystemExit(f"--{flag}: expected a comma-separated list, got {text!r}")
    if allowed:
        bad = [item for item in items if item not in allowed]
        if bad:
            raise SystemExit(f"--{flag}: {bad} not in {list(allowed)}")
    return items


def _format_table(records: list[dict]) -> str:
    header = (
        f"{'variant':<28} {'img/s':>7} {'GFLOP/s':>8} {'step s':>8} {'first s':>8} "
        f"{'GFLOP/step':>10} {'threads':>7} {'load avg (1m)':>14}"
    )
    lines = [header, "-" * len(header)]
    for r in records:
        if "error" in r:
            lines.append(f"{r['variant']:<28} FAILED: {r['error']}")
            continue
        load = f"{r['load_avg_start'][0]:.2f}->{r['load_avg_end'][0]:.2f}"
        # 0 means TF's default (intra: one per core; inter: chosen by TF).
        threads = f"{r['intra_op'] or 'd'}/{r['inter_op'] or 'd'}"
        lines.append(
            f"{r['variant']:<28} {r['images_per_s']:>7.1f} {r['gflop_per_s']:>8.1f} "
            f"{r['median_step_s']:>8.3f} {r['first_step_s']:>8.1f} {r['gflop_per_step']:>10.1f} "
            f"{threads:>7} {load:>14}"
        )
    return "\n".join(lines)


def _run_variant(args: argparse.Namespace, size: int, mode: str, dnn: str) -> dict:
    """One variant in a fresh subprocess: its JSON record, or {"variant", "error"}."""
    steps = args.xla_steps if (mode == "xla" and args.xla_steps) else args.steps
    command = [
        sys.executable,
        os.path.abspath(__file__),
        "--worker",
        f"--size={size}",
        f"--mode={mode}",
        f"--batch={args.batch}",
        f"--kernel={args.kernel}",
        f"--channels={args.channels}",
        f"--z_dim={args.z_dim}",
        f"--ngf={args.ngf}",
        f"--ndf={args.ndf}",
        f"--steps={steps}",
        f"--warmup={args.warmup}",
        f"--intra_op={args.intra_op}",
        f"--inter_op={args.inter_op}",
    ]
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS="1" if dnn == "on" else "0")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    variant = f"{size}x{size} {mode} onednn={env['TF_ENABLE_ONEDNN_OPTS']}"
    try:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=args.timeout
        )
    except subprocess.TimeoutExpired:
        return {"variant": variant, "error": f"timeout {args.timeout}s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        return {"variant": variant, "error": f"exit {done.returncode}: {' | '.join(tail)}"}
    return json.loads(lines[-1])


def run_all(args: argparse.Namespace) -> None:
    """Runs every requested variant in a fresh subprocess, then prints the table."""
    sizes = [int(s) for s in _split(args.sizes, None, "sizes")]
    for size in sizes:
        if size < 16 or size & (size - 1):
            raise SystemExit(f"--sizes: {size} is not a power of two >= 16")
    modes = _split(args.modes, MODES, "modes")
    onednn = _split(args.onednn, ("on", "off"), "onednn")
    xla_sizes = (
        [int(s) for s in _split(args.xla_sizes, None, "xla_sizes")] if args.xla_sizes else sizes
    )
    records = []
    for size in sizes:
        for mode in modes:
            if mode == "xla" and size not in xla_sizes:
                continue
            for dnn in onednn:
                records.append(_run_variant(args, size, mode, dnn))
                print(json.dumps(records[-1]), flush=True)
    print()
    print(_format_table(records))
    if any("error" in r for r in records):
        sys.exit(1)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", default="32,64", help="comma list of image sides (default 32,64)"
    )
    parser.add_argument(
        "--modes",
        default="graph,xla",
        help="comma list of: graph (tf.function), xla (tf.function(jit_compile=True))",
    )
    parser.add_argument(
        "--onednn",
        default="on",
        help="comma list of on/off: TF_ENABLE_ONEDNN_OPTS for each variant (default on, the "
        "project's default)",
    )
    parser.add_argument(
        "--xla_sizes",
        default="",
        help="sizes to run the xla mode at (default: all of --sizes); XLA on CPU is slow",
    )
    _add_model_and_timing_arguments(parser)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, default=32, help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="graph", choices=MODES, help=argparse.SUPPRESS)
    return parser


def _add_model_and_timing_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch", type=int, default=128, help="global batch (default 128)")
    parser.add_argument(
        "--kernel",
        type=int,
        default=5,
        help="conv kernel side: 5 (the authors' code, STACK.md's table) or 4 (dcgan.torch)",
    )
    parser.add_argument("--channels", type=int, default=3, help="image channels (default 3)")
    parser.add_argument("--z_dim", type=int, default=100, help="length of z (default 100)")
    parser.add_argument(
        "--ngf",
        type=int,
        default=0,
        help="G width; 0 = per-size default (32: 128, 64: 64), as in STACK.md's table",
    )
    parser.add_argument(
        "--ndf",
        type=int,
        default=0,
        help="D width; 0 = per-size default (32: 128, 64: 64), as in STACK.md's table",
    )
    parser.add_argument("--steps", type=int, default=8, help="timed steps (median reported)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps after the first")
    parser.add_argument(
        "--xla_steps", type=int, default=0, help="timed steps for xla variants (0 = --steps)"
    )
    parser.add_argument(
        "--intra_op",
        type=int,
        default=0,
        help="tf.config.threading intra-op threads (0 = TF's default: one per core)",
    )
    parser.add_argument(
        "--inter_op",
        type=int,
        default=0,
        help="tf.config.threading inter-op threads (0 = TF's default)",
    )
    parser.add_argument(
        "--timeout", type=int, default=1800, help="seconds before a variant's subprocess is killed"
    )


def main() -> None:
    parser = _parser()
    args = parser.parse_args()
    for name in ("batch", "kernel", "steps", "z_dim"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name} must be positive, got {getattr(args, name)}")
    if args.warmup < 0:
        parser.error(f"--warmup must be >= 0, got {args.warmup}")
    if args.worker:
        run_worker(args)
    else:
        run_all(args)


if __name__ == "__main__":
    main()
