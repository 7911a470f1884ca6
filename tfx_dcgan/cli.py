"""`tfx-dcgan <command> [flags]`: one console script, one module per command.

Each command is an absl app in its own module (its flags live there and nowhere below it); this
dispatcher only picks the module, so `tfx-dcgan train --help` lists just the training flags and
importing one command never loads another's dependencies (TFX takes ~55 s to import).
"""

from __future__ import annotations

import importlib
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "train": (
        "tfx_dcgan.train",
        "train a DCGAN on a folder of images (checkpoints, TensorBoard, PNG grids)",
    ),
    "pipeline": (
        "pipelines.local_runner",
        "run the TFX pipeline locally (ingest, Transform, Trainer, Pusher)",
    ),
    "sample": (
        "tfx_dcgan.sample",
        "ask a TF Serving PredictionService for samples and write a PNG grid",
    ),
    "probe": (
        "tfx_dcgan.probe_cli",
        "the paper's feature-probe table: trained D, random D, supervised CNN",
    ),
}


def _usage() -> str:
    lines = [
        "usage: tfx-dcgan <command> [--flags]   (tfx-dcgan <command> --help for its flags)",
        "",
        "commands:",
    ]
    lines += [f"  {name:<9} {text}" for name, (_, text) in COMMANDS.items()]
    return "\n".join(lines)


def run(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    if len(argv) < 2 or argv[1] in ("-h", "--help", "help"):
        print(_usage())
        sys.exit(0 if len(argv) >= 2 else 2)
    command = argv[1]
    if command not in COMMANDS:
        print(f"error: unknown command {command!r}\n\n{_usage()}", file=sys.stderr)
        sys.exit(2)
    module = importlib.import_module(COMMANDS[command][0])
    module.run([f"tfx-dcgan {command}"] + argv[2:])


if __name__ == "__main__":
    run()


def run_command(main, argv: list[str] | None, module_name: str) -> None:
    """Runs an absl `main` for a command module, with `--help` listing that module's flags.

    absl's own `--help` lists the flags of the program's main module, which for a console script
    is the script stub, so the commands print their help here instead.
    """
    from absl import app, flags

    argv = list(sys.argv if argv is None else argv)
    if any(arg in ("-h", "--help", "-help", "--helpshort") for arg in argv[1:]):
        module = sys.modules[module_name]
        print((module.__doc__ or "").strip())
        print(f"\nflags of {argv[0]}:")
        print(flags.FLAGS.module_help(module_name))
        sys.exit(0)
    app.run(main, argv=argv)
