"""Score-CAM's channel weights (class probabilities by default, on logits models too) against
the definition written out here, and its option checks."""
import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasviz
from conftest import gap_dense, images


def _reference(model, x, units, layer="c2", logits_model=None):
    """Score-CAM from its definition, one channel at a time in eager Keras / numpy: mask
    ``M_k`` = bilinear upsampling of ``A^k`` min-max scaled, ``w_k`` = softmax of the logits of
    ``x ⊙ M_k`` at the unit (or the logit itself when ``logits_model`` is given)."""
    a = keras.Model(model.inputs[0], model.get_layer(layer).output)(x).numpy()
    n, c = len(x), a.shape[-1]
    w = np.zeros((n, c))
    for k in range(c):
        m = tf.image.resize(a[..., k:k + 1], x.shape[1:3], "bilinear").numpy()
        lo, hi = m.min(axis=(1, 2), keepdims=True), m.max(axis=(1, 2), keepdims=True)
        m = (m - lo) / np.where(hi > lo, hi - lo, 1)
        z = (logits_model or model)(x * m).numpy().astype(np.float64)
        if logits_model is None:
            z = np.exp(z - z.max(1, keepdims=True))
            z /= z.sum(1, keepdims=True)
        w[:, k] = z[np.arange(n), units]
    return np.einsum("nhwc,nc->nhw", a, w)


@pytest.fixture(scope="module")
def logits_and_softmax():
    """The same weights twice: a model ending in logits (Dense without activation) and that
    model with a Softmax layer appended."""
    keras.utils.set_random_seed(21)
    logits = gap_dense(size=16, classes=4, channels=6, softmax=False, name="sc_logits")
    probs = keras.Model(logits.input, keras.layers.Softmax()(logits.output), name="sc_softmax")
    return logits, probs


def test_default_weights_are_probabilities_on_logits_and_softmax_models(logits_and_softmax):
    logits, probs = logits_and_softmax
    x, units = images(3, 16, seed=4), np.array([0, 3, 1])
    ref = _reference(logits, x, units)
    # float32 forward passes and a sum over 6 channels: relative rounding ~1e-6
    tol = dict(rtol=1e-4, atol=1e-6 * np.abs(ref).max())
    for model in (logits, probs):
        exp = kerasviz.explain(model, x, "scorecam", target=list(units))
        np.testing.assert_allclose(exp.raw, ref, err_msg=model.name, **tol)


@pytest.mark.filterwarnings("ignore:Method 'scorecam' gives an empty map")  # negative logits
def test_logit_weights_are_the_logits_and_differ_from_probabilities(logits_and_softmax):
    logits, probs = logits_and_softmax
    x, units = images(3, 16, seed=4), np.array([0, 3, 1])
    ref = _reference(logits, x, units, logits_model=logits)
    for model in (logits, probs):  # on the softmax model, the logit before its softmax
        got = kerasviz.explain(model, x, "scorecam", target=list(units), weights="logit").raw
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-6 * np.abs(ref).max())
    default = kerasviz.explain(logits, x, "scorecam", target=list(units)).raw
    assert np.abs(default - ref).max() > 0.1 * np.abs(ref).max()


@pytest.mark.filterwarnings("ignore:Method 'scorecam' gives an empty map")
def test_one_unit_and_sigmoid_outputs_keep_the_score():
    """Not a class output: a softmax over one unit would be 1 for every channel."""
    keras.utils.set_random_seed(3)
    base = gap_dense(size=16, channels=4, softmax=False, name="sc_base")
    for act in ("linear", "sigmoid"):
        head = keras.layers.Dense(1, activation=act, name="out")(base.get_layer("gap").output)
        model = keras.Model(base.input, head, name=f"sc_{act}")
        x = images(2, 16, seed=1)
        got = kerasviz.explain(model, x, "scorecam", target=0).raw
        ref = _reference(model, x, np.zeros(2, int), logits_model=model)
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-6 * np.abs(ref).max(), err_msg=act)


def test_bad_weights_option_fails_before_tensorflow_work(logits_and_softmax, monkeypatch):
    from kerasviz.methods import base

    monkeypatch.setattr(base, "plan_for", lambda *a, **k: pytest.fail("reached TensorFlow"))
    with pytest.raises(kerasviz.ArgumentError, match=r"weights must be one of \['probability', "
                                                     r"'logit'\]\. Received: weights='logits'"):
        kerasviz.explain(logits_and_softmax[0], images(1, 16), "scorecam", weights="logits")
