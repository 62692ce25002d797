"""Filter patterns and class models by gradient ascent in input space.

What input makes filter ``f`` of a layer fire most? Start from a grey, slightly noisy picture and
change it, step by step, along the gradient of the filter's mean activation (Erhan et al. 2009).
The same machinery maximises an output unit of a classifier (a *class model*, Simonyan et al.
2013).

Two recipes:

* ``"book"`` — the Keras book's loop (Chollet, *Deep Learning with Python*, 1st ed. §5.4.2),
  batched. Presets hold the book's exact parameters: :data:`BOOK_1ST_EDITION`,
  :data:`BOOK_2ND_EDITION` (§9.4.2) and :data:`KERAS_IO` ("Visualizing what convnets learn").
* ``"lucid"`` — better-looking patterns after Olah, Mordvintsev & Schubert, "Feature
  Visualization", Distill 2017: a decorrelated-colour, frequency-scaled (Fourier) image
  parameterisation, random jitter / scale / rotation at every step, several octaves, Adam.

Model-agnostic by construction: the image being optimised is always **raw RGB in [0, 255]
units**, and the model's own preprocessing (an affine map per channel for every
``keras.applications`` model: caffe / tf / torch / none, and ``x / 255`` for the shipped models)
is applied inside the graph. Step sizes therefore mean the same on VGG16 (caffe preprocessing is
a channel swap and a shift, so raw units are VGG16's input units, as in the book), ResNet,
MobileNet or the shipped ``shapes`` model.

The book's numbers suit VGG16, whose grey-start activations are alive. On other models a grey
start leaves many ReLUs off — in the layer itself and upstream — so the true gradient is zero or
tiny and 40 steps of size 1 move little (see README.md ("Inside the network") for numbers on
the ``shapes`` model). kerasviz's ``"book"`` defaults therefore keep the book's start, loss,
RMS-normalised step, 40 steps and display, and add: (1) the objective is the layer's
*pre-activation* (fused ReLU or following activation layer removed, as Lucid's ``*_pre_relu``
objectives), (2) for the first 16 steps every ReLU back-propagates a *redirected* gradient
(after Lucid; see :data:`kerasviz.core.replay.RELU_GRADIENTS`), (3) step size 4 raw units,
(4) pixels are clipped to [0, 255] after each step, (5) the best iterate is returned.
``**BOOK_1ST_EDITION`` switches all five off.

Every filter gets its own random numbers from ``numpy.random.default_rng([seed, filter])``,
and samples of a batch do not interact (inference mode, per-sample gradient normalisation,
element-wise Adam), so the pattern of filter ``k`` does not depend on which other filters share
its batch. Batches of different *sizes* may run other kernels (another summation order, ~1e-7
relative). The book step divides the gradient by its per-sample RMS, which keeps such rounding
small. The lucid recipe would not: its start image is nearly flat, so max-pool windows are nearly
tied and ReLU inputs sit near their kinks, rounding can flip those decisions, and Adam, which
steps each element by about ``±lr`` whatever its gradient's size, turns the changed gradient
into visibly different patterns (~10 raw units). Its steps and renders therefore run each filter
as a batch of one, in a graph loop (:func:`_per_filter`): every filter runs the same kernels
whatever its batch, so a lucid pattern is bit-for-bit the same computed alone or with others
(at ~25 % more time on a CPU than one batched call).

References:
    F. Chollet, *Deep Learning with Python*, Manning 2017 (§5.4.2) and 2021 (§9.4.2).
    D. Erhan, Y. Bengio, A. Courville, P. Vincent, "Visualizing Higher-Layer Features of a Deep
    Network", 2009.
    K. Simonyan, A. Vedaldi, A. Zisserman, "Deep Inside Convolutional Networks: Visualising
    Image Classification Models and Saliency Maps", arXiv:1312.6034, 2013.
    C. Olah, A. Mordvintsev, L. Schubert, "Feature Visualization", Distill, 2017.
"""
from __future__ import annotations

import warnings
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

from kerasviz import _progress, _validate
from kerasviz._caches import model_cache
from kerasviz.core import layers as _layers
from kerasviz.inside.features import select_indices
from kerasviz.errors import ArgumentError, LayerNotFoundError, ModelError, TargetError, suggest

__all__ = ["filter_patterns", "optimize_patterns", "Patterns", "BOOK_1ST_EDITION",
           "BOOK_2ND_EDITION", "KERAS_IO", "RECIPES"]

RECIPES = ("book", "lucid")

_EXACT = dict(pre_activation=False, redirect_steps=0, clip=None, keep_best=False)

#: *Deep Learning with Python*, 1st ed. §5.4.2 exactly (VGG16, caffe input ≈ raw pixels): start
#: ``uniform(0, 1) · 20 + 128``, loss = mean post-ReLU activation, gradient / (RMS + 1e-5),
#: 40 steps of size 1, 150×150, displayed with std 0.1 around 0.5; nothing added.
BOOK_1ST_EDITION = dict(_EXACT, init=(128.0, 148.0), border=0, grad_norm="rms", step_size=1.0,
                        steps=40, size=150, crop=0, display_std=0.1)

#: Parameters of *Deep Learning with Python*, 2nd ed. §9.4.2 (Xception, input in [-1, 1]):
#: start ``uniform(0.4, 0.6)`` in input units (= 178.5…204 raw), loss over the interior without
#: a 2-px border, L2-normalised gradient, learning rate 10 in input units (= 1275 raw units),
#: 30 steps, 200×200, deprocessed with std 0.15 and a 25-px crop; no clipping during the ascent.
BOOK_2ND_EDITION = dict(_EXACT, init=(178.5, 204.0), border=2, grad_norm="l2", step_size=1275.0,
                        steps=30, size=200, crop=25, display_std=0.15)

#: keras.io "Visualizing what convnets learn" (ResNet50V2, input in [-1, 1]): start
#: ``(uniform(0, 1) - 0.5) · 0.25`` in input units (= 111.6…143.4 raw), otherwise as
#: :data:`BOOK_2ND_EDITION` but 180×180.
KERAS_IO = dict(BOOK_2ND_EDITION, init=(111.6, 143.4), size=180)

_BOOK = dict(BOOK_1ST_EDITION, pre_activation=True, redirect_steps=16, step_size=4.0,
             clip=(0.0, 255.0), keep_best=True)
_LUCID = dict(steps=192, size=128, octaves=3, octave_scale=1.4, lr=0.05, jitter=8, scale=0.05,
              rotate=10.0, decay_power=1.0, border=0, crop=0, pre_activation=True,
              redirect_steps=16)
_COMMON = dict(tv=0.0, l2=0.0)

# Colour correlation of ImageNet (Lucid's ``color_correlation_svd_sqrt``), column-normalised.
_COLOR = np.array([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], np.float32)
_COLOR /= np.max(np.linalg.norm(_COLOR, axis=0))


@dataclass
class Patterns:
    """Result of :func:`optimize_patterns`.

    Attributes:
        images: ``uint8 (F, H', W', 3)`` RGB patterns for display (``H' = size - 2·crop``).
        units: ``int32 (F,)`` the filter (or class) index of each pattern.
        layer: path of the layer whose filters were maximised.
        recipe: ``"book"`` or ``"lucid"``.
        inputs: ``float32 (F, size, size, 3)`` the optimised images, raw RGB in [0, 255] units
            (book: not clipped; lucid: inside [0, 255]), before the model's preprocessing.
        score_start, score_end: ``float32 (F,)`` the objective (mean pre-activation of the filter
            over the interior, or the unit's logit) at the start and the end.
        activation_start, activation_end: ``float32 (F,)`` the same for the layer's actual
            output (after its activation: ReLU, softmax probability…).
    """
    images: np.ndarray
    units: np.ndarray
    layer: str
    recipe: str
    inputs: np.ndarray
    score_start: np.ndarray
    score_end: np.ndarray
    activation_start: np.ndarray
    activation_end: np.ndarray

    def __repr__(self) -> str:
        units = self.units.tolist()
        shown = units if len(units) <= 6 else units[:5] + ["…"]
        return (f"Patterns(layer={self.layer!r}, recipe={self.recipe!r}, units={shown}, "
                f"images={self.images.shape})".replace("'…'", "…"))

    def grid(self, cols: int = 8, limit: int = 64) -> np.ndarray:
        """The patterns in a grid, each labelled ``"<unit>: <score_end>"`` (at most ``limit``):
        ``uint8 (H, W, 3)`` (see :func:`kerasviz.present.render.labelled_grid`)."""
        from kerasviz.present import render

        labels = [f"{u}: {s:.3g}" for u, s in zip(self.units, self.score_end)]
        return render.labelled_grid(self.images, labels, cols=cols, limit=limit)

    def _repr_html_(self) -> str:
        """A heading and :meth:`grid` as an inline PNG (notebooks)."""
        from html import escape

        from kerasviz.present import render

        return (f"<p>{escape(self.recipe)} patterns of layer <code>{escape(self.layer)}</code>, "
                f"{len(self.units)} units (label: unit: objective at the end)</p>"
                f"<img src='{render.png_data_uri(self.grid())}'>")


# --- the objective sub-model ------------------------------------------------------------------

_STEP_CACHE = model_cache()


def _objective_model(model, path: str, pre_activation: bool, redirect: bool = False):
    """A replay from the model's inputs to layer ``path`` only (nothing after it is computed):
    outputs ``[layer output, pre-activation]`` (``pre_activation``) or ``[layer output]``. With
    ``redirect``, every ReLU back-propagates the *redirected* gradient of
    :data:`kerasviz.core.replay.RELU_GRADIENTS` (used for the first ``redirect_steps`` steps, so
    that a start image that leaves most ReLUs of some layer off still gets moving)."""
    from kerasviz.core.replay import replay_model

    return replay_model(model, [path], relu="redirected" if redirect else None, logits=False,
                        outputs=False, pre_activation=[path] if pre_activation else ())


def _input_affine(model, preprocess) -> tuple[np.ndarray, np.ndarray]:
    """The model's preprocessing as ``x = raw @ A.T + b`` (raw RGB in [0, 255]); probed on a few
    images and checked to be affine. Unknown preprocessing: identity, with a warning."""
    from kerasviz.core.models import model_info

    fn = preprocess or model_info(model).preprocess
    if fn is None:
        warnings.warn(f"kerasviz does not know how model {model.name!r} preprocesses its input; "
                      f"assuming it takes RGB in [0, 255]. Pass preprocess=callable (e.g. "
                      f"lambda x: x / 255) or register it with kerasviz.load_model(model, "
                      f"preprocess=...).", stacklevel=3)
        return np.eye(3, dtype=np.float32), np.zeros(3, np.float32)
    probe = np.zeros((5, 2, 2, 3), np.float32)
    for c in range(3):
        probe[c + 1, ..., c] = 255.0
    probe[4] = np.array([[[37.0, 201.0, 90.0], [250.0, 3.0, 128.0]]] * 2)
    out = np.asarray(fn(probe.copy()), np.float32)
    if out.shape[:3] != probe.shape[:3]:
        raise ModelError(f"The model's preprocessing changes the image size ({probe.shape} -> "
                         f"{out.shape}); filter patterns need an element-wise preprocessing.")
    b = out[0, 0, 0]
    A = np.stack([(out[c + 1, 0, 0] - b) / 255.0 for c in range(3)], axis=1)   # (C, 3)
    if not np.allclose(probe[4] @ A.T + b, out[4], rtol=1e-4, atol=1e-4 * (np.abs(out).max() + 1)):
        raise ModelError(f"The preprocessing of model {model.name!r} is not an affine map per "
                         f"pixel, which filter patterns need (to apply it inside the graph). Pass "
                         f"preprocess=lambda x: ... with a scale and shift per channel.")
    return A.astype(np.float32), b.astype(np.float32)


# --- compiled steps ---------------------------------------------------------------------------

def _objective(out, units, border: int):
    """``out`` (F, h, w, C) or (F, C) → per-sample mean of channel ``units[i]`` over the
    interior (``border`` pixels cut off each side, when the map is big enough)."""
    import tensorflow as tf

    if out.shape.rank == 4:
        h, w = out.shape[1], out.shape[2]
        if border and h is not None and w is not None and h > 2 * border and w > 2 * border:
            out = out[:, border:h - border, border:w - border, :]
        out = tf.reduce_mean(out, axis=[1, 2])
    return tf.gather(out, units, axis=1, batch_dims=1)


def _penalties(img01, tv, l2):
    """Per-sample total variation and L2 (around grey) of an image in [0, 1] units."""
    import tensorflow as tf

    dy = tf.reduce_mean(tf.abs(img01[:, 1:] - img01[:, :-1]), axis=[1, 2, 3])
    dx = tf.reduce_mean(tf.abs(img01[:, :, 1:] - img01[:, :, :-1]), axis=[1, 2, 3])
    return tv * (dx + dy) + l2 * tf.reduce_mean(tf.square(img01 - 0.5), axis=[1, 2, 3])


def _freq_scale(s: int, decay_power):
    """Lucid's spectrum scale ``s / max(f, 1/s) ** decay_power`` for an ``s × s`` image."""
    freqs = np.sqrt(np.fft.fftfreq(s)[:, None] ** 2 + np.fft.rfftfreq(s)[None, :] ** 2)
    return (s / np.maximum(freqs, 1.0 / s)).astype(np.float32) ** decay_power


def _spectrum_to_image(spectrum, s: int, decay_power):
    """Lucid's parameterisation: spectrum ``(F, 2, 3, s, s//2+1)`` (real, imaginary) →
    ``float32 (F, s, s, 3)`` in (0, 1): frequency-scaled inverse FFT, /4, colour
    decorrelation, sigmoid."""
    import tensorflow as tf

    scale = tf.constant(_freq_scale(s, 1.0)) ** decay_power
    img = tf.signal.irfft2d(tf.complex(spectrum[:, 0] * scale, spectrum[:, 1] * scale),
                            fft_length=[s, s])                              # (F, 3, s, s)
    img = tf.transpose(img, [0, 2, 3, 1]) / 4.0
    return tf.sigmoid(tf.einsum("nhwc,dc->nhwd", img, tf.constant(_COLOR)))


def _lucid_param_from_image(img01: np.ndarray, s: int, decay_power: float) -> np.ndarray:
    """Inverse of :func:`_spectrum_to_image`: ``float (F, s, s, 3)`` in (0, 1) → spectrum
    ``(F, 2, 3, s, s//2+1)`` that renders it (carries an image on to the next octave)."""
    p = np.clip(img01, 1e-3, 1 - 1e-3).astype(np.float64)
    t = np.log(p / (1 - p)) @ np.linalg.inv(_COLOR).T * 4.0            # undo sigmoid, colour, /4
    spec = np.fft.rfft2(np.moveaxis(t, -1, 1), s=(s, s)) / _freq_scale(s, decay_power)
    return np.stack([spec.real, spec.imag], axis=1).astype(np.float32)


def _transform(img, t):
    """Per-sample jitter / scale / rotation about the image centre, bilinear, reflected borders.

    Args:
        img: ``float32 (F, H, W, C)``.
        t: ``float32 (F, 4)``: ``dx, dy`` (pixels), scale factor, angle (radians).
    """
    import tensorflow as tf

    h, w = img.shape[1], img.shape[2]
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    dx, dy, sc, ang = t[:, 0], t[:, 1], t[:, 2], t[:, 3]
    c, sn = tf.cos(ang) / sc, tf.sin(ang) / sc
    ux, uy = cx + dx, cy + dy
    zero = tf.zeros_like(c)
    # output pixel (x, y) samples input R(-ang) / sc · ((x, y) - centre - (dx, dy)) + centre
    m = tf.stack([c, sn, cx - c * ux - sn * uy, -sn, c, cy + sn * ux - c * uy, zero, zero], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=img, transforms=m, output_shape=[h, w], fill_value=0.0,
        interpolation="BILINEAR", fill_mode="REFLECT")



def _adam_step(p, g, m, v, t, lr):
    """One element-wise Adam ascent step (β = 0.9, 0.999, ε = 1e-8, as Lucid's optimiser) of
    parameters ``p`` along gradient ``g``; returns ``(p, m, v)``. ``t`` counts from 1."""
    m = 0.9 * m + 0.1 * g
    v = 0.999 * v + 0.001 * g * g
    m_hat, v_hat = m / (1 - 0.9 ** t), v / (1 - 0.999 ** t)
    return p + lr * m_hat / (v_hat ** 0.5 + 1e-8), m, v


def _per_filter(fn, args, out_dtypes):
    """``fn`` applied to each filter's slice of ``args`` (tensors, batch first) separately, as a
    batch of one, in a graph loop; results stacked. Every filter then runs the same kernels on
    the same shapes whatever the chunk it is in, so its result is bit-for-bit independent of the
    batch (see the module docstring for why the lucid recipe needs this)."""
    import tensorflow as tf

    def one(xs):
        return [o[0] for o in fn(*[x[None] for x in xs])]

    return tf.map_fn(one, list(args), fn_output_signature=list(out_dtypes),
                     parallel_iterations=8)


def _graphs(model, path: str, pre_activation: bool, recipe: str, size: int, border: int,
            grad_norm: str, param_size: int = 0):
    """Compiled ``(steps, evaluate[, render])``, cached per (model, layer, recipe, shapes,
    structural options). ``steps(redirect)`` gives the step function whose ReLUs back-propagate
    normally (False) or redirected (True), compiled on first use.

    Numbers that do not change shapes (the preprocessing's affine map ``A.T`` ``(3, 3)`` and ``b``
    ``(3,)``, step size, learning rate, penalties, clip bounds, Adam's step count, random
    transforms, the units) are graph inputs, so new values never re-trace."""
    import tensorflow as tf

    key = (path, bool(pre_activation), recipe, size, border, grad_norm, param_size)
    cache = _STEP_CACHE.setdefault(model, {})
    if key in cache:
        return cache[key]
    sub = _objective_model(model, path, pre_activation)

    def forward(raw, units, At, bt, net=sub):
        """``(objective, activation)`` ``float32 (F,)``: the pre-activation (or the output when
        not ``pre_activation``) and the layer's output, averaged as the loss is."""
        outs = _layers.as_list(net(tf.einsum("nhwc,cd->nhwd", raw, At) + bt, training=False))
        return _objective(outs[-1], units, border), _objective(outs[0], units, border)

    spec_img = tf.TensorSpec((None, size, size, 3), tf.float32)
    spec_units = tf.TensorSpec((None,), tf.int32)
    affine = [tf.TensorSpec((3, 3), tf.float32), tf.TensorSpec((3,), tf.float32)]
    scalar = tf.TensorSpec((), tf.float32)

    @tf.function(input_signature=[spec_img, spec_units, *affine], reduce_retracing=True)
    def evaluate(raw, units, At, bt):
        return forward(raw, units, At, bt)

    def book_step(grad_sub):
        @tf.function(input_signature=[spec_img, spec_units, *affine] + [scalar] * 5)
        def step(raw, units, At, bt, step_size, tv, l2, lo, hi):
            with tf.GradientTape() as tape:
                tape.watch(raw)
                score, _ = forward(raw, units, At, bt, grad_sub)
                loss = tf.reduce_sum(score - _penalties(raw / 255.0, tv, l2))
            g = tape.gradient(loss, raw)
            if grad_norm == "rms":  # 1st edition: g / (RMS(g) + 1e-5), per sample
                rms = tf.sqrt(tf.reduce_mean(tf.square(g), axis=[1, 2, 3], keepdims=True))
                g = g / (rms + 1e-5)
            else:                   # 2nd edition: tf.math.l2_normalize, per sample
                g = tf.math.l2_normalize(g, axis=[1, 2, 3])
            return tf.clip_by_value(raw + step_size * g, lo, hi), score
        return step

    if recipe == "book":
        make_step = book_step
    else:
        s = param_size

        def to_image(spectrum, decay_power):
            img = _spectrum_to_image(spectrum, s, decay_power)
            return img if s == size else tf.image.resize(img, (size, size), "bilinear")

        pspec = tf.TensorSpec((None, 2, 3, s, s // 2 + 1), tf.float32)

        @tf.function(input_signature=[pspec, scalar])
        def render(spectrum, decay_power):
            return _per_filter(lambda p: [to_image(p, decay_power) * 255.0], [spectrum],
                               [tf.float32])[0]

        def make_step(grad_sub):
            def one_filter(spectrum, m, v, units, tr, t, At, bt, lr, decay_power, tv, l2):
                with tf.GradientTape() as tape:
                    tape.watch(spectrum)
                    img = to_image(spectrum, decay_power)
                    score, _ = forward(_transform(img, tr) * 255.0, units, At, bt, grad_sub)
                    loss = tf.reduce_sum(score - _penalties(img, tv, l2))
                g = tape.gradient(loss, spectrum)
                return (*_adam_step(spectrum, g, m, v, t, lr), score)

            @tf.function(input_signature=[pspec, pspec, pspec, scalar, spec_units, *affine,
                                          tf.TensorSpec((None, 4), tf.float32)] + [scalar] * 4)
            def step(spectrum, m, v, t, units, At, bt, tr, lr, decay_power, tv, l2):
                return _per_filter(
                    lambda *a: one_filter(*a, t, At, bt, lr, decay_power, tv, l2),
                    [spectrum, m, v, units, tr], [tf.float32] * 4)
            return step

    compiled: dict = {}
    model_ref = weakref.ref(model)  # the cache is keyed by the model: hold it weakly

    def steps(redirect: bool):
        if redirect not in compiled:
            compiled[redirect] = make_step(
                _objective_model(model_ref(), path, pre_activation, True) if redirect else sub)
        return compiled[redirect]

    cache[key] = (steps, evaluate) if recipe == "book" else (steps, evaluate, render)
    return cache[key]


# --- public API -------------------------------------------------------------------------------

def _resolve_units(model, layer, filters, target) -> tuple[str, np.ndarray]:
    if target is not None:
        from kerasviz.core.targets import as_target

        if filters is not None:
            raise TargetError("Give either filters= (units of a layer) or target= (classes of "
                              f"the output), not both. Received: filters={filters!r}, "
                              f"target={target!r}")
        tgt = as_target(model, list(target) if isinstance(target, (list, tuple, range, np.ndarray))
                        else target)
        if tgt.units is None:
            raise TargetError("Class-model visualisation needs class ids or names (or "
                              "Output(i, unit)); a callable target is not supported here.")
        out_path = _layers.output_layer_paths(model)[tgt.output]
        if layer is not None and _layers.resolve_layer(model, layer) != out_path:
            raise TargetError(f"target= maximises an output unit; layer must be None or the "
                              f"output layer {out_path!r}. Received: layer={layer!r}")
        return out_path, np.asarray(tgt.units, np.int32)
    path = _layers.resolve_layer(model, layer)
    row = next(r for r in _layers.layer_table(model) if r.path == path)
    if len(row.output_shape) not in (2, 4):
        raise LayerNotFoundError(
            f"Layer {path!r} has output shape {row.output_shape}; filter patterns need a 4-D "
            f"(N, h, w, c) feature map or a 2-D (N, units) output.")
    units = select_indices(row.output_shape[-1], filters, "filters")
    return path, units.astype(np.int32)


def _auto_batch(model, path: str, size: int, memory_mb: float) -> int:
    """Samples per chunk so that the activations up to ``path`` (kept for the backward pass,
    ×3 for gradients and temporaries) fit in ``memory_mb``. Unknown spatial sizes count as the
    full input size (an over-estimate)."""
    per = 0
    for r in _layers.layer_table(model):
        dims = [d if d is not None else size for d in r.output_shape[1:]]
        per += int(np.prod(dims)) if dims else 1
        if r.path == path:
            break
    per = (per + size * size * 3) * 4 * 3
    return int(max(1, min(256, memory_mb * 2 ** 20 // per)))


def _pair(name, value, strict: bool):
    """``(lo, hi)`` finite numbers with ``lo <= hi`` (``lo < hi`` when ``strict``)."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ArgumentError(f"{name} must be a pair (lo, hi). Received: {name}={value!r}.")
    lo, hi = (_validate.number(name, v) for v in value)
    if hi < lo or (strict and hi == lo):
        raise ArgumentError(f"{name} must have lo {'<' if strict else '<='} hi. "
                            f"Received: {name}={value!r}.")
    return lo, hi


def _flag(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise ArgumentError(f"{name} must be True or False. Received: {name}={value!r}.")
    return bool(value)


_num = _validate.number
#: Option name -> check returning the clean value (raises ArgumentError).
_OPTION_CHECKS = {
    "steps": lambda n, v: _validate.integer(n, v, lo=0),
    "size": lambda n, v: _validate.integer(n, v, lo=8),
    "border": lambda n, v: _validate.integer(n, v, lo=0),
    "crop": lambda n, v: _validate.integer(n, v, lo=0),
    "octaves": lambda n, v: _validate.integer(n, v, lo=1),
    "redirect_steps": lambda n, v: None if v is None else _validate.integer(n, v, lo=0),
    "init": lambda n, v: _pair(n, v, strict=False),
    "clip": lambda n, v: None if v is None else _pair(n, v, strict=True),
    "grad_norm": lambda n, v: _validate.one_of(n, v, ("rms", "l2")),
    "pre_activation": _flag,
    "keep_best": _flag,
    "step_size": lambda n, v: _num(n, v, lo=0, lo_open=True),
    "lr": lambda n, v: _num(n, v, lo=0, lo_open=True),
    "octave_scale": lambda n, v: _num(n, v, lo=0, lo_open=True),
    "display_std": lambda n, v: _num(n, v, lo=0, lo_open=True),
    "jitter": lambda n, v: _num(n, v, lo=0),
    "scale": lambda n, v: _num(n, v, lo=0, hi=0.9),
    "rotate": lambda n, v: _num(n, v, lo=0, hi=180),
    "decay_power": _num,
    "tv": lambda n, v: _num(n, v, lo=0),
    "l2": lambda n, v: _num(n, v, lo=0),
}


def _check_options(recipe, options: dict, steps) -> dict:
    """The recipe's defaults updated with ``options`` (and ``steps`` when given), each value
    checked; raises ArgumentError (unknown recipe or option, bad value) before any TF work."""
    _validate.one_of("recipe", recipe, RECIPES)
    defaults = dict(_BOOK if recipe == "book" else _LUCID, **_COMMON)
    for name in options:
        if name not in defaults:
            raise ArgumentError(f"Unknown option {name!r} for recipe {recipe!r}. Expected some "
                                f"of {sorted(defaults)}. Received: {name}={options[name]!r}. "
                                f"{suggest(name, defaults)}")
    opt = {**defaults, **options}
    if steps is not None:
        opt["steps"] = steps
    return {k: _OPTION_CHECKS[k](k, v) for k, v in opt.items()}


def optimize_patterns(model, layer: Any = None, filters: Any = None, *, recipe: str = "book",
                      target: Any = None, steps: int | None = None, size: int | None = None,
                      seed: int = 0, batch_size: int | None = None,
                      memory_mb: float = 1024, progress: bool | None = None, preprocess=None,
                      **options) -> Patterns:
    """Gradient ascent in input space for many filters at once; the full result.

    See :func:`filter_patterns` for the arguments. Returns :class:`Patterns` (the uint8 images
    plus the optimised float images and the objective / activation before and after).
    """
    opt = _check_options(recipe, options, steps)
    seed = _validate.integer("seed", seed, lo=0)
    if batch_size is not None:
        batch_size = _validate.positive_int("batch_size", batch_size)
    memory_mb = _validate.number("memory_mb", memory_mb, lo=0, lo_open=True)
    if size is not None:
        size = _validate.integer("size", size, lo=8)
    path, units = _resolve_units(model, layer, filters, target)
    fixed = _fixed_input_size(model)
    if size is None:
        size = fixed or opt["size"]
    elif fixed and size != fixed:
        raise ArgumentError(f"Model {model.name!r} takes {fixed}×{fixed} images only. Expected "
                         f"size={fixed} or None. Received: size={size!r}")
    if size <= 2 * opt["crop"]:
        raise ArgumentError(f"size must be larger than 2·crop ({2 * opt['crop']}). "
                            f"Received: size={size}.")
    A, b = _input_affine(model, preprocess)
    batch = batch_size or _auto_batch(model, path, size, memory_mb)
    run = _run_book if recipe == "book" else _run_lucid

    chunks = [units[i:i + batch] for i in range(0, len(units), batch)]
    per_chunk = opt["steps"] if recipe == "book" else opt["steps"] + opt["octaves"]
    bar = _progress.bar(total=len(chunks) * per_chunk, progress=progress, desc=f"patterns {path}",
                        unit="step", leave=False)
    parts = []
    try:
        for chunk in chunks:
            parts.append(run(model, path, chunk, size, seed, opt, A, b, bar))
    finally:
        bar.close()
    raw, s0, s1, a0, a1 = (np.concatenate(p) for p in zip(*parts))
    images = _display(raw, opt) if recipe == "book" else _to_uint8(raw, opt["crop"])
    return Patterns(images, units, path, recipe, raw, s0, s1, a0, a1)


def filter_patterns(model, layer: Any = None, filters: Any = None, *, recipe: str = "book",
                    target: Any = None, steps: int | None = None, size: int | None = None,
                    seed: int = 0, batch_size: int | None = None,
                    memory_mb: float = 1024, progress: bool | None = None, preprocess=None,
                    **options) -> np.ndarray:
    """The input patterns that maximise filters of a layer (or classes of the output), by
    gradient ascent in input space, many filters per compiled graph.

    ``recipe="book"`` (*Deep Learning with Python*, 1st ed. §5.4.2): start from
    ``uniform(0, 1) · 20 + 128`` grey noise (raw pixels), loss = mean activation of the filter,
    gradient divided by its RMS (+1e-5), 40 steps, then displayed: standardised to mean 0, std
    0.1 around 0.5, clipped to [0, 1], ×255; 150×150 when the model takes any size. kerasviz's
    defaults add a pre-activation objective, redirected ReLU gradients for the first 16 steps,
    step size 4 instead of 1,
    clipping to [0, 255] and the best iterate (see the module docstring for why);
    ``**kerasviz.inside.patterns.BOOK_1ST_EDITION`` gives the book's loop exactly. The 2nd-edition /
    keras.io variant: ``**BOOK_2ND_EDITION`` (start ``uniform(0.4, 0.6)`` in [-1, 1] input
    units, loss without a 2-px border, L2-normalised gradient, learning rate 10 in input units,
    30 steps, 200 px, std 0.15 and a 25-px crop for display) or ``**KERAS_IO`` (start
    ``(uniform - 0.5) · 0.25``, 180 px).

    ``recipe="lucid"`` (Olah et al. 2017): the image is ``sigmoid(colour-decorrelate(
    irfft2(spectrum · 1/f^decay_power) / 4))``, optimised with Adam (lr 0.05) under random jitter
    (±8 px), scale (±5 %) and rotation (±10°) at every step, over ``octaves`` resolutions
    (coarse to fine, ×``octave_scale`` each, ``steps`` in total), pre-activation objective,
    redirected ReLU gradients for the first 16 steps; optional total-variation ``tv`` and ``l2``
    penalties. 128×128 when the model takes any size.

    Class-model visualisation (Simonyan, Vedaldi & Zisserman 2013): ``target=`` a class id, a
    name, or a list of them maximises the output unit's score before the softmax (add e.g.
    ``l2=0.1`` for the paper's L2 regulariser).

    Args:
        model: a built ``keras.Model`` (nested models allowed). Its preprocessing
            (:func:`kerasviz.model_info`) must be a per-channel scale and shift.
        layer: the layer (name, path such as ``"vgg16/block3_conv1"``, index, Layer); default:
            the last layer with a 4-D output (:func:`kerasviz.core.layers.default_conv_layer`).
        filters: channel indices (a list, ``range`` or ``slice``); default all channels.
        recipe: ``"book"`` or ``"lucid"``.
        target: class id(s) / name(s) instead of ``layer`` / ``filters``.
        steps: ascent steps (default 40 book, 192 lucid, spread over the octaves).
        size: image side in pixels; must be the model's input size when that is fixed.
        seed: random seed (an int ≥ 0); filter ``k`` uses ``numpy.random.default_rng([seed,
            k])``, so results are reproducible and do not depend on batching (see the module
            docstring).
        batch_size: filters per compiled batch; default: as many as fit ``memory_mb``.
        memory_mb: memory budget for a batch's activations and gradients, in MiB.
        progress: tqdm progress bar; None shows it only on a terminal.
        preprocess: overrides the model's preprocessing (raw RGB [0, 255] → model input).
        **options: recipe parameters. Book: ``init`` (raw-pixel range of the uniform start),
            ``border`` (pixels of the feature map left out of the loss), ``grad_norm``
            (``"rms"`` / ``"l2"``), ``step_size`` (raw-pixel units), ``clip`` (``(lo, hi)`` or
            None), ``keep_best``, ``crop``, ``display_std``. Lucid: ``lr``, ``octaves``,
            ``octave_scale``, ``jitter`` (px), ``scale`` (fraction), ``rotate`` (degrees),
            ``decay_power``, ``border``, ``crop``. Both: ``pre_activation`` (maximise the layer's
            output before its fused or following activation; False: the book's post-ReLU loss),
            ``redirect_steps`` (steps with redirected ReLU gradients; None: all), ``tv``, ``l2``
            (penalty weights on the image in [0, 1] units).

    Returns:
        ``uint8 (F, H, W, 3)`` RGB, one pattern per filter (or target), channels-last;
        ``H = W = size - 2·crop``.

    Raises:
        LayerNotFoundError: unknown layer, or one without a 4-D or 2-D output.
        ArgumentError: unknown recipe or recipe option, a bad option value, filters out of
            range, bad size / steps / seed / batch_size / memory_mb.
        TargetError, UnknownClassError: bad target.
        ModelError: a preprocessing that is not affine per pixel.

    References:
        F. Chollet, *Deep Learning with Python*, Manning 2017 (§5.4.2) and 2021 (§9.4.2).
        C. Olah, A. Mordvintsev, L. Schubert, "Feature Visualization", Distill, 2017.
        K. Simonyan, A. Vedaldi, A. Zisserman, "Deep Inside Convolutional Networks: Visualising
        Image Classification Models and Saliency Maps", arXiv:1312.6034, 2013.
        D. Erhan, Y. Bengio, A. Courville, P. Vincent, "Visualizing Higher-Layer Features of a
        Deep Network", 2009.
    """
    return optimize_patterns(model, layer, filters, recipe=recipe, target=target, steps=steps,
                             size=size, seed=seed,
                             batch_size=batch_size, memory_mb=memory_mb, progress=progress,
                             preprocess=preprocess, **options).images


def _fixed_input_size(model) -> int | None:
    from kerasviz.core.models import model_input_size

    hw = model_input_size(model)
    if hw is None:
        return None
    if hw[0] != hw[1]:
        raise ModelError(f"Filter patterns use square images; model {model.name!r} takes "
                         f"{hw[0]}×{hw[1]}.")
    return int(hw[0])


def _run_book(model, path, units, size, seed, opt, A, b, bar):
    import tensorflow as tf

    steps, evaluate = _graphs(model, path, opt["pre_activation"], "book", size, opt["border"],
                              opt["grad_norm"])
    aff = (tf.constant(A.T), tf.constant(b))
    lo, hi = opt["init"]
    raw = np.stack([np.random.default_rng([seed, int(u)]).random((size, size, 3)) * (hi - lo) + lo
                    for u in units]).astype(np.float32)
    x, u = tf.constant(raw), tf.constant(units)
    s0, a0 = evaluate(x, u, *aff)
    lo_hi = opt["clip"] if opt["clip"] is not None else (-np.inf, np.inf)
    args = [tf.constant(float(v), tf.float32) for v in
            (opt["step_size"], opt["tv"], opt["l2"], *lo_hi)]
    best, best_score = x, s0
    for i in range(opt["steps"]):
        new, score = steps(_redirected(i, opt))(x, u, *aff, *args)
        if opt["keep_best"] and i:  # score is the (true) objective at x, before this step
            better = score > best_score
            best = tf.where(better[:, None, None, None], x, best)
            best_score = tf.where(better, score, best_score)
        x = new
        bar.update(1)
    s1, a1 = evaluate(x, u, *aff)
    if opt["keep_best"]:
        better = s1 >= best_score
        x = tf.where(better[:, None, None, None], x, best)
        s1, a1 = evaluate(x, u, *aff)
    return x.numpy(), s0.numpy(), s1.numpy(), a0.numpy(), a1.numpy()


def _run_lucid(model, path, units, size, seed, opt, A, b, bar):
    import tensorflow as tf

    n_oct = max(1, int(opt["octaves"]))
    sides = [max(8, int(round(size / opt["octave_scale"] ** (n_oct - 1 - o))))
             for o in range(n_oct)]
    per_oct = [opt["steps"] // n_oct + (1 if o < opt["steps"] % n_oct else 0) for o in range(n_oct)]
    rngs = [np.random.default_rng([seed, int(u)]) for u in units]
    # every random number of filter k comes from its own generator, in a fixed order
    init = np.stack([r.normal(0, 0.01, (2, 3, sides[0], sides[0] // 2 + 1)) for r in rngs])
    tr = np.stack([np.stack([r.uniform(-opt["jitter"], opt["jitter"], opt["steps"]),
                             r.uniform(-opt["jitter"], opt["jitter"], opt["steps"]),
                             1 + r.uniform(-opt["scale"], opt["scale"], opt["steps"]),
                             np.deg2rad(r.uniform(-opt["rotate"], opt["rotate"], opt["steps"]))],
                            axis=1) for r in rngs], axis=1).astype(np.float32)   # (steps, F, 4)
    u, aff = tf.constant(units), (tf.constant(A.T), tf.constant(b))
    decay = tf.constant(float(opt["decay_power"]))
    lr, tv, l2 = (tf.constant(float(opt[k]), tf.float32) for k in ("lr", "tv", "l2"))
    done, image = 0, None          # image: float32 (F, size, size, 3) in [0, 255]
    for o, (side, n) in enumerate(zip(sides, per_oct)):
        steps, evaluate, render = _graphs(model, path, opt["pre_activation"], "lucid", size,
                                          opt["border"], "adam", param_size=side)
        if image is None:
            p = tf.constant(init.astype(np.float32))
            s0, a0 = evaluate(render(p, decay), u, *aff)
        else:  # next octave: the last image at this resolution, filter by filter (module doc)
            smaller = [tf.image.resize(im[None] / 255.0, (side, side), "area").numpy()
                       for im in image]
            p = tf.constant(np.concatenate([
                _lucid_param_from_image(im, side, float(opt["decay_power"])) for im in smaller]))
        m = v = tf.zeros_like(p)
        for i in range(n):
            step = steps(_redirected(done, opt))
            p, m, v, _ = step(p, m, v, tf.constant(float(i + 1)), u, *aff,
                              tf.constant(tr[done]), lr, decay, tv, l2)
            done += 1
            bar.update(1)
        bar.update(1)
        image = render(p, decay)
    s1, a1 = evaluate(image, u, *aff)
    return image.numpy(), s0.numpy(), s1.numpy(), a0.numpy(), a1.numpy()


def _redirected(i: int, opt: dict) -> bool:
    """Whether step ``i`` back-propagates redirected ReLU gradients (None: every step)."""
    return opt["redirect_steps"] is None or i < opt["redirect_steps"]


def _display(raw: np.ndarray, opt: dict) -> np.ndarray:
    """The book's ``deprocess_image`` per image (:func:`kerasviz.present.render.standardized`),
    then the display crop."""
    from kerasviz.present.render import standardized

    images = np.stack([standardized(r, opt["display_std"]) for r in raw])
    c = opt["crop"]
    return images[:, c:-c, c:-c] if c else images


def _to_uint8(raw255: np.ndarray, crop: int) -> np.ndarray:
    if crop:
        raw255 = raw255[:, crop:-crop, crop:-crop]
    return np.clip(raw255 + 0.5, 0, 255).astype(np.uint8)
