"""Tiny models for the feature / pattern tests (built in code, no weights files)."""
import keras
import numpy as np

from kerasviz.core.models import register_model


def tiny_cnn(size=32, seed=0, name="tiny"):
    """Shapes-like CNN: input float [0, 1] (N, size, size, 3), conv1…conv3 (ReLU), GAP,
    softmax."""
    keras.utils.set_random_seed(seed)
    inp = keras.Input((size, size, 3), name="image")
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(inp)
    x = keras.layers.MaxPooling2D(name="pool1")(x)
    x = keras.layers.Conv2D(12, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.MaxPooling2D(name="pool2")(x)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv3")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    out = keras.layers.Dense(4, activation="softmax", name="predictions")(x)
    model = keras.Model(inp, out, name=name)
    return register_model(model, preprocess=lambda a: np.asarray(a, np.float32) / 255.0,
                          class_names=("circle", "square", "triangle", "star"))


def nested_cnn(size=32, seed=1):
    """A functional base (with BatchNorm and a standalone ReLU) inside a Sequential classifier;
    raw [0, 255] input rescaled inside the model."""
    keras.utils.set_random_seed(seed)
    inp = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(6, 3, padding="same", name="b_conv1")(inp)
    x = keras.layers.BatchNormalization(name="b_bn1")(x)
    x = keras.layers.ReLU(name="b_relu1")(x)
    x = keras.layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2, name="b_dw")(x)
    x = keras.layers.Conv2D(10, 1, activation="relu", name="b_conv2")(x)
    base = keras.Model(inp, x, name="base")
    model = keras.Sequential([keras.Input((size, size, 3)), keras.layers.Rescaling(1 / 255.0,
                                                                                   name="rescale"),
                              base, keras.layers.GlobalAveragePooling2D(name="gap"),
                              keras.layers.Dense(3, activation="softmax", name="head")],
                             name="nested")
    # give BatchNorm non-trivial statistics
    bn = base.get_layer("b_bn1")
    bn.moving_mean.assign(np.linspace(-0.1, 0.1, 6).astype(np.float32))
    bn.moving_variance.assign(np.linspace(0.5, 2.0, 6).astype(np.float32))
    return register_model(model, preprocess=lambda a: np.asarray(a, np.float32))


def random_images(n, size=32, seed=0):
    """uint8 (n, size, size, 3) smooth-ish random pictures."""
    rng = np.random.default_rng(seed)
    small = rng.uniform(0, 255, (n, size // 4, size // 4, 3))
    return np.repeat(np.repeat(small, 4, axis=1), 4, axis=2).astype(np.uint8)
