"""The small trained CNNs that ship inside kerasviz (weights in ``kerasviz/data/``).

* ``shapes``: classifies the object of a :func:`kerasviz.data.datasets.shapes` image into
  :data:`~kerasviz.data.datasets.SHAPE_CLASSES`. Four conv blocks, the last at 12×12, then
  ``GlobalAveragePooling2D`` → ``Dense(softmax)``, so CAM / Grad-CAM apply.
* ``sensors``: predicts the 5 proximity readings of a :func:`kerasviz.data.datasets.sensors` camera
  image. Conv blocks down to a 6×6 map, then ``Flatten`` (keeps where things are) → ``Dense`` →
  ``Dense(5, sigmoid)``.
* ``shapes_shuffled``: the ``shapes`` architecture trained on randomly permuted labels, so it
  memorises its training images and has learned nothing about shapes (held-out accuracy near
  chance, 1 / 5): the control of :func:`kerasviz.metrics.data_randomisation`.

All take ``float32 (N, 96, 96, 3)`` RGB in [0, 1]; :func:`preprocess` (``uint8 / 255``) is applied
by the caller, outside the model. Retrain with ``python scripts/train_demo_models.py``.
"""
from __future__ import annotations

import functools
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from kerasviz.data.datasets import SENSOR_NAMES, SHAPE_CLASSES
from kerasviz.errors import ModelError, suggest

DATA_DIR = Path(__file__).resolve().parent
METRICS_FILE = DATA_DIR / "demo_models.json"
INPUT_SIZE = (96, 96)


@dataclass(frozen=True)
class DemoSpec:
    """A shipped demo model.

    Attributes:
        name: registry name (``"shapes"``, ``"sensors"``).
        builder: function returning the untrained ``keras.Model``.
        weights_file: file name inside ``kerasviz/data/``.
        input_size: ``(H, W)`` of the input.
        task: ``"classification"`` or ``"regression"``.
        output_names: names of the output units (class names or sensor names).
        description: one sentence for humans.
    """
    name: str
    builder: Callable[[], Any]
    weights_file: str
    input_size: tuple[int, int]
    task: str
    output_names: tuple[str, ...]
    description: str


def preprocess(images: Any) -> np.ndarray:
    """Raw images → model input.

    Args:
        images: ``uint8`` (or float in [0, 255]) RGB array ``(..., 96, 96, 3)``.

    Returns:
        ``float32`` array of the same shape in [0, 1] (``images / 255``).
    """
    return np.asarray(images, np.float32) / np.float32(255.0)


def deprocess(x: Any) -> np.ndarray:
    """Model input in [0, 1] → ``uint8`` RGB of the same shape (rounded, clipped to [0, 255])."""
    return np.clip(np.asarray(x, np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)


def build_shapes_model(name: str = "shapes"):
    """The ``shapes`` classifier, untrained.

    Layers: ``conv1`` (16 filters, 96×96) → ``pool1`` → ``bn2`` → ``conv2`` (32, 48×48) →
    ``pool2`` → ``bn3`` → ``conv3`` (64, 24×24, no activation) → ``conv3_relu`` (a separate
    ``ReLU`` layer) → ``pool3`` → ``bn4`` → ``conv4`` (96, 12×12) → ``gap`` → ``predictions``
    (softmax over SHAPE_CLASSES). Every conv is 3×3 "same"; the batch normalisations sit before
    the convs (they only speed up training) so each conv output is a plain ReLU map. About 80 k
    parameters.

    Returns:
        A functional ``keras.Model`` named ``name``: ``float32 (None, 96, 96, 3)`` in [0, 1] →
        ``float32 (None, len(SHAPE_CLASSES))`` probabilities.
    """
    import keras
    from keras import layers

    inp = keras.Input((*INPUT_SIZE, 3), name="image")
    x = layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1")(inp)
    x = layers.MaxPooling2D(name="pool1")(x)
    x = layers.BatchNormalization(momentum=0.9, name="bn2")(x)
    x = layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(name="pool2")(x)
    x = layers.BatchNormalization(momentum=0.9, name="bn3")(x)
    x = layers.Conv2D(64, 3, padding="same", name="conv3")(x)
    x = layers.ReLU(name="conv3_relu")(x)
    x = layers.MaxPooling2D(name="pool3")(x)
    x = layers.BatchNormalization(momentum=0.9, name="bn4")(x)
    x = layers.Conv2D(96, 3, padding="same", activation="relu", name="conv4")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    out = layers.Dense(len(SHAPE_CLASSES), activation="softmax", name="predictions")(x)
    return keras.Model(inp, out, name=name)


def build_sensors_model():
    """The ``sensors`` regressor, untrained.

    Layers: ``conv1`` (16, 96×96) → ``pool1`` → ``conv2`` (32, 48×48) → ``pool2`` → ``conv3``
    (32, 24×24) → ``pool3`` → ``conv4`` (32, 12×12) → ``pool4`` (6×6) → ``flatten`` → ``fc``
    (64, relu) → ``sensors`` (5, sigmoid).

    Returns:
        A functional ``keras.Model`` named ``"sensors"``: ``float32 (None, 96, 96, 3)`` in [0, 1]
        → ``float32 (None, 5)`` readings in [0, 1], one per :data:`~kerasviz.data.datasets.SENSOR_NAMES`.
    """
    import keras
    from keras import layers

    inp = keras.Input((*INPUT_SIZE, 3), name="image")
    x = inp
    for i, filters in enumerate((16, 32, 32, 32), start=1):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{i}")(x)
        x = layers.MaxPooling2D(name=f"pool{i}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(64, activation="relu", name="fc")(x)
    out = layers.Dense(len(SENSOR_NAMES), activation="sigmoid", name="sensors")(x)
    return keras.Model(inp, out, name="sensors")


DEMO_MODELS: dict[str, DemoSpec] = {
    "shapes": DemoSpec(
        "shapes", build_shapes_model, "shapes.weights.h5", INPUT_SIZE, "classification",
        SHAPE_CLASSES, "Small CNN that names the one shape (circle, square, ...) in a cluttered "
                       "96x96 image; GAP + Dense head, so CAM applies."),
    "sensors": DemoSpec(
        "sensors", build_sensors_model, "sensors.weights.h5", INPUT_SIZE, "regression",
        SENSOR_NAMES, "Small CNN that predicts a robot's 5 proximity sensor readings (0 = free, "
                      "1 = touching) from a bird's-eye camera image of the floor ahead."),
    "shapes_shuffled": DemoSpec(
        "shapes_shuffled", functools.partial(build_shapes_model, "shapes_shuffled"),
        "shapes_shuffled.weights.h5", INPUT_SIZE,
        "classification", SHAPE_CLASSES,
        "The shapes architecture trained on randomly permuted labels: it memorised its training "
        "images and knows nothing of shapes (the data-randomisation sanity check)."),
}


def weights_path(name: str) -> Path:
    """Path of a demo model's weights file inside the package (it may not exist yet)."""
    return DATA_DIR / _spec(name).weights_file


def _spec(name: str) -> DemoSpec:
    if name not in DEMO_MODELS:
        raise ModelError(f"Unknown demo model. Expected one of {sorted(DEMO_MODELS)}. "
                         f"Received: {name!r}. {suggest(str(name), sorted(DEMO_MODELS))}")
    return DEMO_MODELS[name]


def load_demo_model(name: str):
    """Build a demo model and load its shipped trained weights.

    Args:
        name: ``"shapes"``, ``"sensors"`` or ``"shapes_shuffled"``.

    Returns:
        The ``keras.Model`` (see :func:`build_shapes_model`, :func:`build_sensors_model`).

    Raises:
        ModelError: unknown name (the message lists the valid ones), or the weights file is
            missing or does not fit the model.
    """
    spec = _spec(name)
    path = DATA_DIR / spec.weights_file
    if not path.is_file():
        raise ModelError(f"Weights of demo model {name!r} not found. Expected the file '{path}'. "
                         f"Create it with `python scripts/train_demo_models.py --only {name}`.")
    model = spec.builder()
    # Keras only warns when some layers find no weights in the file (they keep random ones):
    # treat that as the mismatch it is.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        try:
            model.load_weights(path)
            problem = next((str(w.message) for w in caught if issubclass(w.category, UserWarning)),
                           None)
        except (ValueError, OSError, KeyError) as exc:
            problem = str(exc)
    if problem is not None:
        raise ModelError(f"Weights file '{path}' does not fit demo model {name!r} ({problem}). "
                         f"Retrain with `python scripts/train_demo_models.py --only {name}`.")
    return model


def demo_metrics() -> dict:
    """Held-out metrics written by the training script (``kerasviz/data/demo_models.json``);
    an empty dict when the file is missing."""
    if not METRICS_FILE.is_file():
        return {}
    return json.loads(METRICS_FILE.read_text())


__all__ = ["DemoSpec", "DEMO_MODELS", "build_shapes_model", "build_sensors_model", "load_demo_model",
           "preprocess", "deprocess", "weights_path", "demo_metrics"]
