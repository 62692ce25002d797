"""Guided backprop / deconvnet: hand-masked backward passes, every ReLU form, model untouched."""
import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasviz
from kerasviz.core.relu_override import count_relus, modified_relu, relu_model


def _two_relu_conv():
    """x → Conv2D(relu, fused) → Flatten → Dense(relu, fused) → Dense(3)."""
    i = keras.Input((5, 5, 2))
    a = keras.layers.Conv2D(3, 3, activation="relu", name="conv")(i)
    f = keras.layers.Flatten()(a)
    h = keras.layers.Dense(6, activation="relu", name="hidden")(f)
    return keras.Model(i, keras.layers.Dense(3, name="out")(h))


def _hand_backward(model, x, unit, mode):
    """The backward pass written out: both ReLU masks (guided) or only the gradient sign
    (deconvnet); the transposed convolution is the gradient of the linear map <conv(x), d>."""
    conv, hidden, out = (model.get_layer(n) for n in ("conv", "hidden", "out"))
    x = tf.constant(x)
    z1 = tf.nn.conv2d(x, conv.kernel, 1, "VALID") + conv.bias
    a1 = tf.reshape(tf.nn.relu(z1), [len(x), -1])
    z2 = tf.matmul(a1, hidden.kernel) + hidden.bias
    dy2 = tf.broadcast_to(tf.transpose(out.kernel)[unit][None], z2.shape)  # d score / d relu(z2)

    def through_relu(dy, z):
        keep = tf.cast(dy > 0, tf.float32)
        return dy * keep * (tf.cast(z > 0, tf.float32) if mode == "guided" else 1.0)

    dz2 = through_relu(dy2, z2)
    dz1 = through_relu(tf.reshape(tf.matmul(dz2, tf.transpose(hidden.kernel)), z1.shape), z1)
    with tf.GradientTape() as tape:
        tape.watch(x)
        lin = tf.reduce_sum(tf.nn.conv2d(x, conv.kernel, 1, "VALID") * dz1)
    return tape.gradient(lin, x).numpy()


@pytest.mark.parametrize("mode", ["guided", "deconvnet"])
def test_matches_hand_masked_backward_through_fused_relus(mode):
    model = _two_relu_conv()
    x = np.random.RandomState(0).randn(3, 5, 5, 2).astype("float32")
    method = "guided_backprop" if mode == "guided" else "deconvnet"
    exp = kerasviz.explain(model, x, method, target=1)
    ref = _hand_backward(model, x, 1, mode)
    assert np.abs(ref).max() > 0
    np.testing.assert_allclose(exp.grads, ref, rtol=1e-5, atol=1e-6 * np.abs(ref).max())


def test_guided_and_deconvnet_differ_from_each_other_and_from_the_gradient():
    model = _two_relu_conv()
    x = np.random.RandomState(1).randn(2, 5, 5, 2).astype("float32")
    g = {m: kerasviz.explain(model, x, m, target=0).grads
         for m in ("saliency", "guided_backprop", "deconvnet")}
    assert np.abs(g["guided_backprop"] - g["deconvnet"]).max() > 1e-3  # forward mask matters
    assert np.abs(g["guided_backprop"] - g["saliency"]).max() > 1e-3    # gradient sign matters


def test_every_relu_form_is_reached_also_inside_a_nested_model():
    kernel = np.random.RandomState(2).randn(3, 3, 2, 4).astype("float32")

    def build(form):
        act = {"fused": None, "layer": keras.layers.ReLU(),
               "activation": keras.layers.Activation("relu")}[form]
        inner = keras.Sequential(
            [keras.Input((6, 6, 2)),
             keras.layers.Conv2D(4, 3, activation="relu" if form == "fused" else None, name="c")]
            + ([act] if act is not None else []), name="inner")
        inner.get_layer("c").set_weights([kernel, np.full(4, 0.1, np.float32)])
        i = keras.Input((6, 6, 2))
        y = keras.layers.Dense(2, name="out", kernel_initializer="ones")(
            keras.layers.Flatten()(inner(i)))
        return keras.Model(i, y)

    x = np.random.RandomState(3).randn(2, 6, 6, 2).astype("float32")
    models = {f: build(f) for f in ("fused", "layer", "activation")}
    for m in models.values():
        m.get_layer("out").set_weights([np.random.RandomState(4).randn(64, 2).astype("float32"),
                                        np.zeros(2, np.float32)])
        assert count_relus(m) == 1
    grads = {f: kerasviz.explain(m, x, "guided_backprop", target=0).grads for f, m in models.items()}
    plain = kerasviz.explain(models["fused"], x, "saliency", target=0).grads
    assert np.abs(grads["fused"] - plain).max() > 1e-4  # the override took effect
    np.testing.assert_allclose(grads["layer"], grads["fused"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(grads["activation"], grads["fused"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("form", ["layer", "activation"])
def test_capped_relu6_masks_both_ends(form):
    i = keras.Input((1, 1, 3))
    z = keras.layers.Dense(3, name="d", use_bias=False)(i)
    act = keras.layers.ReLU(max_value=6.0) if form == "layer" else keras.layers.Activation("relu6")
    y = keras.layers.Dense(1, name="out", use_bias=False)(act(z))
    model = keras.Model(i, y)
    model.get_layer("d").set_weights([np.eye(3, dtype=np.float32)])
    model.get_layer("out").set_weights([np.array([[1.0], [-1.0], [2.0]], np.float32)])
    x = np.array([[[[3.0, 2.0, 8.0]]], [[[-1.0, 5.0, 0.5]]]], np.float32)
    # unit 0 live with dy>0; unit 1 dy<0; unit 2 saturated (8 > 6) in image 0, live in image 1
    guided = kerasviz.explain(model, x, "guided_backprop", target=0).grads.reshape(2, 3)
    np.testing.assert_allclose(guided, [[1, 0, 0], [0, 0, 2]])
    deconv = kerasviz.explain(model, x, "deconvnet", target=0).grads.reshape(2, 3)
    np.testing.assert_allclose(deconv, [[1, 0, 2], [1, 0, 2]])


def test_modified_relu_forward_equals_relu():
    x = tf.constant(np.linspace(-8, 8, 33, dtype=np.float32))
    for mode in ("guided", "deconvnet"):
        np.testing.assert_array_equal(modified_relu(mode)(x).numpy(), tf.nn.relu(x).numpy())
        np.testing.assert_array_equal(modified_relu(mode, 6.0)(x).numpy(), tf.nn.relu6(x).numpy())
    with pytest.raises(kerasviz.KerasvizError, match="guided"):
        modified_relu("guidded")


def test_user_model_is_untouched():
    model = _two_relu_conv()
    x = np.random.RandomState(5).randn(2, 5, 5, 2).astype("float32")
    probe = keras.Model(model.inputs[0], [model.get_layer("conv").output, model.output])
    before_w = [w.copy() for w in model.get_weights()]
    before_acts = [t.numpy() for t in probe(x)]
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        s = model(xt)[:, 0]
    before_grad = tape.gradient(s, xt).numpy()
    acts_before = [layer.activation for layer in model.layers if hasattr(layer, "activation")]

    for method in ("guided_backprop", "deconvnet", "guided_gradcam"):
        kerasviz.explain(model, x, method, target=0)
    rm = relu_model(model, "guided")
    np.testing.assert_allclose(rm(x).numpy(), model(x).numpy(), rtol=1e-6)  # forward unchanged

    for a, b in zip(model.get_weights(), before_w):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(probe(x), before_acts):
        np.testing.assert_array_equal(a.numpy(), b)
    assert [layer.activation for layer in model.layers if hasattr(layer, "activation")] == acts_before
    with tf.GradientTape() as tape:
        tape.watch(xt)
        s = model(xt)[:, 0]
    np.testing.assert_array_equal(tape.gradient(s, xt).numpy(), before_grad)
