"""``kerasviz.explain``: one entry point for every "why did it decide" method.

(The module is not called ``explain.py`` so that ``kerasviz.explain`` stays the function.)
"""
from __future__ import annotations

import functools
import warnings
from typing import Any

import numpy as np

from kerasviz import _validate
from kerasviz.errors import ArgumentError, ImageError
from kerasviz.present.explanation import Explanation


def explain(model, images: Any, method: str = "gradcam", target: Any = None, layer: Any = None, *,
            batch_size: int | None = None, progress: bool | None = None, preprocess=None,
            extra_inputs=None, smooth: dict | None = None, score: str = "logit",
            device: str | None = None,
            **options) -> Explanation:
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
        method: a registered method name (``kerasviz.methods()`` lists them with one line
            each) or a :class:`kerasviz.methods.Method` (e.g. ``kerasviz.methods.smooth(…)``).
        target: what to explain (see :mod:`kerasviz.core.targets`): None = the top class per image,
            an int, a class name (``"tabby"``, ``"tiger cat"``, the model's own class names), a
            list with one per image, ``kerasviz.Output(index_or_name, unit)`` for regression or
            multi-output models, or a callable ``f(outputs) -> (N,)``.
        layer: for methods that read a conv layer (``kerasviz.methods.get(name).uses_layer``):
            a layer path (``"block5_conv3"``, through nesting ``"vgg16/block5_conv3"``), an
            index, a Layer, or None for the last layer with a 4-D output
            (:func:`kerasviz.core.layers.default_conv_layer`). Other methods ignore it.
        batch_size: model evaluations per graph step (images × noise samples / channels /
            integration steps); bounds memory. Default 16.
        progress: show a progress bar (default: when stderr is a terminal), in images; it moves
            within an image as the method's loops over channels, samples or path points
            finish chunks.
        preprocess: preprocessing for raw images, overriding the model's.
        extra_inputs: for models with several inputs: the image must be the *first* input;
            give the others as a list of arrays in ``model.inputs`` order, one row per image.
            They are held fixed; attributions are for the image.
        device: ``"auto"`` (the GPU when TensorFlow sees one, else the CPU), ``"cpu"`` or
            ``"gpu"``; None reads ``$KERASVIZ_DEVICE`` (default ``"auto"``). The device used is
            ``Explanation.device``.
        smooth: run ``method`` through the noise tunnel (:func:`kerasviz.methods.smooth`): a
            dict of its settings, ``samples`` (int ≥ 1, default 25), ``noise`` (≥ 0, a fraction
            of each image's value range, default 0.15) and ``seed`` (default 0); the map is the
            method's raw map averaged over noisy copies of the input (SmoothGrad of any method).
        score: what is explained (every method that reads the target's score or its
            gradient): ``"logit"`` (default, the score before a final softmax) or
            ``"probability"`` (the class's softmax probability ``p_c``; its gradient
            ``p_c (∂z_c − Σ_k p_k ∂z_k)`` subtracts the evidence for competing classes). With
            ``"probability"``, ``scores`` are the probabilities. Needs a class target on an output
            that ends in a softmax, and a method that reads the score (not ``cam`` or
            ``eigencam``: ``Method.scored``). ``scorecam`` and ``rise`` weight by the
            probability whatever ``score`` is; it changes only their ``scores``.
        **options: the method's options (``kerasviz.methods.get(name).options`` lists them
            with their defaults), e.g. ``samples=50, noise=0.2, seed=1`` (smoothgrad),
            ``steps=64, baseline=0.0`` (integrated_gradients), ``max_channels=64`` (scorecam).
            Checked before any TensorFlow work; numbers that do not change a tensor's shape are
            graph inputs, so new values reuse the compiled graph.

    Returns:
        :class:`kerasviz.Explanation` (``maps`` ``float32 (N, H, W)`` in [0, 1], ``raw``, ``grads``,
        ``target``, ``layer``, ``scores``; ``.overlay()``, ``.crop()``, ``.boxes()``, ``.plot()``).

    Raises:
        UnknownMethodError: unknown method (closest names listed).
        ArgumentError: unknown option (closest names listed), an option value out of its range
            (the option, its valid range and the value are named), bad ``smooth`` settings,
            a bad ``batch_size``, ``preprocess``, ``extra_inputs``, ``score`` or ``device``
            (``"gpu"`` where TensorFlow sees none included).
        ImageError: unreadable images, no images, wrong input size, NaN/Inf in a float batch.
        ModelError: not a keras.Model, a subclassed or unbuilt model, no conv layer for a CAM
            method, unknown preprocessing for raw images, ``cam`` without a GAP → Dense head, a
            SavedModel without the ``explain`` signature a CAM method needs (see
            :mod:`kerasviz.core.savedmodel`).
        LayerNotFoundError: unknown layer (closest paths listed).
        TargetError, UnknownClassError: a target that does not fit the model.
    """
    from kerasviz.core import layers as L
    from kerasviz import methods as registry
    from kerasviz.methods import base
    from kerasviz.core import savedmodel
    from kerasviz.core.targets import as_target
    from kerasviz import _device

    m = registry.get(method)
    if smooth is not None:
        if not isinstance(smooth, dict):
            raise ArgumentError(f"smooth must be a dict. Expected noise-tunnel settings, e.g. "
                                f"smooth=dict(samples=16, noise=0.1, seed=0). "
                                f"Received: smooth={smooth!r}.")
        m = registry.smooth(m, **smooth)
    opts = m.check(options)
    if batch_size is not None:
        batch_size = _validate.positive_int("batch_size", batch_size)
    where = _device.resolve(device)
    x, shown, originals, windows = _inputs(model, images, preprocess)
    extra = _extra_inputs(model, extra_inputs, len(x))
    tgt = as_target(model, target, len(x))
    score = base.check_score(model, score, tgt, m)
    path = savedmodel.check_method(model, m, layer, tgt)  # a SavedModel: its explain signature's layer
    if m.uses_layer and path is None:
        path = L.resolve_layer(model, layer)
        base.check_layer_is_spatial(model, path)
    elif layer is not None:
        warnings.warn(f"method={m.name!r} works on input pixels; layer={layer!r} is ignored.",
                      stacklevel=2)
    plan = base.plan_for(model, m, path, tgt, x.shape[1:], opts,
                         batch_size or base.DEFAULT_BATCH_SIZE, score)
    out = plan(x, tgt.units, progress, extra, opts, device=where)
    tgt = tgt.with_units(out["units"])
    return Explanation(maps=out["maps"], raw=out["raw"], method=m.name,
                       target=None if tgt.units is None else tgt.units.astype(np.int64),
                       output=tgt.output, labels=tgt.labels, layer=path, scores=out["scores"],
                       grads=out.get("grads"), images=shown, family=m.family,
                       probabilities=out.get("probabilities"), originals=originals,
                       windows=windows, task=_task(model, tgt), device=where,
                       info={k[len(base.INFO):]: v for k, v in out.items()
                             if k.startswith(base.INFO)})


def _extra_inputs(model, extra, n: int) -> list[np.ndarray]:
    """Validate the non-image inputs of a multi-input model: ``n`` rows each, in input order.
    Raises :class:`ArgumentError` (a wrong number of arrays, a wrong shape or non-numbers)."""
    others = list(model.inputs)[1:]
    extra = [] if extra is None else list(extra) if isinstance(extra, (list, tuple)) else [extra]
    if len(extra) != len(others):
        names = [t.name for t in others]
        raise ArgumentError(
            f"Model {model.name!r} has {len(others) + 1} inputs: the image first, then {names}. "
            f"Expected extra_inputs= a list of {len(others)} array(s) (one row per image). "
            f"Received: {len(extra)}." if others else
            f"Model {model.name!r} has one input; extra_inputs must be None. Received: "
            f"{len(extra)} array(s).")
    out = []
    for t, e in zip(others, extra):
        want = tuple(t.shape[1:])
        expected = f"(N={n}, {', '.join(map(str, want))})".replace(", )", ")")
        dtype = t.dtype if isinstance(t.dtype, str) else "float32"
        try:
            given = np.asarray(e)
            if given.dtype.kind not in "biufc":
                given = given.astype(np.float64)  # objects, text: numbers, or the error below
        except (TypeError, ValueError):
            raise ArgumentError(f"Input {t.name!r} expects numbers of shape {expected}. Received: "
                                f"extra input {_short(e)}.") from None
        if given.ndim != len(want) + 1 or given.shape[0] != n or any(
                w is not None and w != g for w, g in zip(want, given.shape[1:])):
            raise ArgumentError(f"Input {t.name!r} expects shape {expected}, one row per image. "
                                f"Received: extra input of shape {given.shape}.")
        with np.errstate(invalid="ignore", over="ignore"):
            e = given.astype(dtype)
        # the values given (a cast to int would hide a NaN) and the values fed (a cast to
        # float32 turns 1e39 into Inf)
        rows = np.flatnonzero(~(_finite_rows(given) & _finite_rows(e)))
        if len(rows):
            raise ArgumentError(
                f"Input {t.name!r} contains NaN or Inf"
                f"{f' (or numbers beyond {e.dtype} range)' if e.dtype.kind == 'f' else ''} in "
                f"rows {rows[:10].tolist()}{' …' if len(rows) > 10 else ''} (one row per image). "
                f"Expected finite numbers. Received: extra input with "
                f"{len(rows)} such row(s) of {n}.")
        out.append(e)
    return out


def _finite_rows(a: np.ndarray) -> np.ndarray:
    """``bool (n,)``: rows of ``a`` ``(n, ...)`` without NaN or Inf (always True for ints)."""
    if a.dtype.kind not in "fc":
        return np.ones(len(a), bool)
    return np.isfinite(a.reshape(len(a), -1)).all(axis=1)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _task(model, target) -> str:
    """What a score is, for titles: ``"classification"``, ``"regression"`` or ``"callable"``."""
    from kerasviz.core import models

    return "callable" if target.fn is not None else models.model_info(model).task


def _inputs(model, images, preprocess):
    """Model input ``float32 (N, H, W, C)``, display images ``uint8 (N, H, W, 3)`` (or None),
    and for raw images the originals (a tuple of N ``uint8 (H_i, W_i, 3)``) and where the model
    input lies in each (``float64 (N, 4)``, :func:`kerasviz.core.images.fit_window`), else None.

    The model is checked first (a built Functional / Sequential ``keras.Model``, else
    :class:`ModelError`) before anything reads its internals, then ``preprocess`` (callable), then
    the images (:class:`ImageError`; an empty batch included). No TensorFlow work happens here.
    """
    from kerasviz.core import models
    from kerasviz.core.images import load_fitted

    models.check_model(model, graph=True, what="explain")
    if preprocess is not None:
        _validate.function("preprocess", preprocess)
    if images is None:
        raise ImageError("explain needs images: a file path, a list of paths, a uint8 array "
                         "(H, W, 3) / (N, H, W, 3) or a preprocessed float batch. Received: "
                         "images=None.")
    is_float = (isinstance(images, np.ndarray) and np.issubdtype(images.dtype, np.floating)) \
        or models._is_tensor(images)
    if is_float:
        x = models.preprocess(model, images)
        if x.shape[-1] != 3:
            return x, None, None, None
        # display images made when first read (Explanation.images), from a copy of the
        # caller's array that later changes to it do not reach
        own = x.copy() if isinstance(images, np.ndarray) and np.may_share_memory(x, images) else x
        return x, functools.partial(models.deprocess, model, own), None, None
    info = models.model_info(model)
    raw, originals, windows = load_fitted(images, info.input_size, info.center_crop)
    return models.preprocess(model, raw, preprocess=preprocess), raw, tuple(originals), windows
