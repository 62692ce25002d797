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
