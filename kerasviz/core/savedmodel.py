"""Deployed models: TF Serving SavedModels in, an explainable SavedModel out.

* :func:`load_saved_model` (what :func:`kerasviz.load_model` does with a folder holding a
  ``saved_model.pb``) loads the graph with ``tf.saved_model.load`` (no Python code from the
  folder runs) and wraps one signature (``serving_default`` by default) in a Keras functional
  model: one input of the signature's shape and dtype, its outputs in key order. Input-gradient
  and black-box methods run through it as through any model. Its outputs are explained *as they
  are*: kerasviz cannot see a final softmax inside a SavedModel, so a classifier exported with
  one is explained on its probabilities, unless the folder has a ``logits`` signature (written
  by :func:`export_model`) and that one is chosen.
* :func:`export_model` (``kerasviz export``) writes a SavedModel whose ``serving_default`` is
  the one ``model.export()`` writes, plus two signatures:

  - ``explain(images float32 (N, H, W, C), class_index int32 (N,))`` → ``activations``
    ``(N, h, w, c)`` of the chosen conv layer, ``gradients`` ``∂S/∂activations`` of the
    pre-softmax score ``S`` of ``class_index`` (``-1``: the top class), ``logits`` ``(N, K)``,
    ``class_index`` (resolved) and ``predictions`` (the model's output). Grad-CAM and the
    methods of :data:`EXPLAIN_METHODS` run through it, from Python, the CLI and TF Serving.
  - ``logits(images)`` → ``logits``: the pre-softmax outputs, the scores kerasviz explains for a
    Keras model.

  A small ``assets.extra/kerasviz.json`` records the layer and class names (TF Serving ignores
  ``assets.extra``).
"""
from __future__ import annotations

import json
import os
import shutil
import weakref
from dataclasses import dataclass
from pathlib import Path

import keras

from kerasviz.errors import ArgumentError, ModelError, OutputError, TargetError

#: CAM methods that need only a layer's activations and their gradient (what ``explain`` returns).
EXPLAIN_METHODS = ("gradcam", "gradcam++", "xgradcam", "layercam", "hirescam", "eigencam")
#: Methods that replay the model's ReLUs, which a SavedModel hides.
REPLAY_METHODS = ("guided_backprop", "deconvnet", "guided_gradcam")
#: Methods that run on any SavedModel (through its signature).
SIGNATURE_METHODS = ("saliency", "smoothgrad", "gradxinput", "integrated_gradients",
                     "occlusion", "rise")
META = "assets.extra/kerasviz.json"


@dataclass(frozen=True)
class SavedModelInfo:
    """Where a wrapped SavedModel came from.

    Attributes:
        path: the SavedModel folder.
        signature: the signature the wrapper runs.
        input_key, output_keys: the signature's input key and output keys (in output order).
        layer: the conv layer of the ``explain`` signature, or None when there is none.
    """
    path: str
    signature: str
    input_key: str
    output_keys: tuple
    layer: str | None = None


_LOADED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # wrapper → loaded object


def is_saved_model(path) -> bool:
    """True for a folder holding a ``saved_model.pb``."""
    p = Path(path)
    return p.is_dir() and (p / "saved_model.pb").is_file()


def load_saved_model(path, signature: str | None = None):
    """A Keras functional model running signature ``signature`` of the SavedModel in ``path``.

    Returns:
        ``(model, info, meta)``: the wrapper (input: the signature's one tensor input, batch
        first; outputs: the signature's outputs in key order), its :class:`SavedModelInfo` and
        the folder's ``assets.extra/kerasviz.json`` (``{}`` when absent).

    Raises:
        ModelError: an unreadable SavedModel, an unknown signature (the available ones are
            listed), a signature with several inputs or a non-float input.
    """
    import tensorflow as tf

    path = Path(path)
    signature = signature or "serving_default"
    try:
        loaded = tf.saved_model.load(str(path))
    except Exception as exc:  # noqa: BLE001 (TF raises many kinds for a broken folder)
        raise ModelError(f"Could not load the SavedModel in '{path}': {str(exc).splitlines()[0]}. "
                         f"Expected a folder written by tf.saved_model.save, model.export() or "
                         f"kerasviz export.") from None
    if signature not in loaded.signatures:
        raise ModelError(f"The SavedModel in '{path}' has no signature {signature!r}. Expected "
                         f"one of {sorted(loaded.signatures)} (--signature).")
    fn = loaded.signatures[signature]
    inputs = fn.structured_input_signature[1]
    if len(inputs) != 1:
        raise ModelError(f"Signature {signature!r} of '{path}' takes {len(inputs)} inputs "
                         f"{sorted(inputs)}; kerasviz explains signatures with one image input. "
                         f"Expected another --signature among {sorted(loaded.signatures)}.")
    (key, spec), = inputs.items()
    if not spec.dtype.is_floating or spec.shape.rank != 4:
        raise ModelError(f"Signature {signature!r} of '{path}' takes {key!r} of dtype "
                         f"{spec.dtype.name} and shape {spec.shape}; kerasviz needs float images "
                         f"(N, H, W, C) to take gradients and mask pixels. Export the model with a "
                         f"float image input (kerasviz export model.keras DIR).")
    outs = tuple(sorted(fn.structured_outputs))
    meta = _read_meta(path)
    layer = meta.get("layer") if "explain" in loaded.signatures else None
    info = SavedModelInfo(str(path), signature, key, outs, layer)
    inp = keras.Input(tuple(spec.shape[1:]), dtype=spec.dtype.name, name=key)
    result = SignatureLayer(loaded, signature, key, outs, name=signature)(inp)
    # TF Serving's layout is NAME/VERSION: a version number alone names nothing
    name = meta.get("model") or (path.resolve().parent.name if path.name.isdigit() else path.name)
    model = keras.Model(inp, result if len(outs) > 1 else result[0], name=name or "saved_model")
    _LOADED[model] = loaded
    return model, info, meta


def _read_meta(path: Path) -> dict:
    """``assets.extra/kerasviz.json`` of a folder written by :func:`export_model`, else ``{}``."""
    try:
        return json.loads((path / META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


class SignatureLayer(keras.layers.Layer):
    """Runs one signature of a loaded SavedModel: input tensor → list of its outputs (key order).
    Not serialisable (it holds the loaded graph)."""

    def __init__(self, loaded, signature: str, input_key: str, output_keys: tuple, **kwargs):
        super().__init__(trainable=False, **kwargs)
        self._fn = loaded.signatures[signature]
        self._key, self._outs = input_key, tuple(output_keys)

    def call(self, x):
        res = self._fn(**{self._key: x})
        return [res[k] for k in self._outs]

    def compute_output_spec(self, x):
        specs = self._fn.structured_outputs
        return [keras.KerasTensor(tuple(specs[k].shape), dtype=specs[k].dtype.name)
                for k in self._outs]


def saved_model_info(model) -> SavedModelInfo | None:
    """The :class:`SavedModelInfo` of a model made by :func:`kerasviz.load_model` from a
    SavedModel folder, else None."""
    from kerasviz.core.models import _INFO

    info = _INFO.get(model)
    return getattr(info, "saved_model", None) if info is not None else None


def check_method(model, method, layer, target) -> str | None:
    """For a wrapped SavedModel: the layer ``method`` reads through the ``explain`` signature
    (None for a method that reads none), or :class:`ModelError` (:class:`TargetError`) when the
    SavedModel cannot give what ``method`` (``target``) needs. For other models: None, nothing
    checked."""
    sm = saved_model_info(model)
    if sm is None:
        return None
    if method.name in REPLAY_METHODS:
        raise ModelError(f"Method {method.name!r} replays the model's ReLUs, which the SavedModel "
                         f"'{sm.path}' hides. Expected one of {list(SIGNATURE_METHODS)}, or explain "
                         f"the Keras model.")
    if not method.uses_layer:
        return None
    fix = (f"Export the Keras model with `kerasviz export model.keras DIR --layer L` (Python: "
           f"kerasviz.export_model(model, DIR, layer=L)): its 'explain' signature lets "
           f"{list(EXPLAIN_METHODS)} run on the exported folder; or use a method that needs no "
           f"layer: {list(SIGNATURE_METHODS)}.")
    if sm.layer is None:
        raise ModelError(f"Method {method.name!r} reads a conv layer, but the SavedModel "
                         f"'{sm.path}' hides its layers (only its signatures' graphs are kept). "
                         f"{fix}")
    inner = method.name[len("smooth("):-1] if method.name.startswith("smooth(") else method.name
    if inner not in EXPLAIN_METHODS:  # the noise tunnel of one of them runs too
        raise ModelError(f"Method {method.name!r} needs more than the activations and gradients "
                         f"of layer {sm.layer!r} that the 'explain' signature of '{sm.path}' "
                         f"returns. Expected one of {list(EXPLAIN_METHODS)}, a method without a "
                         f"layer {list(SIGNATURE_METHODS)}, or the Keras model.")
    if layer is not None and layer != sm.layer:
        raise ModelError(f"The 'explain' signature of '{sm.path}' returns layer {sm.layer!r}. "
                         f"Expected layer=None or {sm.layer!r}. Received: layer={layer!r}. To "
                         f"explain another layer, export again with --layer.")
    if target.fn is not None:
        raise TargetError(f"Method {method.name!r} on SavedModel '{sm.path}' runs through its "
                          f"'explain' signature, which scores one class per image. Expected a "
                          f"class target (None, an int, a name or one per image), not a callable.")
    return sm.layer


def explain_pass(model, x, units):
    """``(A, dA, units, scores)`` from the ``explain`` signature of a wrapped SavedModel: the
    layer's activations ``float32 (n, h, w, c)``, ``∂S/∂A``, the resolved units ``int32 (n,)``
    and the pre-softmax scores ``float32 (n,)`` (``units`` ``-1``: the top class)."""
    import tensorflow as tf

    res = _LOADED[model].signatures["explain"](images=x, class_index=tf.cast(units, tf.int32))
    scores = tf.gather(res["logits"], res["class_index"], axis=1, batch_dims=1)
    return res["activations"], res["gradients"], res["class_index"], scores


# --- export ----------------------------------------------------------------------------------

def export_model(model, path, layer=None, *, force: bool = False) -> Path:
    """Write a TF-Serving-ready SavedModel of a Keras model with an ``explain`` signature (see the
    module docstring).

    The folder is written beside its place under a temporary name and renamed into place, so it
    is never half-written; a non-empty ``path`` is replaced only with ``force=True``; a link is
    refused; missing parent folders are created (``exported/shapes/1``, TF Serving's layout).

    Args:
        model: a Functional or Sequential ``keras.Model`` with one image input and one output.
        path: the folder to write.
        layer: the conv layer the ``explain`` signature returns (a path, name, index or None for
            the last 4-D layer, as in :func:`kerasviz.explain`).
        force: replace a non-empty folder.

    Returns:
        The folder's path.

    Raises:
        ModelError: not such a model, or a layer without a 4-D output.
        LayerNotFoundError: an unknown layer.
        OutputError: ``path`` is a link or a file, or a non-empty folder without ``force``.
    """
    from kerasviz.core import layers as L
    from kerasviz.core.models import check_model, model_info
    from kerasviz.methods.base import check_layer_is_spatial

    folder = _as_path(path)
    check_model(model, graph=True, what="export_model")
    if len(L.as_list(model.inputs)) != 1 or len(L.as_list(model.outputs)) != 1:
        raise ModelError(f"export_model needs a model with one input and one output; model "
                         f"{model.name!r} has {len(L.as_list(model.inputs))} and "
                         f"{len(L.as_list(model.outputs))}. Expected a single-input, "
                         f"single-output classifier.")
    layer = L.resolve_layer(model, layer)
    check_layer_is_spatial(model, layer)
    check_folder(folder, force)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.kerasviz-tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        _write(model, layer, tmp)
        names = model_info(model).class_names
        meta = {"layer": layer, "model": model.name,
                "class_names": list(names) if isinstance(names, (list, tuple)) else names}
        (tmp / META).parent.mkdir(parents=True, exist_ok=True)
        (tmp / META).write_text(json.dumps(meta, indent=1), encoding="utf-8")
        check_folder(folder, force)  # again: nothing appeared there meanwhile
        old = folder.with_name(f".{folder.name}.{os.getpid()}.kerasviz-old")
        if folder.exists():
            os.replace(folder, old)
        os.replace(tmp, folder)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _as_path(value) -> Path:
    if not isinstance(value, (str, os.PathLike)):
        raise ArgumentError(f"The export folder must be a path. Received: {value!r:.60} of type "
                            f"{type(value).__name__}.")
    return Path(value).expanduser()


def check_folder(folder: Path, force: bool) -> None:
    """Refuse a link, a file, or a non-empty folder without ``force`` (before any work)."""
    if folder.is_symlink():
        raise OutputError(f"The export folder '{folder}' is a symbolic link; kerasviz never writes "
                          f"through links. Give the real folder or another path.")
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"The export folder '{folder}' is a file. Expected a new or empty "
                          f"folder. Give another path.")
    if folder.is_dir() and any(folder.iterdir()) and not force:
        raise OutputError(f"The export folder '{folder}' is not empty. Expected a new or empty "
                          f"folder; give another path, or add --force (force=True) to replace it.")


def _write(model, layer: str, folder: Path) -> None:
    """The SavedModel: ``serve`` (``serving_default``) as ``model.export()``, ``explain`` and
    ``logits``."""
    import tensorflow as tf

    from kerasviz._keras_compat import export_input_signature
    from kerasviz.core.replay import replay_model

    tap = replay_model(model, [layer], logits=True)  # → [A, logits] (pre-softmax)
    logits_model = replay_model(model, [], logits=True)
    spec = model.inputs[0]
    images = tf.TensorSpec((None, *spec.shape[1:]), tf.float32, name="images")

    def explain(images, class_index):
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(images)  # records the ops downstream of the images, A's included
            a, z = tap(images, training=False)
            z = tf.cast(tf.reshape(z, [tf.shape(z)[0], -1]), tf.float32)
            top = tf.cast(tf.argmax(z, axis=-1), tf.int32)
            units = tf.where(class_index < 0, top, class_index)
            score = tf.gather(z, units, axis=1, batch_dims=1)
        grads = tape.gradient(score, a)
        return {"activations": tf.cast(a, tf.float32), "gradients": tf.cast(grads, tf.float32),
                "logits": z, "class_index": units, "predictions": model(images, training=False)}

    def logits(images):
        return {"logits": logits_model(images, training=False)}

    archive = keras.export.ExportArchive()
    archive.track_and_add_endpoint("serve", model, export_input_signature(model))
    archive.track(tap)
    archive.track(logits_model)
    archive.add_endpoint("explain", tf.function(explain, autograph=False), input_signature=[
        images, tf.TensorSpec((None,), tf.int32, name="class_index")])
    archive.add_endpoint("logits", tf.function(logits, autograph=False), input_signature=[images])
    archive.write_out(str(folder), verbose=False)
