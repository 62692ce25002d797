"""Tiny models for the explanation tests (built fresh per call; seeds come from conftest)."""
import keras
import numpy as np


def gap_dense(size=16, classes=3, softmax=True, channels=6, name="gap_dense"):
    """Conv(relu) → Conv(relu, 'c2') → GAP → Dense('predictions'), softmax by default."""
    i = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(channels, 3, activation="relu", name="c1")(i)
    x = keras.layers.Conv2D(channels, 3, activation="relu", name="c2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    o = keras.layers.Dense(classes, activation="softmax" if softmax else None, name="predictions")(x)
    return keras.Model(i, o, name=name)


def smooth(size=6, channels=2, classes=3):
    """A smooth (tanh / softplus) conv model, for finite differences and path integrals."""
    i = keras.Input((size, size, channels))
    x = keras.layers.Conv2D(4, 3, activation="tanh", name="c1")(i)
    x = keras.layers.Conv2D(4, 3, activation="softplus", name="c2")(x)
    x = keras.layers.Flatten()(x)
    o = keras.layers.Dense(classes, name="out")(x)
    return keras.Model(i, o, name="smooth")


def images(n=2, size=16, channels=3, seed=0):
    """``float32 (n, size, size, channels)`` in [0, 1]."""
    return np.random.RandomState(seed).rand(n, size, size, channels).astype("float32")


def weights_of(model):
    return [w.copy() for w in model.get_weights()]
