"""The run report's parts on small inputs: parsing, figures, the page, the collector's errors, and
the Chromium checker the end-to-end test relies on (a real headless Chromium).

The report of a real pipeline run is checked in tests/test_pipeline_e2e.py (`# -- run report`).
"""

from __future__ import annotations

import io
import json
import os
import re

import tfx_dcgan  # noqa: F401  (environment defaults before TensorFlow loads)
from tfx_dcgan import report
from tfx_dcgan.report import collect, html_page, plots

import numpy as np
import pytest
from chromium_page import is_blank, render_page
from PIL import Image

from pipelines import run_info

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _picture(png: bytes) -> np.ndarray:
    assert png.startswith(PNG_SIGNATURE)
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def _grid_png(seed: int, side: int = 40) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _log(steps=(2, 4, 6)) -> collect.TrainingLog:
    lines = [
        json.dumps(
            {
                "step": step,
                "disc_loss": 1.4 - 0.1 * i,
                "gen_loss": 0.7 + 0.1 * i,
                "d_real": 0.5 + 0.05 * i,
                "d_fake": 0.5 - 0.05 * i,
                "images_per_second": 100.0 + i,
            }
        )
        for i, step in enumerate(steps)
    ]
    return collect.parse_train_log("\n".join(lines))


def _summary(**overrides) -> run_info.RunSummary:
    values = dict(
        run_id="2026-12-02T10:00:00.000000",
        components={
            "ImageExampleGen": run_info.ComponentRun("ImageExampleGen", "COMPLETE", 11.5, 1),
            "Trainer": run_info.ComponentRun("Trainer", "COMPLETE", 70.2, 8),
        },
        model_run_dir="/runs/x/root/Trainer/model_run/8",
        serving_model_dir="/runs/x/root/Trainer/model/8/Format-Serving",
        examples_uri="/runs/x/root/ImageExampleGen/examples/1",
        pushed_models={"generator": {"version": 17, "destination": "/runs/x/serving/generator/17"}},
        probe_accuracy=0.75,
        blessed=True,
        blessing_reason="probe test accuracy 0.7500 >= threshold 0.5000: blessed",
        pushed=True,
        sample_quality={"fid_20": 123.4, "kid_20": 0.1},
        evaluation_uri="/runs/x/root/FeatureProbeEvaluator/evaluation/9",
        anomalies=[],
    )
    values.update(overrides)
    return run_info.RunSummary(**values)


def _full_report() -> collect.RunReport:
    return collect.RunReport(
        pipeline_name="tiny",
        output_dir="/runs/x",
        metadata_path="/runs/x/metadata.db",
        summary=_summary(),
        sample_grid_png=_grid_png(0),
        progress=[collect.ProgressFrame(5, _grid_png(1)), collect.ProgressFrame(10, _grid_png(2))],
        training=_log(),
        evaluation={
            "blessed": True,
            "reason": "probe test accuracy 0.7500 >= threshold 0.5000: blessed",
            "accuracy_threshold": 0.5,
            "data": {"test_split": "eval"},
            "probe": {
                "accuracy": 0.75,
                "per_class_accuracy": [1.0, 0.5, None],
                "confusion_matrix": [[4, 0, 0], [2, 2, 0], [0, 0, 0]],
                "class_names": ["cat", "dog", "bird"],
                "num_train": 21,
                "num_test": 8,
                "feature_size": 384,
                "chosen_c": 0.001,
            },
            "sample_quality": {
                "name": "fid_20",
                "fid_20": 123.4,
                "kid_20": 0.1,
                "kid_20_std": 0.01,
                "num_real": 20,
                "num_generated": 20,
                "baselines": {"real_train": {"fid_20": 49.4, "kid_20": 0.0, "kid_20_std": 0.0}},
            },
        },
        ingest={
            "num_files": 7,
            "num_images": 5,
            "num_converted": 1,
            "num_skipped": 2,
            "num_skipped_empty_file": 1,
            "num_skipped_corrupt_image": 1,
            "label_vocabulary": ["cat", "dog", "bird"],
            "first_skipped": [
                ["train/cat/<script>alert(1)</script>.jpg", "empty_file", "zero bytes"],
                ["train/dog/truncated.jpg", "corrupt_image", "OSError: Truncated File Read"],
            ],
        },
        validator_anomalies=["split 'train': feature 'image/format': Unexpected string values"],
        push_base="/runs/x/serving",
    )


def _sections(page: str) -> list[str]:
    return re.findall(r'<section id="(\w+)"><h2>', page)


# -- collect ---------------------------------------------------------------------------------------


def test_the_train_log_is_read_in_step_order_with_the_last_line_of_a_repeated_step():
    text = "\n".join(
        [
            json.dumps(
                {"step": 4, "disc_loss": 1.0, "gen_loss": 2.0, "d_real": 0.6, "d_fake": 0.4}
            ),
            "not json",
            json.dumps(
                {"step": 2, "disc_loss": 1.5, "gen_loss": 2.5, "d_real": 0.5, "d_fake": 0.5}
            ),
            json.dumps({"no_step": 1}),
            # A resumed run logs step 4 again: the later line wins.
            json.dumps(
                {"step": 4, "disc_loss": 0.9, "gen_loss": 2.1, "d_real": 0.7, "d_fake": 0.3}
            ),
        ]
    )
    log = collect.parse_train_log(text)
    assert log.steps == [2, 4]
    assert log.disc_loss == [1.5, 0.9]
    assert log.d_fake == [0.5, 0.3]
    assert np.isnan(log.images_per_second).all()


def test_the_progress_strip_spreads_its_frames_and_keeps_the_first_and_last():
    assert collect.pick_progress_steps([10, 5, 5]) == [5, 10]
    picked = collect.pick_progress_steps(list(range(100, 2100, 100)), limit=5)
    assert len(picked) == 5 and picked[0] == 100 and picked[-1] == 2000
    assert collect.pick_progress_steps([1, 2, 3], limit=1) == [3]


def test_a_folder_without_metadata_is_refused_naming_the_folder(tmp_path):
    with pytest.raises(collect.ReportError, match=r"no ML Metadata database metadata\.db in"):
        report.write_report(str(tmp_path), "tfx_dcgan")
    assert not os.path.exists(tmp_path / "report.html")


def test_a_database_without_the_pipeline_names_the_pipelines_it_holds(tmp_path):
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2

    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = str(tmp_path / "metadata.db")
    store = metadata_store.MetadataStore(config)
    type_id = store.put_context_type(metadata_store_pb2.ContextType(name="pipeline"))
    store.put_contexts([metadata_store_pb2.Context(type_id=type_id, name="other_pipeline")])
    with pytest.raises(collect.ReportError, match="pipelines recorded there: other_pipeline"):
        report.write_report(str(tmp_path), "tfx_dcgan")


def test_the_cli_refuses_a_folder_without_a_run_and_a_missing_argument(tmp_path, capsys):
    from tfx_dcgan.cli import report as report_cli

    from absl import flags
    from absl.testing import flagsaver

    with flagsaver.flagsaver():
        report_cli.COMMAND.apply_defaults()
        flags.FLAGS(["tfx-dcgan report"])
        assert report_cli.main(["tfx-dcgan report", str(tmp_path)]) == 1
        assert report_cli.main(["tfx-dcgan report"]) == 2
    err = capsys.readouterr().err
    assert f"error: no ML Metadata database metadata.db in '{tmp_path}'" in err
    assert "usage: tfx-dcgan report <output_dir>" in err


# -- plots -----------------------------------------------------------------------------------------


def test_the_training_curves_are_a_drawn_png():
    picture = _picture(plots.training_curves_png(_log()))
    assert picture.shape[1] > picture.shape[0] > 200  # two panels side by side
    assert picture.std() > 10
    with pytest.raises(ValueError, match="at least one logged step"):
        plots.training_curves_png(collect.parse_train_log(""))


def test_the_probe_figures_are_drawn_and_refuse_mismatched_inputs():
    names = ["cat", "dog", "bird"]
    bars = _picture(plots.per_class_accuracy_png([1.0, 0.5, None], names))
    matrix = _picture(plots.confusion_matrix_png([[4, 0, 0], [2, 2, 0], [0, 0, 0]], names))
    assert bars.std() > 10 and matrix.std() > 10
    with pytest.raises(ValueError, match="2 accuracies for 3 classes"):
        plots.per_class_accuracy_png([1.0, 0.5], names)
    with pytest.raises(ValueError, match=r"shape \(2, 2\) for 3 class names"):
        plots.confusion_matrix_png([[1, 0], [0, 1]], names)


def test_a_thumbnail_keeps_the_aspect_and_leaves_small_pictures_alone():
    small = _grid_png(0, side=40)
    assert plots.thumbnail_png(small, 64) == small
    big = _picture(plots.thumbnail_png(_grid_png(0, side=400), 100))
    assert big.shape[:2] == (100, 100)


# -- the page --------------------------------------------------------------------------------------


def test_the_page_has_every_section_inlined_and_escaped():
    page = html_page.render_html(_full_report(), generated_at="2026-12-02 10:00:00")
    assert _sections(page) == [anchor for anchor, _ in html_page.SECTIONS]
    for _, title in html_page.SECTIONS:
        assert f"<h2>{title}</h2>" in page.replace("&amp;", "&") or title in page
    sources = re.findall(r'src="([^"]*)"', page)
    # grid, two progress frames, curves, per-class bars, confusion matrix
    assert len(sources) == 6 and all(s.startswith("data:image/png;base64,") for s in sources)
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page  # the hostile file name is text, not markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.jpg" in page
    assert "--model_base_path_root=/runs/x/serving" in page
    assert "fid_20" in page and "123.40" in page and "49.40" in page
    assert "Unexpected string values" in page
    assert "corrupt image" in page and "OSError: Truncated File Read" in page


def test_a_run_with_no_data_says_so_in_every_section():
    empty = collect.RunReport(
        pipeline_name="tiny",
        output_dir="/runs/x",
        metadata_path="/runs/x/metadata.db",
        summary=_summary(
            components={"Trainer": run_info.ComponentRun("Trainer", "CACHED", 0.1, 3)},
            model_run_dir=None,
            pushed_models={},
            pushed=False,
            blessed=False,
            probe_accuracy=None,
            sample_quality={},
            evaluation_uri=None,
            anomalies=None,
        ),
        notes={
            "samples": "no Trainer output (ModelRun) in ML Metadata: no training yet",
            "quality": "FID/KID were not measured in this run (--nofid)",
            "serving": "nothing pushed: not blessed",
        },
    )
    page = html_page.render_html(empty)
    assert _sections(page) == [anchor for anchor, _ in html_page.SECTIONS]
    assert "<img" not in page
    assert page.count('class="empty"') >= 8
    assert "no training yet" in page and "--nofid" in page and "nothing pushed" in page
    assert "served from the cache" in page
    assert "could not draw" not in page


def test_a_section_that_cannot_be_drawn_shows_its_error_and_the_rest_of_the_page():
    broken = _full_report()
    broken.evaluation["probe"]["confusion_matrix"] = [[1]]  # 1x1 for three classes
    page = html_page.render_html(broken)
    assert _sections(page) == [anchor for anchor, _ in html_page.SECTIONS]
    probe = page[page.index('<section id="probe">') : page.index('<section id="quality">')]
    assert "could not draw this section: ValueError" in probe
    assert "123.40" in page  # the next section is there


# -- the Chromium checker --------------------------------------------------------------------------


def test_chromium_renders_the_page_cleanly(tmp_path):
    path = tmp_path / "report.html"
    path.write_text(html_page.render_html(_full_report()))
    page = render_page(str(path))
    assert page.problems() == []
    assert page.headings[1:] == [title for _, title in html_page.SECTIONS]
    assert len(page.images) == 6
    assert page.requests[0] == f"file://{path}"


def test_the_chromium_checker_catches_a_broken_page(tmp_path):
    path = tmp_path / "broken.html"
    path.write_text(
        "<!DOCTYPE html><html><body><h1>broken</h1>"
        '<img src="http://127.0.0.1:9/remote.png"><img src="missing.png">'
        "<script>console.error('boom'); undefined_function();</script></body></html>"
    )
    problems = render_page(str(path)).problems()
    text = "\n".join(problems)
    assert "script exception" in text and "undefined_function" in text
    assert "console error" in text and "boom" in text
    assert "request to the network: http://127.0.0.1:9/remote.png" in text
    assert "failed request" in text
    assert sum("image not loaded" in line for line in problems) == 2


def test_a_one_colour_screenshot_is_blank():
    buffer = io.BytesIO()
    Image.new("RGB", (50, 50), (250, 250, 250)).save(buffer, format="PNG")
    assert is_blank(buffer.getvalue())
    assert not is_blank(_grid_png(0))
