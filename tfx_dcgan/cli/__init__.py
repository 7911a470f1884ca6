"""`tfx-dcgan <command> [flags]`: one console script, one module per command.

Each command is an absl app in its own module; the flags are defined once in `flags.py` and
each command's `cli_command.Command` names the ones it reads (so `tfx-dcgan train --help` lists just
the training flags, and a flag of another command is refused). This dispatcher only picks the
module, so importing one command never loads another's dependencies (TFX takes ~55 s to import).
"""

from __future__ import annotations

import importlib
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "train": (
        "tfx_dcgan.cli.train",
        "train a DCGAN on a folder of images (checkpoints, TensorBoard, PNG grids)",
    ),
    "pipeline": (
        "pipelines.local_runner",
        "run the TFX pipeline locally (ingest, Transform, Trainer, Pusher)",
    ),
    "sample": (
        "tfx_dcgan.cli.sample",
        "ask a TF Serving PredictionService for samples and write a PNG grid",
    ),
    "probe": (
        "tfx_dcgan.cli.probe",
        "the paper's feature-probe table: trained D, random D, supervised CNN",
    ),
    "fid": (
        "tfx_dcgan.cli.fid",
        "FID and KID of a model (or a folder) against real images, reference Inception",
    ),
    "report": (
        "tfx_dcgan.cli.report",
        "(re)write a pipeline run's HTML report from its ML Metadata",
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


def run_command(main, argv: list[str] | None, command, doc: str = "") -> None:
    """Runs an absl `main` as `command` (a `cli_command.Command`).

    Applies the command's defaults, reads $TFX_DCGAN_FLAGFILE before the command line, prints
    the command's own `--help` (absl's lists the flags of the program's main module, which for a
    console script is the script stub), and refuses flags of other commands before `main` runs.
    """
    from tfx_dcgan.cli import command as cli_command
    from tfx_dcgan.config import ConfigError

    from absl import app

    argv = list(sys.argv if argv is None else argv)
    command.apply_defaults()
    if any(arg in ("-h", "--help", "-help", "--helpshort", "--helpfull") for arg in argv[1:]):
        print(command.help_text(doc))
        sys.exit(0)
    try:
        argv = command.with_environment_flagfile(argv)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)

    def checked_main(args: list[str]):
        try:
            command.check_given_flags()
        except ConfigError as error:
            print(f"error: {cli_command.flag_error_message(error)}", file=sys.stderr)
            return 2
        return main(args)

    app.run(checked_main, argv=argv)
