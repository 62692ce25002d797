"""Occlusion and RISE against references written out here, identities, and ground truth."""
import numpy as np
import pytest

import kerasviz
from conftest import gap_dense, images
from kerasviz.data import datasets
from kerasviz.present import render


def _scores(model, xs, units):
    """Target logits by ``model.predict`` (the model has no softmax)."""
    z = model.predict(xs, verbose=0)
    return z[np.arange(len(xs)), units]


def test_occlusion_equals_sliding_the_patch_by_hand():
    model = gap_dense(size=16, softmax=False)
    x, units = images(2, 16, seed=3), np.array([0, 2])
    exp = kerasviz.explain(model, x, "occlusion", target=units, patch=6, stride=4, baseline=0.3)
    # positions 0, 4, 8 and the last one moved to end at the edge: 10
    tops = [0, 4, 8, 10]
    total, cover = np.zeros((2, 16, 16)), np.zeros((16, 16))
    clean = _scores(model, x, units)
    for t in tops:
        for left in tops:
            xo = x.copy()
            xo[:, t:t + 6, left:left + 6, :] = 0.3
            total[:, t:t + 6, left:left + 6] += (clean - _scores(model, xo, units))[:, None, None]
            cover[t:t + 6, left:left + 6] += 1
    ref = total / cover
    # float32 scores of magnitude ~1: differences of two logits carry ~1e-6 absolute error
    np.testing.assert_allclose(exp.raw, ref, atol=1e-5 * np.abs(ref).max())
    np.testing.assert_allclose(exp.grads.sum(-1), exp.raw, rtol=1e-5, atol=1e-7)
    a = np.abs(ref)
    lo, hi = a.min(axis=(1, 2), keepdims=True), a.max(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(exp.maps, (a - lo) / (hi - lo), atol=1e-4)  # the "pixel" rule


def test_occlusion_stride_past_the_patch_leaves_uncovered_pixels_at_zero():
    model = gap_dense(size=16, softmax=False)
    x = images(1, 16, seed=4)
    exp = kerasviz.explain(model, x, "occlusion", target=2, patch=3, stride=6)
    covered = np.zeros(16, bool)
    for t in [0, 6, 12, 13]:  # 0, 6, 12, and the last one moved to end at the edge
        covered[t:t + 3] = True
    assert np.isfinite(exp.raw).all() and not covered[3:6].any()
    assert (exp.raw[0][~covered, :] == 0).all() and (exp.raw[0][:, ~covered] == 0).all()
    assert (exp.raw[0][np.ix_(covered, covered)] != 0).mean() > 0.9


def test_occlusion_patch_larger_than_the_image_is_one_position():
    model = gap_dense(size=16, softmax=False)
    x = images(1, 16, seed=1)
    with pytest.warns(kerasviz.ExplanationWarning, match="same value everywhere"):
        exp = kerasviz.explain(model, x, "occlusion", target=1, patch=99, stride=5, baseline=0.0)
    drop = _scores(model, x, [1]) - _scores(model, np.zeros_like(x), [1])
    np.testing.assert_allclose(exp.raw, np.full((1, 16, 16), drop[0]), rtol=1e-5, atol=1e-6)


def _rise_masks(n, size, cells, p, seed):
    import tensorflow as tf

    from kerasviz.methods.blackbox import rise_masks

    return rise_masks(0, n, tf.constant([size, size]), cells, tf.constant(p), seed).numpy()


def test_rise_masks_are_independent_of_batching_and_keep_p_on_average():
    m = _rise_masks(400, 20, 5, 0.3, 7)
    assert m.shape == (400, 20, 20) and m.min() >= 0 and m.max() <= 1
    import tensorflow as tf

    from kerasviz.methods.blackbox import rise_masks

    part = rise_masks(150, 3, tf.constant([20, 20]), 5, tf.constant(0.3), 7).numpy()
    np.testing.assert_array_equal(part, m[150:153])
    # each pixel is a convex (bilinear) mix of Bernoulli(p) cells, so its expectation is p; a
    # mask's mean averages ~25 independent cells (std ≤ sqrt(0.21 / 25) ≈ 0.09), and 400 masks
    # bring the overall mean's std to ≈ 0.005: 0.02 is four standard deviations
    assert abs(m.mean() - 0.3) < 0.02
    ones = _rise_masks(3, 20, 5, 1.0, 0)
    np.testing.assert_allclose(ones, 1.0, atol=1e-6)


def test_rise_equals_the_weighted_mask_sum_by_hand():
    model = gap_dense(size=16, softmax=True)
    x, units = images(2, 16, seed=5), np.array([1, 2])
    exp = kerasviz.explain(model, x, "rise", target=units, masks=37, cells=3, p=0.4, seed=11,
                           baseline=0.2, batch_size=8)
    masks = _rise_masks(37, 16, 3, 0.4, 11)
    ref = np.zeros((2, 16, 16))
    for m in masks:
        xm = x * m[None, :, :, None] + 0.2 * (1 - m[None, :, :, None])
        prob = model.predict(xm, verbose=0)[np.arange(2), units]  # the model's own softmax
        ref += prob[:, None, None] * m
    ref /= 37 * 0.4
    np.testing.assert_allclose(exp.raw, ref, rtol=1e-4, atol=1e-6)


def test_rise_with_every_cell_kept_is_the_probability_everywhere():
    """On a model ending in logits RISE weights by the softmax of the logits, as on the same
    model ending in a softmax (the paper's f is the class probability)."""
    model = gap_dense(size=16, softmax=False)
    x = images(2, 16, seed=2)
    with pytest.warns(kerasviz.ExplanationWarning, match="same value everywhere"):
        exp = kerasviz.explain(model, x, "rise", target=[0, 1], masks=5, p=1.0)
    z = model.predict(x, verbose=0)
    s = (np.exp(z) / np.exp(z).sum(1, keepdims=True))[np.arange(2), [0, 1]]
    np.testing.assert_allclose(exp.raw, np.broadcast_to(s[:, None, None], (2, 16, 16)),
                               rtol=1e-5, atol=1e-6)


def test_bad_options_fail_before_tensorflow_work():
    model = gap_dense(size=16)
    with pytest.raises(kerasviz.ArgumentError, match="patch"):
        kerasviz.explain(model, images(1, 16), "occlusion", patch=0)
    with pytest.raises(kerasviz.ArgumentError, match="p"):
        kerasviz.explain(model, images(1, 16), "rise", p=0.0)


@pytest.mark.slow
def test_pointing_game_on_shapes_within_10_points_of_gradcam():
    model = kerasviz.load_model("shapes")
    x, labels, boxes = datasets.shapes(200, seed=2024)

    def hits(method, **options):
        exp = kerasviz.explain(model, x, method, target=labels, progress=False, **options)
        return render.peak_in_box(exp.maps, boxes).mean()

    floor = hits("gradcam") - 0.10
    # baseline 0.5: mid-grey in the model's [0, 1] input (black would add dark edges of its own;
    # RISE's reference code masks normalised ImageNet input to 0, the mean colour, alike)
    occ = hits("occlusion", patch=16, stride=8, baseline=0.5)
    rise = hits("rise", masks=1000, baseline=0.5)
    assert occ >= floor and rise >= floor, (occ, rise, floor)
