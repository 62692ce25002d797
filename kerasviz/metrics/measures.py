"""Faithfulness, localisation, stability and complexity of saliency maps, one function each.

Maps are ``float (N, H, W)`` at the model's input resolution (``Explanation.maps``); images are
what :func:`kerasviz.explain` accepts (raw ``uint8`` images or a preprocessed float batch);
targets are class / unit targets (ints, names, one per image; None = the top class).

=====================  ============================================================  =========
metric                 what it measures                                              better
=====================  ============================================================  =========
``deletion``           AUC of the target's probability as pixels are replaced by      lower
                       the baseline, most important first (Petsiuk et al. 2018)
``insertion``          AUC as pixels are put back into the baseline, most important  higher
                       first (Petsiuk et al. 2018)
``pointing_game``      the map's maximum lies in the ground-truth box                 higher
                       (Zhang et al. 2016)
``energy_in_box``      share of the map's sum inside the box (Wang et al. 2020)       higher
``max_sensitivity``    largest relative change ``‖m(x+ε) − m(x)‖ / ‖m(x)‖`` over     lower
                       uniform noise ``‖ε‖∞ ≤ r`` (Yeh et al. 2019)
``gini``               Gini index of the map: 0 = uniform, (n−1)/n = one pixel        higher =
                       (sparseness, Chalasani et al. 2020)                           sparser
=====================  ============================================================  =========

References:
    Petsiuk, Das & Saenko, "RISE: Randomized Input Sampling for Explanation of Black-box
    Models", BMVC 2018.
    Zhang et al., "Top-down Neural Attention by Excitation Backprop", ECCV 2016 (pointing game).
    Wang et al., "Score-CAM", CVPR-W 2020 (energy-based pointing game).
    Yeh et al., "On the (In)fidelity and Sensitivity of Explanations", NeurIPS 2019.
    Chalasani et al., "Concise Explanations of Neural Networks using Adversarial Training",
    ICML 2020 (Gini index).
"""
from __future__ import annotations

import weakref

import numpy as np

from kerasviz import _validate
from kerasviz._caches import model_cache
from kerasviz.errors import ArgumentError, TargetError
from kerasviz.methods.base import Plan as _Plan

#: Baselines of the deletion / insertion curves, in model-input space (after preprocessing).
BASELINES = {
    "zeros": "model input 0 (black for x/255 inputs, mid-grey for inputs scaled to [-1, 1])",
    "mean": "each image's mean colour (per channel)",
    "blur": "the image blurred by a Gaussian of σ = 5 px per 224 px of width (RISE's kernel)",
}
#: Steps of the deletion / insertion curves (fractions 0, 1/steps, …, 1 of the pixels).
DEFAULT_STEPS = 32
#: RISE's blur: σ = 5 px on 224-px inputs, scaled with the input size.
BLUR_SIGMA_PER_PIXEL = 5 / 224


# --- inputs ------------------------------------------------------------------------------------
def model_input(model, images) -> np.ndarray:
    """``float32 (N, H, W, C)``: ``images`` as the model sees them (the rule of explain())."""
    from kerasviz.methods.explainer import _inputs

    return _inputs(model, images, None)[0]


def resolve_units(model, x: np.ndarray, target) -> tuple[int, np.ndarray]:
    """``(output, units)``: the output explained (0 unless an :class:`~kerasviz.Output` says
    otherwise) and its unit per image, ``int32 (N,)``; None = the top unit on ``x``.

    Raises:
        TargetError: a callable target (the metrics score a unit's probability).
    """
    from kerasviz.core.layers import as_list
    from kerasviz.core.targets import as_target

    tgt = as_target(model, target, len(x))
    if tgt.fn is not None:
        raise TargetError("The metrics need a class / unit target, not a callable. Expected "
                          "None (top class), an int, a class name or a list with one per image. "
                          f"Received: target={target!r}.")
    if (tgt.units < 0).any():
        tgt = as_target(model, target, len(x), outputs=as_list(model.predict(x, verbose=0)))
    return tgt.output, np.asarray(tgt.units, np.int32)


def check_maps(maps, x: np.ndarray) -> np.ndarray:
    """``maps`` as ``float32 (N, H, W)`` matching ``x`` ``(N, H, W, C)``, finite.

    Raises:
        ArgumentError: a wrong shape or NaN / Inf.
    """
    maps = _validate.finite_array("maps", maps)
    if maps.shape != x.shape[:3]:
        raise ArgumentError(f"maps must have one (H, W) map per image at the model's input size. "
                            f"Expected shape {x.shape[:3]}. Received: maps of shape {maps.shape}.")
    return maps


def check_boxes(boxes, n: int) -> np.ndarray:
    """``boxes`` as ``float64 (N, 4)`` ``[x0, y0, x1, y1]`` with ``x0 < x1``, ``y0 < y1``.

    Raises:
        ArgumentError: a wrong shape, or an empty box.
    """
    b = _validate.finite_array("boxes", boxes).astype(np.float64)
    if b.shape != (n, 4):
        raise ArgumentError(f"boxes must be one [x0, y0, x1, y1] per image. Expected shape "
                            f"({n}, 4). Received: boxes of shape {b.shape}.")
    bad = np.flatnonzero((b[:, 2] <= b[:, 0]) | (b[:, 3] <= b[:, 1]))
    if len(bad):
        raise ArgumentError(f"boxes must have x0 < x1 and y0 < y1 ([x0, y0, x1, y1], x1 and y1 "
                            f"exclusive). Received: boxes[{bad[0]}]={b[bad[0]].tolist()}.")
    return b


def baseline_images(x: np.ndarray, kind: str) -> np.ndarray:
    """The baseline image of each image of ``x`` ``float32 (N, H, W, C)`` (see
    :data:`BASELINES`), same shape."""
    _validate.one_of("baseline", kind, BASELINES)
    if kind == "zeros":
        return np.zeros_like(x)
    if kind == "mean":
        return np.broadcast_to(x.mean(axis=(1, 2), keepdims=True), x.shape).astype(np.float32)
    import cv2

    sigma = BLUR_SIGMA_PER_PIXEL * max(x.shape[1:3])
    out = [cv2.GaussianBlur(img, (0, 0), sigma) for img in x]
    return np.stack([o.reshape(img.shape) for o, img in zip(out, x)]).astype(np.float32)


# --- deletion and insertion -------------------------------------------------------------------
class _Scorer(_Plan):
    """A :class:`~kerasviz.methods.base.Plan` that only scores inputs (what a
    :class:`~kerasviz.methods.base.Context` needs for ``model_scores``): the model's replay
    (pre-softmax outputs, shared with the methods), the target's output and the batch size; no
    method and no compiled graph of its own. It holds the model weakly, as plans do (the curve
    cache is keyed weakly by the model)."""
    layer = None

    def __init__(self, model, output: int, batch_size: int):
        from kerasviz.core.targets import Target

        self._model, self.batch_size = weakref.ref(model), batch_size
        self.target = Target(output, None)


_CURVES = model_cache()


def _curve_graph(model, output: int, input_shape: tuple, batch_size: int, insertion: bool):
    """The compiled ``(x, maps, base, units, steps) -> (n, steps + 1)`` graph (cached per model)."""
    import tensorflow as tf

    from kerasviz.methods.base import Context

    key = (output, tuple(input_shape), batch_size, insertion)
    cache = _CURVES.setdefault(model, {})
    if key in cache:
        return cache[key]
    scorer = _Scorer(model, output, batch_size)

    def run(x, maps, base, units, steps):
        ctx = Context(scorer, x, units)
        n = tf.shape(x)[0]
        flat = tf.reshape(maps, [n, -1])
        order = tf.argsort(flat, axis=1, direction="DESCENDING", stable=True)
        rank = tf.reshape(tf.argsort(order, axis=1, stable=True), tf.shape(maps))  # 0 = first
        total = tf.cast(tf.shape(flat)[1], tf.float32)
        src, dst = (base, x) if insertion else (x, base)

        def chunk(start, count):
            k = tf.cast(tf.range(start, start + count), tf.float32)
            cut = tf.cast(tf.round(k * total / tf.cast(steps, tf.float32)), tf.int32)
            changed = rank[None] < cut[:, None, None, None]  # (count, n, H, W)
            xs = tf.where(changed[..., None], dst[None], src[None])
            xs = tf.reshape(xs, tf.concat([[-1], tf.shape(x)[1:]], 0))
            s = ctx.model_scores(xs, ctx.tile(units, count), probability=True)
            return tf.reshape(s, [count, n])

        return tf.transpose(ctx.concat_chunks(chunk, steps + 1))

    sig = [tf.TensorSpec((None, *input_shape), tf.float32),
           tf.TensorSpec((None, *input_shape[:2]), tf.float32),
           tf.TensorSpec((None, *input_shape), tf.float32),
           tf.TensorSpec((None,), tf.int32), tf.TensorSpec((), tf.int32)]
    cache[key] = tf.function(run, input_signature=sig, autograph=False)
    return cache[key]


def curves(model, images, maps, target=None, *, mode: str = "deletion", baseline: str = "blur",
           steps: int = DEFAULT_STEPS, batch_size: int = 16) -> np.ndarray:
    """Deletion or insertion curves (Petsiuk et al. 2018).

    Pixels are ranked by ``maps`` (largest first; ties in raster order). At step ``k`` of
    ``steps`` the first ``round(k · H·W / steps)`` pixels (all channels) are replaced by the
    baseline (``"deletion"``), or, starting from the baseline, put back (``"insertion"``), and
    the target is scored: its softmax probability when the output ends in a softmax or in
    logits (a ``Dense`` of ≥ 2 units without activation), else its score. The perturbed batches are evaluated in one compiled graph loop over chunks of at most
    ``batch_size`` model evaluations.

    Args:
        model: a classifier (one image input).
        images: raw images or a preprocessed float batch (as explain()).
        maps: ``float (N, H, W)`` at the model's input size (``Explanation.maps``).
        target: the unit scored per image (None: the top class at the clean image).
        mode: ``"deletion"`` or ``"insertion"``.
        baseline: a key of :data:`BASELINES` (default ``"blur"``, as RISE's insertion). RISE
            deletes to zeros; on images with textured backgrounds (the ``shapes`` data) a few
            black pixels anywhere break the prediction whatever the map (every map's curve,
            a random one's included, falls to chance within the first eighth of the pixels), so
            zeros measure the model's sensitivity to out-of-distribution pixels more than the map.
        steps: points of the curve minus one (int ≥ 1).

    Returns:
        ``float32 (N, steps + 1)``: the score at fractions ``0, 1/steps, …, 1`` of the pixels.
    """
    import tensorflow as tf

    _validate.one_of("mode", mode, ("deletion", "insertion"))
    steps = _validate.positive_int("steps", steps)
    batch_size = _validate.positive_int("batch_size", batch_size)
    _validate.one_of("baseline", baseline, BASELINES)
    x = model_input(model, images)
    maps = check_maps(maps, x)
    if len(getattr(model, "inputs", [])) > 1:
        raise ArgumentError("The metrics support models with one (image) input. "
                            f"Received: a model with {len(model.inputs)} inputs.")
    output, units = resolve_units(model, x, target)
    base = baseline_images(x, baseline)
    graph = _curve_graph(model, output, x.shape[1:], batch_size, mode == "insertion")
    out = []
    for s in range(0, len(x), batch_size):
        part = slice(s, s + batch_size)
        out.append(graph(tf.constant(x[part]), tf.constant(maps[part]), tf.constant(base[part]),
                         tf.constant(units[part]), tf.constant(steps)).numpy())
    return np.concatenate(out).astype(np.float32)


def auc(curve: np.ndarray) -> np.ndarray:
    """Area under curves ``(N, steps + 1)`` sampled at fractions ``0, 1/steps, …, 1`` (the
    trapezoidal rule): ``float64 (N,)``, in [0, 1] for probabilities."""
    c = np.asarray(curve, np.float64)
    return (c.sum(axis=-1) - (c[..., 0] + c[..., -1]) / 2) / (c.shape[-1] - 1)


# --- localisation ------------------------------------------------------------------------------
def pointing_game(maps, boxes) -> np.ndarray:
    """``bool (N,)``: whether each map's maximum lies inside its box ``[x0, y0, x1, y1]``
    (pixels, ``x1``, ``y1`` exclusive)."""
    from kerasviz.present.render import peak_in_box

    maps = np.asarray(maps)
    return peak_in_box(maps, check_boxes(boxes, len(maps)))


def energy_in_box(maps, boxes) -> np.ndarray:
    """``float64 (N,)`` in [0, 1]: the share of each (non-negative) map's sum that lies inside
    its box (pixel ``(i, j)`` is inside when ``x0 ≤ j < x1`` and ``y0 ≤ i < y1``); 0 for an
    all-zero map."""
    maps = np.abs(np.asarray(maps, np.float64))
    b = check_boxes(boxes, len(maps))
    ii, jj = np.arange(maps.shape[1])[None, :, None], np.arange(maps.shape[2])[None, None, :]
    inside = ((jj >= b[:, 0, None, None]) & (jj < b[:, 2, None, None])
              & (ii >= b[:, 1, None, None]) & (ii < b[:, 3, None, None]))
    total = maps.sum(axis=(1, 2))
    return np.where(total > 0, (maps * inside).sum(axis=(1, 2)) / np.where(total > 0, total, 1), 0)


def boxes_in_input(boxes, windows, size) -> np.ndarray:
    """Boxes drawn on original images, in the model input's pixels: ``boxes`` ``(N, 4)`` in each
    original's pixels, ``windows`` ``(N, 4)`` where the model input lies in each original
    (``Explanation.windows``), ``size`` ``(H, W)`` the model input's; clipped to the input."""
    b, w = np.asarray(boxes, np.float64), np.asarray(windows, np.float64)
    h_in, w_in = size
    sx, sy = w_in / (w[:, 2] - w[:, 0]), h_in / (w[:, 3] - w[:, 1])
    out = np.stack([(b[:, 0] - w[:, 0]) * sx, (b[:, 1] - w[:, 1]) * sy,
                    (b[:, 2] - w[:, 0]) * sx, (b[:, 3] - w[:, 1]) * sy], axis=1)
    return np.clip(out, 0, [w_in, h_in, w_in, h_in])


# --- complexity --------------------------------------------------------------------------------
def gini(maps) -> np.ndarray:
    """Gini index of each map's ``|values|``, ``float64 (N,)`` in [0, 1): with the ``n`` values
    sorted ascending, ``G = Σ_i (2i − n − 1) a_i / (n Σ a)`` (i from 1). A uniform map gives 0,
    a single non-zero pixel ``(n − 1)/n``; an all-zero map 0."""
    a = np.sort(np.abs(np.asarray(maps, np.float64)).reshape(len(maps), -1), axis=1)
    n = a.shape[1]
    i = np.arange(1, n + 1)
    total = a.sum(axis=1)
    return np.where(total > 0, (a * (2 * i - n - 1)).sum(axis=1) / (n * np.where(total > 0, total, 1)), 0)


# --- stability ---------------------------------------------------------------------------------
def max_sensitivity(model, images, method: str = "gradcam", target=None, *, radius: float = 0.05,
                    samples: int = 8, seed: int = 0, batch_size: int | None = None,
                    **options) -> np.ndarray:
    """Max-sensitivity (Yeh et al. 2019) of a method's maps, ``float64 (N,)`` (lower = more
    stable): ``max_j ‖m(x + ε_j) − m(x)‖_F / ‖m(x)‖_F`` over ``samples`` draws of uniform noise
    ``ε_j ∈ [−r, r]^(H·W·C)``, ``r = radius · (max x − min x)`` per image, drawn from the
    stateless seed ``(seed, j)`` (the same ``ε_j`` for every image, so results do not depend on
    batching). The target stays the unit explained at ``x``; maps are ``Explanation.maps``
    (min-max per image). NaN for an all-zero map at ``x``. ``**options`` go to explain()
    (``score=``, method options)."""
    import warnings

    import tensorflow as tf

    from kerasviz.core.targets import Output
    from kerasviz.methods.explainer import explain

    radius = _validate.number("radius", radius, lo=0.0)
    samples = _validate.positive_int("samples", samples)
    seed = _validate.integer("seed", seed, lo=0, hi=2**31 - 1)
    x = model_input(model, images)
    output, units = resolve_units(model, x, target)
    tgt = Output(output, [int(u) for u in units])
    ref = explain(model, x, method, target=tgt, batch_size=batch_size, progress=False, **options)
    span = (x.max(axis=(1, 2, 3)) - x.min(axis=(1, 2, 3)))[:, None, None, None]
    eps = np.stack([tf.random.stateless_uniform(x.shape[1:], (seed, j), -1.0, 1.0).numpy()
                    for j in range(samples)])  # (samples, H, W, C)
    noisy = (x[None] + radius * span[None] * eps[:, None]).reshape(-1, *x.shape[1:])
    many = Output(output, tgt.unit * samples)
    with warnings.catch_warnings():  # an empty noisy map is a large change, not a problem
        warnings.simplefilter("ignore")
        pert = explain(model, noisy.astype(np.float32), method, target=many, batch_size=batch_size,
                       progress=False, **options).maps.reshape(samples, *ref.maps.shape)
    diff = np.sqrt(((pert.astype(np.float64) - ref.maps) ** 2).sum(axis=(2, 3))).max(axis=0)
    norm = np.sqrt((ref.maps.astype(np.float64) ** 2).sum(axis=(1, 2)))
    return np.where(norm > 0, diff / np.where(norm > 0, norm, 1), np.nan)


# --- reference maps ----------------------------------------------------------------------------
#: Maps that use no model, as the floor a method should beat.
REFERENCES = {"random": "uniform noise (seeded)", "center": "a Gaussian bump at the image centre "
              "(σ = a quarter of the size): the centre bias of photos"}


def reference_maps(kind: str, n: int, size, seed: int = 0) -> np.ndarray:
    """``float32 (n, H, W)`` in [0, 1]: ``"random"`` (uniform, from ``seed``) or ``"center"``."""
    _validate.one_of("kind", kind, REFERENCES)
    h, w = size
    if kind == "random":
        return np.random.default_rng(seed).random((n, h, w)).astype(np.float32)
    yy, xx = np.mgrid[:h, :w]
    bump = np.exp(-(((yy - (h - 1) / 2) / (h / 4)) ** 2 + ((xx - (w - 1) / 2) / (w / 4)) ** 2) / 2)
    return np.broadcast_to(bump.astype(np.float32), (n, h, w)).copy()
