"""Finding layers (through nested models) and building sub-models that tap them.

Layer paths: a layer of the top model is addressed by its name (``"block5_conv3"``); a layer
inside a nested model by the nested model's name, a slash, and the inner name
(``"vgg16/block5_conv3"``). An unambiguous inner name also works on its own.

Every sub-model is built by *replaying* the model's graph from fresh inputs (``flatten``), so the
layers of nested models are connected to the outer input. This is what avoids Keras' "Graph
disconnected" error on transfer-learning models such as
``Sequential([VGG16(include_top=False), GlobalAveragePooling2D(), Dense(3)])``. The replay reuses
the user's layers (same weights); the user's model object is never changed.
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import keras

from kerasviz._caches import model_cache
from kerasviz._keras_compat import is_graph_model, run_through_graph
from kerasviz.errors import LayerNotFoundError, ModelError, suggest

#: ``override(path, layer)`` returns ``None`` (call the layer as usual) or a function
#: ``f(*args, **kwargs)`` called instead of the layer (used for logits and ReLU overrides).
Override = Callable[[str, keras.layers.Layer], Callable | None]


@dataclass(frozen=True)
class LayerInfo:
    """One layer of a (possibly nested) model, in model order.

    Attributes:
        path: address of the layer, e.g. ``"vgg16/block5_conv3"``.
        layer: the Keras layer object itself.
        output_shape: symbolic output shape, ``None`` for unknown dims (batch first).
        index: position in model order (0 = first layer after the input).
    """
    path: str
    layer: keras.layers.Layer
    output_shape: tuple
    index: int

    @property
    def is_spatial(self) -> bool:
        """True when the output is ``(N, h, w, c)`` — a feature map."""
        return len(self.output_shape) == 4


@dataclass
class FlatGraph:
    """A replay of a model: fresh inputs, every layer's output, and the model outputs."""
    inputs: list
    taps: dict  # path -> symbolic tensor, in model order
    outputs: list  # flat list of symbolic outputs


_FLAT_CACHE = model_cache()
_TAP_CACHE = model_cache()


def flatten(model: keras.Model, override: Override | None = None) -> FlatGraph:
    """Replay ``model`` from fresh ``keras.Input`` tensors, recording every layer's output.

    Nested Sequential / Functional models are replayed layer by layer (recursively). Subclassed
    models inside are called as one opaque layer.

    Args:
        model: a built Sequential or Functional ``keras.Model``.
        override: optional hook to call something else in place of chosen layers.

    Returns:
        FlatGraph; cached per model when ``override`` is None.

    Raises:
        ModelError: the model is not built, or is a subclassed model (no graph to replay).
    """
    if override is None and model in _FLAT_CACHE:
        return _FLAT_CACHE[model]
    if not is_graph_model(model):
        raise ModelError(
            f"Model {model.name!r} of type {type(model).__name__} is a subclassed model; kerasviz "
            f"needs a Functional or Sequential model whose layers it can reach. Wrap it: "
            f"inputs = keras.Input(shape); model = keras.Model(inputs, your_model(inputs)).")
    try:
        ref_inputs = list(model.inputs)
    except (AttributeError, ValueError):
        ref_inputs = None
    if not ref_inputs:
        raise ModelError(f"Model {model.name!r} is not built: it has no defined input. Give it "
                         f"an input shape (keras.Input(shape=...)) or call it on a batch first.")
    inputs = [keras.Input(batch_shape=tuple(t.shape), dtype=t.dtype, name=t.name.split(":")[0])
              for t in ref_inputs]
    taps: dict[str, Any] = {}
    feed = inputs[0] if len(inputs) == 1 else inputs
    outputs = _replay(model, feed, "", override, taps)
    flat = FlatGraph(inputs, taps, list(keras.tree.flatten(outputs)))
    if override is None:
        _FLAT_CACHE[model] = flat
    return flat


def _replay(model, inputs, prefix: str, override, taps: dict):
    def call(layer, *args, **kwargs):
        path = prefix + layer.name
        if is_graph_model(layer):
            out = _replay(layer, args[0] if len(args) == 1 else list(args), path + "/", override, taps)
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


def layer_table(model: keras.Model) -> list[LayerInfo]:
    """Every layer of ``model`` in model order, nested models expanded (the nested model itself
    is listed after its inner layers)."""
    rows = []
    for i, (path, tensor) in enumerate(flatten(model).taps.items()):
        shape = tuple(tensor.shape) if hasattr(tensor, "shape") else ()
        rows.append(LayerInfo(path, _layer_at(model, path), shape, i))
    return rows


def _layer_at(model: keras.Model, path: str) -> keras.layers.Layer:
    layer = model
    for part in path.split("/"):
        layer = layer.get_layer(part)
    return layer


def resolve_layer(model: keras.Model, spec: Any = None) -> str:
    """Turn a layer spec into its path.

    Args:
        spec: a path (``"vgg16/block5_conv3"``), an unambiguous inner name (``"block5_conv3"``),
            an index into :func:`layer_table` (negative counts from the end), a ``Layer`` object,
            or ``None`` for :func:`default_conv_layer`.

    Raises:
        LayerNotFoundError: nothing matches; the message lists the closest layer paths.
    """
    if spec is None:
        return default_conv_layer(model)
    rows = layer_table(model)
    paths = [r.path for r in rows]
    if isinstance(spec, keras.layers.Layer):
        for r in rows:
            if r.layer is spec:
                return r.path
        raise LayerNotFoundError(f"Layer object {spec.name!r} is not part of model "
                                 f"{model.name!r}. {suggest(spec.name, paths)}")
    if isinstance(spec, int) and not isinstance(spec, bool):
        if -len(rows) <= spec < len(rows):
            return rows[spec].path
        raise LayerNotFoundError(f"Layer index out of range. Expected -{len(rows)} <= index < "
                                 f"{len(rows)}. Received: layer={spec}")
    if isinstance(spec, str):
        if spec in paths:
            return spec
        tails = [p for p in paths if p.split("/")[-1] == spec or p.endswith("/" + spec)]
        if len(tails) == 1:
            return tails[0]
        if len(tails) > 1:
            raise LayerNotFoundError(f"Layer name {spec!r} is ambiguous in model {model.name!r}: "
                                     f"{tails}. Give the full path.")
        raise LayerNotFoundError(f"No layer {spec!r} in model {model.name!r}. "
                                 f"{suggest(spec, paths)}")
    raise LayerNotFoundError(f"Expected a layer name, path, index or Layer. Received: "
                             f"layer={spec!r} of type {type(spec).__name__}")


def select_layers(model: keras.Model, specs: Any = None) -> list[str]:
    """Resolve many layers: names, paths, indices, glob patterns (``"block*_conv*"``) or layer
    classes (``keras.layers.Conv2D``). ``None`` = every layer with a 4-D output. Model order,
    no duplicates."""
    rows = layer_table(model)
    if specs is None:
        chosen = [r.path for r in rows if r.is_spatial and not is_graph_model(r.layer)]
        if not chosen:
            raise ModelError(f"Model {model.name!r} has no layer with a 4-D (N, h, w, c) output.")
        return chosen
    if isinstance(specs, (str, int, type, keras.layers.Layer)):
        specs = [specs]
    picked: set[str] = set()
    for spec in specs:
        if isinstance(spec, type):
            hits = [r.path for r in rows if isinstance(r.layer, spec)]
        elif isinstance(spec, str) and any(c in spec for c in "*?["):
            hits = [r.path for r in rows if fnmatch.fnmatchcase(r.path, spec)
                    or fnmatch.fnmatchcase(r.path.split("/")[-1], spec)]
        else:
            hits = [resolve_layer(model, spec)]
        if not hits:
            raise LayerNotFoundError(f"No layer of model {model.name!r} matches {spec!r}. "
                                     f"{suggest(str(spec), [r.path for r in rows])}")
        picked.update(hits)
    return [r.path for r in rows if r.path in picked]


def default_conv_layer(model: keras.Model) -> str:
    """The last layer with a 4-D output before the head (where Grad-CAM looks by default).

    Raises:
        ModelError: the model has no layer with a 4-D output (no convolutional part).
    """
    rows = [r for r in layer_table(model) if r.is_spatial and not is_graph_model(r.layer)]
    if not rows:
        raise ModelError(
            f"Model {model.name!r} has no convolutional layer (no layer outputs a 4-D (N, h, w, c) "
            f"feature map), so CAM methods have nothing to look at. Use a pixel method such as "
            f"method='saliency', or pass a model with a conv layer.")
    return rows[-1].path


def output_layer_paths(model: keras.Model) -> list[str]:
    """Path of the innermost layer producing each model output (in output order)."""
    flat = flatten(model)
    paths = []
    for out in flat.outputs:
        hits = [p for p, t in flat.taps.items() if t is out]
        hits = [p for p in hits if not is_graph_model(_layer_at(model, p))] or hits
        paths.append(max(hits, key=lambda p: p.count("/")) if hits else None)
    return paths


class _Proxy:
    """Stands in for a layer inside its own ``call`` with a different fused activation."""

    def __init__(self, layer, activation):
        object.__setattr__(self, "_layer", layer)
        object.__setattr__(self, "activation", activation)

    def __getattr__(self, name):
        return getattr(self._layer, name)


class WithActivation(keras.layers.Layer):
    """Call ``layer`` (sharing its weights) with its fused ``activation`` replaced.

    ``WithActivation(dense, None)`` gives a softmax Dense layer's logits;
    ``WithActivation(conv, guided_relu)`` gives a Conv2D(activation="relu") with an overridden
    ReLU gradient. The wrapped layer is not modified.
    """

    def __init__(self, layer, activation, **kwargs):
        super().__init__(name=f"{layer.name}_{getattr(activation, '__name__', 'linear')}", **kwargs)
        object.__setattr__(self, "_target", layer)  # not tracked: weights stay the layer's own
        object.__setattr__(self, "_new_activation", activation)

    def call(self, inputs):
        return type(self._target).call(_Proxy(self._target, self._new_activation), inputs)


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


def logits_override(model: keras.Model) -> Override:
    """Override that removes a softmax at the model's outputs (a softmax Dense layer is called
    with a linear activation; a standalone Softmax / Activation("softmax") is skipped)."""
    heads = set(output_layer_paths(model))

    def override(path, layer):
        if path not in heads or activation_name(layer) != "softmax":
            return None
        if isinstance(layer, (keras.layers.Softmax, keras.layers.Activation)):
            return lambda x, *a, **k: x
        return WithActivation(layer, None)

    return override


def ends_in_softmax(model: keras.Model) -> bool:
    """True when some model output is produced by a softmax."""
    return any(p is not None and activation_name(_layer_at(model, p)) == "softmax"
               for p in output_layer_paths(model))


def tap_model(model: keras.Model, paths: Sequence[str] = (), *, logits: bool = False) -> keras.Model:
    """One ``keras.Model`` from the model's inputs to ``[tap_0, …, tap_k-1, out_0, …, out_m-1]``.

    Args:
        paths: layer paths (see :func:`resolve_layer`) whose outputs to expose, in this order.
        logits: replace a final softmax by the identity, so scores are pre-softmax.

    Returns:
        A Functional model sharing the user's weights; cached per (model, paths, logits).
        Keras returns a bare tensor (not a list) when there is a single output: wrap the call's
        result with :func:`as_list`.
    """
    key = (tuple(paths), bool(logits))
    cache = _TAP_CACHE.setdefault(model, {})
    if key not in cache:
        flat = flatten(model, logits_override(model) if logits and ends_in_softmax(model) else None)
        missing = [p for p in paths if p not in flat.taps]
        if missing:
            raise LayerNotFoundError(f"No layer {missing[0]!r} in model {model.name!r}. "
                                     f"{suggest(missing[0], flat.taps)}")
        inputs = flat.inputs[0] if len(flat.inputs) == 1 else flat.inputs
        cache[key] = keras.Model(inputs, [flat.taps[p] for p in paths] + flat.outputs,
                                 name=f"{model.name}_taps")
    return cache[key]


def layer_paths(model: keras.Model) -> list[str]:
    """All layer paths of ``model`` in model order."""
    return [r.path for r in layer_table(model)]


def as_list(x: Any) -> list:
    """Wrap a non-list in a list (tensors and arrays count as one item)."""
    return list(x) if isinstance(x, (list, tuple)) else [x]




def head_model(model: keras.Model, path: str, *, logits: bool = False) -> keras.Model:
    """The part of ``model`` after layer ``path``: a ``keras.Model`` from that layer's output
    (``(N, h, w, c)`` for a conv layer) to the model's outputs, sharing the user's weights.

    When some later layer also needs an earlier tensor (a skip connection around ``path``), the
    head takes ``[model inputs…, layer output]`` instead. Cached per (model, path, logits);
    ``head.inputs`` tells which form was built.

    Raises:
        LayerNotFoundError: ``path`` is not a layer path of the model.
    """
    key = ("head", path, bool(logits))
    cache = _TAP_CACHE.setdefault(model, {})
    if key not in cache:
        known = flatten(model).taps
        if path not in known:
            raise LayerNotFoundError(f"No layer {path!r} in model {model.name!r}. "
                                     f"{suggest(path, known)}")
        fed = keras.Input(batch_shape=tuple(known[path].shape), dtype=known[path].dtype,
                          name="layer_output")
        soft = logits_override(model) if logits and ends_in_softmax(model) else None

        def override(p, layer):
            if p == path:
                return lambda *a, **k: fed
            return soft(p, layer) if soft is not None else None

        flat = flatten(model, override)
        try:
            cache[key] = keras.Model(fed, flat.outputs, name=f"{model.name}_head")
        except ValueError:  # a skip connection needs the model inputs too
            cache[key] = keras.Model([*flat.inputs, fed], flat.outputs, name=f"{model.name}_head")
    return cache[key]
