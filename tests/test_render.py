"""render.py: pure numpy rendering (no TensorFlow needed)."""
import subprocess
import sys

import numpy as np
import pytest

from kerasviz.errors import ArgumentError
from kerasviz.present import render


def test_render_does_not_import_tensorflow():
    code = "import sys, kerasviz.present.render, kerasviz.present.report; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_overlay_is_the_stated_blend():
    image = np.full((4, 4, 3), 100, np.uint8)
    m = np.ones((2, 2), np.float32)
    out = render.overlay(image, m, alpha=0.25, colormap="gray")  # gray(1.0) = 255
    np.testing.assert_array_equal(out, np.full((4, 4, 3), round(0.75 * 100 + 0.25 * 255), np.uint8))
    with pytest.raises(ArgumentError, match=r"colormap must be one of \[.*'jet'.*\]. Received: "
                                             r"colormap='rainbowz'"):
        render.overlay(image, m, colormap="rainbowz")


def test_box_from_map_picks_the_region_holding_the_peak():
    m = np.zeros((20, 30), np.float32)
    m[2:6, 3:9] = 0.8           # larger but weaker blob
    m[10:13, 20:25] = 1.0       # the peak
    np.testing.assert_array_equal(render.box_from_map(m, 0.5), [20, 10, 25, 13])
    np.testing.assert_array_equal(render.box_from_map(np.zeros((5, 6)), 0.5), [0, 0, 6, 5])


def test_crop_returns_masked_image_and_box_crop():
    image = np.arange(10 * 10 * 3, dtype=np.uint8).reshape(10, 10, 3)
    m = np.zeros((10, 10), np.float32)
    m[4:7, 1:5] = 1
    masked, cropped = render.crop(image, m, 0.5)
    np.testing.assert_array_equal(cropped, image[4:7, 1:5])
    assert masked[0, 0].sum() == 0 and (masked[5, 2] == image[5, 2]).all()


def test_tile_layout():
    imgs = np.stack([np.full((2, 3), i, np.uint8) for i in range(5)])
    grid = render.tile(imgs, cols=2, pad=1, pad_value=255)
    assert grid.shape == (3 * 3 - 1, 2 * 4 - 1)
    assert grid[0, 0] == 0 and grid[0, 4] == 1 and grid[3, 0] == 2 and grid[6, 0] == 4
    assert grid[6, 4] == 255  # the empty sixth cell


def test_report_writes_index_with_existing_pngs(tmp_path):
    from kerasviz.present.report import Report

    rep = Report("t <1>", tmp_path / "r")
    rep.section("A", "text & more")
    rep.figure("one fig", np.zeros((4, 4, 3), np.uint8), "cap")
    rep.table(["x"], [[1]])
    index = rep.write()
    html = index.read_text()
    assert "t &lt;1&gt;" in html and "text &amp; more" in html and "<td>1</td>" in html
    assert "src='one_fig.png'" in html and (tmp_path / "r" / "one_fig.png").is_file()
