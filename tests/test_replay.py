"""The model replay: the ReLU gradient table against hand-written masks and autodiff, guided
backprop / deconvnet against hand-masked backward passes, every ReLU form, pre-activation taps,
the cache's public behaviour, and the user's model untouched."""
import gc
import weakref

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasviz
from kerasviz.core import layers as L
from kerasviz.core.replay import (RELU_GRADIENTS, head_model, relu_cap, relu_with_gradient,
                                  replay_model)


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
        assert sum(relu_cap(r.layer)[0] for r in L.layer_table(m)) == 1  # one ReLU each
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


# x on a grid that includes the kinks 0 and the cap 6; dy of both signs and zero
_X = np.array([-2.0, -0.5, 0.0, 0.5, 3.0, 6.0, 7.5] * 3, np.float32)
_DY = np.repeat(np.array([1.5, -0.7, 0.0], np.float32), 7)


def _hand_rule(mode, x, dy, cap):
    """The backward rules written out element by element."""
    out = []
    for xi, di in zip(x, dy):
        off, capped = xi <= 0, cap is not None and xi >= cap
        live = not (off or capped)
        keep = {"normal": live, "guided": live and di > 0, "deconvnet": di > 0,
                "redirected": not ((off and di < 0) or (capped and di > 0))}[mode]
        out.append(di if keep else 0.0)
    return np.array(out, np.float32)


@pytest.mark.parametrize("cap", [None, 6.0])
@pytest.mark.parametrize("mode", sorted(RELU_GRADIENTS))
def test_relu_gradient_table_matches_hand_written_rules(mode, cap):
    x = tf.constant(_X)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = relu_with_gradient(mode, cap)(x)
    ref = tf.nn.relu(x) if cap is None else tf.nn.relu6(x)
    np.testing.assert_array_equal(y.numpy(), ref.numpy())                 # forward: the ReLU's
    dx = tape.gradient(y, x, output_gradients=tf.constant(_DY)).numpy()
    np.testing.assert_array_equal(dx, _hand_rule(mode, _X, _DY, cap))


@pytest.mark.parametrize("cap", [None, 6.0])
def test_normal_rule_is_tensorflows_own_relu_gradient(cap):
    x = tf.constant(_X)
    grads = []
    for fn in (relu_with_gradient("normal", cap), tf.nn.relu if cap is None else tf.nn.relu6):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = fn(x)
        grads.append(tape.gradient(y, x, output_gradients=tf.constant(_DY)).numpy())
    np.testing.assert_array_equal(*grads)


def test_unknown_relu_mode_is_an_argument_error():
    with pytest.raises(kerasviz.ArgumentError, match=r"relu must be one of.*Closest: \['guided'\]"):
        relu_with_gradient("guidded")
    with pytest.raises(kerasviz.ArgumentError, match="relu"):
        replay_model(_two_relu_conv(), relu="guidded")
    with pytest.raises(kerasviz.LayerNotFoundError, match=r"conv2.*Closest: \['conv'\]"):
        replay_model(_two_relu_conv(), ["conv2"])


def test_redirected_replay_backpropagates_by_the_rule_at_every_relu():
    """Through the model: d out / d x with redirected ReLUs equals the hand-written backward pass
    (conv → redirected mask → dense → redirected mask → dense)."""
    model = _two_relu_conv()
    x = tf.constant(np.random.RandomState(7).randn(2, 5, 5, 2).astype("float32"))
    conv, hidden, out = (model.get_layer(n) for n in ("conv", "hidden", "out"))
    with tf.GradientTape() as tape:
        tape.watch(x)
        s = replay_model(model, relu="redirected")(x)[:, 2]
    got = tape.gradient(s, x).numpy()
    z1 = tf.nn.conv2d(x, conv.kernel, 1, "VALID") + conv.bias
    z2 = tf.matmul(tf.reshape(tf.nn.relu(z1), [2, -1]), hidden.kernel) + hidden.bias
    redirect = lambda dy, z: tf.where((z <= 0) & (dy < 0), 0.0, dy)  # noqa: E731
    dz2 = redirect(tf.broadcast_to(out.kernel[:, 2][None], z2.shape), z2)
    dz1 = redirect(tf.reshape(tf.matmul(dz2, tf.transpose(hidden.kernel)), z1.shape), z1)
    with tf.GradientTape() as tape:
        tape.watch(x)
        lin = tf.reduce_sum(tf.nn.conv2d(x, conv.kernel, 1, "VALID") * dz1)
    ref = tape.gradient(lin, x).numpy()
    assert np.abs(ref).max() > 0
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6 * np.abs(ref).max())


def test_pre_activation_taps_fused_standalone_and_plain_layers():
    i = keras.Input((6, 6, 2))
    c = keras.layers.Conv2D(3, 3, activation="relu", name="c")(i)
    n = keras.layers.Conv2D(3, 1, name="n")(c)                 # no activation
    r = keras.layers.ReLU(name="r")(n)
    model = keras.Model(i, keras.layers.Dense(2, name="d")(keras.layers.Flatten()(r)))
    x = np.random.RandomState(8).randn(2, 6, 6, 2).astype("float32")
    rm = replay_model(model, ["c", "r"], pre_activation=["c", "r", "n"], logits=False)
    c_out, r_out, c_pre, r_pre, n_pre, y = (t.numpy() for t in rm(x))
    conv = model.get_layer("c")
    z = tf.nn.conv2d(x, conv.kernel, 1, "VALID").numpy() + conv.bias.numpy()
    np.testing.assert_allclose(c_pre, z, rtol=1e-5, atol=1e-6)      # before the fused ReLU
    np.testing.assert_allclose(c_out, np.maximum(z, 0), rtol=1e-5, atol=1e-6)
    ref_n = keras.Model(i, n)(x).numpy()
    np.testing.assert_allclose(r_pre, ref_n, rtol=1e-5, atol=1e-6)  # the ReLU layer's input
    np.testing.assert_allclose(n_pre, ref_n, rtol=1e-5, atol=1e-6)  # no activation: the output
    np.testing.assert_allclose(r_out, np.maximum(ref_n, 0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(y, model(x).numpy(), rtol=1e-5, atol=1e-6)  # downstream as before
    assert conv.activation is keras.activations.relu


def test_cache_returns_the_same_model_is_cleared_and_does_not_keep_the_model_alive():
    model = _two_relu_conv()
    guided = replay_model(model, ["conv"], relu="guided")
    assert replay_model(model, ["conv"], relu="guided") is guided
    assert replay_model(model, ["conv"]) is not guided
    assert replay_model(model, relu="normal") is replay_model(model)   # normal = no override
    head = head_model(model, "conv")
    assert head_model(model, "conv") is head
    kerasviz.clear_caches()
    assert replay_model(model, ["conv"], relu="guided") is not guided
    ref = weakref.ref(model)
    del model, guided, head
    gc.collect()
    assert ref() is None


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
    for mode in RELU_GRADIENTS:
        rm = replay_model(model, relu=mode)
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
