"""Test session set-up: TensorFlow backend, quiet logs, deterministic seeds, no downloads."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["KERASVIZ_OFFLINE"] = "1"  # tests never try the network
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402


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
