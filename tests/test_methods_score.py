"""explain(score="probability") and the gradcam_ig method, against independent computations."""
import numpy as np
import pytest

import kerasviz
from conftest import gap_dense, images as random_images
from kerasviz import methods as registry
from kerasviz.data import datasets

SEED = 2024  # not a training (100000+) or evaluation (9999) seed of the demo models


@pytest.fixture(scope="module")
def shapes():
    model = kerasviz.load_model("shapes")
    images, labels, _ = datasets.shapes(4, seed=SEED)
    return model, images, labels


@pytest.mark.filterwarnings("ignore:Method 'gradcam' gives an empty map")  # logit maps of wrong classes
@pytest.mark.parametrize("shift", [0, 1], ids=["true class", "another class"])
def test_probability_gradcam_is_the_softmax_chain_rule_of_logit_gradcams(shapes, shift):
    """Grad-CAM's raw map is linear in ∂S/∂A, and ∂p_c/∂A = p_c (∂z_c/∂A − Σ_k p_k ∂z_k/∂A), so
    raw_prob = p_c (raw_c − Σ_k p_k raw_k) with raw_k the logit Grad-CAM of class k."""
    model, images, labels = shapes
    target = (labels + shift) % 5
    prob = kerasviz.explain(model, images, "gradcam", target=target, score="probability")
    p = model.predict(kerasviz.preprocess(model, images), verbose=0).astype(np.float64)  # (4, 5)
    raws = np.stack([kerasviz.explain(model, images, "gradcam", target=k).raw for k in range(5)],
                    axis=1).astype(np.float64)  # (4, 5, 12, 12)
    rows = np.arange(4)
    pc = p[rows, target]
    want = pc[:, None, None] * (raws[rows, target] - np.einsum("nk,nkhw->nhw", p, raws))
    np.testing.assert_allclose(prob.scores, pc, rtol=1e-5)  # scores are the probabilities
    for i in range(4):
        # float32 terms of size p_c · max|raw_k|, rounded at ~1e-7 relative, a few ops deep
        scale = pc[i] * np.abs(raws[i]).max()
        np.testing.assert_allclose(prob.raw[i], want[i], atol=1e-4 * scale, err_msg=f"image {i}")


def test_probability_saliency_matches_finite_differences(shapes):
    model, images, labels = shapes
    x = kerasviz.preprocess(model, images)
    p = model.predict(x, verbose=0)
    i = int(np.argmin(np.abs(p[np.arange(4), labels] - 0.5)))  # the least saturated image
    c = int(labels[i])
    exp = kerasviz.explain(model, x[i:i + 1], "saliency", target=c, score="probability")
    v = np.random.default_rng(0).standard_normal(x.shape[1:]).astype(np.float32)
    h = 3e-5
    plus, minus = model.predict(np.stack([x[i] + h * v, x[i] - h * v]), verbose=0)[:, c]
    fd = (float(plus) - float(minus)) / (2 * h)
    directional = float((exp.grads[0].astype(np.float64) * v).sum())
    # central differences of float32 probabilities: rounding ~6e-8 / h ≈ 2e-3 absolute; the
    # network is piecewise linear (ReLU, max-pool) and ±h·v still crosses a few kinks, which
    # moves the quotient by < 1 % at this h (5 % at h = 1e-3, so h is this small)
    np.testing.assert_allclose(directional, fd, rtol=1e-2, atol=5e-3)
    # and exactly, by the chain rule through the softmax, from the logit gradients of each class
    g = np.stack([kerasviz.explain(model, x[i:i + 1], "saliency", target=k).grads[0]
                  for k in range(5)]).astype(np.float64)
    pk = p[i].astype(np.float64)
    want = pk[c] * (g[c] - np.einsum("k,khwc->hwc", pk, g))
    np.testing.assert_allclose(exp.grads[0], want, atol=1e-4 * pk[c] * np.abs(g).max())
    logit = kerasviz.explain(model, x[i:i + 1], "saliency", target=c)
    assert not np.allclose(logit.grads, exp.grads)  # a different quantity, not a cached graph


def test_bad_score_is_named_before_tensorflow_work(shapes):
    model, images, labels = shapes
    with pytest.raises(kerasviz.ArgumentError, match="score must be one of"):
        kerasviz.explain(model, images, "gradcam", score="prob")
    with pytest.raises(kerasviz.ArgumentError, match="callable target"):
        kerasviz.explain(model, images, "gradcam", target=lambda z: z[:, 0], score="probability")
    sensors = kerasviz.load_model("sensors")
    img, _, _ = datasets.sensors(1, seed=SEED)
    with pytest.raises(kerasviz.ArgumentError, match="does not end in a softmax"):
        kerasviz.explain(sensors, img, "saliency", score="probability")


#: Every registered method that reads the target's score (its gradient or its value), read from
#: the registry when this module is collected: a new method is enrolled by registering it.
SCORED = [m for m in registry.names() if registry.get(m).scored]
#: Options that keep the sampling methods cheap here (only those a method has are passed).
LIGHT = {"samples": 3, "steps": 6, "masks": 24, "max_channels": 4, "patch": 8, "stride": 8}


@pytest.fixture(scope="module")
def tiny():
    """A random 3-class softmax CNN (16 px) and 2 images: p ≈ 1/3, far from saturation, so the
    probability's gradient p_c (∂z_c − Σ_k p_k ∂z_k) is not a small multiple of the logit's."""
    return gap_dense(size=16, classes=3, channels=6), random_images(2, 16, seed=11)


@pytest.mark.filterwarnings("ignore::kerasviz.ExplanationWarning")
@pytest.mark.parametrize("name", SCORED)
def test_probability_equals_the_method_on_a_callable_softmax_target(tiny, name):
    """explain(score="probability", target=c) must be the same method explaining the callable
    target ``softmax(z)[:, c]`` (callables see the pre-softmax outputs ``z``): the score enters
    every method (gradients, Score-CAM / RISE weights, occlusion and ablation drops, the
    integrated-gradients path) through one rule, and this checks each method reads it."""
    import tensorflow as tf

    model, x = tiny
    c = 1
    opts = {k: v for k, v in LIGHT.items() if k in registry.get(name).options}
    prob = kerasviz.explain(model, x, name, target=c, score="probability", **opts)
    ref = kerasviz.explain(model, x, name, target=lambda z: tf.nn.softmax(z)[:, c], **opts)
    p = model.predict(x, verbose=0)[:, c]  # the model's own softmax, outside kerasviz
    np.testing.assert_allclose(prob.scores, p, rtol=1e-5)
    np.testing.assert_allclose(ref.scores, p, rtol=1e-5)
    logit = kerasviz.explain(model, x, name, target=c, **opts)
    assert np.abs(logit.scores - p).min() > 1e-2  # the logits are another quantity
    # The same float32 math in two compiled graphs (a gathered and a sliced softmax column):
    # equal up to float32 rounding (~1e-7 relative) over a few dozen ops, far below 1e-5 of the
    # map's scale; reading the logit instead changes the raw map by O(1) of its scale.
    for i in range(2):
        scale = max(float(np.abs(ref.raw[i]).max()), 1e-30)
        np.testing.assert_allclose(prob.raw[i], ref.raw[i], rtol=1e-5, atol=1e-5 * scale,
                                   err_msg=f"image {i}")
    np.testing.assert_allclose(prob.maps, ref.maps, atol=1e-4)
    if prob.grads is not None:
        np.testing.assert_allclose(prob.grads, ref.grads, rtol=1e-5,
                                   atol=1e-5 * np.abs(ref.grads).max())


@pytest.mark.parametrize("name", ["scorecam", "rise"])
def test_probability_weighted_methods_give_the_same_map_for_either_score(tiny, name):
    """Score-CAM and RISE weight by the class probability whatever ``score`` is (as documented
    in explain): only their ``scores`` change."""
    model, x = tiny
    opts = {k: v for k, v in LIGHT.items() if k in registry.get(name).options}
    prob = kerasviz.explain(model, x, name, target=1, score="probability", **opts)
    logit = kerasviz.explain(model, x, name, target=1, **opts)
    np.testing.assert_allclose(prob.raw, logit.raw, rtol=1e-6, atol=1e-7 * np.abs(logit.raw).max())
    assert np.abs(prob.scores - logit.scores).min() > 1e-2


def test_probability_is_refused_by_methods_that_ignore_the_score(tiny):
    """CAM (the head's weights of the class) and Eigen-CAM (class-agnostic) never read the score,
    so score='probability' would silently return the logit's map: refused, before any work."""
    model, x = tiny
    unscored = [m for m in registry.names() if not registry.get(m).scored]
    assert unscored == ["cam", "eigencam"]
    for name in unscored + [registry.smooth("cam", samples=2)]:
        with pytest.raises(kerasviz.ArgumentError, match="does not apply to method"):
            kerasviz.explain(model, x, name, target=1, score="probability")
        assert kerasviz.explain(model, x, name, target=1).maps.shape == (2, 16, 16)


def test_gradcam_ig_is_gradcam_times_blurred_integrated_gradients(shapes):
    from scipy.ndimage import gaussian_filter

    from kerasviz.methods.fused import BLUR_SIGMA_PER_PIXEL

    model, images, labels = shapes
    got = kerasviz.explain(model, images, "gradcam_ig", target=labels)
    ig = kerasviz.explain(model, images, "integrated_gradients", target=labels).grads
    cam = kerasviz.explain(model, images, "gradcam", target=labels).maps
    sigma = BLUR_SIGMA_PER_PIXEL * 96
    radius = int(np.ceil(3 * sigma))
    for i in range(4):
        blurred = np.stack([gaussian_filter(np.abs(ig[i, ..., ch]).astype(np.float64), sigma,
                                            mode="constant", truncate=radius / sigma)
                            for ch in range(3)], axis=-1)
        raw = (blurred * cam[i, ..., None]).max(-1)
        want = (raw - raw.min()) / (raw.max() - raw.min())
        # float32 convolutions and products of values in [0, 1]: ~1e-6 relative per op
        np.testing.assert_allclose(got.maps[i], want, atol=1e-4, err_msg=f"image {i}")
    assert got.layer == "conv4" and got.grads.shape == (4, 96, 96, 3)
