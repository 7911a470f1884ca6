"""The run report as one self-contained HTML page: inline CSS, every image a data: URI, no script,
nothing loaded from anywhere else.

`render_html(report)` lays out `SECTIONS` in order; a section without data says why (the
collector's note), and a section whose data cannot be drawn shows the error instead of failing
the page.
"""

from __future__ import annotations

import base64
import datetime
import html
import io
import math
from collections.abc import Callable

from tfx_dcgan.report import plots
from tfx_dcgan.report.collect import RunReport

from PIL import Image

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

_CSS = """
body { font: 14px/1.45 "DejaVu Sans", system-ui, sans-serif; color: #1d232a; margin: 0;
       background: #f4f5f7; }
header { background: #1d2b3a; color: #fff; padding: 18px 32px 14px; }
header h1 { margin: 0 0 4px; font-size: 22px; font-weight: 600; }
header .meta { color: #b8c4d0; font-size: 12.5px; }
.badges { margin-top: 10px; }
.badge { display: inline-block; margin: 0 8px 4px 0; padding: 3px 10px; border-radius: 12px;
         background: #2f4358; color: #fff; font-size: 13px; }
.badge.good { background: #1f7a4d; } .badge.bad { background: #a33a2f; }
nav { padding: 8px 32px; background: #e6e9ed; font-size: 13px; }
nav a { margin-right: 14px; color: #24517a; text-decoration: none; }
main { padding: 8px 32px 32px; max-width: 1180px; }
section { background: #fff; border-radius: 6px; padding: 4px 20px 14px; margin: 14px 0;
          box-shadow: 0 1px 2px rgba(0,0,0,.08); }
h2 { font-size: 17px; margin: 12px 0 8px; color: #1d2b3a; }
.empty { color: #6b7480; font-style: italic; }
.error { color: #a33a2f; }
table { border-collapse: collapse; margin: 6px 0 10px; font-size: 13px; }
th, td { text-align: left; padding: 3px 12px 3px 0; border-bottom: 1px solid #eceef1;
         vertical-align: top; }
th { color: #56606b; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, pre { font: 12.5px "DejaVu Sans Mono", monospace; }
pre { background: #f1f3f5; padding: 8px 12px; border-radius: 4px; white-space: pre-wrap;
      word-break: break-all; }
figure { display: inline-block; margin: 4px 14px 8px 0; vertical-align: top; }
figcaption { font-size: 12px; color: #56606b; text-align: center; }
img.pixels { image-rendering: pixelated; }
.bar { display: inline-block; height: 10px; background: #5b8fc7; border-radius: 2px; }
.small { font-size: 12px; color: #56606b; }
"""


def data_uri(png: bytes) -> str:
    """A PNG as a data: URI (the page loads nothing from elsewhere)."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _e(value: object) -> str:
    return html.escape(str(value))


def _img(png: bytes, alt: str, *, pixels: bool = False, min_width: int = 0) -> str:
    """An inlined <img>; a picture narrower than `min_width` is shown enlarged by a whole factor
    (pixel art stays sharp: `pixels` turns off smoothing)."""
    size = ""
    if min_width:
        width, height = Image.open(io.BytesIO(png)).size
        if width < min_width:
            factor = math.ceil(min_width / width)
            size = f' width="{width * factor}" height="{height * factor}"'
    cls = ' class="pixels"' if pixels else ""
    return f'<img src="{data_uri(png)}" alt="{_e(alt)}"{cls}{size}>'


def _empty(text: str) -> str:
    return f'<p class="empty">{_e(text)}</p>'


def _table(header: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:
    """Rows of already-escaped cells; `numeric` column indexes are right-aligned."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{cell}</td>' if i in numeric else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _number(value: float | None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def _std(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2g}"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)} min {rest:04.1f} s"


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
        return _empty(report.notes.get("samples", "no sample grid"))
    step = report.training.steps[-1] if report.training and report.training.steps else None
    caption = "G(fixed z) at the end of training" + (f" (step {step})" if step else "")
    path = f"{report.summary.model_run_dir}/samples/final.png"
    return (
        f"<figure>{_img(report.sample_grid_png, 'sample grid', pixels=True, min_width=320)}"
        f"<figcaption>{_e(caption)}</figcaption></figure>"
        f'<p class="small">{_e(path)}</p>'
    )


def _progress(report: RunReport) -> str:
    if not report.progress:
        return _empty(report.notes.get("progress", "no intermediate grids"))
    frames = "".join(
        f"<figure>{_img(plots.thumbnail_png(frame.png, 176), f'step {frame.step}', pixels=True, min_width=120)}"
        f"<figcaption>step {frame.step}</figcaption></figure>"
        for frame in report.progress
    )
    note = report.notes.get("progress")
    return (
        '<p class="small">The same fixed z through G as training went on.</p>'
        + frames
        + (_empty(note) if note else "")
    )


def _curves(report: RunReport) -> str:
    log = report.training
    if log is None or not log.steps:
        return _empty(report.notes.get("curves", "no training log"))
    speeds = [v for v in log.images_per_second if not math.isnan(v)]
    last = len(log.steps) - 1
    rows = [
        [
            str(log.steps[last]),
            _number(log.disc_loss[last]),
            _number(log.gen_loss[last]),
            _number(log.d_real[last], 3),
            _number(log.d_fake[last], 3),
            f"{sum(speeds) / len(speeds):.1f}" if speeds else "n/a",
        ]
    ]
    return (
        _img(plots.training_curves_png(log), "losses and discriminator outputs")
        + _table(
            ["last step", "D loss", "G loss", "D(x)", "D(G(z))", "mean images/s"],
            rows,
            numeric={0, 1, 2, 3, 4, 5},
        )
        + f'<p class="small">{len(log.steps)} logged steps (train_log.jsonl of '
        f"{_e(report.summary.model_run_dir)}).</p>"
    )


def _probe(report: RunReport) -> str:
    evaluation = report.evaluation or {}
    probe = evaluation.get("probe")
    if not probe:
        return _empty(report.notes.get("probe", "the probe did not run"))
    blessed = evaluation.get("blessed")
    verdict = (
        '<span class="badge good">BLESSED</span>'
        if blessed
        else '<span class="badge bad">NOT BLESSED</span>'
    )
    rows = [
        ["test accuracy", _number(probe["accuracy"])],
        ["threshold", _number(evaluation.get("accuracy_threshold"))],
        ["examples", f"{probe['num_train']} train / {probe['num_test']} test"],
        ["features", str(probe["feature_size"])],
        ["C (chosen on a hold-out)", f"{probe['chosen_c']:g}"],
    ]
    names = probe.get("class_names") or [str(i) for i in range(len(probe["per_class_accuracy"]))]
    return (
        f"<p>{verdict} {_e(evaluation.get('reason', ''))}</p>"
        + _table(["", ""], rows)
        + f"<figure>{_img(plots.per_class_accuracy_png(probe['per_class_accuracy'], names), 'per-class accuracy')}</figure>"
        + f"<figure>{_img(plots.confusion_matrix_png(probe['confusion_matrix'], names), 'confusion matrix')}</figure>"
        + '<p class="small">A linear L2-SVM on the discriminator\'s features (Radford et al. '
        "2015, Section 5.1), through the exported feature extractor.</p>"
    )


def _quality(report: RunReport) -> str:
    quality = (report.evaluation or {}).get("sample_quality")
    if not quality:
        return _empty(report.notes.get("quality", "FID/KID were not measured"))
    name = quality["name"]
    label = name[len("fid_") :]
    kid, kid_std = f"kid_{label}", f"kid_{label}_std"

    def row(what: str, figures: dict) -> list[str]:
        return [
            _e(what),
            _number(figures.get(name), 2),
            f"{_number(figures.get(kid))} &plusmn; {_std(figures.get(kid_std))}",
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
        _table([" ", name, kid, "images scored", "real images"], rows, numeric={1, 2, 3, 4})
        + f'<p class="small">Against the {_e(split)} split; lower is better. '
        f"{_e(quality.get('network', ''))}; real side "
        f"{'from the cache' if quality.get('real_cache_hit') else 'computed'}; "
        f"{_number((quality.get('timings') or {}).get('total_s'), 1)} s.</p>"
    )


def _ingest(report: RunReport) -> str:
    ingest = report.ingest
    if not ingest:
        return _empty(report.notes.get("ingest", "no ingest report"))
    counts = [
        ["files", str(ingest.get("num_files", "n/a"))],
        ["images written", str(ingest.get("num_images", "n/a"))],
        ["converted to PNG", str(ingest.get("num_converted", 0))],
        ["skipped", str(ingest.get("num_skipped", 0))],
    ]
    counts += [
        [f"&nbsp;&nbsp;skipped: {_e(key[len('num_skipped_') :].replace('_', ' '))}", str(value)]
        for key, value in sorted(ingest.items())
        if key.startswith("num_skipped_") and value
    ]
    vocabulary = ingest.get("label_vocabulary") or []
    parts = [
        _table(["", "count"], counts, numeric={1}),
        f'<p class="small">{len(vocabulary)} classes: {_e(", ".join(vocabulary))}</p>'
        if vocabulary
        else "",
    ]
    skipped = ingest.get("first_skipped") or []
    if skipped:
        parts.append(f"<p>The first {len(skipped)} skipped files:</p>")
        parts.append(
            _table(
                ["file", "reason", "detail"],
                [[f"<code>{_e(p)}</code>", _e(r), _e(d)] for p, r, d in skipped],
            )
        )
    else:
        parts.append(_empty("no file was skipped"))
    return "".join(parts)


def _anomalies(report: RunReport) -> str:
    parts = []
    found = report.validator_anomalies
    if found is None:
        parts.append(_empty(report.notes.get("anomalies", "no ExampleValidator output")))
    elif not found:
        parts.append(
            "<p>ExampleValidator: no anomalies; every split matches the curated schema.</p>"
        )
    else:
        parts.append(f"<p>ExampleValidator found {len(found)} anomalies:</p>")
        parts.append("<ul>" + "".join(f"<li>{_e(line)}</li>" for line in found) + "</ul>")
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
            _e(c.node_id),
            _e(c.state),
            _duration(c.seconds),
            f'<span class="bar" style="width:{max(1, round(240 * c.seconds / longest))}px"></span>',
        ]
        for c in components
    ]
    total = sum(c.seconds for c in components)
    rows.append(["<b>all components</b>", "", f"<b>{_duration(total)}</b>", ""])
    return _table(["component", "state", "wall time", ""], rows, numeric={2})


def _timings(report: RunReport) -> str:
    summary = report.summary
    if not summary.components:
        return _empty("no component execution recorded for this run")
    parts = [
        f'<p class="small">Run {_e(summary.run_id)}: each execution\'s MLMD create to last '
        "update time.</p>",
        _timing_table(summary),
    ]
    if report.all_cached:
        parts.insert(0, _empty("Every component was served from the cache in this run."))
        if report.executed_summary is not None:
            parts += [
                f"<p>The latest run that executed: {_e(report.executed_summary.run_id)}</p>",
                _timing_table(report.executed_summary),
            ]
    return "".join(parts)


def _serving(report: RunReport) -> str:
    summary = report.summary
    parts = []
    if summary.pushed_models:
        parts.append(
            _table(
                ["model", "version", "folder"],
                [
                    [_e(name), _e(pushed["version"]), f"<code>{_e(pushed['destination'])}</code>"]
                    for name, pushed in summary.pushed_models.items()
                ],
            )
        )
    else:
        parts.append(_empty(report.notes.get("serving", "nothing pushed")))
    if report.push_base:
        parts.append(
            (
                "<p>Serve the pushed versions and ask for samples:</p>"
                if summary.pushed_models
                else "<p>Serve what earlier runs pushed there, if anything:</p>"
            )
            + f"<pre>{_e(serving_commands(report.push_base))}</pre>"
        )
    if summary.tensorboard_dir:
        parts.append(
            f"<p>Training curves in full: <code>tensorboard --logdir "
            f"{_e(summary.tensorboard_dir)}</code></p>"
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
    return "".join(f'<span class="badge {cls}">{_e(text)}</span>' for cls, text in badges)


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
            body = f'<p class="error">could not draw this section: {_e(type(error).__name__)}: {_e(error)}</p>'
        sections.append(f'<section id="{anchor}"><h2>{_e(title)}</h2>{body}</section>')
    nav = "".join(f'<a href="#{anchor}">{_e(title)}</a>' for anchor, title in SECTIONS)
    title = f"tfx-dcgan run report: {report.pipeline_name}"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        # No network: this page may only load what it carries.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src data:; style-src 'unsafe-inline'\">"
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{_e(title)}</h1>"
        f'<div class="meta">run {_e(report.summary.run_id)} &middot; {_e(report.output_dir)} '
        f"&middot; generated {_e(generated_at)} from {_e(report.metadata_path)}</div>"
        f'<div class="badges">{_badges(report)}</div></header>'
        f"<nav>{nav}</nav><main>{''.join(sections)}"
        f'<p class="small">Regenerate from ML Metadata: <code>tfx-dcgan report '
        f"{_e(report.output_dir)} --pipeline_name={_e(report.pipeline_name)}</code></p>"
        "</main></body></html>\n"
    )
