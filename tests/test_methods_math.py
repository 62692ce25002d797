"""Mathematical identities of the methods, each against an independent computation in the test."""
import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasviz
from conftest import gap_dense, images, reference_gradcam, reference_layer_grads, smooth_model


def _minmax(m):
    m = np.asarray(m, np.float64)
    lo = m.min(axis=(1, 2), keepdims=True)
    span = m.max(axis=(1, 2), keepdims=True) - lo
    return np.where(span > 0, (m - lo) / np.where(span > 0, span, 1), 0)


def _resize(maps, size):
    return tf.image.resize(np.asarray(maps, np.float32)[..., None], size, "bilinear")[..., 0].numpy()


def _layer_grads(model, layer, logits_layer, x, units):
    """A, dS/dA, S from scratch on a model whose logits are a named layer."""
    return reference_layer_grads(model.inputs[0], model.get_layer(layer).output,
                                 model.get_layer(logits_layer).output, x, units)


def _vgg_shaped(size=48, classes=5):
    base = keras.applications.VGG16(include_top=False, weights=None, input_shape=(size, size, 3))
    z = keras.layers.Dense(classes, name="logits")(keras.layers.GlobalAveragePooling2D()(base.output))
    return keras.Model(base.input, keras.layers.Activation("softmax")(z), name="vgg_shaped")


def test_gradcam_equals_from_scratch_tape_on_vgg_shaped_model():
    model = _vgg_shaped()
    x = images(4, 48, seed=1) * 255 - 120  # caffe-like range
    units = np.array([0, 3, 1, 4])
    exp = kerasviz.explain(model, x, "gradcam", target=list(units), layer="block5_conv3")
    _, _, s = _layer_grads(model, "block5_conv3", "logits", x, units)
    raw = reference_gradcam(model.inputs[0], model.get_layer("block5_conv3").output,
                            model.get_layer("logits").output, x, units)
    np.testing.assert_allclose(exp.raw, raw, rtol=1e-4, atol=1e-6 * np.abs(raw).max())
    np.testing.assert_allclose(exp.scores, s, rtol=1e-5)
    maps = _minmax(_resize(np.maximum(raw, 0), (48, 48)))
    np.testing.assert_allclose(exp.maps, maps, atol=1e-4)
    assert exp.target.tolist() == units.tolist() and exp.layer == "block5_conv3"
    assert np.ptp(raw) > 0  # the test is not comparing zeros


def test_cam_equals_gradcam_on_gap_dense_model():
    model = gap_dense()
    x = images(3)
    cam = kerasviz.explain(model, x, "cam", target=[0, 1, 2])
    grad = kerasviz.explain(model, x, "gradcam", target=[0, 1, 2])
    np.testing.assert_allclose(cam.maps, grad.maps, atol=1e-5)
    h, w = cam.raw.shape[1:]
    np.testing.assert_allclose(cam.raw, grad.raw * h * w, rtol=1e-4, atol=1e-7)  # w_k = W_kc / hw
    with pytest.raises(kerasviz.ModelError, match="GlobalAveragePooling2D"):
        kerasviz.explain(smooth_model(), images(1, 6, 2), "cam", layer="c2", target=0)


def test_gradcam_plus_plus_follows_equation_19():
    model = gap_dense(softmax=False)
    x = images(2)
    units = np.array([1, 2])
    exp = kerasviz.explain(model, x, "gradcam++", target=list(units))
    a, g, _ = _layer_grads(model, "c2", "predictions", x, units)
    ref = np.zeros(a.shape[0:3])
    for n in range(a.shape[0]):  # Eq. 19 and Eq. 10, written out per image and channel
        for k in range(a.shape[3]):
            gk, ak = g[n, :, :, k], a[n, :, :, k]
            denom = 2 * gk ** 2 + ak.sum() * gk ** 3
            alpha = np.divide(gk ** 2, denom, out=np.zeros_like(gk), where=denom != 0)
            ref[n] += (alpha * np.maximum(gk, 0)).sum() * ak
    np.testing.assert_allclose(exp.raw, ref, rtol=1e-4, atol=1e-6 * np.abs(ref).max())


def test_xgradcam_layercam_hirescam_from_their_formulas():
    model = gap_dense(softmax=False)
    x = images(2)
    a, g, s = _layer_grads(model, "c2", "predictions", x, np.array([0, 0]))
    xw = (a * g).sum(axis=(1, 2)) / a.sum(axis=(1, 2))
    expected = {"xgradcam": np.einsum("nhwc,nc->nhw", a, xw),
                "layercam": (np.maximum(g, 0) * a).sum(-1),
                "hirescam": (g * a).sum(-1)}
    for name, ref in expected.items():
        raw = kerasviz.explain(model, x, name, target=0).raw
        np.testing.assert_allclose(raw, ref, rtol=1e-4, atol=1e-6 * np.abs(ref).max(), err_msg=name)
    # HiResCAM on a GAP → Dense head sums to the logit minus the bias (first-order Taylor, exact)
    bias = model.get_layer("predictions").bias.numpy()[0]
    np.testing.assert_allclose(expected["hirescam"].sum(axis=(1, 2)), s - bias, rtol=1e-4)


def test_eigencam_is_first_principal_direction():
    model = gap_dense()
    x = images(2)
    exp = kerasviz.explain(model, x, "eigencam")
    a = keras.Model(model.inputs[0], model.get_layer("c2").output)(x).numpy().astype(np.float64)
    for n in range(2):
        flat = a[n].reshape(-1, a.shape[-1])
        v = np.linalg.svd(flat, full_matrices=False)[2][0]
        proj = flat @ v
        proj *= np.sign((proj * flat.sum(-1)).sum())
        np.testing.assert_allclose(exp.raw[n].ravel(), proj, rtol=1e-3, atol=1e-5 * np.abs(proj).max())


def test_scorecam_and_ablationcam_match_loops_over_channels():
    model = gap_dense(softmax=True, channels=5)
    x = images(2)
    units = np.array([2, 0])
    tap = keras.Model(model.inputs[0], model.get_layer("c2").output)
    dense = model.get_layer("predictions")
    a = tap(x).numpy()
    logits = _logit(dense, a)[np.arange(2), units]
    score_w = np.zeros((2, 5))
    ablate_w = np.zeros((2, 5))
    for k in range(5):  # one channel at a time, in plain numpy / eager Keras
        m = _resize(a[..., k], (16, 16))
        lo, hi = m.min(axis=(1, 2), keepdims=True), m.max(axis=(1, 2), keepdims=True)
        m = (m - lo) / np.where(hi > lo, hi - lo, 1)
        score_w[:, k] = model(x * m[..., None]).numpy()[np.arange(2), units]  # probability
        ablated = a.copy()
        ablated[..., k] = 0
        z = _logit(dense, ablated)[np.arange(2), units]
        ablate_w[:, k] = (logits - z) / np.abs(logits)
    for name, w, opts in (("scorecam", score_w, {"batch_size": 3}), ("ablationcam", ablate_w, {})):
        raw = kerasviz.explain(model, x, name, target=list(units), **opts).raw
        ref = np.einsum("nhwc,nc->nhw", a, w)
        np.testing.assert_allclose(raw, ref, rtol=1e-4, atol=1e-6 * np.abs(ref).max(), err_msg=name)


def _logit(dense, a):
    """Logits of the GAP → Dense(softmax) head from activations, without the softmax."""
    return a.mean(axis=(1, 2)) @ dense.kernel.numpy() + dense.bias.numpy()


def test_saliency_matches_central_finite_differences():
    model = smooth_model()
    x = images(1, 6, 2, seed=3)
    exp = kerasviz.explain(model, x, "saliency", target=1)
    eps = 1e-2
    d = np.eye(x.size, dtype=np.float32).reshape(-1, *x.shape[1:]) * eps
    f = lambda z: model(z).numpy()[:, 1].astype(np.float64)  # noqa: E731
    fd = ((f(x + d) - f(x - d)) / (2 * eps)).reshape(x.shape)
    assert np.abs(fd).max() > 1e-3
    np.testing.assert_allclose(exp.grads, fd, atol=2e-3 * np.abs(fd).max())
    np.testing.assert_allclose(exp.raw, np.abs(exp.grads).max(-1))


def test_smoothgrad_without_noise_is_saliency_and_gradxinput_is_saliency_times_input():
    model = smooth_model()
    x = images(3, 6, 2)
    sal = kerasviz.explain(model, x, "saliency", target=[0, 1, 2])
    sg = kerasviz.explain(model, x, "smoothgrad", target=[0, 1, 2], noise=0.0, samples=3)
    np.testing.assert_allclose(sg.grads, sal.grads, rtol=1e-5, atol=1e-7)
    gxi = kerasviz.explain(model, x, "gradxinput", target=[0, 1, 2])
    np.testing.assert_allclose(gxi.grads, sal.grads * x, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gxi.raw, (sal.grads * x).sum(-1), rtol=1e-5, atol=1e-7)
    noisy = kerasviz.explain(model, x, "smoothgrad", target=[0, 1, 2], noise=0.3, samples=8)
    assert np.abs(noisy.grads - sal.grads).max() > 1e-4  # noise does change it


def test_integrated_gradients_completeness_error_shrinks():
    model = smooth_model()
    x = images(2, 6, 2, seed=5) * 2
    base = np.full(x.shape[1:], 0.25, np.float32)
    gap = model(x).numpy()[:, 0] - model(np.broadcast_to(base, x.shape)).numpy()[:, 0]
    errors = []
    for steps in (2, 8, 32):
        ig = kerasviz.explain(model, x, "integrated_gradients", target=0, steps=steps, baseline=base)
        errors.append(np.abs(ig.grads.sum(axis=(1, 2, 3)) - gap).max())
    assert np.abs(gap).min() > 0.01
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 1e-3 * np.abs(gap).max()


def test_ablationcam_head_with_a_skip_connection_around_the_layer():
    i = keras.Input((12, 12, 3))
    c1 = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="c1")(i)
    c2 = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="c2")(c1)
    z = keras.layers.Dense(3, name="d")(keras.layers.GlobalAveragePooling2D()(keras.layers.Add()([c2, c1])))
    model = keras.Model(i, z)
    from kerasviz.core.layers import head_model

    assert len(head_model(model, "c2", logits=True).inputs) == 2  # needs the input for c1 too
    x = images(2, 12, seed=4)
    a1, a2 = (t.numpy() for t in keras.Model(i, [c1, c2])(x))
    dense = model.get_layer("d")
    score = lambda a: ((a + a1).mean(axis=(1, 2)) @ dense.kernel.numpy() + dense.bias.numpy())[:, 1]  # noqa: E731
    w = np.stack([(score(a2) - score(a2 * (np.arange(4) != k))) / np.abs(score(a2))
                  for k in range(4)], axis=1)
    raw = kerasviz.explain(model, x, "ablationcam", target=1, layer="c2").raw
    ref = np.einsum("nhwc,nc->nhw", a2, w)
    np.testing.assert_allclose(raw, ref, rtol=1e-4, atol=1e-6 * np.abs(ref).max())
