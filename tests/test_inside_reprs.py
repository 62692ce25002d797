"""How StatsTable and Patterns show in notebooks: HTML tables and labelled PNG grids."""
import base64
import io
from html.parser import HTMLParser

import numpy as np
from PIL import Image

from kerasviz.inside import features
from kerasviz.inside.patterns import Patterns


class _Cells(HTMLParser):
    """Rows of ``<th>`` / ``<td>`` texts and the ``src`` of every ``<img>``."""

    def __init__(self, html):
        super().__init__()
        self.rows, self.srcs, self._in = [], [], False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._in = True
            self.rows[-1].append("")
        elif tag == "img":
            self.srcs.append(dict(attrs)["src"])

    def handle_endtag(self, tag):
        self._in = self._in and tag not in ("td", "th")

    def handle_data(self, data):
        if self._in:
            self.rows[-1][-1] += data


def test_stats_table_html_holds_the_tables_numbers(make_tiny_cnn, make_images):
    model = make_tiny_cnn(seed=3)
    table = features.layer_stats(model, make_images(3, 32, seed=2))
    head, *rows = _Cells(table._repr_html_()).rows
    assert head[:3] == ["layer", "type", "output shape"] and len(rows) == len(table) >= 3
    for cells, r in zip(rows, table):
        assert cells[0] == r.layer and cells[2] == "×".join(map(str, r.shape))
        # printed with 4 significant digits: equal to that precision
        np.testing.assert_allclose([float(c) for c in cells[3:6]], [r.mean, r.std, r.max],
                                   rtol=5e-4, atol=1e-12)
        np.testing.assert_allclose([float(c.rstrip("%")) / 100 for c in cells[6:8]],
                                   [r.zero_fraction, r.dead_fraction], atol=5e-4)
    text = repr(table)
    assert text.startswith(f"StatsTable({len(table)} layers: {table[0].layer}") and "\n" not in text


def _patterns(n, size=20):
    rng = np.random.default_rng(0)
    return Patterns(images=rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8),
                    units=np.arange(n, dtype=np.int32) * 3, layer="conv2", recipe="book",
                    inputs=np.zeros((n, size, size, 3), np.float32),
                    score_start=np.zeros(n, np.float32),
                    score_end=np.linspace(1, 2, n).astype(np.float32),
                    activation_start=np.zeros(n, np.float32),
                    activation_end=np.zeros(n, np.float32))


def _decode(src):
    assert src.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))))


def test_patterns_html_is_a_labelled_grid():
    pats = _patterns(10)
    parsed = _Cells(pats._repr_html_())
    grid = _decode(parsed.srcs[0])
    # 20-px patterns enlarged 5× (to ≥ 96 px), under an 18-px label band; 8 a row, 4-px gaps
    cell_h, cell_w = 100 + 18, 100
    assert grid.shape == (2 * cell_h + 4, 8 * cell_w + 7 * 4, 3)
    # the pattern's pixels are in the grid, enlarged (nearest-neighbour): measured, not assumed
    second = grid[18:18 + 100, cell_w + 4:2 * cell_w + 4]
    np.testing.assert_array_equal(second[::5, ::5], pats.images[1])
    assert (grid[:18, :cell_w] < 128).any()  # a label is written above the first pattern
    many = _decode(_Cells(_patterns(70)._repr_html_()).srcs[0])
    assert many.shape[0] == 8 * cell_h + 7 * 4 + 24  # capped at 64 = 8 rows, and a note band
    assert repr(pats) == ("Patterns(layer='conv2', recipe='book', units=[0, 3, 6, 9, 12, …], "
                          "images=(10, 20, 20, 3))")
