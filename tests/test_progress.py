"""Progress within one call: a long method on a single image moves its bar as its graph loops
(over channels, noise samples, integration steps) finish chunks, without changing the result.

The bar is replaced by a recorder (``_progress.bar`` is the one place bars are made), so the
tests read every position the bar was moved to, not a terminal's rendering of it.
"""
import numpy as np
import pytest

import kerasviz
from kerasviz import _progress
from kerasviz.methods import base


class Recorder:
    """Stands in for a tqdm bar: keeps each position it is moved to."""

    made: list = []

    def __init__(self, total=None, **options):
        self.total, self.n, self.positions, self.closed = total, 0, [], False
        Recorder.made.append(self)

    def update(self, step):
        self.n += step
        self.positions.append(self.n)

    def close(self):
        self.closed = True


@pytest.fixture
def recorder(monkeypatch):
    Recorder.made = []
    monkeypatch.setattr(_progress, "bar", Recorder)
    return Recorder


# (method, options, how many chunks the outermost loop runs for one image at batch_size=4)
LONG = [("scorecam", {}, 16 // 4),                        # 16 channels of conv3, 4 at a time
        ("smoothgrad", {"samples": 10}, 3),               # 10 samples, 4 at a time
        # 12 path points (the 13th, α = 1, is the clean pass): the uniform rule's 12 points, 4
        # at a time; the adaptive rule's 3 equal intervals in one chunk, then 9 rounds of one
        # bisection
        ("integrated_gradients", {"steps": 12, "rule": "uniform"}, 3),
        ("integrated_gradients", {"steps": 12, "rule": "adaptive"}, 10)]


@pytest.mark.parametrize("method,options,chunks", LONG)
def test_one_image_moves_the_bar_within_the_call(recorder, make_tiny_cnn, make_images, method,
                                                 options, chunks):
    model, x = make_tiny_cnn(), make_images(1)
    quiet = kerasviz.explain(model, x, method, batch_size=4, progress=False, **options)
    assert recorder.made == []  # no bar when none is asked for
    shown = kerasviz.explain(model, x, method, batch_size=4, progress=True, **options)
    # the graph with progress reports differs only by control dependencies: same ops, same order
    np.testing.assert_array_equal(shown.maps, quiet.maps)
    np.testing.assert_array_equal(shown.raw, quiet.raw)
    (bar,) = recorder.made
    assert bar.total == 1 and bar.closed
    inside = [p for p in bar.positions if p < 1]
    # one position per finished chunk of the loop but the last, which completes the image;
    # each is the fraction done, (k · 4 or the total) / total
    assert len(inside) == chunks - 1
    assert inside == sorted(inside) and inside[0] > 0
    assert bar.positions[-1] == pytest.approx(1.0)


@pytest.mark.parametrize("rule", ["uniform", "adaptive"])
def test_a_tolerance_counts_every_refinement_as_a_part_of_the_most_evaluations(
        recorder, make_tiny_cnn, make_images, rule):
    """With a tolerance, integrated gradients refines its path in rounds it cannot know before:
    the bar counts the most path points the call may evaluate (here 4 → 8 → 16 → 32 intervals:
    32 points, the α = 1 point being the clean pass), so the first pass is an eighth of it, not
    the whole image with the bar then waiting at its end. A tolerance no image meets makes the
    call evaluate them all, one point a chunk (batch_size=1): the bar moves by 1/32 each time."""
    model, x = make_tiny_cnn(), make_images(1)
    options = dict(steps=4, rule=rule, tolerance=1e-12, max_steps=63, batch_size=1)
    shown = kerasviz.explain(model, x, "integrated_gradients", progress=True, **options)
    assert shown.info["steps"].tolist() == [32]  # 64 would pass max_steps: refinement stopped
    (bar,) = recorder.made
    assert bar.positions == pytest.approx([k / 32 for k in range(1, 33)])
    quiet = kerasviz.explain(model, x, "integrated_gradients", progress=False, **options)
    np.testing.assert_array_equal(shown.maps, quiet.maps)


def test_chunks_of_images_and_a_nested_loop(recorder, make_tiny_cnn, make_images):
    """5 images in chunks of 2, the noise tunnel (outer loop) around integrated gradients (inner
    loop): the bar counts images, rises monotonically to 5, and only the outer loop reports."""
    model, x = make_tiny_cnn(), make_images(5)
    method = kerasviz.methods.smooth("integrated_gradients", samples=3, noise=0.1)
    quiet = kerasviz.explain(model, x, method, batch_size=2, steps=4, progress=False)
    shown = kerasviz.explain(model, x, method, batch_size=2, steps=4, progress=True)
    np.testing.assert_array_equal(shown.maps, quiet.maps)
    (bar,) = recorder.made
    assert bar.total == 5 and bar.positions == sorted(bar.positions)
    assert bar.positions[-1] == pytest.approx(5.0)
    # chunks of 2, 2, 1 images; noise samples per step = max(1, batch_size // n): 1 for the
    # chunks of 2 (three ticks, at 1/3, 2/3, 3/3 of 2 images), 2 for the last image (two ticks,
    # at 2/3 and 3/3 of it); the inner integration loop never moves the bar
    expected = [2 / 3, 4 / 3, 2, 2 + 2 / 3, 2 + 4 / 3, 4, 4 + 2 / 3, 5]
    assert bar.positions == pytest.approx(expected)


def test_quiet_calls_never_build_the_reporting_graph(make_tiny_cnn, make_images):
    model, x = make_tiny_cnn(seed=4), make_images(2)
    kerasviz.explain(model, x, "smoothgrad", samples=4, progress=False)
    plans = list(base._PLANS.get(model).values())
    assert plans and all(p._with_ticks is None for p in plans)


# the passes over the path of 4 intervals before any refinement: the uniform rule's 4 points
# in one pass (8 evaluations for 2 images = batch_size); the adaptive rule's 1 interval
# (steps // 4: its point α = 0), then 3 bisections of one point each, one pass each
@pytest.mark.parametrize("rule,passes", [("uniform", [4]), ("adaptive", [1, 2, 3, 4])])
def test_a_tolerance_met_sooner_ends_the_chunk_of_images_at_its_share(
        recorder, make_tiny_cnn, make_images, rule, passes):
    """Two images in one chunk and a tolerance both meet with the first ``steps`` intervals:
    the bar counts the most points the call may evaluate (4 → 32 intervals: 32 points an
    image), so a pass that has evaluated k points of each image stands at 2 · k/32 of the
    bar's 2; then, with no refinement round run, the bar jumps to the end of the chunk, 2."""
    model, x = make_tiny_cnn(), make_images(2)
    options = dict(steps=4, rule=rule, tolerance=1e6, max_steps=32, batch_size=8)
    shown = kerasviz.explain(model, x, "integrated_gradients", progress=True, **options)
    assert shown.info["steps"].tolist() == [4, 4]  # the tolerance was met: no round added points
    (bar,) = recorder.made
    assert bar.total == 2 and bar.closed
    assert bar.positions == pytest.approx([2 * k / 32 for k in passes] + [2])
    quiet = kerasviz.explain(model, x, "integrated_gradients", progress=False, **options)
    np.testing.assert_array_equal(shown.maps, quiet.maps)
