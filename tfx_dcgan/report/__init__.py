"""The run report: one self-contained HTML page per pipeline run, made from ML Metadata alone.

    write_report(output_dir, pipeline_name)   -> the page's path (<output_dir>/report.html)
    report_line(output_dir, pipeline_name)    -> "run report:        <path>" (the runner's last line)

`collect` gathers the run from `<output_dir>/metadata.db` and the artifacts it names, `plots`
draws the figures (matplotlib, Agg) and `html_page` lays them out with every image inlined: the
page loads nothing from the network. The local runner calls `write_report` at the end of each run;
`tfx-dcgan report <output_dir>` calls it for any earlier run.
"""

from __future__ import annotations

from tfx_dcgan import fileio
from tfx_dcgan.report.collect import ReportError, RunReport, collect_run

__all__ = [
    "REPORT_FILE",
    "ReportError",
    "RunReport",
    "collect_run",
    "default_report_path",
    "report_line",
    "write_report",
]

REPORT_FILE = "report.html"


def default_report_path(output_dir: str) -> str:
    """Where a run's report goes by default: `<output_dir>/report.html`."""
    return fileio.join(output_dir, REPORT_FILE)


def write_report(output_dir: str, pipeline_name: str, out_path: str | None = None) -> str:
    """Writes the report of the latest run of `pipeline_name` in `output_dir` (replacing the file
    whole); returns its path.

    Args:
      output_dir: the pipeline's --output_dir (holding metadata.db).
      pipeline_name: the pipeline's name (its MLMD context).
      out_path: the HTML file (default `<output_dir>/report.html`).

    Raises:
      ReportError: no metadata.db in `output_dir`, or no run of the pipeline in it.
    """
    from tfx_dcgan.report import html_page

    report = collect_run(output_dir, pipeline_name)
    path = out_path or default_report_path(output_dir)
    fileio.write_atomically(path, html_page.render_html(report))
    return path


def report_line(output_dir: str, pipeline_name: str) -> str:
    """Writes the run's report and returns the line a runner prints last: its path, or why no
    report was written (a report that cannot be made never fails a run that succeeded)."""
    from absl import logging

    try:
        return f"run report:        {write_report(output_dir, pipeline_name)}"
    except Exception as error:  # noqa: BLE001 - the run itself succeeded
        logging.exception("the run report was not written")
        return f"run report:        not written ({type(error).__name__}: {error})"
