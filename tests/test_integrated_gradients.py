"""Integrated gradients' completeness report and ``tolerance=``: the reported error against a
direct computation with ``model.predict``, interval halving against the plain trapezoidal rule,
per-image stopping that does not depend on the rest of the batch, and the model run on the path
points only."""
import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasviz
from conftest import gap_dense, images, smooth_model


def _scores(model, x, units):
    """Target logits by ``model.predict`` (no softmax in these models)."""
    out = model.predict(x, verbose=0)
    return out[np.arange(len(x)), units]


@pytest.mark.parametrize("baseline", [0.0, 0.5])
def test_reported_completeness_error_is_the_direct_one(baseline):
    model = gap_dense(softmax=False, name="ig_direct")
    x = images(3)
    exp = kerasviz.explain(model, x, "integrated_gradients", steps=2, baseline=baseline)
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
                               max_steps=16)
    plain = kerasviz.explain(model, x, "integrated_gradients", steps=16)
    assert refined.info["steps"].tolist() == [16, 16]
    # the same 17 gradients, summed in another order: float32 rounding of a sum of 17 terms
    scale = np.abs(plain.grads).max()
    np.testing.assert_allclose(refined.grads, plain.grads, atol=1e-5 * scale, rtol=0)
    np.testing.assert_allclose(refined.info["completeness_error"],
                               plain.info["completeness_error"], atol=1e-4, rtol=0)


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


@pytest.mark.parametrize("options,points", [(dict(steps=5), 6),
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
