"""Test session set-up: TensorFlow backend, quiet logs, deterministic seeds, no downloads."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["KERASVIZ_OFFLINE"] = "1"  # tests never try the network
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402


def pytest_configure(config):
    """Import first every test module that registers an explanation method (``@register(``), so
    the contract suite, parametrised over the registry when it is collected, runs those methods
    whatever the collection order or selection (``pytest tests/test_methods_contract.py`` too)."""
    import importlib
    from pathlib import Path

    for path in sorted(Path(__file__).parent.glob("test_*.py")):
        if "\n@register(" in path.read_text(encoding="utf-8"):
            importlib.import_module(path.stem)


@pytest.fixture(autouse=True)
def _seed():
    import keras

    keras.utils.set_random_seed(0)
    yield


@pytest.fixture
def empty_weight_caches(tmp_path, monkeypatch):
    """Point every weights cache at empty temporary folders; returns (own_cache, keras_home)."""
    own, home = tmp_path / "weights_cache", tmp_path / "keras_home"
    own.mkdir()
    home.mkdir()
    monkeypatch.setenv("KERASVIZ_WEIGHTS_DIR", str(own))
    monkeypatch.setenv("KERAS_HOME", str(home))
    return own, home


# --- tiny models for the inside-the-network tests (features, patterns, replay, CLI) -----------
# Built in code (no weights files). The factories are fixtures so that test modules get them
# without importing a helper module: ``def test_x(make_tiny_cnn): model = make_tiny_cnn(seed=3)``.

def _tiny_cnn(size=32, seed=0, name="tiny"):
    """Shapes-like CNN: input float [0, 1] (N, size, size, 3), conv1…conv3 (ReLU), GAP, Dense
    softmax over 4 classes; registered with preprocess ``x / 255`` and class names."""
    import keras
    import numpy as np

    from kerasviz.core.models import register_model

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


def _nested_cnn(size=32, seed=1):
    """A functional base (Conv2D, BatchNorm with non-trivial statistics, standalone ReLU,
    DepthwiseConv2D, Conv2D(relu)) inside a Sequential classifier; raw [0, 255] input rescaled
    inside the model; registered with the identity preprocessing."""
    import keras
    import numpy as np

    from kerasviz.core.models import register_model

    keras.utils.set_random_seed(seed)
    inp = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(6, 3, padding="same", name="b_conv1")(inp)
    x = keras.layers.BatchNormalization(name="b_bn1")(x)
    x = keras.layers.ReLU(name="b_relu1")(x)
    x = keras.layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2, name="b_dw")(x)
    x = keras.layers.Conv2D(10, 1, activation="relu", name="b_conv2")(x)
    base = keras.Model(inp, x, name="base")
    model = keras.Sequential([keras.Input((size, size, 3)),
                              keras.layers.Rescaling(1 / 255.0, name="rescale"), base,
                              keras.layers.GlobalAveragePooling2D(name="gap"),
                              keras.layers.Dense(3, activation="softmax", name="head")],
                             name="nested")
    bn = base.get_layer("b_bn1")
    bn.moving_mean.assign(np.linspace(-0.1, 0.1, 6).astype(np.float32))
    bn.moving_variance.assign(np.linspace(0.5, 2.0, 6).astype(np.float32))
    return register_model(model, preprocess=lambda a: np.asarray(a, np.float32))


def _random_images(n, size=32, seed=0):
    """uint8 (n, size, size, 3) blocky random pictures (4×4-pixel cells)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    small = rng.uniform(0, 255, (n, size // 4, size // 4, 3))
    return np.repeat(np.repeat(small, 4, axis=1), 4, axis=2).astype(np.uint8)


@pytest.fixture(scope="session")
def make_tiny_cnn():
    """Factory ``make_tiny_cnn(size=32, seed=0, name="tiny")`` of the tiny ReLU CNN."""
    return _tiny_cnn


@pytest.fixture(scope="session")
def make_nested_cnn():
    """Factory ``make_nested_cnn(size=32, seed=1)`` of the nested-base classifier."""
    return _nested_cnn


@pytest.fixture(scope="session")
def make_images():
    """Factory ``make_images(n, size=32, seed=0)`` of uint8 test pictures."""
    return _random_images


# --- Explanation tests: tiny models, images and the from-scratch Grad-CAM reference ---------
# (imported by the test modules: ``from conftest import gap_dense, images, …``)

def gap_dense(size=16, classes=3, softmax=True, channels=6, name="gap_dense"):
    """Conv(relu) → Conv(relu, 'c2') → GAP → Dense('predictions'), softmax by default."""
    import keras

    i = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(channels, 3, activation="relu", name="c1")(i)
    x = keras.layers.Conv2D(channels, 3, activation="relu", name="c2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    o = keras.layers.Dense(classes, activation="softmax" if softmax else None, name="predictions")(x)
    return keras.Model(i, o, name=name)


def smooth_model(size=6, channels=2, classes=3):
    """A smooth (tanh / softplus) conv model, for finite differences and path integrals."""
    import keras

    i = keras.Input((size, size, channels))
    x = keras.layers.Conv2D(4, 3, activation="tanh", name="c1")(i)
    x = keras.layers.Conv2D(4, 3, activation="softplus", name="c2")(x)
    x = keras.layers.Flatten()(x)
    o = keras.layers.Dense(classes, name="out")(x)
    return keras.Model(i, o, name="smooth")


def images(n=2, size=16, channels=3, seed=0):
    """``float32 (n, size, size, channels)`` in [0, 1]."""
    import numpy as np

    return np.random.RandomState(seed).rand(n, size, size, channels).astype("float32")


def weights_of(model):
    return [w.copy() for w in model.get_weights()]


def reference_layer_grads(inputs, layer, logits, x, units, to_logits=None):
    """From scratch, with a plain ``tf.GradientTape``: ``A``, ``∂S/∂A`` and ``S`` (float64 numpy),
    where ``S[n] = z[n, units[n]]`` and ``z = to_logits(logits)`` (identity by default).

    Args:
        inputs: the model's input tensor(s); ``layer``, ``logits``: symbolic tensors of the same
            graph (e.g. ``model.get_layer("c2").output``); ``x``: array (or list for several
            inputs); ``units``: one int per image.
    """
    import keras
    import numpy as np
    import tensorflow as tf

    ref = keras.Model(inputs, [layer, logits])
    feed = [tf.constant(v) for v in x] if isinstance(x, list) else tf.constant(x)
    with tf.GradientTape() as tape:
        a, z = ref(feed)
        z = z if to_logits is None else to_logits(z)
        s = tf.gather(z, np.asarray(units), axis=1, batch_dims=1)
    g = tape.gradient(s, a)
    return a.numpy().astype(np.float64), g.numpy().astype(np.float64), s.numpy().astype(np.float64)


def reference_gradcam(*args, **kwargs):
    """Grad-CAM's raw map from scratch: ``Σ_k mean_ij(∂S/∂A^k) · A^k`` (args of
    :func:`reference_layer_grads`); float64 ``(n, h, w)``."""
    import numpy as np

    a, g, _ = reference_layer_grads(*args, **kwargs)
    return np.einsum("nhwc,nc->nhw", a, g.mean(axis=(1, 2)))
