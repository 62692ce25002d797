"""Guided backpropagation and deconvnet: ReLUs with a modified gradient, on a replay of the model.

The forward pass is unchanged; only the backward rule of every ReLU differs. For ``y = relu(x)``
and an incoming gradient ``dy`` the three rules are:

=================  ===============================  ==================================================
``"normal"``       ``dx = dy · [x > 0]``            the true gradient (vanilla saliency)
``"guided"``       ``dx = dy · [x > 0] · [dy > 0]``  guided backpropagation (Springenberg et al. 2015)
``"deconvnet"``    ``dx = dy · [dy > 0]``            deconvnet (Zeiler & Fergus 2014): forward mask ignored
=================  ===============================  ==================================================

For a capped ReLU (``ReLU(max_value=6)``, ``relu6``) the forward mask ``[x > 0]`` becomes
``[0 < x < max_value]``, the true gradient mask of the clipped function.

The rules reach every ReLU the model applies: ``keras.layers.ReLU`` (with ``negative_slope == 0``
and ``threshold == 0``; leaky or thresholded ReLUs are left as they are), ``Activation("relu")``
and ``Activation("relu6")``, and the activation fused inside any layer with an ``activation``
attribute (``Conv2D(activation="relu")``, ``Dense(activation="relu")``…), also inside nested
models. The model is *replayed* with :func:`kerasviz.core.layers.flatten` and an override hook; fused
activations are swapped by :class:`kerasviz.core.layers.WithActivation` for the duration of the call
only. The user's model, its layers and their ``activation`` attributes are never modified.

Warnings:
    Guided backpropagation and deconvnet fail the model-randomisation sanity check (Adebayo et al.
    2018): their maps barely change when the model's weights are randomised; they show image
    edges more than the model's reasoning. Prefer them for crisp pictures, not for audits.

References:
    Zeiler & Fergus, "Visualizing and Understanding Convolutional Networks", ECCV 2014.
    Springenberg et al., "Striving for Simplicity: The All Convolutional Net", ICLR 2015 workshop.
    Adebayo et al., "Sanity Checks for Saliency Maps", NeurIPS 2018.
"""
from __future__ import annotations

from typing import Sequence

import keras
import tensorflow as tf

from kerasviz._caches import model_cache
from kerasviz.core import layers as L
from kerasviz.errors import KerasvizError

MODES = ("guided", "deconvnet")

_CACHE = model_cache()


def modified_relu(mode: str, max_value: float | None = None):
    """A ReLU (capped at ``max_value`` when given) whose gradient follows ``mode``.

    Args:
        mode: ``"guided"`` or ``"deconvnet"`` (see the module docstring).
        max_value: cap of a ReLU6-style activation, or None.

    Returns:
        ``f(x) -> y`` for tensors of any shape; forward identical to ``keras.activations.relu``.
    """
    if mode not in MODES:
        raise KerasvizError(f"Unknown ReLU gradient mode. Expected one of {list(MODES)}. "
                            f"Received: mode={mode!r}")

    @tf.custom_gradient
    def relu(x):
        x = tf.convert_to_tensor(x)
        y = tf.nn.relu(x) if max_value is None else tf.clip_by_value(x, 0.0, max_value)

        def grad(dy):
            up = tf.cast(dy > 0, dy.dtype)
            if mode == "deconvnet":
                return dy * up
            live = x > 0 if max_value is None else tf.logical_and(x > 0, x < max_value)
            return dy * up * tf.cast(live, dy.dtype)

        return y, grad

    relu.__name__ = f"{mode}_relu"
    return relu


def relu_override(mode: str) -> L.Override:
    """Override hook for :func:`kerasviz.core.layers.flatten` replacing every ReLU's gradient."""

    def override(path, layer):
        is_relu, cap = L.relu_cap(layer)
        if not is_relu:
            return None
        fn = modified_relu(mode, cap)
        if isinstance(layer, (keras.layers.ReLU, keras.layers.Activation)):
            return _Apply(fn, name=f"{layer.name}_{mode}")
        return L.WithActivation(layer, fn)

    return override


class _Apply(keras.layers.Layer):
    """A weightless layer applying ``fn`` (stands in for a ``ReLU`` / ``Activation`` layer)."""

    def __init__(self, fn, **kwargs):
        super().__init__(**kwargs)
        self._fn = fn

    def call(self, inputs, *args, **kwargs):
        return self._fn(inputs)


def _chain(*overrides):
    def override(path, layer):
        for o in overrides:
            if o is not None:
                fn = o(path, layer)
                if fn is not None:
                    return fn
        return None
    return override


def count_relus(model: keras.Model) -> int:
    """How many layers of ``model`` (nested ones included) apply a plain or capped ReLU."""
    return sum(L.relu_cap(r.layer)[0] for r in L.layer_table(model))


def relu_model(model: keras.Model, mode: str, paths: Sequence[str] = (), *,
               logits: bool = True) -> keras.Model:
    """A replay of ``model`` whose ReLUs backpropagate by ``mode``.

    Args:
        model: a Functional or Sequential model (nested models are reached).
        mode: ``"guided"`` or ``"deconvnet"``.
        paths: layer paths whose outputs to expose first, as in :func:`kerasviz.core.layers.tap_model`.
        logits: replace a final softmax by the identity (scores are pre-softmax).

    Returns:
        ``keras.Model`` from the model's inputs to ``[taps…, outputs…]``, sharing the user's
        weights; cached per (model, mode, paths, logits). Forward values equal the model's.
    """
    modified_relu(mode)  # validates mode
    key = (mode, tuple(paths), bool(logits))
    cache = _CACHE.setdefault(model, {})
    if key not in cache:
        soft = L.logits_override(model) if logits and L.ends_in_softmax(model) else None
        flat = L.flatten(model, _chain(soft, relu_override(mode)))
        inputs = flat.inputs[0] if len(flat.inputs) == 1 else flat.inputs
        cache[key] = keras.Model(inputs, [flat.taps[p] for p in paths] + flat.outputs,
                                 name=f"{model.name}_{mode}")
    return cache[key]
