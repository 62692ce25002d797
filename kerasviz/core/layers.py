"""Finding layers through nested models: paths, the layer table, resolution and selection.

Layer paths: a layer of the top model is addressed by its name (``"block5_conv3"``); a layer
inside a nested model by the nested model's name, a slash, and the inner name
(``"vgg16/block5_conv3"``). An unambiguous inner name also works on its own.

The table of layers comes from a replay of the model's graph (:mod:`kerasviz.core.replay`, which
also builds every sub-model kerasviz uses); the user's model object is never changed.
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any

import keras

from kerasviz._keras_compat import is_graph_model
# The replay engine lives in replay.py; methods/ finds these names here (re-exported).
from kerasviz.core.replay import (activation_name, flatten, head_model,  # noqa: F401
                                  layer_at as _layer_at, output_layer_paths)
from kerasviz.errors import LayerNotFoundError, ModelError, suggest


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


def layer_table(model: keras.Model) -> list[LayerInfo]:
    """Every layer of ``model`` in model order, nested models expanded (the nested model itself
    is listed after its inner layers)."""
    from kerasviz.core.replay import _per_model

    cache = _per_model(model)  # beside the model's replay (kerasviz.clear_caches empties both)
    if "table" not in cache:
        rows = []
        for i, (path, tensor) in enumerate(flatten(model).taps.items()):
            shape = tuple(tensor.shape) if hasattr(tensor, "shape") else ()
            rows.append(LayerInfo(path, _layer_at(model, path), shape, i))
        cache["table"] = tuple(rows)
    return list(cache["table"])


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
    if isinstance(spec, str) and spec in flatten(model).taps:  # a full path: the common case
        return spec
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
            raise ModelError(f"Model {model.name!r} has no layer with a 4-D (N, h, w, c) output."
                             f"{_saved_model_hint(model)}")
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
            f"method='saliency', or pass a model with a conv layer.{_saved_model_hint(model)}")
    return rows[-1].path


def _saved_model_hint(model) -> str:
    """For a model loaded from a SavedModel folder: why it has no layers, and what to do."""
    from kerasviz.core.models import model_info

    where = model_info(model).saved_model
    if where is None:
        return ""
    return (f" It was loaded from the SavedModel folder '{where.path}', a graph without Keras "
            f"layers: activations and filters need the Keras model file (.keras / .h5) it was "
            f"exported from.")


def layer_paths(model: keras.Model) -> list[str]:
    """All layer paths of ``model`` in model order."""
    return [r.path for r in layer_table(model)]


def as_list(x: Any) -> list:
    """Wrap a non-list in a list (tensors and arrays count as one item)."""
    return list(x) if isinstance(x, (list, tuple)) else [x]

