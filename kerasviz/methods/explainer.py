"""``kerasviz.explain``: one entry point for every "why did it decide" method.

(The module is not called ``explain.py`` so that ``kerasviz.explain`` stays the function.)
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from kerasviz.errors import ArgumentError, UnknownMethodError, suggest
from kerasviz.present.explanation import Explanation


def explain(model, images: Any, method: str = "gradcam", target: Any = None, layer: Any = None, *,
            batch_size: int | None = None, progress: bool | None = None, preprocess=None,
            extra_inputs=None, **options) -> Explanation:
    """Explain a model's decision on images with one method.

    How ``images`` are told apart (the rule of :func:`kerasviz.preprocess`): ``uint8`` arrays
    (``(H, W, 3)`` or ``(N, H, W, 3)``), file paths, lists of paths and PIL images are *raw
    images*: they are resized to the model's input size and preprocessed with the model's known
    preprocessing (:func:`kerasviz.model_info`) or ``preprocess=``. Floating-point arrays are taken
    as *already preprocessed* model input (``(H, W, C)`` or ``(N, H, W, C)``).

    Scores are explained *before* a final softmax: when the model ends in a softmax (a softmax
    ``Dense``, ``Softmax`` or ``Activation("softmax")`` layer), kerasviz replays it with that
    activation replaced by the identity, as the Grad-CAM paper does, and explains the logit. The
    user's model is not changed.

    Args:
        model: a Functional or Sequential ``keras.Model``; nested models (a
            ``keras.applications`` base inside a classifier), preprocessing layers inside and
            several outputs are supported.
        images: raw images or a preprocessed float batch (see above).
        method: a registered method name (``kerasviz.methods()`` lists them): ``"cam"``,
            ``"gradcam"``, ``"gradcam++"``, ``"xgradcam"``, ``"layercam"``, ``"hirescam"``,
            ``"eigencam"``, ``"scorecam"``, ``"ablationcam"``, ``"saliency"``, ``"smoothgrad"``,
            ``"gradxinput"``, ``"integrated_gradients"``, ``"guided_backprop"``, ``"deconvnet"``,
            ``"guided_gradcam"``.
        target: what to explain (see :mod:`kerasviz.core.targets`): None = the top class per image,
            an int, a class name (``"tabby"``, ``"tiger cat"``, the model's own class names), a
            list with one per image, ``kerasviz.Output(index_or_name, unit)`` for regression or
            multi-output models, or a callable ``f(outputs) -> (N,)``.
        layer: for CAM methods and ``guided_gradcam``: a layer path (``"block5_conv3"``, through
            nesting ``"vgg16/block5_conv3"``), an index, a Layer, or None for the last layer with
            a 4-D output (:func:`kerasviz.core.layers.default_conv_layer`). Pixel methods ignore it.
        batch_size: model evaluations per graph step (images × noise samples / channels /
            integration steps); bounds memory. Default 16.
        progress: show a progress bar over image chunks (default: when stderr is a terminal).
        preprocess: preprocessing for raw images, overriding the model's.
        extra_inputs: for models with several inputs: the image must be the *first* input;
            give the others as a list of arrays in ``model.inputs`` order, one row per image.
            They are held fixed; attributions are for the image.
        **options: the method's options, e.g. ``samples=50, noise=0.2, seed=1`` (smoothgrad),
            ``steps=64, baseline=0.0`` (integrated_gradients), ``max_channels=64`` (scorecam).

    Returns:
        :class:`kerasviz.Explanation` (``maps`` ``float32 (N, H, W)`` in [0, 1], ``raw``, ``grads``,
        ``target``, ``layer``, ``scores``; ``.overlay()``, ``.crop()``, ``.boxes()``, ``.plot()``).

    Raises:
        UnknownMethodError: unknown method or option (closest names listed).
        ImageError: unreadable images, wrong input size, NaN/Inf in a float batch.
        ModelError: no conv layer for a CAM method, unknown preprocessing for raw images,
            subclassed model, ``cam`` without a GAP → Dense head.
        LayerNotFoundError: unknown layer (closest paths listed).
        TargetError, UnknownClassError: a target that does not fit the model.
    """
    from kerasviz.core import layers as L
    from kerasviz import methods as registry
    from kerasviz.methods import base
    from kerasviz.core.targets import as_target

    m = registry.get(method)
    bad = [k for k in options if k not in m.options]
    if bad:
        raise UnknownMethodError(
            f"Unknown option {bad[0]!r} for method {m.name!r}. Expected one of "
            f"{sorted(m.options) or 'no options'}. Received: {bad[0]}={options[bad[0]]!r}. "
            f"{suggest(bad[0], m.options) if m.options else ''}".rstrip())
    if batch_size is not None and (not isinstance(batch_size, (int, np.integer)) or batch_size < 1):
        raise ArgumentError(f"Expected batch_size to be a positive int. Received: "
                                 f"batch_size={batch_size!r}")
    x, shown = _inputs(model, images, preprocess)
    extra = _extra_inputs(model, extra_inputs, len(x))
    tgt = as_target(model, target, len(x))
    path = None
    if m.uses_layer:
        path = L.resolve_layer(model, layer)
        base.check_layer_is_spatial(model, path)
    elif layer is not None:
        warnings.warn(f"method={m.name!r} works on input pixels; layer={layer!r} is ignored.",
                      stacklevel=2)
    opts = {**m.options, **options}
    plan = base.plan_for(model, m, path, tgt, x.shape[1:], opts,
                         batch_size or base.DEFAULT_BATCH_SIZE)
    out = plan(x, tgt.units, progress, extra)
    tgt = tgt.with_units(out["units"])
    return Explanation(maps=out["maps"], raw=out["raw"], method=m.name,
                       target=None if tgt.units is None else tgt.units.astype(np.int64),
                       output=tgt.output, labels=tgt.labels, layer=path, scores=out["scores"],
                       grads=out.get("grads"), images=shown, family=m.family)


def _extra_inputs(model, extra, n: int) -> list[np.ndarray]:
    """Validate the non-image inputs of a multi-input model: ``n`` rows each, in input order."""
    from kerasviz.errors import ModelError

    others = list(getattr(model, "inputs", None) or [])[1:]
    extra = [] if extra is None else list(extra) if isinstance(extra, (list, tuple)) else [extra]
    if len(extra) != len(others):
        names = [t.name for t in others]
        raise ModelError(
            f"Model {model.name!r} has {len(others) + 1} inputs: the image first, then {names}. "
            f"Expected extra_inputs= a list of {len(others)} array(s) (one row per image). "
            f"Received: {len(extra)}." if others else
            f"Model {model.name!r} has one input; extra_inputs must be None. Received: "
            f"{len(extra)} array(s).")
    out = []
    for t, e in zip(others, extra):
        e = np.asarray(e)
        want = tuple(t.shape[1:])
        if e.shape[0] != n or len(e.shape) != len(want) + 1 or any(
                w is not None and w != g for w, g in zip(want, e.shape[1:])):
            raise ModelError(f"Input {t.name!r} expects shape (N={n}, {', '.join(map(str, want))}). "
                             f"Received: extra input of shape {e.shape}.")
        out.append(e.astype(t.dtype if isinstance(t.dtype, str) else "float32"))
    return out


def _inputs(model, images, preprocess) -> tuple[np.ndarray, np.ndarray | None]:
    """Model input ``float32 (N, H, W, C)`` and display images ``uint8 (N, H, W, 3)`` (or None)."""
    from kerasviz.core import models
    from kerasviz.core.images import as_uint8_batch

    is_float = (isinstance(images, np.ndarray) and np.issubdtype(images.dtype, np.floating)) \
        or models._is_tensor(images)
    if is_float:
        x = models.preprocess(model, images)
        shown = models.deprocess(model, x) if x.shape[-1] == 3 else None
        return x, shown
    info = models.model_info(model)
    raw = as_uint8_batch(images, info.input_size, crop=info.center_crop)
    return models.preprocess(model, raw, preprocess=preprocess), raw
