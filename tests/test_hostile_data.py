"""Hostile and odd data: one rule in every reader of image files, decompression bombs refused
from their headers with bounded memory (tests/scripts/hostile_images.py, a fresh process)."""

from __future__ import annotations

import json
import os

import pytest
from conftest import REPO_ROOT, run_python

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def readers(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    completed = run_python(
        [os.path.join(REPO_ROOT, "tests", "scripts", "hostile_images.py"), str(folder)],
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_every_reader_accepts_the_same_odd_images_and_skips_the_rest(readers):
    odd = sorted(readers["odd"])
    assert readers["ingest_accepted"] == odd  # 16-bit, palette, RGBA, CMYK, GIF, 1x1, unicode...
    assert readers["training_accepted"] == odd
    assert readers["probe_count"] == len(odd)
    assert readers["fid_count"] == len(odd)
    skipped = len(readers["bad"]) + len(readers["bombs"])
    assert readers["probe_skipped"] == skipped
    assert sorted(readers["ingest_reasons"]) == sorted(readers["training_reasons"])
    assert readers["ingest_reasons"]["empty.jpg"] == "empty_file"
    assert readers["ingest_reasons"]["truncated.jpg"] == "corrupt_image"
    assert readers["ingest_reasons"]["notes.jpg"] == "not_an_image"


def test_decompression_bombs_are_refused_from_the_header_with_bounded_memory(readers):
    for name in readers["bombs"]:
        assert readers["ingest_reasons"][name] == "too_large", name
        assert "over the cap of 100,000,000 (max_image_pixels)" in readers["ingest_details"][name]
        assert readers["training_reasons"][name].startswith("too large: ")
    assert "20000 x 20000 = 400,000,000 pixels" in readers["ingest_details"]["bomb.png"]
    # Four readers met four bombs: peak resident memory grew by less than 100 MB...
    assert readers["peak_rss_after_mb"] - readers["rss_before_mb"] < 100
    # ...while the PNG bomb alone, with the cap off, costs its 1.2 GB (the measurement works).
    assert readers["peak_rss_uncapped_mb"] - readers["rss_before_uncapped_mb"] > 1000


def test_the_cap_is_configurable_and_zero_turns_it_off(tmp_path):
    import tfx_dcgan  # noqa: F401
    from tfx_dcgan import input_pipeline
    from tfx_dcgan.config import ConfigError, DataConfig
    from tfx_dcgan.ingest import images as ingest

    import numpy as np
    from PIL import Image

    folder = tmp_path / "images" / "a"
    folder.mkdir(parents=True)
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(folder / "big.png")
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(folder / "small.png")
    data = (folder / "big.png").read_bytes()
    with pytest.raises(ingest.ImageSkipped, match="30 x 20 = 600 pixels declared"):
        ingest.validate_image(data, 3, max_pixels=599)
    assert ingest.validate_image(data, 3, max_pixels=600).width == 30
    assert ingest.validate_image(data, 3, max_pixels=0).height == 20
    loaded = input_pipeline.load_image_folder(str(tmp_path / "images"), 3, max_pixels=599)
    assert [os.path.basename(p) for p in loaded.paths] == ["small.png"]
    with pytest.raises(ConfigError, match="data.max_image_pixels must be >= 0"):
        DataConfig(max_image_pixels=-1).validate()
