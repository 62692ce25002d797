"""Every method on models as users build them: a keras.applications base nested in a classifier,
preprocessing layers inside, two outputs."""
import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasviz
from conftest import images, reference_gradcam
from kerasviz.methods import names

#: the built-in methods (methods registered by test modules are run by the contract suite)
BUILT_IN = names()

#: keep the sampling methods light on VGG16 (all channels / samples are tested on tiny models)
LIGHT = {"scorecam": {"max_channels": 4}, "smoothgrad": {"samples": 2}, "integrated_gradients": {"steps": 2}}


@pytest.fixture(scope="module")
def nested_vgg():
    keras.utils.set_random_seed(0)
    base = keras.applications.VGG16(include_top=False, weights=None, input_shape=(96, 96, 3))
    gap, dense = keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3)
    model = keras.Sequential([base, gap, dense])
    flat = keras.Model(base.input, dense(gap(base.output)))  # same layers, not nested
    return model, flat


@pytest.fixture(scope="module")
def vgg_input():
    return images(1, 96, seed=11) * 255 - 120


@pytest.mark.parametrize("name", BUILT_IN)
def test_nested_vgg16_with_layer_through_the_nesting(nested_vgg, vgg_input, name):
    model, _ = nested_vgg
    method = kerasviz.methods.get(name)
    layer = "vgg16/block5_conv3" if method.uses_layer else None
    exp = kerasviz.explain(model, vgg_input, name, target=1, layer=layer, **LIGHT.get(name, {}))
    assert exp.maps.shape == (1, 96, 96) and np.isfinite(exp.raw).all()
    assert exp.layer == ("vgg16/block5_conv3" if method.uses_layer else None)
    if method.family == "cam":
        assert exp.raw.shape == (1, 6, 6)


@pytest.mark.parametrize("name", [m.name for m in kerasviz.methods() if m.uses_layer])
def test_nested_vgg16_default_layer(nested_vgg, vgg_input, name):
    model, _ = nested_vgg
    exp = kerasviz.explain(model, vgg_input, name, **LIGHT.get(name, {}))
    assert exp.layer == "vgg16/block5_pool" and exp.maps.shape == (1, 96, 96)


def test_nested_gradcam_equals_the_flat_model(nested_vgg, vgg_input):
    model, flat = nested_vgg
    exp = kerasviz.explain(model, vgg_input, "gradcam", target=2, layer="vgg16/block5_conv3")
    raw = reference_gradcam(flat.inputs[0], flat.get_layer("block5_conv3").output, flat.output,
                            vgg_input, [2])
    np.testing.assert_allclose(exp.raw, raw, rtol=1e-4, atol=1e-6 * np.abs(raw).max())
    assert np.ptp(raw) > 0


@pytest.fixture(scope="module")
def preprocessing_inside():
    keras.utils.set_random_seed(1)
    i = keras.Input((16, 16, 3))
    x = keras.layers.Rescaling(1 / 255.0)(i)
    x = keras.layers.Normalization(mean=[0.5, 0.4, 0.3], variance=[0.04, 0.05, 0.06])(x)
    x = keras.layers.Conv2D(6, 3, activation="relu", name="c1")(x)
    x = keras.layers.Conv2D(6, 3, activation="relu", name="c2")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(i, keras.layers.Dense(3, activation="softmax")(x))


@pytest.mark.parametrize("name", BUILT_IN)
def test_model_with_rescaling_and_normalization_inside(preprocessing_inside, name):
    raw_images = (images(2, 16, seed=4) * 255).astype(np.uint8)
    exp = kerasviz.explain(preprocessing_inside, raw_images, name, target=[0, 1],
                           preprocess=lambda x: x)  # the model preprocesses itself
    as_float = kerasviz.explain(preprocessing_inside, raw_images.astype(np.float32), name,
                                target=[0, 1])
    np.testing.assert_allclose(exp.raw, as_float.raw, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(exp.images, raw_images)
    assert exp.layer == ("c2" if kerasviz.methods.get(name).uses_layer else None)


def test_saliency_through_preprocessing_layers_is_the_input_gradient(preprocessing_inside):
    x = images(2, 16, seed=6) * 255
    exp = kerasviz.explain(preprocessing_inside, x, "saliency", target=2)
    logits = keras.Model(preprocessing_inside.inputs[0], preprocessing_inside.layers[-1].input)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        s = tf.matmul(logits(xt), preprocessing_inside.layers[-1].kernel)[:, 2]
    np.testing.assert_allclose(exp.grads, tape.gradient(s, xt).numpy(), rtol=1e-4, atol=1e-9)


@pytest.fixture(scope="module")
def two_outputs():
    keras.utils.set_random_seed(2)
    i = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(6, 3, activation="relu", name="c1")(i)
    x = keras.layers.Conv2D(6, 3, activation="relu", name="c2")(x)
    g = keras.layers.GlobalAveragePooling2D()(x)
    cls = keras.layers.Dense(4, activation="softmax", name="kind")(g)
    reg = keras.layers.Dense(2, activation="sigmoid", name="position")(g)
    return keras.Model(i, [cls, reg])


@pytest.mark.parametrize("name", BUILT_IN)
def test_two_output_model_with_output_name_and_unit(two_outputs, name):
    x = images(2, 16, seed=8)
    exp = kerasviz.explain(two_outputs, x, name, target=kerasviz.Output("position", 1))
    assert exp.output == 1 and exp.target.tolist() == [1, 1]
    assert exp.labels == ("position[1]", "position[1]")
    _, pos = two_outputs(x)
    np.testing.assert_allclose(exp.scores, pos.numpy()[:, 1], rtol=1e-5)  # sigmoid kept


def test_two_output_gradcam_matches_tape_on_that_output(two_outputs):
    x = images(2, 16, seed=9)
    exp = kerasviz.explain(two_outputs, x, "gradcam", target=kerasviz.Output(1, 0))
    raw = reference_gradcam(two_outputs.inputs[0], two_outputs.get_layer("c2").output,
                            two_outputs.outputs[1], x, [0, 0])  # the sigmoid output as is
    np.testing.assert_allclose(exp.raw, raw, rtol=1e-4, atol=1e-7)
    top = kerasviz.explain(two_outputs, x, "gradcam")  # default: top class of the first output
    assert top.output == 0 and top.target.tolist() == np.argmax(two_outputs(x)[0], 1).tolist()


@pytest.fixture(scope="module")
def image_and_vector():
    keras.utils.set_random_seed(3)
    i, v = keras.Input((16, 16, 3)), keras.Input((4,), name="meta")
    x = keras.layers.Conv2D(6, 3, activation="relu", name="c1")(i)
    x = keras.layers.Conv2D(6, 3, activation="relu", name="c2")(x)
    h = keras.layers.Concatenate()([keras.layers.GlobalAveragePooling2D()(x),
                                    keras.layers.Dense(6, activation="relu")(v)])
    return keras.Model([i, v], keras.layers.Dense(3, activation="softmax", name="p")(h))


@pytest.mark.parametrize("name", [n for n in BUILT_IN if n != "cam"])  # no GAP→Dense head
def test_two_input_model_image_first_other_inputs_fixed(image_and_vector, name):
    x, meta = images(3, 16, seed=12), np.random.RandomState(0).rand(3, 4).astype("float32")
    exp = kerasviz.explain(image_and_vector, x, name, target=[0, 1, 2], extra_inputs=[meta],
                           batch_size=4)
    one = kerasviz.explain(image_and_vector, x[2:], name, target=2, extra_inputs=[meta[2:]])
    np.testing.assert_allclose(one.raw[0], exp.raw[2], rtol=1e-4, atol=1e-6 * np.abs(exp.raw).max())


def test_two_input_gradcam_matches_tape_and_errors(image_and_vector):
    m = image_and_vector
    x, meta = images(2, 16, seed=13), np.random.RandomState(1).rand(2, 4).astype("float32")
    exp = kerasviz.explain(m, x, "gradcam", target=1, extra_inputs=[meta])
    dense = m.get_layer("p")
    raw = reference_gradcam(m.inputs, m.get_layer("c2").output, dense.input, [x, meta], [1, 1],
                            to_logits=lambda h: tf.matmul(h, dense.kernel) + dense.bias)
    np.testing.assert_allclose(exp.raw, raw, rtol=1e-4, atol=1e-7)
    with pytest.raises(kerasviz.ArgumentError, match="extra_inputs"):
        kerasviz.explain(m, x, "gradcam")
    with pytest.raises(kerasviz.ArgumentError, match="expects shape"):
        kerasviz.explain(m, x, "gradcam", extra_inputs=[meta[:1]])
