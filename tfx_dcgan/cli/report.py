"""`tfx-dcgan report <output_dir>`: (re)writes the run report of a pipeline run from ML Metadata.

Reads `<output_dir>/metadata.db` (the pipeline's --output_dir) and the artifacts it names, and
writes one self-contained HTML page (every image inlined, nothing loaded from the network): the
sample grid and training-progress strip, loss and D(x) / D(G(z)) curves, the probe's per-class
accuracy and confusion matrix, FID/KID, the ingest's skip counts and first skipped files,
ExampleValidator's anomalies, component timings, the pushed versions and the serving command.
Works for any earlier run, cached or not; prints the page's path.

  tfx-dcgan report runs/pipeline                          # -> runs/pipeline/report.html
  tfx-dcgan report /tmp/e2e --pipeline_name=e2e_dcgan --html=/tmp/e2e.html
"""

from __future__ import annotations

import sys

import tfx_dcgan  # noqa: F401  (environment defaults before TensorFlow loads)
from tfx_dcgan.cli import command as cli_command

from absl import flags

FLAGS = flags.FLAGS

# `--html`, not `--out`: `tfx-dcgan sample` defines --out, and both modules may be imported in one
# process (the tests).
flags.DEFINE_string(
    "html", None, "The HTML file to write (default: <output_dir>/report.html, replaced whole)."
)

COMMAND = cli_command.Command(
    name="tfx-dcgan report",
    flag_names=("pipeline_name",),
    help_overrides={
        "pipeline_name": "The pipeline whose latest run to report (its ML Metadata context name; "
        "the same as `tfx-dcgan pipeline --pipeline_name`)."
    },
    own_flags_module=__name__,
)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(
            "usage: tfx-dcgan report <output_dir> [--pipeline_name=NAME] [--html=FILE]\n"
            "  <output_dir>: the pipeline's --output_dir, holding metadata.db",
            file=sys.stderr,
        )
        return 2
    from tfx_dcgan import report

    try:
        path = report.write_report(argv[1], FLAGS.pipeline_name, FLAGS.html)
    except report.ReportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(path)
    return 0


def run(argv: list[str] | None = None) -> None:
    """Console entry (`tfx-dcgan report`): parses flags and runs main."""
    from tfx_dcgan.cli import run_command

    run_command(main, argv, COMMAND, __doc__)


if __name__ == "__main__":
    run()
