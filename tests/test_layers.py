"""Layer lookup through nested models, and the replay models that tap layers and drop a final
softmax."""
import keras
import numpy as np
import pytest

from kerasviz import LayerNotFoundError, ModelError
from kerasviz.core import layers as L
from kerasviz.core.replay import replay_model


def _nested_vgg(size=48):
    base = keras.applications.VGG16(include_top=False, weights=None, input_shape=(size, size, 3))
    return keras.Sequential([keras.Input((size, size, 3)), keras.layers.Rescaling(1 / 255.0, name="rescaling"), base,
                             keras.layers.GlobalAveragePooling2D(),
                             keras.layers.Dense(3, activation="softmax", name="head")])


@pytest.fixture(scope="module")
def nested():
    keras.utils.set_random_seed(2)
    return _nested_vgg()


def _two_output_model():
    inp = keras.Input((16, 16, 3), name="image")
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inp)
    g = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    logits = keras.layers.Dense(3, name="logits")(g)
    cls = keras.layers.Activation("softmax", name="cls")(logits)
    reg = keras.layers.Dense(2, name="reg")(g)
    return keras.Model(inp, [cls, reg])


def test_paths_through_nesting(nested):
    paths = L.layer_paths(nested)
    assert paths[:3] == ["rescaling", "vgg16/block1_conv1", "vgg16/block1_conv2"]
    assert L.resolve_layer(nested, "block5_conv3") == "vgg16/block5_conv3"
    assert L.resolve_layer(nested, "vgg16/block5_conv3") == "vgg16/block5_conv3"
    assert L.resolve_layer(nested, nested.layers[1].get_layer("block4_pool")) == "vgg16/block4_pool"
    assert L.resolve_layer(nested, -1) == "head"
    assert L.default_conv_layer(nested) == "vgg16/block5_pool"
    assert L.select_layers(nested, "block*_conv1") == [f"vgg16/block{i}_conv1" for i in range(1, 6)]
    assert L.select_layers(nested, keras.layers.MaxPooling2D)[-1] == "vgg16/block5_pool"


def test_replay_model_matches_hand_built_sub_models(nested):
    x = np.random.default_rng(0).uniform(0, 255, (2, 48, 48, 3)).astype(np.float32)
    base = nested.layers[1]
    inner = keras.Model(base.input, [base.get_layer("block3_conv2").output, base.output])
    ref_b3, ref_out = inner(x / 255.0)
    b3, b5, probs = replay_model(nested, ["vgg16/block3_conv2", "vgg16/block5_pool"],
                                 logits=False)(x)
    np.testing.assert_allclose(b3.numpy(), ref_b3.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(b5.numpy(), ref_out.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(probs.numpy(), nested(x).numpy(), rtol=1e-5, atol=1e-6)
    taps_only = replay_model(nested, ["vgg16/block3_conv2"], outputs=False)
    assert len(taps_only.outputs) == 1
    np.testing.assert_allclose(taps_only(x).numpy(), ref_b3.numpy(), rtol=1e-5, atol=1e-5)


def test_logits_remove_fused_and_standalone_softmax(nested):
    x = np.random.default_rng(1).uniform(0, 255, (2, 48, 48, 3)).astype(np.float32)
    before = [w.numpy().copy() for w in nested.weights]
    (logits,) = L.as_list(replay_model(nested)(x))                    # logits=True by default
    head = nested.get_layer("head")
    feats = keras.Model(nested.inputs[0], nested.layers[-2].output)(x)
    np.testing.assert_allclose(logits.numpy(), feats.numpy() @ head.kernel.numpy() + head.bias.numpy(),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(keras.ops.softmax(logits).numpy(), nested(x).numpy(), atol=1e-6)
    assert head.activation.__name__ == "softmax"  # the user's layer is untouched
    for w, b in zip(nested.weights, before):
        np.testing.assert_array_equal(w.numpy(), b)

    two = _two_output_model()
    assert L.output_layer_paths(two) == ["cls", "reg"]
    conv, logits, reg = replay_model(two, ["conv"])(np.ones((1, 16, 16, 3), np.float32))
    ref = keras.Model(two.inputs[0], [two.get_layer("logits").output, two.get_layer("reg").output])
    ref_logits, ref_reg = ref(np.ones((1, 16, 16, 3), np.float32))
    np.testing.assert_allclose(logits.numpy(), ref_logits.numpy(), atol=1e-6)
    np.testing.assert_allclose(reg.numpy(), ref_reg.numpy(), atol=1e-6)


def test_errors_name_the_closest_layers(nested):
    with pytest.raises(LayerNotFoundError, match="block5_conv1"):
        L.resolve_layer(nested, "block5_conv")
    with pytest.raises(LayerNotFoundError, match="out of range"):
        L.resolve_layer(nested, 999)
    with pytest.raises(LayerNotFoundError, match="matches"):
        L.select_layers(nested, "nothing*here")
    dense_only = keras.Sequential([keras.Input((5,)), keras.layers.Dense(2)])
    with pytest.raises(ModelError, match="no convolutional layer"):
        L.default_conv_layer(dense_only)


def test_ambiguous_inner_name_asks_for_the_path():
    def block(name):
        inp = keras.Input((8, 8, 3))
        return keras.Model(inp, keras.layers.Conv2D(3, 3, padding="same", name="conv")(inp), name=name)

    model = keras.Sequential([keras.Input((8, 8, 3)), block("a"), block("b")])
    with pytest.raises(LayerNotFoundError, match="ambiguous"):
        L.resolve_layer(model, "conv")
    assert L.resolve_layer(model, "b/conv") == "b/conv"


def test_subclassed_and_unbuilt_models_get_clear_errors():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.conv = keras.layers.Conv2D(2, 3)

        def call(self, x):
            return self.conv(x)

    net = Net()
    net(np.zeros((1, 8, 8, 3), np.float32))
    with pytest.raises(ModelError, match="subclassed"):
        L.layer_table(net)
    with pytest.raises(ModelError, match="not built"):
        L.layer_table(keras.Sequential([keras.layers.Dense(2)]))
