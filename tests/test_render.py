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
    from kerasviz.present.outputs import OutputFolder
    from kerasviz.present.report import Report

    rep = Report("t <1>", OutputFolder(tmp_path / "r", "test"))
    rep.section("A", "text & more")
    rep.figure("one fig", np.zeros((4, 4, 3), np.uint8), "cap")
    rep.table(["x"], [[1]])
    index = rep.write()
    html = index.read_text()
    assert "t &lt;1&gt;" in html and "text &amp; more" in html and "<td>1</td>" in html
    assert "src='one_fig.png'" in html and (tmp_path / "r" / "one_fig.png").is_file()


def test_row_keeps_each_panels_aspect_at_one_height():
    a = np.zeros((10, 20, 3), np.uint8)          # 2:1
    b = np.full((40, 40, 3), 200, np.uint8)      # 1:1, shrunk
    out = render.row([a, b], height=30, pad=3)
    assert out.shape == (30, 60 + 3 + 30, 3)
    assert (out[:, 60:63] == 255).all() and (out[:, 63:] == 200).all() and (out[:, :60] == 0).all()
    with pytest.raises(ArgumentError, match="at least one panel"):
        render.row([], 10)


def test_draw_rays_ends_where_asked():
    img = np.zeros((101, 101, 3), np.uint8)
    out = render.draw_rays(img, (50, 100), [0.0, 90.0], [40, 30], color=(255, 0, 0))
    # anti-aliased lines: > 150 on the line, 0 well away from it
    assert out[100 - 40, 50, 0] > 150 and out[100 - 20, 50, 0] > 150    # up, 40 px long
    assert out[100, 50 + 30, 0] > 150 and out[100 - 60, 50, 0] == 0      # right, nothing beyond
    assert (img == 0).all()  # the input is not drawn on
    with pytest.raises(ArgumentError, match="one length"):
        render.draw_rays(img, (0, 0), [0.0], [1, 2])


def test_standardized_is_the_books_deprocess():
    x = np.random.default_rng(0).normal(3.0, 2.0, (8, 8, 3)).astype(np.float32)
    out = render.standardized(x, 0.1).astype(np.float64) / 255
    z = (x - x.mean()) / (x.std() + 1e-5)
    np.testing.assert_allclose(out, np.clip(z * 0.1 + 0.5, 0, 1), atol=0.5 / 255 + 1e-6)


def test_colormap_stops_follow_the_colormap():
    stops = render.colormap_stops("gray", 3)
    assert stops == ["#000000", "#808080", "#ffffff"]
    assert render.colormap_stops("jet", 2)[0] != render.colormap_stops("jet", 2)[1]


def test_report_page_is_for_phones_too_and_draws_legends_and_notes(tmp_path):
    from kerasviz.present.outputs import OutputFolder
    from kerasviz.present.report import Report

    rep = Report("t", OutputFolder(tmp_path / "r", "test"))
    rep.section("A")
    rep.note("skipped: why")
    rep.figure("heat", np.zeros((4, 4, 3), np.uint8), "cap", legend="gray", pixelated=True)
    rep.figure("plain", np.zeros((4, 4, 3), np.uint8), "cap")
    html = rep.write().read_text()
    assert "name='viewport'" in html and "max-width:100%" in html
    assert html.count("class='legend'") == 1 and "#000000" in html and "#ffffff" in html
    assert "<p class='note'>skipped: why</p>" in html and html.count("class='pixelated'") == 1


def test_fit_keeps_the_aspect_and_centres_the_picture():
    image = np.zeros((10, 20, 3), np.uint8)
    image[:, :10] = 200                         # left half bright
    out = render.fit(image, 40, background=7)   # 2× enlargement: 40 × 20, rows 10..30
    assert out.shape == (40, 40, 3)
    assert (out[:10] == 7).all() and (out[30:] == 7).all()
    np.testing.assert_array_equal(out[10:30:2, ::2], image)   # nearest-neighbour, exact
    assert render.fit(np.zeros((96, 96, 3), np.uint8), 64).shape == (64, 64, 3)  # shrinking


def test_message_wraps_the_text_inside_the_panel_and_cuts_what_does_not_fit():
    short = render.message("cannot compute cam", (60, 120))
    long_ = render.message("word " * 200, (60, 120))
    one_word = render.message("GlobalAveragePooling2D" * 3, (60, 120))  # cut, not overflowing
    bg = np.array([255, 236, 236])
    assert short.shape == (60, 120, 3)
    for panel in (short, one_word, long_):
        dark = panel.astype(int).sum(axis=2) < 500
        assert dark.any() and not dark[:, -3:].any() and not dark[-3:].any()  # margins kept
        assert (panel[0] == bg).all()
    # a long text fills more lines than a short one, but never past the panel
    assert dark.any(axis=1).sum() > (short.astype(int).sum(axis=2) < 500).any(axis=1).sum()


def test_titles_fit_their_band_and_are_drawn_in_ascii():
    assert render.ascii_text("GAP → Dense … ×2") == "GAP -> Dense ... x2"
    for width in (60, 97, 144, 150):
        band = render.title_band(np.zeros((8, width, 3), np.uint8),
                                 "sensors: front_left 0.0075 → long", 16)[:16]
        dark = band.sum(axis=2) < 600
        assert dark.any() and not dark[:, -2:].any()   # the text ends inside the band
