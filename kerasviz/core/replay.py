"""Replaying a model's graph: the one place where kerasviz builds sub-models of the user's model.

Every sub-model kerasviz needs (the layers :func:`kerasviz.activations` reads, the pre-softmax
scores and the layer a method explains, the ReLUs of guided backpropagation, the objective of a
filter-pattern ascent, the part of the model after a layer) is a *replay* of the model's graph
from fresh ``keras.Input`` tensors (:func:`flatten`): nested Sequential / Functional models are
replayed layer by layer, so their inner layers are connected to the outer input (no "Graph
disconnected" error on ``Sequential([VGG16(include_top=False), GlobalAveragePooling2D(),
Dense(3)])``). The replay calls the user's own layers (same weights); changed layers are called
through stand-ins for the duration of the call. The user's model, its layers and their
``activation`` attributes are never modified.

Two functions build models, both cached per model in one weak cache
(:func:`kerasviz.clear_caches` empties it):

* :func:`replay_model`: from the model's inputs to ``[taps…, pre-activation taps…,
  outputs…]``, optionally without the final softmax and with every ReLU back-propagating by a
  rule of :data:`RELU_GRADIENTS`;
* :func:`head_model`: from a layer's output to the model's outputs.

ReLU gradient rules (forward values are always the ReLU's). For ``y = relu(x)`` (capped at ``c``
for ``ReLU(max_value=c)`` / ``relu6``: ``y = clip(x, 0, c)``), an incoming gradient ``dy``,
``off = x <= 0`` and ``capped = x >= c`` (never, when uncapped), ``dx`` is ``dy`` except where
the rule blocks it (0):

==============  =============================================  ===================================
rule            blocks                                         what it is
==============  =============================================  ===================================
``normal``      ``off or capped``                              the true gradient
``guided``      ``off or capped or dy <= 0``                   guided backprop (Springenberg 2015)
``deconvnet``   ``dy <= 0`` (forward mask ignored)             deconvnet (Zeiler & Fergus 2014)
``redirected``  ``(off and dy < 0) or (capped and dy > 0)``    Lucid's ``redirected_relu_grad``
==============  =============================================  ===================================

``redirected`` blocks only gradients that push a unit further out of its live range, so units
that are off on the start image of a gradient ascent still pass the gradient that would turn them
on (Olah et al. 2017).

The rules reach every ReLU the model applies: ``keras.layers.ReLU`` (with ``negative_slope == 0``
and ``threshold == 0``; leaky or thresholded ReLUs keep their own gradient),
``Activation("relu")`` / ``Activation("relu6")``, and the activation fused inside a layer with an
``activation`` attribute (``Conv2D(activation="relu")``, ``Dense(activation="relu")``…), also
inside nested models.

Warnings:
    Guided backpropagation and deconvnet fail the model-randomisation sanity check (Adebayo et al.
    2018): their maps barely change when the model's weights are randomised.

References:
    Zeiler & Fergus, "Visualizing and Understanding Convolutional Networks", ECCV 2014.
    Springenberg et al., "Striving for Simplicity: The All Convolutional Net", ICLR-W 2015.
    Olah, Mordvintsev & Schubert, "Feature Visualization", Distill 2017.
    Adebayo et al., "Sanity Checks for Saliency Maps", NeurIPS 2018.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import keras
import tensorflow as tf

from kerasviz import _validate
from kerasviz._caches import model_cache
from kerasviz._keras_compat import is_graph_model, run_through_graph
from kerasviz.core.models import check_model
from kerasviz.errors import LayerNotFoundError, ModelError, suggest

#: ``override(path, layer)`` returns ``None`` (call the layer as usual) or a function
#: ``f(*args, **kwargs)`` called instead of the layer.
Override = Callable[[str, keras.layers.Layer], Callable | None]

#: Layers that are nothing but an activation (their "pre-activation" is their input).
ACTIVATION_LAYERS = (keras.layers.Activation, keras.layers.ReLU, keras.layers.Softmax,
                     keras.layers.LeakyReLU, keras.layers.ELU, keras.layers.PReLU)


def _where(mask, dy):
    return tf.where(mask, tf.zeros_like(dy), dy)


#: ReLU backward rules ``rule(dy, off, capped) -> dx`` (boolean masks shaped like ``dy``); see
#: the module docstring.
RELU_GRADIENTS: dict[str, Callable] = {
    "normal": lambda dy, off, capped: _where(off | capped, dy),
    "guided": lambda dy, off, capped: _where(off | capped | (dy <= 0), dy),
    "deconvnet": lambda dy, off, capped: _where(dy <= 0, dy),
    "redirected": lambda dy, off, capped: _where((off & (dy < 0)) | (capped & (dy > 0)), dy),
}

_CACHE = model_cache()  # model -> {key: FlatGraph | keras.Model}


@dataclass
class FlatGraph:
    """A replay of a model: fresh inputs, every layer's output, and the model outputs."""
    inputs: list
    taps: dict  # path -> symbolic tensor, in model order
    outputs: list  # flat list of symbolic outputs


def _per_model(model) -> dict:
    return _CACHE.setdefault(model, {})


def flatten(model: keras.Model, override: Override | None = None) -> FlatGraph:
    """Replay ``model`` from fresh ``keras.Input`` tensors, recording every layer's output.

    Nested Sequential / Functional models are replayed layer by layer (recursively); a nested
    model's own path is recorded after its inner layers. Subclassed models inside are called as
    one opaque layer.

    Args:
        model: a built Sequential or Functional ``keras.Model``.
        override: optional hook to call something else in place of chosen layers.

    Returns:
        FlatGraph; cached per model when ``override`` is None.

    Raises:
        ModelError: the model is not built, or is a subclassed model (no graph to replay).
    """
    cache = _per_model(model) if override is None else {}
    if "flat" in cache:
        return cache["flat"]
    check_model(model, graph=True, what="kerasviz")  # one message for subclassed / unbuilt models
    ref_inputs = list(model.inputs)
    inputs = [keras.Input(batch_shape=tuple(t.shape), dtype=t.dtype, name=t.name.split(":")[0])
              for t in ref_inputs]
    taps: dict[str, Any] = {}
    feed = inputs[0] if len(inputs) == 1 else inputs
    outputs = _replay(model, feed, "", override, taps)
    flat = FlatGraph(inputs, taps, list(keras.tree.flatten(outputs)))
    cache["flat"] = flat
    return flat


def _replay(model, inputs, prefix: str, override, taps: dict):
    def call(layer, *args, **kwargs):
        path = prefix + layer.name
        if is_graph_model(layer):
            inner = args[0] if len(args) == 1 else list(args)
            out = _replay(layer, inner, path + "/", override, taps)
        else:
            fn = override(path, layer) if override is not None else None
            out = (fn or layer)(*args, **kwargs)
        if isinstance(layer, keras.layers.Layer) and not isinstance(layer, keras.layers.InputLayer):
            taps[path] = out
        return out

    if isinstance(model, keras.Sequential):
        x = inputs
        for layer in model.layers:
            x = call(layer, x)
        return x
    return run_through_graph(model, inputs, call)


def layer_at(model: keras.Model, path: str) -> keras.layers.Layer:
    """The layer object at ``path`` (``"vgg16/block5_conv3"``: nested models' names, slashes)."""
    layer = model
    for part in path.split("/"):
        layer = layer.get_layer(part)
    return layer


def output_layer_paths(model: keras.Model) -> list[str | None]:
    """Path of the innermost layer producing each model output (in output order); cached per
    model with its replay."""
    cache = _per_model(model)
    if "output_paths" not in cache:
        cache["output_paths"] = _output_layer_paths(model)
    return list(cache["output_paths"])


def _output_layer_paths(model: keras.Model) -> list[str | None]:
    flat = flatten(model)
    paths = []
    for out in flat.outputs:
        hits = [p for p, t in flat.taps.items() if t is out]
        hits = [p for p in hits if not is_graph_model(layer_at(model, p))] or hits
        paths.append(max(hits, key=lambda p: p.count("/")) if hits else None)
    return paths


def activation_name(layer) -> str | None:
    """Name of the activation a layer applies (``"relu"``, ``"softmax"``…), fused or standalone."""
    if isinstance(layer, keras.layers.Softmax):
        return "softmax"
    if isinstance(layer, keras.layers.ReLU):
        return "relu"
    act = getattr(layer, "activation", None)
    if act is None:
        return None
    return getattr(act, "__name__", type(act).__name__)


def relu_cap(layer) -> tuple[bool, float | None]:
    """Whether ``layer`` applies a plain ReLU (standalone or fused, optionally capped as in
    ReLU6), and the cap (None when uncapped). Leaky or thresholded ReLUs are not plain."""
    if isinstance(layer, keras.layers.ReLU):
        plain = float(layer.negative_slope) == 0.0 and float(layer.threshold) == 0.0
        return plain, None if layer.max_value is None else float(layer.max_value)
    name = activation_name(layer)
    return name in ("relu", "relu6"), 6.0 if name == "relu6" else None


def relu_with_gradient(mode: str, max_value: float | None = None) -> Callable:
    """A ReLU (capped at ``max_value`` when given) that back-propagates by ``RELU_GRADIENTS[mode]``.

    Args:
        mode: a key of :data:`RELU_GRADIENTS`.
        max_value: cap of a ReLU6-style activation, or None.

    Returns:
        ``f(x) -> y`` for float tensors of any shape; ``y`` equals ``tf.nn.relu(x)`` (or
        ``clip(x, 0, max_value)``) exactly.

    Raises:
        ArgumentError: unknown ``mode``.
    """
    rule = RELU_GRADIENTS[_validate.one_of("relu", mode, RELU_GRADIENTS)]

    @tf.custom_gradient
    def relu(x):
        x = tf.convert_to_tensor(x)
        y = tf.nn.relu(x) if max_value is None else tf.clip_by_value(x, 0.0, max_value)

        def grad(dy):
            capped = x >= max_value if max_value is not None else tf.zeros_like(x, tf.bool)
            return rule(dy, x <= 0, capped)

        return y, grad

    relu.__name__ = f"{mode}_relu"
    return relu


class _Proxy:
    """Stands in for a layer inside its own ``call`` with a different fused activation."""

    def __init__(self, layer, activation):
        object.__setattr__(self, "_layer", layer)
        object.__setattr__(self, "activation", activation)

    def __getattr__(self, name):
        return getattr(self._layer, name)


class WithActivation(keras.layers.Layer):
    """Call ``layer`` (sharing its weights) with its fused ``activation`` replaced.

    ``WithActivation(dense, None)`` gives a softmax Dense layer's logits. The wrapped layer is not
    modified.
    """

    def __init__(self, layer, activation, **kwargs):
        super().__init__(**kwargs)
        object.__setattr__(self, "_target", layer)  # not tracked: weights stay the layer's own
        object.__setattr__(self, "_new_activation", activation)

    def call(self, inputs):
        return type(self._target).call(_Proxy(self._target, self._new_activation), inputs)


class Apply(keras.layers.Layer):
    """A weightless layer applying ``fn`` to its input (an activation, split off its layer)."""

    def __init__(self, fn, **kwargs):
        super().__init__(**kwargs)
        self._fn = fn

    def call(self, inputs, *args, **kwargs):
        return self._fn(inputs)


def _identity(x):
    return x


def _override(model, relu: str | None, logits: bool, pre: set, pre_taps: dict) -> Override | None:
    """The replay hook for :func:`replay_model`: per layer, the activation it should apply
    (identity for a final softmax when ``logits``, a :func:`relu_with_gradient` ReLU when
    ``relu``), and for paths in ``pre`` the activation's input recorded in ``pre_taps``."""
    heads = set(output_layer_paths(model)) if logits else set()
    if not (relu or heads or pre):
        return None

    def new_activation(path, layer):
        if path in heads and activation_name(layer) == "softmax":
            return _identity
        is_relu, cap = relu_cap(layer) if relu else (False, None)
        return relu_with_gradient(relu, cap) if is_relu else None

    def override(path, layer):
        act = new_activation(path, layer)
        if act is None and path not in pre:
            return None
        standalone = isinstance(layer, ACTIVATION_LAYERS)
        fused = not standalone and activation_name(layer) not in (None, "linear")

        def call(x, *args, **kwargs):
            if not (standalone or fused):        # no activation: pre-activation = output
                out = pre_taps[path] = layer(x, *args, **kwargs)
                return out
            if fused:
                x = WithActivation(layer, None)(x, *args, **kwargs)
            if path in pre:
                pre_taps[path] = x
            if act is _identity:
                return x
            if act is not None:
                return Apply(act)(x)
            return Apply(layer.activation)(x) if fused else layer(x, *args, **kwargs)

        return call

    return override


def replay_model(model: keras.Model, paths: Sequence[str] = (), *, relu: str | None = None,
                 logits: bool = True, outputs: bool = True,
                 pre_activation: Sequence[str] = ()) -> keras.Model:
    """A ``keras.Model`` from the model's inputs to
    ``[tap_0…tap_k-1, pre_0…pre_j-1, out_0…out_m-1]``, sharing the user's weights.

    Args:
        model: a built Sequential or Functional model (nested models are reached).
        paths: layer paths (see :func:`kerasviz.core.layers.resolve_layer`) whose outputs to
            expose, in this order (``(n, h, w, c)`` for a conv layer).
        relu: ``None`` (true gradients) or a key of :data:`RELU_GRADIENTS`: every ReLU
            back-propagates by that rule. Forward values are unchanged.
        logits: replace a softmax producing a model output by the identity (pre-softmax scores).
        outputs: also expose the model's outputs; False: only the taps (the layers after them
            are not computed).
        pre_activation: layer paths whose *pre-activation* values to expose after the taps: the
            layer's output before its fused activation, or the input of an activation layer
            (``ReLU``, ``Activation``…); the output itself for a layer without activation. The
            layers after them still see the activated values.

    Returns:
        Cached per (model, paths, relu, logits, outputs, pre_activation). Keras returns a bare
        tensor (not a list) when there is a single output: wrap the call's result with
        :func:`kerasviz.core.layers.as_list`. Call it with ``training=False``.

    Raises:
        LayerNotFoundError: a path in ``paths`` or ``pre_activation`` is not a layer of the model.
        ArgumentError: unknown ``relu`` mode.
        ModelError: a subclassed or unbuilt model.
    """
    relu = None if relu in (None, "normal") else _validate.one_of("relu", relu, RELU_GRADIENTS)
    paths, pre_paths = tuple(paths), tuple(pre_activation)
    key = ("replay", paths, relu, bool(logits), bool(outputs), pre_paths)
    cache = _per_model(model)
    if key not in cache:
        known = flatten(model).taps
        _check_paths(model, [*paths, *pre_paths], known)
        pre_taps: dict = {}
        flat = flatten(model, _override(model, relu, logits, set(pre_paths), pre_taps))
        inputs = flat.inputs[0] if len(flat.inputs) == 1 else flat.inputs
        outs = [flat.taps[p] for p in paths] + [pre_taps[p] for p in pre_paths]
        cache[key] = keras.Model(inputs, outs + (flat.outputs if outputs else []),
                                 name=f"{model.name}_replay")
    return cache[key]


def head_model(model: keras.Model, path: str, *, logits: bool = True) -> keras.Model:
    """The part of ``model`` after layer ``path``: a ``keras.Model`` from that layer's output
    (``(N, h, w, c)`` for a conv layer) to the model's outputs, sharing the user's weights.

    When some later layer also needs an earlier tensor (a skip connection around ``path``), the
    head takes ``[model inputs…, layer output]`` instead; ``head.inputs`` tells which form was
    built. Cached per (model, path, logits).

    Raises:
        LayerNotFoundError: ``path`` is not a layer path of the model.
    """
    key = ("head", path, bool(logits))
    cache = _per_model(model)
    if key not in cache:
        known = flatten(model).taps
        _check_paths(model, [path], known)
        fed = keras.Input(batch_shape=tuple(known[path].shape), dtype=known[path].dtype,
                          name="layer_output")
        rest = _override(model, None, logits, set(), {})

        def override(p, layer):
            if p == path:
                return lambda *a, **k: fed
            return rest(p, layer) if rest is not None else None

        flat = flatten(model, override)
        try:
            cache[key] = keras.Model(fed, flat.outputs, name=f"{model.name}_head")
        except ValueError:  # a skip connection needs the model inputs too
            cache[key] = keras.Model([*flat.inputs, fed], flat.outputs, name=f"{model.name}_head")
    return cache[key]


def _check_paths(model, paths, known) -> None:
    for p in paths:
        if p not in known:
            raise LayerNotFoundError(f"No layer {p!r} in model {model.name!r}. "
                                     f"{suggest(str(p), known)}")
