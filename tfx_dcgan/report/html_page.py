"""The run report as one self-contained HTML page: inline CSS, every image a data: URI, no script,
nothing loaded from anywhere else.

`render_html(report)` lays out `SECTIONS` in order; a section without data says why (the
collector's note), and a section whose data cannot be drawn shows the error instead of failing
the page.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable

from tfx_dcgan.report import plots
from tfx_dcgan.report.collect import RunReport
from tfx_dcgan.report.html_parts import (
    CSS,
    data_uri,
    duration,
    empty,
    escape,
    img,
    number,
    std,
    table,
)

__all__ = ["SECTIONS", "render_html", "data_uri", "serving_commands"]

# (anchor id, heading): the page's sections, in order.
SECTIONS = (
    ("samples", "Sample grid"),
    ("progress", "Training progress"),
    ("curves", "Losses and discriminator outputs"),
    ("probe", "Feature probe"),
    ("quality", "Sample quality (FID / KID)"),
    ("ingest", "Ingest"),
    ("anomalies", "Data validation"),
    ("timings", "Component timings"),
    ("serving", "Pushed models and serving"),
)


def serving_commands(push_base: str, model_config: str = "serving/models.config") -> str:
    """The commands that serve the pushed versions with the local server and ask it for samples."""
    return (
        f"python -m serving.server --model_config_file={model_config} \\\n"
        f"    --model_base_path_root={push_base}    # 127.0.0.1:8500\n"
        "tfx-dcgan sample --server localhost:8500 --n 64 --out grid.png --scale 4"
    )


# -- sections ------------------------------------------------------------------------------------


def _samples(report: RunReport) -> str:
    if report.sample_grid_png is None:
        return empty(report.notes.get("samples", "no sample grid"))
    step = report.training.steps[-1] if report.training and report.training.steps else None
    caption = "G(fixed z) at the end of training" + (f" (step {step})" if step else "")
    path = f"{report.summary.model_run_dir}/samples/final.png"
    return (
        f"<figure>{img(report.sample_grid_png, 'sample grid', pixels=True, min_width=320)}"
        f"<figcaption>{escape(caption)}</figcaption></figure>"
        f'<p class="small">{escape(path)}</p>'
    )


def _progress(report: RunReport) -> str:
    if not report.progress:
        return empty(report.notes.get("progress", "no intermediate grids"))
    frames = "".join(
        f"<figure>{img(plots.thumbnail_png(frame.png, 176), f'step {frame.step}', pixels=True, min_width=120)}"
        f"<figcaption>step {frame.step}</figcaption></figure>"
        for frame in report.progress
    )
    note = report.notes.get("progress")
    return (
        '<p class="small">The same fixed z through G as training went on.</p>'
        + frames
        + (empty(note) if note else "")
    )


def _curves(report: RunReport) -> str:
    log = report.training
    if log is None or not log.steps:
        return empty(report.notes.get("curves", "no training log"))
    speeds = [v for v in log.images_per_second if not math.isnan(v)]
    last = len(log.steps) - 1
    rows = [
        [
            str(log.steps[last]),
            number(log.disc_loss[last]),
            number(log.gen_loss[last]),
            number(log.d_real[last], 3),
            number(log.d_fake[last], 3),
            f"{sum(speeds) / len(speeds):.1f}" if speeds else "n/a",
        ]
    ]
    return (
        img(plots.training_curves_png(log), "losses and discriminator outputs")
        + table(
            ["last step", "D loss", "G loss", "D(x)", "D(G(z))", "mean images/s"],
            rows,
            numeric={0, 1, 2, 3, 4, 5},
        )
        + f'<p class="small">{len(log.steps)} logged steps (train_log.jsonl of '
        f"{escape(report.summary.model_run_dir)}).</p>"
    )


def _probe(report: RunReport) -> str:
    evaluation = report.evaluation or {}
    probe = evaluation.get("probe")
    if not probe:
        return empty(report.notes.get("probe", "the probe did not run"))
    blessed = evaluation.get("blessed")
    verdict = (
        '<span class="badge good">BLESSED</span>'
        if blessed
        else '<span class="badge bad">NOT BLESSED</span>'
    )
    rows = [
        ["test accuracy", number(probe["accuracy"])],
        ["threshold", number(evaluation.get("accuracy_threshold"))],
        ["examples", f"{probe['num_train']} train / {probe['num_test']} test"],
        ["features", str(probe["feature_size"])],
        ["C (chosen on a hold-out)", f"{probe['chosen_c']:g}"],
    ]
    names = probe.get("class_names") or [str(i) for i in range(len(probe["per_class_accuracy"]))]
    return (
        f"<p>{verdict} {escape(evaluation.get('reason', ''))}</p>"
        + table(["", ""], rows)
        + f"<figure>{img(plots.per_class_accuracy_png(probe['per_class_accuracy'], names), 'per-class accuracy')}</figure>"
        + f"<figure>{img(plots.confusion_matrix_png(probe['confusion_matrix'], names), 'confusion matrix')}</figure>"
        + '<p class="small">A linear L2-SVM on the discriminator\'s features (Radford et al. '
        "2015, Section 5.1), through the exported feature extractor.</p>"
    )


def _quality(report: RunReport) -> str:
    quality = (report.evaluation or {}).get("sample_quality")
    if not quality:
        return empty(report.notes.get("quality", "FID/KID were not measured"))
    name = quality["name"]
    label = name[len("fid_") :]
    kid, kid_std = f"kid_{label}", f"kid_{label}_std"

    def row(what: str, figures: dict) -> list[str]:
        return [
            escape(what),
            number(figures.get(name), 2),
            f"{number(figures.get(kid))} &plusmn; {std(figures.get(kid_std))}",
            str(figures.get("num_generated", "")),
            str(figures.get("num_real", "")),
        ]

    rows = [row("this model's generator", quality)]
    titles = {
        "random_init_generator": "random-init generator (the roof)",
        "real_train": "real training images (the floor)",
    }
    for baseline, figures in quality.get("baselines", {}).items():
        rows.append(row(titles.get(baseline, baseline), figures))
    split = ((report.evaluation or {}).get("data") or {}).get("test_split", "eval")
    return (
        table([" ", name, kid, "images scored", "real images"], rows, numeric={1, 2, 3, 4})
        + f'<p class="small">Against the {escape(split)} split; lower is better. '
        f"{escape(quality.get('network', ''))}; real side "
        f"{'from the cache' if quality.get('real_cache_hit') else 'computed'}; "
        f"{number((quality.get('timings') or {}).get('total_s'), 1)} s.</p>"
    )


def _ingest(report: RunReport) -> str:
    ingest = report.ingest
    if not ingest:
        return empty(report.notes.get("ingest", "no ingest report"))
    counts = [
        ["files", str(ingest.get("num_files", "n/a"))],
        ["images written", str(ingest.get("num_images", "n/a"))],
        ["converted to PNG", str(ingest.get("num_converted", 0))],
        ["skipped", str(ingest.get("num_skipped", 0))],
    ]
    counts += [
        [f"&nbsp;&nbsp;skipped: {escape(key[len('num_skipped_') :].replace('_', ' '))}", str(value)]
        for key, value in sorted(ingest.items())
        if key.startswith("num_skipped_") and value
    ]
    vocabulary = ingest.get("label_vocabulary") or []
    parts = [
        table(["", "count"], counts, numeric={1}),
        f'<p class="small">{len(vocabulary)} classes: {escape(", ".join(vocabulary))}</p>'
        if vocabulary
        else "",
    ]
    skipped = ingest.get("first_skipped") or []
    if skipped:
        parts.append(f"<p>The first {len(skipped)} skipped files:</p>")
        parts.append(
            table(
                ["file", "reason", "detail"],
                [[f"<code>{escape(p)}</code>", escape(r), escape(d)] for p, r, d in skipped],
            )
        )
    else:
        parts.append(empty("no file was skipped"))
    return "".join(parts)


def _anomalies(report: RunReport) -> str:
    parts = []
    found = report.validator_anomalies
    if found is None:
        parts.append(empty(report.notes.get("anomalies", "no ExampleValidator output")))
    elif not found:
        parts.append(
            "<p>ExampleValidator: no anomalies; every split matches the curated schema.</p>"
        )
    else:
        parts.append(f"<p>ExampleValidator found {len(found)} anomalies:</p>")
        parts.append("<ul>" + "".join(f"<li>{escape(line)}</li>" for line in found) + "</ul>")
    gate = report.summary.anomalies
    if gate is not None:
        parts.append(
            "<p>SchemaGate: "
            + (
                f"{len(gate)} violations let through by --allow_anomalies."
                if gate
                else "passed (no violation of the data contract)."
            )
            + "</p>"
        )
    return "".join(parts)


def _timing_table(summary) -> str:
    components = sorted(summary.components.values(), key=lambda c: c.execution_id)
    longest = max((c.seconds for c in components), default=0.0) or 1.0
    rows = [
        [
            escape(c.node_id),
            escape(c.state),
            duration(c.seconds),
            f'<span class="bar" style="width:{max(1, round(240 * c.seconds / longest))}px"></span>',
        ]
        for c in components
    ]
    total = sum(c.seconds for c in components)
    rows.append(["<b>all components</b>", "", f"<b>{duration(total)}</b>", ""])
    return table(["component", "state", "wall time", ""], rows, numeric={2})


def _timings(report: RunReport) -> str:
    summary = report.summary
    if not summary.components:
        return empty("no component execution recorded for this run")
    parts = [
        f'<p class="small">Run {escape(summary.run_id)}: each execution\'s MLMD create to last '
        "update time.</p>",
        _timing_table(summary),
    ]
    if report.all_cached:
        parts.insert(0, empty("Every component was served from the cache in this run."))
        if report.executed_summary is not None:
            parts += [
                f"<p>The latest run that executed: {escape(report.executed_summary.run_id)}</p>",
                _timing_table(report.executed_summary),
            ]
    return "".join(parts)


def _serving(report: RunReport) -> str:
    summary = report.summary
    parts = []
    if summary.pushed_models:
        parts.append(
            table(
                ["model", "version", "folder"],
                [
                    [
                        escape(name),
                        escape(pushed["version"]),
                        f"<code>{escape(pushed['destination'])}</code>",
                    ]
                    for name, pushed in summary.pushed_models.items()
                ],
            )
        )
    else:
        parts.append(empty(report.notes.get("serving", "nothing pushed")))
    if report.push_base:
        parts.append(
            (
                "<p>Serve the pushed versions and ask for samples:</p>"
                if summary.pushed_models
                else "<p>Serve what earlier runs pushed there, if anything:</p>"
            )
            + f"<pre>{escape(serving_commands(report.push_base))}</pre>"
        )
    if summary.tensorboard_dir:
        parts.append(
            f"<p>Training curves in full: <code>tensorboard --logdir "
            f"{escape(summary.tensorboard_dir)}</code></p>"
        )
    return "".join(parts)


_RENDERERS: dict[str, Callable[[RunReport], str]] = {
    "samples": _samples,
    "progress": _progress,
    "curves": _curves,
    "probe": _probe,
    "quality": _quality,
    "ingest": _ingest,
    "anomalies": _anomalies,
    "timings": _timings,
    "serving": _serving,
}


def _badges(report: RunReport) -> str:
    summary = report.summary
    badges = []
    if summary.probe_accuracy is not None:
        badges.append(("", f"probe accuracy {summary.probe_accuracy:.3f}"))
    fids = [key for key in summary.sample_quality if key.startswith("fid_")]
    if fids:
        name = min(fids, key=len)
        badges.append(("", f"{name} {summary.sample_quality[name]:.1f}"))
    if summary.blessed is not None:
        badges.append(("good", "blessed") if summary.blessed else ("bad", "not blessed"))
    if summary.pushed_models:
        version = next(iter(summary.pushed_models.values()))["version"]
        badges.append(("good", f"pushed version {version}"))
    elif summary.pushed is False:
        badges.append(("bad", "not pushed"))
    if report.all_cached:
        badges.append(("", "all components cached"))
    return "".join(f'<span class="badge {cls}">{escape(text)}</span>' for cls, text in badges)


def render_html(report: RunReport, *, generated_at: str | None = None) -> str:
    """The whole page for `report` (a collect.RunReport).

    Args:
      generated_at: the time shown in the header (default: now, local time).
    """
    generated_at = generated_at or datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    sections = []
    for anchor, title in SECTIONS:
        try:
            body = _RENDERERS[anchor](report)
        except Exception as error:  # noqa: BLE001 - one bad section must not lose the page
            body = f'<p class="error">could not draw this section: {escape(type(error).__name__)}: {escape(error)}</p>'
        sections.append(f'<section id="{anchor}"><h2>{escape(title)}</h2>{body}</section>')
    nav = "".join(f'<a href="#{anchor}">{escape(title)}</a>' for anchor, title in SECTIONS)
    title = f"tfx-dcgan run report: {report.pipeline_name}"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        # No network: this page may only load what it carries.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src data:; style-src 'unsafe-inline'\">"
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{escape(title)}</h1>"
        f'<div class="meta">run {escape(report.summary.run_id)} &middot; {escape(report.output_dir)} '
        f"&middot; generated {escape(generated_at)} from {escape(report.metadata_path)}</div>"
        f'<div class="badges">{_badges(report)}</div></header>'
        f"<nav>{nav}</nav><main>{''.join(sections)}"
        f'<p class="small">Regenerate from ML Metadata: <code>tfx-dcgan report '
        f"{escape(report.output_dir)} --pipeline_name={escape(report.pipeline_name)}</code></p>"
        "</main></body></html>\n"
    )
