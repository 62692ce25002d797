"""What every method gets for free: the clean pass, target scoring, chunked evaluation, resizing,
normalisation, batching and one compiled graph per (model, layer, method, input shape).

A method function ``fn(ctx, **options)`` runs *inside* a ``tf.function``: it only composes
TensorFlow ops and the helpers of :class:`Context`. Loops over samples, channels or integration
steps are graph loops (``tf.while_loop``) over memory-bounded chunks, never Python loops.

Normalisation rule (``maps``): for CAM methods the raw map ``(N, h, w)`` goes through a ReLU (the
positive evidence for the target, as in the Grad-CAM paper), is resized bilinearly to the input
size and min-max scaled per image; for pixel methods the per-pixel map is ``|raw|`` min-max
scaled per image. A constant map becomes all zeros.
"""
from __future__ import annotations

import hashlib
import sys
import weakref
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import tensorflow as tf

from kerasviz._caches import model_cache
from kerasviz.core import layers as L
from kerasviz.errors import ModelError

#: Model evaluations per graph step (images × samples); bounds memory. ``explain(batch_size=)``.
DEFAULT_BATCH_SIZE = 16


@dataclass
class Result:
    """What a method function returns (tensors, batch first).

    Attributes:
        raw: ``float32 (n, h, w)`` for CAM methods (layer resolution, signed, before the ReLU),
            ``float32 (n, H, W)`` for pixel methods (channels reduced).
        grads: ``float32 (n, H, W, C)`` per-pixel, per-channel attributions (pixel methods).
    """
    raw: Any
    grads: Any = None


class Context:
    """The clean pass of one chunk of images and the helpers a method composes.

    Attributes:
        x: ``float32 (n, H, W, C)`` model input (the image input: the model's first input).
        extra: the model's other inputs for these images (held fixed; empty for one-input models).
        units: ``int32 (n,)`` the unit scored per image (top units resolved), or None for a
            callable target.
        scores: ``float32 (n,)`` target score at ``x`` (pre-softmax).
        A: ``float32 (n, h, w, c)`` activations of the layer (``needs`` ``layer``/``layer_grads``).
        dA: ``float32 (n, h, w, c)`` d score / d A (``needs="layer_grads"``).
        dx: ``float32 (n, H, W, C)`` d score / d x (``input_grads``, ``guided_grads``,
            ``deconvnet_grads``: through the modified ReLUs for the last two).
        options: the method's options (Python values).
    """

    def __init__(self, plan: "Plan", x, units, options: dict, extra=()):
        self.plan, self.options = plan, options
        self.x, self.extra = x, list(extra)
        self.A = self.dA = self.dx = None
        needs = plan.method.needs
        mode = {"guided_grads": "guided", "deconvnet_grads": "deconvnet"}.get(needs)
        model = plan.tap_model(mode)
        watch_x = needs in ("input_grads", "guided_grads", "deconvnet_grads")
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            if watch_x or needs == "layer_grads":
                tape.watch(x)  # records the ops downstream of x (weights are not watched)
            outs = L.as_list(model(self.feed(x), training=False))
            if plan.layer is not None:
                self.A, outs = tf.cast(outs[0], tf.float32), outs[1:]
            self.units = plan.target.resolve(outs, units)
            self.scores = plan.target.score(outs, self.units)
        if needs == "layer_grads":
            self.dA = tf.cast(tape.gradient(self.scores, self.A), tf.float32)
        elif watch_x:
            self.dx = tf.cast(tape.gradient(self.scores, x), tf.float32)

    # --- results -------------------------------------------------------------------------------
    def cam(self, raw) -> Result:
        """A CAM result from ``raw`` ``(n, h, w)`` at the layer's resolution."""
        return Result(tf.cast(raw, tf.float32))

    def pixels(self, grads, reduce: str = "max_abs") -> Result:
        """A pixel result from ``grads`` ``(n, H, W, C)``; ``reduce`` over channels:
        ``"max_abs"`` (max of ``|g|``, Simonyan et al.) or ``"sum"`` (signed sum, for attributions
        that add up, like gradient × input and integrated gradients)."""
        grads = tf.cast(grads, tf.float32)
        raw = tf.reduce_max(tf.abs(grads), -1) if reduce == "max_abs" else tf.reduce_sum(grads, -1)
        return Result(raw, grads)

    def weighted(self, weights):
        """``Σ_k weights[n, k] · A[n, :, :, k]`` → ``(n, h, w)``."""
        return tf.einsum("nhwc,nc->nhw", self.A, tf.cast(weights, tf.float32))

    def upsample(self, maps):
        """Bilinear resize of ``(n, h, w)`` or ``(n, h, w, k)`` maps to the input's ``(H, W)``."""
        squeeze = maps.shape.rank == 3
        m = maps[..., None] if squeeze else maps
        m = tf.image.resize(m, tf.shape(self.x)[1:3], method="bilinear")
        return m[..., 0] if squeeze else m

    # --- evaluations (chunked) -----------------------------------------------------------------
    def feed(self, xs):
        """Model input for an image batch ``xs`` of ``count · n`` rows (sample-major): the images,
        plus the other inputs of the chunk's n images tiled ``count`` times."""
        if not self.extra:
            return xs
        count = tf.shape(xs)[0] // tf.shape(self.x)[0]
        return [xs] + [self.tile(e, count) for e in self.extra]

    def model_scores(self, xs, units, probability: bool = False):
        """Target scores of a batch of inputs ``xs`` ``(m, H, W, C)`` (forward only).

        Args:
            probability: when the explained output ends in a softmax and the target is a unit,
                return the softmax probability of the unit instead of its logit.
        """
        outs = L.as_list(self.plan.tap_model(None, layer=False)(self.feed(xs), training=False))
        if probability and units is not None and self.plan.softmax_output:
            probs = tf.nn.softmax(tf.cast(outs[self.plan.target.output], tf.float32), axis=-1)
            return tf.gather(probs, units, axis=1, batch_dims=1)
        return self.plan.target.score(outs, units)

    def input_grads(self, xs, units, mode: str | None = None):
        """``(d score / d xs, scores)`` for a batch ``xs``; ``mode`` ``"guided"`` or
        ``"deconvnet"`` backpropagates through modified ReLUs."""
        model = self.plan.tap_model(mode, layer=False)
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(xs)
            scores = self.plan.target.score(L.as_list(model(self.feed(xs), training=False)), units)
        return tf.cast(tape.gradient(scores, xs), tf.float32), scores

    def head_scores(self, As, units, xs=None):
        """Target scores computed from layer activations ``As`` ``(m, h, w, c)`` onwards (the
        model's inputs ``xs`` are fed too when a skip connection bypasses the layer)."""
        head = self.plan.head_model()
        feed = As if len(head.inputs) == 1 else L.as_list(self.feed(xs)) + [As]
        return self.plan.target.score(L.as_list(head(feed, training=False)), units)

    def tile(self, t, count):
        """Repeat a per-image tensor ``(n, ...)`` ``count`` times → ``(count·n, ...)`` (sample-major,
        matching ``reshape((count, n, ...))``); None stays None (callable targets)."""
        if t is None:
            return None
        return tf.tile(t, tf.concat([[count], tf.ones([tf.rank(t) - 1], tf.int32)], 0))

    def step(self, scale: int = 1):
        """Samples per graph step so that ``step · n ≤ batch_size · scale`` (at least 1)."""
        n = tf.shape(self.x)[0]
        return tf.maximum(1, (self.plan.batch_size * scale) // n)

    def sum_chunks(self, fn: Callable, total: int, like, scale: int = 1):
        """``Σ fn(start, count)`` over chunks covering ``range(total)``; ``fn`` returns a tensor
        shaped like ``like``. A graph loop: memory holds one chunk at a time."""
        step = self.step(scale)

        def body(start, acc):
            count = tf.minimum(step, total - start)
            return start + count, acc + fn(start, count)

        _, acc = tf.while_loop(lambda s, a: s < total, body,
                               (tf.constant(0), tf.zeros_like(like, tf.float32)))
        return acc

    def concat_chunks(self, fn: Callable, total: int, scale: int = 1):
        """``concat([fn(start, count), …], axis=0)`` over chunks covering ``range(total)``; ``fn``
        returns ``(count, …)``. A graph loop."""
        step = self.step(scale)
        ta = tf.TensorArray(tf.float32, size=0, dynamic_size=True, infer_shape=False)

        def body(i, start, ta):
            count = tf.minimum(step, total - start)
            return i + 1, start + count, ta.write(i, tf.cast(fn(start, count), tf.float32))

        _, _, ta = tf.while_loop(lambda i, s, t: s < total, body, (tf.constant(0), tf.constant(0), ta))
        return ta.concat()


def normalise(maps):
    """Min-max to [0, 1] over the spatial axes 1, 2 of ``(n, H, W)`` or ``(n, H, W, k)`` maps
    (per image and per channel); a constant map becomes zeros."""
    lo = tf.reduce_min(maps, axis=[1, 2], keepdims=True)
    return tf.math.divide_no_nan(maps - lo, tf.reduce_max(maps, axis=[1, 2], keepdims=True) - lo)


def _option_key(value):
    if isinstance(value, np.ndarray):
        return ("array", value.shape, hashlib.sha1(np.ascontiguousarray(value).tobytes()).hexdigest())
    if isinstance(value, (list, tuple)):
        return tuple(_option_key(v) for v in value)
    try:
        hash(value)
        return value
    except TypeError:
        return ("id", id(value))


class Plan:
    """One compiled explanation graph: (model, layer, method, input shape, target kind, options).

    Use :func:`plan_for` (cached) rather than building one directly.
    """

    def __init__(self, model, method, layer: str | None, target, input_shape: tuple,
                 options: dict, batch_size: int):
        self._model = weakref.ref(model)  # the cache is keyed weakly by the model: no cycle
        self.method, self.layer, self.target = method, layer, target
        self.options, self.batch_size = options, int(batch_size)
        self.input_shape = tuple(input_shape)
        self.traces = 0
        sig = [tf.TensorSpec((None, *self.input_shape), tf.float32),
               tf.TensorSpec((None,), tf.int32)]
        sig += [tf.TensorSpec((None, *t.shape[1:]), t.dtype) for t in L.as_list(model.inputs)[1:]]
        # A callable object, not the bound method: TF counts retracing per code object, and
        # every plan traces once by design (no "excessive retracing" warning across plans).
        self.compiled = tf.function(_Graph(self), input_signature=sig, autograph=False)

    @property
    def model(self):
        """The user's model."""
        return self._model()

    def tap_model(self, mode: str | None = None, layer: bool = True):
        """Replay from the input to ``[layer activations (if any), outputs…]`` (pre-softmax);
        ``mode`` ``"guided"``/``"deconvnet"`` for modified ReLU gradients."""
        from kerasviz.core.replay import replay_model

        paths = [self.layer] if layer and self.layer is not None else []
        return replay_model(self.model, paths, relu=mode, logits=True)

    @property
    def softmax_output(self) -> bool:
        """True when the explained output is produced by a softmax (explained as logits)."""
        path = L.output_layer_paths(self.model)[self.target.output]
        return path is not None and L.activation_name(L._layer_at(self.model, path)) == "softmax"

    def head_model(self):
        """Replay from the layer's output to the outputs (pre-softmax)."""
        return L.head_model(self.model, self.layer, logits=True)

    def _run(self, x, units, *extra):
        self.traces += 1
        ctx = Context(self, x, units, self.options, extra)
        result = self.method.fn(ctx, **self.options)
        if self.method.family == "cam":
            maps = normalise(ctx.upsample(tf.nn.relu(result.raw)))
        else:
            maps = normalise(tf.abs(result.raw))
        units_out = ctx.units if ctx.units is not None else tf.fill(tf.shape(x)[:1], -1)
        out = {"maps": maps, "raw": result.raw, "scores": ctx.scores, "units": units_out}
        if result.grads is not None:
            out["grads"] = result.grads
        return out

    def __call__(self, x: np.ndarray, units: np.ndarray | None, progress: bool | None = None,
                 extra: list | None = None) -> dict:
        """Run on a batch ``x`` ``float32 (N, H, W, C)`` in chunks of ``batch_size`` images
        (``extra``: arrays for the model's other inputs, N rows each).

        Returns:
            dict of numpy arrays: ``maps``, ``raw``, ``scores``, ``units`` and maybe ``grads``.
        """
        n = len(x)
        units = np.zeros(n, np.int32) if units is None else np.asarray(units, np.int32)
        starts = range(0, n, self.batch_size)
        show = _want_progress(progress) and len(starts) > 1
        if show:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc=self.method.name, unit="chunk")
        extra = list(extra or [])
        parts = [self.compiled(tf.constant(x[s:s + self.batch_size], tf.float32),
                               tf.constant(units[s:s + self.batch_size]),
                               *[tf.constant(e[s:s + self.batch_size]) for e in extra])
                 for s in starts]
        return {k: np.concatenate([p[k].numpy() for p in parts]) for k in parts[0]}


class _Graph:
    """The function a :class:`Plan` compiles (see the comment in ``Plan.__init__``)."""

    def __init__(self, plan: Plan):
        self.plan = plan

    def __call__(self, x, units, *extra):
        return self.plan._run(x, units, *extra)


def _want_progress(progress: bool | None) -> bool:
    if progress is not None:
        return bool(progress)
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


_PLANS = model_cache()


def plan_for(model, method, layer: str | None, target, input_shape: tuple, options: dict,
             batch_size: int = DEFAULT_BATCH_SIZE) -> Plan:
    """The cached :class:`Plan` for this (model, layer, method, input shape, target kind,
    options, batch size). The target's units are a graph input: changing classes does not
    re-trace."""
    key = (layer, method.name, tuple(input_shape), target.key,
           tuple(sorted((k, _option_key(v)) for k, v in options.items())), int(batch_size))
    try:
        hash(key)
    except TypeError:  # an unhashable callable target: compile without caching
        return Plan(model, method, layer, target, input_shape, options, batch_size)
    cache = _PLANS.setdefault(model, {})
    if key not in cache:
        cache[key] = Plan(model, method, layer, target, input_shape, options, batch_size)
    plan = cache[key]
    plan.target = target  # same output / callable; labels and units may differ
    return plan


def check_layer_is_spatial(model, path: str) -> None:
    """Raise :class:`ModelError` unless layer ``path`` outputs ``(N, h, w, c)``."""
    shape = tuple(L.flatten(model).taps[path].shape)
    if len(shape) != 4:
        raise ModelError(f"Layer {path!r} outputs shape {shape}, not a 4-D (N, h, w, c) feature "
                         f"map, so a CAM method cannot use it. Expected a conv layer; "
                         f"layer=None picks {L.default_conv_layer(model)!r}.")
