"""The noise tunnel against a hand-averaged reference: the same noisy inputs explained one by
one with the plain method, raw maps averaged in float64."""
import numpy as np
import pytest
import tensorflow as tf

import kerasviz
from conftest import gap_dense, images


def _noisy_copies(x, samples, noise, seed):
    """Input j: ``x + noise · (max x − min x) · ε_j`` per image, ε_j from the stateless seed
    (seed, j) — the tunnel's documented noise."""
    span = x.max(axis=(1, 2, 3)) - x.min(axis=(1, 2, 3))
    eps = [tf.random.stateless_normal(x.shape[1:], [seed, j]).numpy() for j in range(samples)]
    return [x + (noise * span)[:, None, None, None] * e[None] for e in eps]


@pytest.mark.parametrize("method,field", [("gradcam++", "raw"), ("saliency", "grads")])
def test_smoothed_method_is_the_mean_over_noisy_copies(method, field):
    model = gap_dense(size=16, channels=6)
    x = images(2, 16, seed=5)
    units = [0, 2]
    exp = kerasviz.explain(model, x, method, target=units, smooth=dict(samples=6, noise=0.2, seed=3),
                           batch_size=5)  # chunks of 2 samples x 2 images: 3 graph-loop steps
    ref = np.mean([getattr(kerasviz.explain(model, xj, method, target=units), field)
                   .astype(np.float64) for xj in _noisy_copies(x, 6, 0.2, 3)], axis=0)
    scale = np.abs(ref).max()
    # float32 maps of O(scale), summed over 6 samples in another order: ~1e-6 relative
    np.testing.assert_allclose(getattr(exp, field), ref, rtol=1e-4, atol=1e-5 * scale)
    plain = getattr(kerasviz.explain(model, x, method, target=units), field)
    assert np.abs(plain - ref).max() > 1e-2 * scale  # the noise matters: not comparing plain maps
    assert exp.method == f"smooth({method})" and exp.scores.tolist() == \
        kerasviz.explain(model, x, method, target=units).scores.tolist()


def test_smoothgrad_is_the_tunnel_over_saliency():
    model = gap_dense(size=16, channels=6)
    x = images(1, 16, seed=6)
    sg = kerasviz.explain(model, x, "smoothgrad", target=1, samples=4, noise=0.1, seed=2)
    ref = np.mean([kerasviz.explain(model, xj, "saliency", target=1).grads
                   for xj in _noisy_copies(x, 4, 0.1, 2)], axis=0)
    np.testing.assert_allclose(sg.grads, ref, rtol=1e-4, atol=1e-5 * np.abs(ref).max())
    np.testing.assert_allclose(sg.raw, np.abs(sg.grads).max(-1), rtol=1e-6)


@pytest.mark.parametrize("name", kerasviz.methods.names())
def test_every_method_can_be_smoothed(name):
    model = gap_dense(size=16, channels=4)
    x = images(2, 16, seed=7)
    if {"samples", "noise", "seed"} & set(kerasviz.methods.get(name).options):
        with pytest.raises(kerasviz.ArgumentError, match="cannot be smoothed"):
            kerasviz.explain(model, x, name, smooth=dict(samples=2))
        return
    exp = kerasviz.explain(model, x, name, target=[1, 0], smooth=dict(samples=2, noise=0.1))
    plain = kerasviz.explain(model, x, name, target=[1, 0])
    assert exp.maps.shape == (2, 16, 16) and exp.raw.shape == plain.raw.shape
    assert np.isfinite(exp.raw).all() and exp.family == plain.family
    moved = kerasviz.explain(model, x + 0.05 * images(2, 16, seed=8), name, target=[1, 0])
    if np.abs(moved.raw - plain.raw).max() > 0:  # not deconvnet here: its backward pass ignores x
        assert np.abs(exp.raw - plain.raw).max() > 0  # the noise did reach the method
