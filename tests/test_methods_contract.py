"""One contract, every registered method: a method is enrolled here by registering it.

The parametrisation reads the registry when this module is collected; ``conftest.py`` imports
every test module that registers a method before collection, so a method registered in a test
file (``test_methods_added.py``) is run here too, with no edit here, whatever the selection.
Two noise-tunnel compositions are run as well.
"""
import numpy as np
import pytest

import kerasviz
from conftest import gap_dense, images, weights_of
from kerasviz import methods as registry

SMOOTHED = [registry.smooth("gradcam++", samples=5, noise=0.2),
            registry.smooth("guided_gradcam", samples=3, noise=0.1, seed=4)]


@pytest.fixture(scope="module")
def model():
    return gap_dense(size=16, channels=6)


def test_registry_lists_the_methods_with_one_line_each():
    listed = kerasviz.methods()
    assert [m.name for m in listed] == registry.names() and len(listed) >= 16
    for m in listed:
        assert m.doc and "\n" not in m.doc and str(m).startswith(m.name)
        assert m.family in ("cam", "pixel")
    assert registry.get("Grad-CAM").name == "gradcam" and registry.get("IG").name == "integrated_gradients"
    with pytest.raises(kerasviz.UnknownMethodError, match="Closest: \\['gradcam"):
        registry.get("gradcamm")


@pytest.mark.parametrize("method", registry.names() + SMOOTHED,
                         ids=lambda m: m if isinstance(m, str) else m.name)
def test_contract(model, method):
    x = images(3, 16, seed=7)
    before = weights_of(model)
    method = registry.get(method)
    exp = kerasviz.explain(model, x, method, target=[0, 2, 1], batch_size=4)

    assert exp.maps.shape == (3, 16, 16) and exp.maps.dtype == np.float32
    assert exp.maps.min() >= 0 and exp.maps.max() <= 1 and np.isfinite(exp.maps).all()
    assert exp.maps.reshape(3, -1).max(1).tolist() == [1.0, 1.0, 1.0]  # per-image min-max
    if method.family == "cam":
        assert exp.raw.shape == (3, 12, 12) and exp.grads is None  # c2 of a 16 px input
    else:
        assert exp.raw.shape == (3, 16, 16) and exp.grads.shape == (3, 16, 16, 3)
    assert exp.layer == ("c2" if method.uses_layer else None)
    assert exp.method == method.name and exp.target.tolist() == [0, 2, 1]
    np.testing.assert_allclose(exp.scores, _logits(model, x, [0, 2, 1]), rtol=1e-5)

    # a batch of N equals N single-image runs (noise, chunking and batching are per image)
    for i in range(3):
        one = kerasviz.explain(model, x[i:i + 1], method, target=[0, 2, 1][i], batch_size=4)
        np.testing.assert_allclose(one.maps[0], exp.maps[i], atol=2e-4, err_msg=f"image {i}")
        np.testing.assert_allclose(one.raw[0], exp.raw[i], rtol=1e-4,
                                   atol=1e-5 * max(np.abs(exp.raw[i]).max(), 1e-12))

    # deterministic (other chunking too), and by seed where the method draws noise
    again = kerasviz.explain(model, x, method, target=[0, 2, 1], batch_size=2)
    np.testing.assert_allclose(again.raw, exp.raw, rtol=1e-4, atol=1e-6 * np.abs(exp.raw).max())
    if "seed" in method.options:
        other = kerasviz.explain(model, x, method, target=[0, 2, 1], seed=1)
        assert np.abs(other.raw - exp.raw).max() > 1e-6

    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def _logits(model, x, units):
    import keras

    dense = model.get_layer("predictions")
    feats = keras.Model(model.inputs[0], dense.input)(x).numpy()
    z = feats @ dense.kernel.numpy() + dense.bias.numpy()  # the softmax's input, by hand
    return z[np.arange(len(units)), units]


def test_top_class_by_default_and_compiled_graph_is_reused(model):
    x = images(4, 16, seed=2)
    exp = kerasviz.explain(model, x, "gradcam")
    assert exp.target.tolist() == np.argmax(model(x).numpy(), 1).tolist()
    traces = kerasviz.methods.base.Plan.total_traces
    kerasviz.explain(model, images(2, 16, seed=3), "gradcam", target=[1, 2])  # other classes, N
    kerasviz.explain(model, images(20, 16, seed=4), "gradcam", target=1)  # two chunks
    assert kerasviz.methods.base.Plan.total_traces == traces  # one per (model, layer, method, shape)


def test_bad_inputs_fail_before_tensorflow_work(model):
    x = images(1, 16)
    with pytest.raises(kerasviz.ArgumentError, match="Unknown option 'sample'.*Closest: \\['samples"):
        kerasviz.explain(model, x, "smoothgrad", sample=3)
    with pytest.raises(kerasviz.UnknownMethodError, match="Closest"):
        kerasviz.explain(model, x, "smoothgrd")
    with pytest.raises(kerasviz.LayerNotFoundError, match="c2"):
        kerasviz.explain(model, x, "gradcam", layer="c3")
    with pytest.raises(kerasviz.ModelError, match="4-D"):
        kerasviz.explain(model, x, "gradcam", layer="predictions")
    with pytest.raises(kerasviz.TargetError, match="out of range"):
        kerasviz.explain(model, x, "gradcam", target=3)
    with pytest.raises(kerasviz.ImageError, match="expects input of shape"):
        kerasviz.explain(model, images(1, 20), "gradcam")
    with pytest.warns(UserWarning, match="ignored"):
        kerasviz.explain(model, x, "saliency", layer="c2")


def test_model_without_conv_layer_gets_a_clear_error():
    import keras

    i = keras.Input((4, 4, 3))
    dense = keras.Model(i, keras.layers.Dense(2)(keras.layers.Flatten()(i)))
    with pytest.raises(kerasviz.ModelError, match="no convolutional layer.*saliency"):
        kerasviz.explain(dense, images(1, 4), "gradcam")
    assert kerasviz.explain(dense, images(1, 4), "saliency").maps.shape == (1, 4, 4)


def test_callable_target(model):
    x = images(2, 16)
    both = kerasviz.explain(model, x, "gradcam", target=lambda z: z[:, 0] + z[:, 1])
    a = kerasviz.explain(model, x, "hirescam", target=lambda z: z[:, 0] + z[:, 1])
    b0 = kerasviz.explain(model, x, "hirescam", target=0)
    b1 = kerasviz.explain(model, x, "hirescam", target=1)
    np.testing.assert_allclose(a.raw, b0.raw + b1.raw, rtol=1e-4, atol=1e-7)  # linear in the score
    assert both.target is None and both.maps.shape == (2, 16, 16)
