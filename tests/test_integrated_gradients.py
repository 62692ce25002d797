"""Integrated gradients' rules, completeness report and ``tolerance=``: the adaptive rule against
the rule written out with ``tf.GradientTape``, the reported error against a direct computation
with ``model.predict``, interval halving against the trapezoidal rule on the finer grid, per-image
stopping that does not depend on the rest of the batch, and the model run on the path points
only."""
import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasviz
from conftest import gap_dense, images, smooth_model
from kerasviz.methods.gradients import SCORE_SHARE


def _scores(model, x, units):
    """Target logits by ``model.predict`` (no softmax in these models)."""
    out = model.predict(x, verbose=0)
    return out[np.arange(len(x)), units]


@pytest.mark.parametrize("baseline,rule", [(0.0, "adaptive"), (0.5, "adaptive"), (0.5, "uniform")])
def test_reported_completeness_error_is_the_direct_one(baseline, rule):
    model = gap_dense(softmax=False, name="ig_direct")
    x = images(3)
    exp = kerasviz.explain(model, x, "integrated_gradients", steps=2, baseline=baseline, rule=rule)
    units = exp.target
    at_x, at_base = _scores(model, x, units), _scores(model, np.full_like(x, baseline), units)
    change = at_x - at_base
    total = exp.grads.reshape(3, -1).sum(axis=1, dtype=np.float64)
    direct = np.abs(total - change)
    # float32 rounding: relative ~1e-6 of the magnitudes summed (scores from two graphs:
    # predict's at x and x₀, the explanation's at x (its clean pass) and at its path's first
    # point x₀ + 0 · (x − x₀), in batches of another composition; ~800 attributions), with a
    # 10× margin
    size = np.abs(at_x) + np.abs(at_base) + np.abs(exp.grads).reshape(3, -1).sum(axis=1)
    tol = 1e-5 * size
    assert (np.abs(exp.info["score_change"] - change) <= tol).all()
    assert (np.abs(exp.info["completeness_error"] - direct) <= tol).all()
    assert exp.info["steps"].tolist() == [2, 2, 2]
    assert (direct > 10 * tol).any()  # 2 steps on a ReLU net: a real error to report


def test_halving_equals_the_trapezoidal_rule_on_the_finer_grid():
    """With a tolerance no image meets, 4 intervals halved twice (capped at 16) are the
    trapezoidal rule on 16 intervals: T_2n = T_n / 2 + midpoints / 2n is an identity."""
    model = smooth_model()
    x = images(2, size=6, channels=2, seed=3)
    refined = kerasviz.explain(model, x, "integrated_gradients", steps=4, tolerance=1e-12,
                               max_steps=16, rule="uniform")
    plain = kerasviz.explain(model, x, "integrated_gradients", steps=16, rule="uniform")
    assert refined.info["steps"].tolist() == [16, 16]
    # the same 17 gradients, summed in another order: float32 rounding of a sum of 17 terms
    scale = np.abs(plain.grads).max()
    np.testing.assert_allclose(refined.grads, plain.grads, atol=1e-5 * scale, rtol=0)
    np.testing.assert_allclose(refined.info["completeness_error"],
                               plain.info["completeness_error"], atol=1e-4, rtol=0)


def _path(model, x, unit, alphas):
    """At the points ``α · x`` (baseline 0) of ``alphas`` ``(k,)``, by ``tf.GradientTape``:
    ``∂S/∂x`` ``(k, H, W, C)``, ``dS/dα = Σ x · ∂S/∂x`` and ``S`` ``(k,)``, float64."""
    xs = tf.constant(np.asarray(alphas, np.float32)[:, None, None, None] * x[None])
    with tf.GradientTape() as tape:
        tape.watch(xs)
        scores = model(xs)[:, unit]
        total = tf.reduce_sum(scores)
    g = tape.gradient(total, xs).numpy().astype(np.float64)
    return g, (g * x).sum(axis=(1, 2, 3)), scores.numpy().astype(np.float64)


def _trapezoid(model, x, unit, grid):
    """Attributions ``x · Σ_j w_j ∂S/∂x(α_j x)`` of the trapezoidal rule on ``grid``."""
    a = np.asarray(grid, np.float64)
    w = (np.r_[a[1:], a[-1]] - np.r_[a[0], a[:-1]]) / 2
    return x * np.tensordot(w, _path(model, x, unit, a)[0], 1)


def _adaptive_grid(model, x, unit, steps):
    """The adaptive rule's grid, written out: ``steps // 4`` equal intervals, then rounds of
    ``steps // 8`` bisections of the intervals of largest ``share of the attributions' estimate
    h/2 ‖x (∂S/∂x(b) − ∂S/∂x(a))‖ + SCORE_SHARE · share of |h/2 (S'(a) + S'(b)) − ΔS|`` (each
    plus ``1e-4 · h ·`` its size, ``‖x ∂S/∂x(1)‖`` and ``|S(1) − S(0)|``, which puts the widest
    first among errors that small). Also the smallest relative gap, over the rounds, between an
    error chosen and one passed over (a tie would make the choice depend on float32 rounding)."""
    first, per = max(1, steps // 4), max(1, steps // 8)
    grid, margin = [k / first for k in range(first)] + [1.0], np.inf
    while len(grid) - 1 < steps:
        a = np.array(grid)
        g, d, s = _path(model, x, unit, a)
        h = np.diff(a)

        def share(err, size):
            err = err + 1e-4 * h * (size + 1e-12)
            return err / err.sum()

        bound = h / 2 * np.sqrt(((x * np.diff(g, axis=0)) ** 2).sum(axis=(1, 2, 3)))
        err = (share(bound, np.sqrt(((x * g[-1]) ** 2).sum()))
               + SCORE_SHARE * share(np.abs(h / 2 * (d[1:] + d[:-1]) - np.diff(s)), abs(s[-1] - s[0])))
        order = np.argsort(-err, kind="stable")
        count = min(per, steps + 1 - len(grid))
        if count < len(err):
            margin = min(margin, (err[order[count - 1]] - err[order[count]]) / err[order[count - 1]])
        grid = sorted(grid + [(a[j] + a[j + 1]) / 2 for j in order[:count]])
    return grid, margin


@pytest.mark.parametrize("steps", [5, 10, 14, 22])
def test_adaptive_rule_is_the_rule_written_out(steps):
    """The adaptive rule's attributions equal the trapezoidal rule on the grid that the rule,
    written out here in float64 from gradients taken with ``tf.GradientTape``, builds. A smooth
    model, so that no two intervals' errors tie (checked: the gap between an error chosen and
    one passed over is ≥ 1e-3 relative, far above float32 rounding of the errors; the weights
    seeded, so that the check holds whatever ran before). Step counts whose grid cannot be
    uniform (``steps // 4`` equal intervals bisected: 1 → 5, 2 → 10, 3 → 14, 5 → 22, the last in
    rounds of 2 points), so that the uniform rule's result lies outside the tolerance (checked
    too)."""
    keras.utils.set_random_seed(6)
    model = smooth_model()
    x = images(3, size=6, channels=2, seed=11) * 2
    exp = kerasviz.explain(model, x, "integrated_gradients", target=[0, 1, 2], steps=steps,
                           rule="adaptive")
    assert exp.info["steps"].tolist() == [steps] * 3
    for i, unit in enumerate([0, 1, 2]):
        grid, margin = _adaptive_grid(model, x[i], unit, steps)
        assert margin > 1e-3
        ref = _trapezoid(model, x[i], unit, grid)
        # float32 gradients summed with weights in another order: ~1e-6 of the largest term
        tol = 1e-5 * np.abs(ref).max()
        np.testing.assert_allclose(exp.grads[i], ref, atol=tol, rtol=0)
        # the check tells the grids apart: the uniform rule's result is farther than tol
        uniform = _trapezoid(model, x[i], unit, np.linspace(0, 1, steps + 1))
        assert np.abs(uniform - ref).max() > 2 * tol


def test_halving_an_adaptive_grid_splits_each_of_its_intervals():
    """``tolerance`` halves every interval of the adaptive grid: 8 intervals halved twice are
    the trapezoidal rule on the grid with each interval cut into 4 equal parts."""
    keras.utils.set_random_seed(2)
    model = smooth_model()
    x = images(2, size=6, channels=2, seed=12) * 2
    exp = kerasviz.explain(model, x, "integrated_gradients", target=[0, 1], steps=8,
                           tolerance=1e-12, max_steps=32, rule="adaptive")
    assert exp.info["steps"].tolist() == [32, 32]
    for i in range(2):
        grid, margin = _adaptive_grid(model, x[i], i, 8)
        assert margin > 1e-3
        fine = np.concatenate([np.linspace(a, b, 5)[:-1] for a, b in zip(grid[:-1], grid[1:])] + [[1.0]])
        ref = _trapezoid(model, x[i], i, fine)
        np.testing.assert_allclose(exp.grads[i], ref, atol=1e-5 * np.abs(ref).max(), rtol=0)


def test_adaptive_rule_finds_the_kink_a_uniform_grid_straddles():
    """``S(α) = relu(α Σx − c)`` along the path from 0: ``dS/dα`` jumps from 0 to ``Σx`` at
    ``α* = c / Σx = 0.3141``. The uniform rule with 32 steps errs by ``h Σx |t − ½|`` in the
    interval holding α* (h = 1/32, α* at t = 0.05 of it). The adaptive rule bisects that interval
    in each of its 6 rounds (every other interval is exact), 1/8 → 1/512 wide: an error
    ≤ Σx / 512 · ½, at least 14× smaller."""
    i = keras.Input((4, 4, 1))
    h = keras.layers.Dense(1, activation="relu", name="kink")(keras.layers.Flatten()(i))
    model = keras.Model(i, keras.layers.Dense(1, name="out")(h), name="ig_kink")
    x = 0.5 + images(1, size=4, channels=1, seed=4)
    total = float(x.sum(dtype=np.float64))
    model.get_layer("kink").set_weights([np.ones((16, 1), np.float32), np.array([-0.3141 * total], np.float32)])
    model.get_layer("out").set_weights([np.ones((1, 1), np.float32), np.zeros(1, np.float32)])
    err = {rule: kerasviz.explain(model, x, "integrated_gradients", target=0, rule=rule,
                                  steps=32).info["completeness_error"][0]
           for rule in ("uniform", "adaptive")}
    assert err["uniform"] == pytest.approx(total / 32 * abs((0.3141 * 32 - 10) - 0.5), rel=1e-3)
    assert err["adaptive"] <= total / 512 / 2 * (1 + 1e-3)
    assert err["adaptive"] < err["uniform"] / 14


def test_a_jump_the_score_cannot_see_is_found_by_the_attributions_bound():
    """``S = relu(x₁ − 0.3) − relu(x₂ − 0.3)`` with ``x = (1, 1)``: ``S(α) = 0`` on the whole
    path, so every interval's error in the score is 0, although each pixel's gradient jumps at
    α = 0.3 (exact attributions ±0.7). The attributions' bound ``h/2 ‖x Δ∂S/∂x‖`` is nonzero only
    on the interval holding 0.3, so the adaptive rule bisects that interval in each of its 6
    rounds, 1/8 → 1/512 wide: each attribution within ``1/1024`` of ±0.7 (the uniform grid's
    error: 0.3 sits at t = 0.6 of its interval of 1/32, ``0.1/32`` off)."""
    i = keras.Input((1, 2, 1))
    h = keras.layers.Dense(2, activation="relu", name="units")(keras.layers.Flatten()(i))
    model = keras.Model(i, keras.layers.Dense(1, name="out")(h), name="ig_flat")
    model.get_layer("units").set_weights([np.eye(2, dtype=np.float32), np.full(2, -0.3, np.float32)])
    model.get_layer("out").set_weights([np.array([[1.0], [-1.0]], np.float32), np.zeros(1, np.float32)])
    x = np.ones((1, 1, 2, 1), np.float32)
    got = {rule: kerasviz.explain(model, x, "integrated_gradients", target=0, steps=32,
                                  rule=rule).grads.ravel() for rule in ("adaptive", "uniform")}
    np.testing.assert_allclose(got["uniform"], [0.7 + 0.1 / 32, -0.7 - 0.1 / 32], atol=1e-6)
    assert (np.abs(got["adaptive"] - [0.7, -0.7]) <= 1 / 1024 + 1e-6).all()
    assert (np.abs(got["adaptive"] - [0.7, -0.7]) < np.abs(got["uniform"] - [0.7, -0.7]) / 3).all()


def test_where_every_interval_is_exact_the_widest_is_bisected_first():
    """A linear model: the gradient is the same at every point of the path, so every interval's
    errors are 0 (to rounding), and the adaptive rule bisects the widest intervals first and ends
    on the uniform grid (8 → 16 → 32 equal intervals), instead of bisecting the first interval
    again and again. The attributions cannot tell grids apart here, so the grid is read from the
    inputs the model ran on (x = (1, 1) and the baseline 0: the point α is the input (α, α))."""
    class Record(keras.layers.Layer):
        seen = []

        def call(self, x):
            def add(v):
                Record.seen.extend(v.reshape(len(v), -1)[:, 0].tolist())
                return np.int32(0)

            tick = tf.numpy_function(add, [x], tf.int32, stateful=True)
            with tf.control_dependencies([tick]):
                return tf.identity(x)

    i = keras.Input((1, 2, 1))
    h = keras.layers.Flatten()(Record(name="record")(i))
    model = keras.Model(i, keras.layers.Dense(1, name="out")(h), name="ig_linear")
    model.get_layer("out").set_weights([np.array([[1.0], [2.0]], np.float32), np.zeros(1, np.float32)])
    x = np.ones((1, 1, 2, 1), np.float32)
    Record.seen.clear()
    exp = kerasviz.explain(model, x, "integrated_gradients", target=0, steps=32, rule="adaptive")
    np.testing.assert_allclose(exp.grads.ravel(), [1.0, 2.0], rtol=1e-5)
    np.testing.assert_allclose(sorted(set(np.round(Record.seen, 6))), np.arange(33) / 32, atol=1e-6)


def test_tolerance_is_met_per_image_and_independently_of_the_batch():
    model = kerasviz.load_model("shapes")
    x = kerasviz.preprocess(model, kerasviz.datasets.shapes(4, seed=7)[0])
    tol = 0.01
    fixed = kerasviz.explain(model, x, "integrated_gradients", steps=4)
    exp = kerasviz.explain(model, x, "integrated_gradients", steps=4, tolerance=tol,
                           max_steps=4096)
    err, change, steps = (exp.info[k] for k in ("completeness_error", "score_change", "steps"))
    assert ((err <= tol * np.abs(change)) | (steps == 4096)).all()
    met = fixed.info["completeness_error"] <= tol * np.abs(change)
    assert (steps[met] == 4).all() and (steps[~met] > 4).all() and (~met).any()
    assert len(set(steps.tolist())) > 1  # images stop at their own counts
    # each image alone: the same count and the same result (batch rows computed alike, to
    # float32 rounding of the batched convolutions)
    for i in range(4):
        one = kerasviz.explain(model, x[i:i + 1], "integrated_gradients", steps=4,
                               tolerance=tol, max_steps=4096)
        assert one.info["steps"][0] == steps[i]
        np.testing.assert_allclose(one.grads[0], exp.grads[i],
                                   atol=1e-5 * np.abs(exp.grads[i]).max(), rtol=0)


def test_tolerance_options_are_checked():
    model = gap_dense(softmax=False, name="ig_bad")
    with pytest.raises(kerasviz.ArgumentError, match="tolerance"):
        kerasviz.explain(model, images(1), "integrated_gradients", tolerance=-0.1)
    with pytest.raises(kerasviz.ArgumentError, match="max_steps"):
        kerasviz.explain(model, images(1), "integrated_gradients", max_steps=0)
    with pytest.raises(kerasviz.ArgumentError, match=r"max_steps=8 .* below steps=32, so tolerance"):
        kerasviz.explain(model, images(1), "integrated_gradients", tolerance=0.01, max_steps=8)
    # without a tolerance max_steps is unused, so any value is fine
    assert kerasviz.explain(model, images(1), "integrated_gradients", steps=4, max_steps=2).info["steps"] == [4]
    # up to 2**30 (int32 arithmetic on the step counts stays exact: doubling 2**30 would wrap)
    assert kerasviz.explain(model, images(1), "integrated_gradients", steps=4, max_steps=2 ** 30).info["steps"] == [4]
    with pytest.raises(kerasviz.ArgumentError, match="max_steps"):
        kerasviz.explain(model, images(1), "integrated_gradients", max_steps=2 ** 31 - 1)


class CountRows(keras.layers.Layer):
    """An identity layer that adds the batch size of every forward pass it runs in to
    ``CountRows.rows`` (a Python side effect inside the graph: it counts executions, not
    traces)."""
    rows = 0

    def call(self, x):
        def add(n):
            CountRows.rows += int(n)
            return np.int32(0)

        tick = tf.numpy_function(add, [tf.shape(x)[0]], tf.int32, stateful=True)
        with tf.control_dependencies([tick]):
            return tf.identity(x)


@pytest.mark.parametrize("options,points", [(dict(steps=5), 6), (dict(steps=5, rule="adaptive"), 6),
                                            # 2 intervals halved twice: 3 + 2 + 4 points
                                            (dict(steps=2, tolerance=1e-12, max_steps=8), 9)])
def test_the_model_runs_on_the_path_points_only(options, points):
    """The trapezoidal rule's ``steps + 1`` points (and the midpoints ``tolerance`` adds) are all
    the model runs on: the last point, α = 1, is the clean pass every method makes, and
    ``S(x₀)`` for the report is the score at the first. Counted in rows of the model's forward
    passes (a pass over k images counts k)."""
    i = keras.Input((8, 8, 3))
    h = keras.layers.Conv2D(4, 3, activation="relu", name="c1")(i)
    h = CountRows(name="count")(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    model = keras.Model(i, keras.layers.Dense(3, name="out")(h), name="ig_count")
    x = images(2, size=8)
    kerasviz.explain(model, x, "integrated_gradients", target=[0, 2], **options)  # traced
    CountRows.rows = 0
    exp = kerasviz.explain(model, x, "integrated_gradients", target=[0, 2], **options)
    assert CountRows.rows == points * len(x)
    assert exp.info["steps"].tolist() == [points - 1] * 2


class ImagesSeen(keras.layers.Layer):
    """An identity layer that records, for every forward pass it runs in, which images its rows
    come from. Image i has channel 1 = (i + 1) × channel 0 at every pixel, a ratio every path
    point ``α x`` (baseline 0) keeps; rows with α = 0 name no image."""
    passes = []

    def call(self, x):
        def add(v):
            ratio = v[:, 0, 0, 1] / np.where(v[:, 0, 0, 0] > 0, v[:, 0, 0, 0], np.nan)
            ImagesSeen.passes.append({int(round(r)) - 1 for r in ratio if np.isfinite(r)})
            return np.int32(0)

        tick = tf.numpy_function(add, [x], tf.int32, stateful=True)
        with tf.control_dependencies([tick]):
            return tf.identity(x)


@pytest.mark.parametrize("batch_size,room,images", [
    (16, 6, 5), (16, 2, 2), (16, 16, 16), (16, 100, 16), (16, 0, 1), (1, 0, 1), (1, 3, 1), (8, 3, 2),
    (32, 10, 8)])
def test_images_per_chunk_fits_the_budget_and_keeps_passes_full(monkeypatch, batch_size, room, images):
    """``room`` images' worth of held bytes fit ``HELD_BYTES`` (0: not even one). A chunk takes
    ``batch_size`` images when they fit, else at most ``room`` (at least 1), lowered to
    ``batch_size // ceil(batch_size / room)``: then each image's ``batch_size // images`` path
    points a pass fill it about as well (16 with room 6: 5 images × 3 = 15, where 6 would give
    6 × 2 = 12)."""
    from kerasviz.methods import base

    held = 1000
    monkeypatch.setattr(base, "HELD_BYTES", room * held + held // 2)
    assert base.images_per_chunk(batch_size, held) == images
    assert base.images_per_chunk(batch_size, 0) == batch_size  # nothing held: no cap


def test_images_per_chunk_is_the_fewest_points_per_image_that_fit(monkeypatch):
    """Against the rule written as a search, for every batch size 1–40 and room 0–45 (room 0:
    one image still runs): the fewest path points per image ``k`` (1, 2, …) with which the
    room's images fill a pass (``k · room ≥ batch_size``), and then as many images of ``k``
    points as a pass holds, ``batch_size // k`` (≤ room, since ``k ≥ batch_size / room``)."""
    from kerasviz.methods import base

    held = 1000
    for room in range(46):
        monkeypatch.setattr(base, "HELD_BYTES", room * held + held // 2)
        for batch_size in range(1, 41):
            k = next(k for k in range(1, batch_size + 1) if k * max(room, 1) >= batch_size)
            got = base.images_per_chunk(batch_size, held)
            assert got == batch_size // k, (batch_size, room)
            assert 1 <= got <= max(room, 1), (batch_size, room)


@pytest.mark.parametrize("method,options,most", [
    ("integrated_gradients", dict(rule="adaptive"), 2), ("integrated_gradients", dict(rule="uniform"), 5),
    ("gradcam_ig", dict(layer="c1"), 2)])  # gradcam_ig runs the adaptive rule
def test_a_chunk_takes_no_more_images_than_the_adaptive_rules_gradients_may_hold(
        monkeypatch, method, options, most):
    """The adaptive rule keeps ``steps + 1`` gradients per image until its chunk ends; a chunk
    takes at most as many images as fit ``HELD_BYTES`` of them (here 2 of 5, below
    ``batch_size``), so its memory does not grow with ``steps`` × ``batch_size``. The uniform
    rule keeps none: its chunk is ``batch_size`` images. On a linear model ``∂S/∂x`` is the
    same at every path point, so each image's attributions are ``x · ∂S/∂x`` exactly; each
    image explains another output unit (another ``∂S/∂x``) and has other pixels, so images or
    gradients put in the wrong rows would show."""
    from kerasviz.methods import base

    i = keras.Input((6, 6, 3))
    h = keras.layers.Conv2D(4, 3, name="c1")(ImagesSeen(name="seen")(i))
    h = keras.layers.GlobalAveragePooling2D()(h)
    model = keras.Model(i, keras.layers.Dense(5, name="out")(h), name="ig_held")
    x = images(5, size=6) + 0.5
    x[..., 1] = x[..., 0] * np.arange(1, 6)[:, None, None]
    steps = 8
    monkeypatch.setattr(base, "HELD_BYTES", int(2.5 * (steps + 1) * 4 * 6 * 6 * 3))
    ImagesSeen.passes = []
    units = [3, 0, 4, 1, 2]
    exp = kerasviz.explain(model, x, method, steps=steps, target=units, **options)
    assert max(len(p) for p in ImagesSeen.passes) == most
    assert set().union(*ImagesSeen.passes) == set(range(5))
    if method == "integrated_gradients":
        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            score = tf.reduce_sum(tf.gather(model(xt), units, batch_dims=1))
        reference = x * tape.gradient(score, xt).numpy()
        # the trapezoid weights sum to 1; float32 sums of ≤ 9 equal gradients, each from a
        # backward pass of sums of ≤ 36 products: relative rounding ~1e-6
        np.testing.assert_allclose(exp.grads, reference, rtol=1e-5, atol=1e-6 * np.abs(reference).max())
