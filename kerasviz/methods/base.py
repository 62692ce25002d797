"""What every method gets for free: the clean pass, target scoring, chunked evaluation, resizing,
normalisation, batching and one compiled graph per (model, layer, method, input shape).

A method function ``fn(ctx, **options)`` runs *inside* a ``tf.function``: it only composes
TensorFlow ops and the helpers of :class:`Context`, and reads what it needs (``ctx.A``,
``ctx.dA``, ``ctx.dx``, ``ctx.modified_dx(mode)``, ``ctx.scores``), each computed on first use. Loops over samples, channels or integration
steps are graph loops (``tf.while_loop``) over memory-bounded chunks, never Python loops.

Post-processing (``maps``), chosen per method at registration (``postprocess=``): the ``"cam"``
rule passes the raw map ``(N, h, w)`` through a ReLU (the positive evidence for the target, as
in the Grad-CAM paper), resizes it bilinearly to the input size and min-max scales it per image;
the ``"pixel"`` rule min-max scales ``|raw|`` per image. A constant map becomes all zeros.
"""
from __future__ import annotations

import functools
import hashlib
import types
import warnings
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import tensorflow as tf

from kerasviz import _progress
from kerasviz._caches import model_cache
from kerasviz.core import layers as L
from kerasviz.errors import ExplanationWarning, ModelError
from kerasviz.methods import registry

#: Prefix of the keys of a plan's outputs that are the method's per-image ``info``.
INFO = "info:"

#: Model evaluations per graph step (images × samples); bounds memory. ``explain(batch_size=)``.
DEFAULT_BATCH_SIZE = 16
#: The most memory a chunk of images may keep for a method's whole call beyond its model
#: evaluations (:attr:`kerasviz.methods.registry.Method.held`): a chunk takes fewer than
#: ``batch_size`` images where more would keep more (at least one image).
HELD_BYTES = 2 ** 30


def images_per_chunk(batch_size: int, held: int) -> int:
    """Images a chunk takes when a method keeps ``held`` bytes per image until the chunk ends:
    ``batch_size`` when ``batch_size`` images fit :data:`HELD_BYTES` (or ``held`` is 0), else as
    many as fit (at least 1), lowered so that the chunk's passes, ``batch_size // images``
    evaluations per image, stay about as full (16 with room for 6 → 5 images × 3 = 15)."""
    room = max(1, HELD_BYTES // held) if held > 0 else batch_size
    if room >= batch_size:
        return batch_size
    return batch_size // -(-batch_size // room)


@dataclass
class Result:
    """What a method function returns (tensors, batch first). Make it with :meth:`Context.cam`
    or :meth:`Context.pixels`.

    Attributes:
        raw: ``float32 (n, h, w)`` for a CAM result (layer resolution, signed, before the ReLU),
            ``float32 (n, H, W)`` for a pixel result (``grads`` reduced over channels).
        grads: ``float32 (n, H, W, C)`` per-pixel, per-channel attributions (pixel results), else
            None.
        reduce: the channel reduction that made ``raw`` from ``grads`` (pixel results).
        info: what the method reports per image, name → ``(n,)`` tensor
            (:attr:`kerasviz.Explanation.info`).
    """
    raw: Any
    grads: Any = None
    reduce: str | None = None
    info: dict | None = None


class Context:
    """One chunk of images, what a method reads about it, and the helpers a method composes.

    Everything a method reads is computed on first use, inside the traced graph, and once:
    the first of ``A``, ``scores``, ``units``, ``dA``, ``dx`` calls the plan's shared
    :class:`CleanPass` (one forward pass of the replayed model, tapping the layer when the
    method uses one, and its gradient: ``dA`` with a layer, else ``dx``); what the pass does not
    give (``dx`` with a layer) comes from a forward pass on a persistent tape, as in a plan
    without a shared pass. ``modified_dx(mode)`` replays the
    model with modified ReLU gradients (one more pass per mode).

    Attributes:
        x: ``float32 (n, H, W, C)`` model input (the image input: the model's first input).
        extra: the model's other inputs for these images (held fixed; empty for one-input models).
        plan: the :class:`Plan` (``plan.model``, ``plan.layer``, ``plan.target``).
        units: ``int32 (n,)`` the unit scored per image (top units resolved), or None for a
            callable target.
        scores: ``float32 (n,)`` target score at ``x`` (pre-softmax).
        probabilities: ``float32 (n,)`` in [0, 1], the softmax probability of ``units`` (None
            unless the explained output ends in a softmax and the target is a unit).
        A: ``float32 (n, h, w, c)`` activations of the layer (None without a layer).
        dA: ``float32 (n, h, w, c)`` ``∂ scores / ∂ A``.
        dx: ``float32 (n, H, W, C)`` ``∂ scores / ∂ x``.
    """

    def __init__(self, plan: "Plan", x, units, extra=()):
        self.plan, self.x, self.extra = plan, x, list(extra)
        self._units_in = units
        self._passes: dict = {}
        self._grads: dict = {}
        # the clean pass shared by every method on this model, layer, target kind and input
        # size (:class:`CleanPass`): its results, once read (None: not read yet)
        self._bundle = None
        self._shared = getattr(plan, "clean", None) is not None
        # passes are built in the graph where the context was made, even when first read inside
        # a loop body (the body then captures them)
        self._graph = tf.compat.v1.get_default_graph()

    def _pass(self, mode: str | None = None):
        """``(tape, A, units, scores)`` of the forward pass with ReLU backward rule ``mode``
        (None: the model's own), run once per mode on a persistent tape watching ``x``."""
        explain_signature = self.plan.saved_model is not None and self.plan.layer is not None
        if mode is None and mode not in self._passes and explain_signature:  # it gives A and dA
            from kerasviz.core.savedmodel import explain_pass

            with self._graph.as_default():
                a, g, units, scores = explain_pass(self.plan.model, self.x, self._units_in)
            self._grads[(None, "A")] = g
            self._passes[None] = (None, a, units, scores, [])
        if mode not in self._passes:
            tap = mode is None and self.plan.layer is not None
            model = self.plan.tap_model(mode, layer=tap)
            with self._graph.as_default(), \
                    tf.GradientTape(persistent=True, watch_accessed_variables=False) as tape:
                tape.watch(self.x)  # records the ops downstream of x (weights are not watched)
                outs = L.as_list(model(self.feed(self.x), training=False))
                a = outs.pop(0) if tap else None  # in the layer's dtype: the tape's path
                units = self.plan.target.resolve(outs, self._units_in)
                scores = self._score(outs, units)
            self._passes[mode] = (tape, a, units, scores, outs)
        return self._passes[mode]

    def _clean(self, key: str):
        """``key`` of the shared clean pass (:class:`CleanPass`: one traced function called
        from every method's graph), or None when the pass does not give it."""
        if not self._shared:
            return None
        if self._bundle is None:
            units = self._units_in
            if units is None:  # a callable target: the pass ignores the units
                units = tf.zeros(tf.shape(self.x)[:1], tf.int32)
            with self._graph.as_default():
                self._bundle = self.plan.clean.function(self.x, units, *self.extra)
        return self._bundle.get(key)

    def _use_clean(self) -> bool:
        """Whether forward values (units, scores) come from the shared pass: not when a pass
        of this context ran first (a modified-ReLU one: its forward values are the same)."""
        return self._shared and (self._bundle is not None or not self._passes)

    def _gradient(self, mode: str | None, wrt: str):
        if mode is None:
            shared = self._clean("dA" if wrt == "A" else "dx")
            if shared is not None:
                return shared
        tape, a, _, scores, _ = self._pass(mode)  # a SavedModel's explain pass sets dA itself
        if (mode, wrt) not in self._grads:
            with self._graph.as_default():
                g = tape.gradient(scores, a if wrt == "A" else self.x)
            self._grads[(mode, wrt)] = tf.cast(g, tf.float32)
        return self._grads[(mode, wrt)]

    def _forward(self):
        """Any pass already run (forward values do not depend on the ReLU mode), else the clean one."""
        return next(iter(self._passes.values())) if self._passes else self._pass(None)

    @property
    def A(self):  # noqa: N802 (the papers' notation)
        shared = self._clean("A")
        if shared is not None:
            return shared
        if "A" not in self._grads:  # float32 even for a mixed-precision layer
            with self._graph.as_default():
                self._grads["A"] = tf.cast(self._pass(None)[1], tf.float32)
        return self._grads["A"]

    @property
    def units(self):
        if self._use_clean():
            return self._clean("units")
        return self._forward()[2]

    @property
    def scores(self):
        if self._use_clean():
            return self._clean("scores")
        return self._forward()[3]

    @property
    def probabilities(self):
        """``float32 (n,)`` the softmax probability of each image's unit when the explained
        output ends in a softmax and the target is a unit, else None."""
        if self._use_clean():
            return self._clean("probabilities")
        if self.units is None or not self.plan.softmax_output:
            return None
        return self._probability(self._forward()[4], self.units)

    def _score(self, outs, units):
        """The explained score of ``units`` on ``outs``: the target's (pre-softmax) score, or its
        softmax probability when the plan's ``score`` is ``"probability"``."""
        if self.plan.score == "probability":
            return self._probability(outs, units)
        return self.plan.target.score(outs, units)

    def _probability(self, outs, units):
        probs = tf.nn.softmax(tf.cast(outs[self.plan.target.output], tf.float32), axis=-1)
        return tf.gather(probs, units, axis=1, batch_dims=1)

    @property
    def dA(self):  # noqa: N802
        return self._gradient(None, "A")

    @property
    def dx(self):
        return self._gradient(None, "x")

    def modified_dx(self, mode: str):
        """``float32 (n, H, W, C)`` ``∂ scores / ∂ x`` through ReLUs whose backward rule is
        ``mode``: ``"guided"`` (``dy · [x > 0] · [dy > 0]``) or ``"deconvnet"``
        (``dy · [dy > 0]``); see :mod:`kerasviz.core.replay`."""
        return self._gradient(mode, "x")

    def on(self, xs) -> "Context":
        """A context for ``xs`` ``(count · n, H, W, C)``: ``count`` variants of this chunk's
        images, sample-major, explained for the same units (this chunk's, resolved at ``x``)
        with the other inputs tiled. Its ``A``, ``dA``, ``dx``… are those of ``xs``."""
        count = tf.shape(xs)[0] // tf.shape(self.x)[0]
        return Context(self.plan, xs, self.tile(self.units, count),
                       [self.tile(e, count) for e in self.extra])

    def maps_of(self, method, **options):
        """``float32 (n, H, W)`` in [0, 1]: the maps of another method (a name or
        :class:`Method`) on this chunk, sharing this context's passes (for compositions)."""
        m = registry.get(method)
        return self.maps(m, m(self, **options))

    def maps(self, method, result: Result):
        """Post-process ``result`` by ``method.postprocess`` into ``float32 (n, H, W)`` maps in
        [0, 1] (see :data:`kerasviz.methods.POSTPROCESS`)."""
        rule = method.postprocess
        if callable(rule):
            return rule(self, result)
        if (rule == "pixel") != (result.grads is not None):
            made = "ctx.pixels(…)" if result.grads is not None else "ctx.cam(…)"
            raise TypeError(f"Method {method.name!r} returns {made} but is registered with "
                            f"postprocess={rule!r}; register it with the other rule.")
        if rule == "cam":
            return normalise(self.upsample(tf.nn.relu(result.raw)))
        return normalise(tf.abs(result.raw))

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
        return Result(raw, grads, reduce)

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
            probability: when the explained output is a class output (:attr:`Plan.class_output`:
                it ends in a softmax, or in logits) and the target is a unit, return the unit's
                softmax probability ``(m,)`` in [0, 1] instead of its logit (else the explained
                score, see :attr:`Plan.score`).
        """
        outs = L.as_list(self.plan.tap_model(None, layer=False)(self.feed(xs), training=False))
        if probability and units is not None and self.plan.class_output:
            return self._probability(outs, units)
        return self._score(outs, units)

    def head_scores(self, As, units, xs=None):
        """Target scores computed from layer activations ``As`` ``(m, h, w, c)`` onwards (the
        model's inputs ``xs`` are fed too when a skip connection bypasses the layer)."""
        head = self.plan.head_model()
        feed = As if len(head.inputs) == 1 else L.as_list(self.feed(xs)) + [As]
        return self._score(L.as_list(head(feed, training=False)), units)

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

    def sum_chunks(self, fn: Callable, total: int, like, scale: int = 1, report=None):
        """``Σ fn(start, count)`` over chunks covering ``range(total)``; ``fn`` returns a tensor
        shaped like ``like`` (or a tuple of them, summed each). A graph loop with at most
        :data:`LOOP_OVERLAP` chunks in flight: memory holds about that many chunks. ``report``:
        as for :meth:`concat_chunks`."""
        step = self.step(scale)

        def body(start, acc):
            count = tf.minimum(step, total - start)
            return start + count, tf.nest.map_structure(tf.add, acc, self._chunk(fn, start, count, total, report))

        zeros = tf.nest.map_structure(lambda t: tf.zeros_like(t, tf.float32), like)
        _, acc = tf.while_loop(lambda s, a: s < total, body, (tf.constant(0), zeros),
                               parallel_iterations=LOOP_OVERLAP)
        return acc

    def concat_chunks(self, fn: Callable, total: int, scale: int = 1, outputs: int = 1, report=None):
        """``concat([fn(start, count), …], axis=0)`` over chunks covering ``range(total)``; ``fn``
        returns ``(count, …)``, or a tuple of ``outputs`` such tensors (concatenated each). A graph
        loop (chunks in flight: :data:`LOOP_OVERLAP`). ``report=(done, of)``: a progress bar
        counts this loop's items as ``done + …`` of ``of`` (for a loop run several times, each
        run a part of one task); default ``(0, total)``. ``report=(done, of, task)``: loops that
        name the same ``task`` (any hashable, e.g. an ``object()`` made once per call) count into
        one share of the bar, as one loop."""
        step = self.step(scale)
        tas = tuple(tf.TensorArray(tf.float32, size=0, dynamic_size=True, infer_shape=False)
                    for _ in range(outputs))

        def body(i, start, tas):
            count = tf.minimum(step, total - start)
            value = self._chunk(fn, start, count, total, report)
            value = value if outputs > 1 else (value,)
            return i + 1, start + count, tuple(ta.write(i, v) for ta, v in zip(tas, value))

        _, _, tas = tf.while_loop(lambda i, s, t: s < total, body, (tf.constant(0), tf.constant(0), tas),
                                  parallel_iterations=LOOP_OVERLAP)
        values = tuple(ta.concat() for ta in tas)
        return values if outputs > 1 else values[0]

    def _chunk(self, fn, start, count, total, report=None):
        """``fn(start, count)`` as float32, traced one loop level deeper. In a graph compiled for
        a progress bar, the outermost loop tells the host ``(loop, start + count, total)`` (or
        ``(loop, done + start + count, of)`` for ``report=(done, of[, task])``; loops of one
        ``task`` share their ``loop`` number) once the chunk is computed (:meth:`Plan._tick`);
        elsewhere the graph is unchanged."""
        plan = self.plan
        outermost = plan._reporting and plan._depth == 0
        plan._depth += 1
        try:
            value = tf.nest.map_structure(lambda t: tf.cast(t, tf.float32), fn(start, count))
        finally:
            plan._depth -= 1
        if outermost:
            done, of, *task = (0, total) if report is None else report
            loop = plan._loops.setdefault(task[0] if task else object(), len(plan._loops))
            with tf.control_dependencies(tf.nest.flatten(value)):
                tick = tf.numpy_function(plan._tick, [tf.constant(loop), tf.cast(done + start + count, tf.int32),
                                                      tf.cast(of, tf.int32)], tf.int32, stateful=True)
            with tf.control_dependencies([tick]):
                value = tf.nest.map_structure(tf.identity, value)
        return value


def normalise(maps):
    """Min-max to [0, 1] over the spatial axes 1, 2 of ``(n, H, W)`` or ``(n, H, W, k)`` maps
    (per image and per channel); a constant map becomes zeros."""
    lo = tf.reduce_min(maps, axis=[1, 2], keepdims=True)
    return tf.math.divide_no_nan(maps - lo, tf.reduce_max(maps, axis=[1, 2], keepdims=True) - lo)


def _option_key(value):
    """A hashable stand-in for ``value``: itself, an array's bytes digest, or its ``id``."""
    if isinstance(value, np.ndarray):
        return ("array", value.shape, hashlib.sha1(np.ascontiguousarray(value).tobytes()).hexdigest())
    if isinstance(value, (list, tuple)):
        return tuple(_option_key(v) for v in value)
    try:
        hash(value)
        return value
    except TypeError:
        return ("id", id(value))


def _callable_key(fn):
    """A plain function (a ``lambda`` written inline included) is identified by its code and the
    values it closes over, so a new but identical function reuses the compiled graph; other
    callables by themselves. As with ``tf.function``, globals it reads are taken at trace time."""
    if not isinstance(fn, types.FunctionType):
        return _option_key(fn)
    cells = []
    for cell in fn.__closure__ or ():
        try:
            cells.append(_option_key(cell.cell_contents))
        except ValueError:  # an empty cell
            cells.append(None)
    return ("code", fn.__code__, tuple(cells), _option_key(fn.__defaults__),
            _option_key(fn.__kwdefaults__ and tuple(sorted(fn.__kwdefaults__.items()))))


class Plan:
    """One compiled explanation graph for (model, layer, method, input shape, target kind,
    static option values, batch size). Units and graph-input options are graph inputs.

    Use :func:`plan_for` (cached) rather than building one directly.

    Attributes:
        score: what is explained: ``"logit"`` (the target's pre-softmax score) or
            ``"probability"`` (its softmax probability; see :data:`SCORES`).
        traces: how many times this plan's graph was traced (1 once used).
        total_traces: class attribute, traces of every plan (for tests and benchmarks).
    """
    total_traces = 0
    # What a Context reads of a plan, with the defaults of a plan that explains nothing itself
    # (kerasviz.metrics scores perturbed inputs through a Plan subclass): the score rule, a
    # wrapped SavedModel's facts; while tracing, whether loops report progress, the loop nesting
    # depth and the loops that report (task → loop number); while running, the call's progress
    # bar (see _tick).
    score, saved_model = "logit", None
    _reporting, _depth, _loops, _bar = False, 0, None, None
    #: the shared :class:`CleanPass` (set by :func:`plan_for`; None: each graph runs its own)
    clean = None
    _runner, _calls, _promote = None, 0, False

    def __init__(self, model, method, layer: str | None, target, input_shape: tuple,
                 options: dict, batch_size: int, score: str = "logit"):
        self._model = weakref.ref(model)  # the cache is keyed weakly by the model: no cycle
        self.method, self.layer, self.target, self.score = method, layer, target, score
        self.batch_size = int(batch_size)
        self.input_shape = tuple(input_shape)
        self.static = {k: v for k, v in options.items() if method.specs[k].static}
        self.inputs = sorted(k for k in options if not method.specs[k].static)
        self.traces = 0
        from kerasviz.core.savedmodel import saved_model_info

        #: a wrapped SavedModel's :class:`~kerasviz.core.savedmodel.SavedModelInfo`, else None
        self.saved_model = saved_model_info(model)
        extra = L.as_list(model.inputs)[1:]
        self._n_extra = len(extra)
        sig = [tf.TensorSpec((None, *self.input_shape), tf.float32),
               tf.TensorSpec((None,), tf.int32)]
        sig += [tf.TensorSpec((None, *t.shape[1:]), t.dtype) for t in extra]
        sig += [tf.TensorSpec(np.shape(options[k]), method.specs[k].dtype) for k in self.inputs]
        self._signature, self._facts, self._with_ticks = sig, None, None
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
        return ends_in_softmax(self.model, self.target.output)

    @property
    def class_output(self) -> bool:
        """True when the explained output gives class scores: it ends in a softmax, or it is
        logits (:func:`ends_in_logits`). A softmax over it gives class probabilities."""
        output = self.target.output
        return ends_in_softmax(self.model, output) or ends_in_logits(self.model, output)

    def head_model(self):
        """Replay from the layer's output to the outputs (pre-softmax)."""
        return L.head_model(self.model, self.layer, logits=True)

    def _run(self, x, units, *rest):
        self.traces += 1
        Plan.total_traces += 1
        extra, values = rest[:self._n_extra], rest[self._n_extra:]
        return self._finish(Context(self, x, units, extra), values)

    def _finish(self, ctx, values):
        """The method on ``ctx`` and its post-processing: the graph's outputs."""
        x = ctx.x
        result = self.method.fn(ctx, **self.static, **dict(zip(self.inputs, values)))
        maps = ctx.maps(self.method, result)
        units_out = ctx.units if ctx.units is not None else tf.fill(tf.shape(x)[:1], -1)
        out = {"maps": maps, "raw": result.raw, "scores": ctx.scores, "units": units_out}
        if result.grads is not None:
            out["grads"] = result.grads
        if ctx.probabilities is not None:
            out["probabilities"] = ctx.probabilities
        out.update({INFO + k: v for k, v in (result.info or {}).items()})
        return out

    def __call__(self, x: np.ndarray, units: np.ndarray | None, progress: bool | None = None,
                 extra: list | None = None, options: dict | None = None,
                 device: str | None = None) -> dict:
        """Run on a batch ``x`` ``float32 (N, H, W, C)`` in chunks of ``batch_size`` images, or
        fewer where the method keeps memory per image (:func:`images_per_chunk`). ``extra``:
        arrays for the model's other inputs, N rows each; ``options``: the method's checked option
        values, see :meth:`Method.check`; ``device``: a TensorFlow device such as ``"GPU:0"``,
        None for TensorFlow's placement.

        Maps that are NaN / Inf, or whose target score is, are set to 0, and an empty map (all 0)
        gives one :class:`~kerasviz.errors.ExplanationWarning` per call (see :func:`check_maps`).

        Returns:
            dict of numpy arrays: ``maps``, ``raw``, ``scores``, ``units`` and maybe ``grads``,
            ``probabilities`` (:attr:`Context.probabilities`) and ``info:<name>`` (the
            method's :attr:`Result.info`).
        """
        n = len(x)
        units = np.zeros(n, np.int32) if units is None else np.asarray(units, np.int32)
        values = [tf.constant(self.method.specs[k].as_input(options[k])) for k in self.inputs]
        extra = list(extra or [])
        chunk = images_per_chunk(self.batch_size, self.method.held(options, self.input_shape)
                                 if self.method.held else 0)
        with tf.device(device):
            if not _progress.wanted(progress):
                out = self._in_chunks(self._route(), x, units, extra, values, chunk)
                return check_maps(self, out, x, extra)
            if self._with_ticks is None:  # a second graph, only for calls that show a bar
                self._with_ticks = tf.function(_Graph(self, report=True), autograph=False,
                                               input_signature=self._signature)
            self._bar = CallProgress(n, self.method.name, progress)
            try:
                out = self._in_chunks(self._with_ticks, x, units, extra, values, chunk)
            finally:
                self._bar = self._bar.close()
            return check_maps(self, out, x, extra)

    def _route(self):
        """What runs a call without a progress bar (a callable on the graph's tensors): the
        split route (:meth:`_split`) while it applies, else the plan's one graph. On a small
        clean pass (under :data:`KEEP_SPLIT_OPS` operations) a split plan is promoted to its one
        graph after :data:`PROMOTE_AFTER` calls: tiered, as a JIT compiler does."""
        self._calls += 1
        promote = self._promote and self._calls > PROMOTE_AFTER
        if self._runner is not None and not promote:
            return self._runner
        split = self._split() if self._runner is None else None
        if split is not None and not (self._promote and self._calls > PROMOTE_AFTER):
            self._runner = split
            return split
        return self._one_graph()

    def _one_graph(self):
        """Run the plan's one graph from now on (no longer split, nothing to promote); its
        runner."""
        self._runner, self._promote = _flat_call(self.compiled), False
        return self._runner

    def _split(self):
        """The split route, or None: a method that reads only what the shared clean pass gives
        runs as two parts, the pass and the method's own math (its *tail*), so that its first
        calls trace nothing: the tail runs eagerly for :data:`EAGER_CALLS` calls, then as a
        small graph of its own. Sets ``_promote`` (a small pass: see :meth:`_route`). A method
        whose tail turns out to need the model (:class:`_NeedsModel`), or to read no gradient
        (Eigen-CAM: the pass's backward half is wasted on it), runs its one graph instead."""
        clean = self.clean
        if clean is None or self.method.key in _NEEDS_MODEL:
            return None
        keys = sorted(clean.specs)
        tail = _Tail(self, keys)
        first, n_extra, graph = _flat_call(clean.function), self._n_extra, None
        self._promote = clean.ops < KEEP_SPLIT_OPS
        eager = EAGER_CALLS

        def run(x, units, *rest):
            nonlocal eager, graph
            if not eager and graph is None and tail.read and tail.read.isdisjoint(("dA", "dx")):
                # its math reads no gradient: the shared pass would compute one for nothing on
                # every call, where its one graph is optimised without the backward pass
                return self._one_graph()(x, units, *rest)
            shared = first(x, units, *rest[:n_extra])
            args = (x, *[shared[k] for k in keys], *rest)
            if eager:
                eager -= 1
                try:
                    return tail.run(*args)
                except _NeedsModel:
                    _NEEDS_MODEL.add(self.method.key)
                    return self._one_graph()(x, units, *rest)
            if graph is None:
                graph = _flat_call(tf.function(tail, autograph=False, input_signature=[
                    self._signature[0], *(clean.specs[k] for k in keys), *self._signature[2:]]))
            return graph(*args)

        return run

    def _tick(self, loop, done, total):
        """Called by the graph of a call with a bar (:meth:`Context._chunk`): the outermost loop
        ``loop`` has done ``done`` of its ``total`` chunks' items."""
        if self._bar is not None:
            self._bar.tick(int(loop), int(done), int(total))
        return np.int32(0)

    def _in_chunks(self, fn, x, units, extra, values=(), chunk: int | None = None) -> dict:
        """``fn`` (a compiled graph returning a dict) on chunks of ``chunk`` images (default
        ``batch_size``); its outputs as numpy arrays of N rows, filled chunk by chunk (peak
        memory ≈ results + one chunk)."""
        n, chunk = len(x), chunk or self.batch_size
        if n <= chunk and self._bar is None:  # one chunk: no slices, no copies
            part = fn(as_tensor(x, tf.float32), as_tensor(units, tf.int32),
                      *[tf.constant(e) for e in extra], *values)
            return {k: v.numpy() for k, v in part.items()}
        out: dict[str, np.ndarray] = {}
        for s in range(0, n, chunk):
            if self._bar is not None:
                self._bar.chunk(s, min(chunk, n - s))
            part = fn(as_tensor(x[s:s + chunk], tf.float32), as_tensor(units[s:s + chunk], tf.int32),
                      *[tf.constant(e[s:s + chunk]) for e in extra], *values)
            for k, v in part.items():
                v = v.numpy()
                if k not in out:
                    out[k] = np.empty((n, *v.shape[1:]), v.dtype)
                out[k][s:s + len(v)] = v
        return out

    def zero_facts(self, x: np.ndarray, units: np.ndarray, extra: list) -> dict:
        """Per image, ``bool (n,)``: whether the layer's activations (``"A"``) and ``∂S/∂A``
        (``"dA"``) are 0 everywhere, or, without a layer, ``∂S/∂x`` (``"dx"``). For the cause of
        an empty map; compiled on first use, so the normal path never pays for it."""
        if self._facts is None:
            self._facts = tf.function(_Facts(self), autograph=False,
                                      input_signature=self._signature[:2 + self._n_extra])
        return self._in_chunks(self._facts, x, units, extra)


class _Graph:
    """The function a :class:`Plan` compiles (see the comment in ``Plan.__init__``); with
    ``report=True`` its outermost loops report progress to the host (:meth:`Context._chunk`)."""

    def __init__(self, plan: Plan, report: bool = False):
        self.plan, self.report = plan, report

    def __call__(self, x, units, *rest):
        plan = self.plan
        plan._reporting, plan._depth, plan._loops = self.report, 0, {}
        try:
            return plan._run(x, units, *rest)
        finally:
            plan._reporting = False


class CleanPass(Plan):
    """The clean pass every method on a (model, layer, target kind, input shape, score) shares:
    one traced function ``(x, units, *extra) -> {A, dA | dx, units, scores, probabilities}``
    (``A``, ``dA`` with a layer, else ``dx``; ``units`` absent for a callable target,
    ``probabilities`` as :attr:`Context.probabilities`).

    Each method's graph calls it (:meth:`Context._clean`), so the model's forward and backward
    passes are traced in Python once, not once per method; TensorFlow inlines the call into
    each graph, which it then optimises whole (so a method that needs no gradient loses the
    backward ops). Made by :func:`plan_for`, cached beside the plans.

    Attributes:
        traces: how many times this pass was traced (1 once used).
        total_traces: class attribute, traces of every clean pass (for tests and benchmarks).
    """
    total_traces = 0
    clean = None  # its own Context runs the pass on a tape

    def __init__(self, model, layer: str | None, target, input_shape: tuple, score: str):
        self._model = weakref.ref(model)
        self.layer, self.target, self.score = layer, target, score
        self.traces = 0
        extra = L.as_list(model.inputs)[1:]
        self._n_extra = len(extra)
        sig = [tf.TensorSpec((None, *input_shape), tf.float32), tf.TensorSpec((None,), tf.int32)]
        sig += [tf.TensorSpec((None, *t.shape[1:]), t.dtype) for t in extra]
        # a callable object, as Plan.compiled (TF counts retracing per code object)
        self.function = tf.function(_PassGraph(self), input_signature=sig, autograph=False)

    def _trace(self, x, units, *extra):
        self.traces += 1
        CleanPass.total_traces += 1
        ctx = Context(self, x, units, extra)
        out = {"scores": ctx.scores}
        if ctx.units is not None:
            out["units"] = ctx.units
        if self.layer is not None:
            out["A"], out["dA"] = ctx.A, ctx.dA
        else:
            out["dx"] = ctx.dx
        if ctx.probabilities is not None:
            out["probabilities"] = ctx.probabilities
        return out

    @functools.cached_property
    def specs(self) -> dict:
        """Name → ``tf.TensorSpec`` of each result (traces the pass on first use)."""
        outs = self.function.get_concrete_function().structured_outputs
        return {k: tf.TensorSpec(v.shape, v.dtype) for k, v in outs.items()}

    @functools.cached_property
    def ops(self) -> int:
        """Operations in the traced pass (its size: what optimising a graph holding it costs)."""
        return len(self.function.get_concrete_function().graph.get_operations())


class _PassGraph:
    """The function a :class:`CleanPass` compiles (a callable object, as :class:`_Graph`)."""

    def __init__(self, clean: CleanPass):
        self.clean = clean

    def __call__(self, x, units, *extra):
        return self.clean._trace(x, units, *extra)


#: Clean-pass operations from which a split plan (:meth:`Plan._split`) stays split: building
#: one graph around a pass this large costs a few hundred ms (MobileNetV2's 1,836 operations:
#: ~250 ms on 2 CPU cores), the second graph call ~0.06 ms, which its work dwarfs.
KEEP_SPLIT_OPS = 1000

#: Calls after which a split plan on a smaller pass is promoted to its one graph (saving the
#: ~0.06 ms of the second call; building it costs ~50 ms on ``shapes``, repaid after ~1,000 calls).
PROMOTE_AFTER = 100

#: Calls for which a split plan runs its method's math eagerly before compiling it: the first
#: calls of a method after another on the same model and input size then cost the pass plus
#: ~1–3 ms of eager operations instead of a trace (20–45 ms); by the time the compile is paid,
#: the eager calls have cost about as much (the ski-rental rule).
EAGER_CALLS = 10

#: Chunks of a graph loop (:meth:`Context.sum_chunks`, :meth:`Context.concat_chunks`) that may
#: run at once (``tf.while_loop``'s ``parallel_iterations``). TensorFlow's default, 10, let the
#: peak of integrated gradients on EfficientNet-Lite0 at batch 32 vary from 2.2 to 4.3 GB between
#: calls; 1 holds 1.7 GB every call but costs ~10 % on small models (the next chunk cannot start
#: while the last one's backward pass ends); 2 keeps that overlap: 1.7–2.2 GB, and the speed of 10.
LOOP_OVERLAP = 2

#: Keys of methods found to need the model beyond the clean pass (not split).
_NEEDS_MODEL: set = set()


class _NeedsModel(Exception):
    """Raised while tracing a tail: the method needs more than the clean pass."""


class _TailContext(Context):
    """The context of a tail graph: what the clean pass gave, as graph inputs; anything that
    would run the model raises :class:`_NeedsModel`."""

    def __init__(self, plan, x, bundle: dict, extra, read: set):
        super().__init__(plan, x, bundle.get("units"), extra)
        self._bundle, self._shared, self._read = bundle, True, read

    def _clean(self, key):
        self._read.add(key)
        return self._bundle.get(key)

    def _pass(self, mode=None):
        raise _NeedsModel

    def on(self, xs):
        raise _NeedsModel

    def model_scores(self, xs, units, probability=False):
        raise _NeedsModel

    def head_scores(self, As, units, xs=None):
        raise _NeedsModel


class _Tail:
    """The method's own math on what the clean pass gave: ``(x, *pass results, *extra,
    *options)`` → the graph's outputs; :meth:`run` runs it eagerly, and a split :class:`Plan`
    compiles the object itself (see :meth:`Plan._split`)."""

    def __init__(self, plan: Plan, keys: list):
        self.plan, self.keys = plan, keys
        self.read: set = set()  # the pass results the method's math has read

    def run(self, x, *rest):
        plan, k = self.plan, len(self.keys)
        ctx = _TailContext(plan, x, dict(zip(self.keys, rest[:k])), rest[k:k + plan._n_extra],
                           self.read)
        return plan._finish(ctx, rest[k + plan._n_extra:])

    def __call__(self, x, *rest):  # traced
        out = self.run(x, *rest)
        self.plan.traces += 1
        Plan.total_traces += 1
        return out


@functools.lru_cache(maxsize=None)
def _eager_tensor():
    """TensorFlow's eager-tensor constructor as ``(array, dtype enum) -> Tensor`` on the current
    device, or None where this TensorFlow has another one. Looked up on first use: initialising
    TensorFlow's context at import would stop users from configuring their GPUs afterwards."""
    try:
        from tensorflow.python.eager import context
        from tensorflow.python.framework import ops

        context.ensure_initialized()
        ops.EagerTensor(np.zeros(1, np.float32), context.context().device_name, None)
    except Exception:  # noqa: BLE001 -- any failure: the public (slower) path
        return None

    def make(array, dtype):  # tf.constant's own last step (convert_to_eager_tensor)
        ctx = context.context()
        ctx.ensure_initialized()  # again: a user may have reset TensorFlow's context since
        return ops.EagerTensor(array, ctx.device_name, dtype)
    return make


def as_tensor(array: np.ndarray, dtype) -> tf.Tensor:
    """``array`` as a tensor on the current device, for a graph call made now: without
    ``tf.constant``'s defensive copy (~0.1 ms for a batch of 32 images of 96², 20 µs for one), so
    the tensor may read ``array``'s memory in place while the call runs (a thread writing to it
    meanwhile races with the graph, as with any numpy function); the call's outputs never do."""
    make = _eager_tensor()
    if make is None:
        return tf.constant(array, dtype)
    return make(np.asarray(array, dtype.as_numpy_dtype), dtype.as_datatype_enum)


def _flat_call(function):
    """``function`` (a ``tf.function`` with an input signature) as a callable on its tensors,
    calling the traced graph directly: ``tf.function``'s argument binding costs ~0.1 ms a
    call, as much as a small model's whole graph."""
    concrete = function.get_concrete_function()
    call = getattr(concrete, "_call_flat", None)
    if call is None:  # another TensorFlow: the public (slower) call
        return concrete
    return lambda *args: call(list(args), concrete.captured_inputs)


class CallProgress:
    """One bar per call, in images: chunks of images move it, and within a chunk the graph's
    outermost loops (over noise samples, channels, integration steps…) move it by the fraction
    of their work done, so a long call on one image shows progress too. The bar appears only
    for calls longer than half a second."""

    def __init__(self, n: int, desc: str, progress: bool | None):
        self.bar = _progress.bar(total=n, progress=progress, desc=desc, unit="image", delay=0.5,
                                 bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total} "
                                            "images [{elapsed}<{remaining}]")
        self.start, self.size, self.loops = 0, 0, {}

    def chunk(self, start: int, size: int) -> None:
        """Images ``start … start + size`` go through the graph next."""
        self._show(self.start + self.size)  # the previous chunk is done
        self.start, self.size, self.loops = start, size, {}

    def tick(self, loop: int, done: int, total: int) -> None:
        self.loops[loop] = (max(done, self.loops.get(loop, (0, 0))[0]), total)
        done_all = sum(d for d, _ in self.loops.values())
        total_all = sum(t for _, t in self.loops.values())
        self._show(self.start + self.size * done_all / max(total_all, 1))

    def _show(self, value: float) -> None:
        if value > self.bar.n:  # ticks of parallel loop iterations may come out of order
            self.bar.update(value - self.bar.n)

    def close(self) -> None:
        """End the bar at its total (the last chunk is done); returns None."""
        self._show(self.start + self.size)
        self.bar.close()


class _Facts:
    """The function :meth:`Plan.zero_facts` compiles (a callable object, as :class:`_Graph`)."""

    def __init__(self, plan: Plan):
        self.plan = plan

    def __call__(self, x, units, *extra):
        ctx = Context(self.plan, x, units, extra)
        if self.plan.layer is None:
            return {"dx": _all_zero(ctx.dx)}
        return {"A": _all_zero(ctx.A), "dA": _all_zero(ctx.dA)}


def _all_zero(t):
    """``bool (n,)``: whether each row of ``t`` ``(n, ...)`` is 0 everywhere."""
    return tf.reduce_all(tf.equal(tf.reshape(t, [tf.shape(t)[0], -1]), 0.0), axis=1)


#: Why a map is empty, and what to try: the causes :func:`check_maps` tells apart.
EMPTY_CAUSES = {
    "score": "the target's score is NaN or Inf, so there is nothing to explain: the model's "
             "output is undefined for these inputs (an overflow, a log or a division inside the "
             "model); check model.predict on them",
    "nonfinite": "{method!r} computed NaN or Inf values (an overflow in the gradient or in the "
                 "method); check the model's outputs on these images or try another method",
    "dead": "layer {layer!r} outputs 0 everywhere (a dead layer: its ReLUs never fire on these "
            "images); pass another layer= (kerasviz.layer_paths(model) lists them)",
    "gradient": "the gradient of the target with respect to {wrt} is 0 everywhere: the score "
                "does not change with it (a dead layer on the way, a constant model or target, or "
                "a saturated output: a sigmoid at 0 or 1, or a softmax kerasviz did not replace); "
                "explain a score before the saturating activation (e.g. keras.Model(model.input, "
                "logits_layer.output)){or_layer}; kerasviz.layer_stats(model, images) shows "
                "layers that output only zeros",
    "zero score": "the target's score is 0 and its gradient with respect to {wrt} is 0 "
                  "everywhere: the target is switched off for these images (a ReLU output at 0, "
                  "a dead layer on the way, a constant model or target); explain another target "
                  "or the score before that activation{or_layer}; kerasviz.layer_stats(model, "
                  "images) shows layers that output only zeros",
    "method": "{method!r} gives 0 everywhere although the target's gradient is not 0 (its own "
              "weights vanish: e.g. an input equal to the baseline of integrated_gradients, a "
              "zero input for gradxinput, a target probability of 0 on every masked input for "
              "scorecam); look at exp.raw or try another method",
    "negative": "the raw map is <= 0 everywhere: at layer {layer!r} there is only evidence "
                "against the target, which the ReLU of the CAM rule removes; look at exp.raw, or "
                "explain another target or layer",
    "constant": "the map has the same value everywhere (every position counts alike), which "
                "min-max scaling makes 0; look at exp.raw",
}


def check_maps(plan: Plan, out: dict, x: np.ndarray, extra: list) -> dict:
    """Make ``out["maps"]`` defined and say when a map is empty: the check every method's
    result goes through, on the numpy side after the graph (so it costs the normal path two
    reductions over the maps).

    A map with NaN / Inf anywhere, or whose target score is NaN / Inf, becomes 0. If any map is
    then 0 everywhere, one :class:`~kerasviz.errors.ExplanationWarning` names the method, the
    images and each one's cause (:data:`EMPTY_CAUSES`), told apart from ``out`` and, when the raw
    map is 0, from :meth:`Plan.zero_facts` (a second small graph, only then).

    Returns:
        ``out``, its ``maps`` changed in place; ``raw``, ``grads`` and ``scores`` as computed.
    """
    maps, n = out["maps"], len(out["maps"])
    with np.errstate(over="ignore", invalid="ignore"):  # an overflowing sum: the exact check
        sums = maps.reshape(n, -1) @ np.ones(maps[0].size, maps.dtype)
    if np.all(np.isfinite(sums) & (sums > 0)) and np.isfinite(out["scores"]).all():
        return out  # each map finite (a finite sum) and not empty (a positive sum): one pass
    finite_map = np.isfinite(maps).reshape(n, -1).all(axis=1)
    finite_score = np.isfinite(out["scores"])
    maps[~(finite_map & finite_score)] = 0.0
    empty = np.flatnonzero(~(maps > 0).reshape(n, -1).any(axis=1))
    if len(empty):
        causes: dict[str, list[int]] = {}
        for i, kind in _empty_kinds(plan, out, x, extra, empty, finite_map, finite_score).items():
            text = EMPTY_CAUSES[kind].format(
                method=plan.method.name, layer=plan.layer,
                wrt=f"layer {plan.layer!r}" if plan.layer else "the input",
                or_layer=", or another layer" if plan.layer else "")
            causes.setdefault(text, []).append(int(i))
        groups = "; ".join(f"images {_some(v)}: {text}" for text, v in causes.items())
        warnings.warn(ExplanationWarning(
            f"Method {plan.method.name!r} gives an empty map (all 0) for {len(empty)} of {n} "
            f"image(s). {groups[0].upper()}{groups[1:]}. Their maps are 0; exp.raw and "
            f"exp.scores hold what was computed.", method=plan.method.name, causes=causes),
            stacklevel=4)  # check_maps ← Plan.__call__ ← explain ← the caller
    return out


def _empty_kinds(plan, out, x, extra, empty, finite_map, finite_score) -> dict:
    """Image index → key of :data:`EMPTY_CAUSES`, for the images whose map is empty."""
    raw = out["raw"].reshape(len(x), -1)
    kinds, zero = {}, []
    for i in empty:
        if not finite_score[i]:
            kinds[i] = "score"
        elif not finite_map[i]:
            kinds[i] = "nonfinite"
        elif not raw[i].any():
            zero.append(i)
            kinds[i] = None  # told by the gradient below
        elif plan.method.postprocess == "cam" and raw[i].max() <= 0:
            kinds[i] = "negative"
        else:
            kinds[i] = "constant"
    if zero:
        zero = np.array(zero)
        facts = plan.zero_facts(x[zero], out["units"][zero], [e[zero] for e in extra])
        for j, i in enumerate(zero):
            if "A" in facts and facts["A"][j]:
                kinds[i] = "dead"
            elif facts["dA" if "dA" in facts else "dx"][j]:
                kinds[i] = "zero score" if out["scores"][i] == 0 else "gradient"
            else:
                kinds[i] = "method"
    return kinds


def _some(indices: list[int], limit: int = 10) -> str:
    """``[1, 3]``, or the first ``limit`` indices and how many there are in all."""
    if len(indices) <= limit:
        return str(indices)
    return f"{str(indices[:limit])[:-1]}, … ({len(indices)} in all)]"


#: How the target is scored (``explain(score=…)``): what ``S`` in ``∂S/∂x``, ``∂S/∂A`` is.
SCORES = {
    "logit": "the target's score before a final softmax (the Grad-CAM paper's choice)",
    "probability": "its softmax probability p_c: ∂p_c = p_c (∂z_c − Σ_k p_k ∂z_k), so the "
                   "gradient subtracts the evidence for competing classes",
}


def ends_in_softmax(model, output: int) -> bool:
    """True when output ``output`` of ``model`` is produced by a softmax layer / activation."""
    path = L.output_layer_paths(model)[output]
    return path is not None and L.activation_name(L._layer_at(model, path)) == "softmax"


def ends_in_logits(model, output: int) -> bool:
    """True when output ``output`` of ``model`` looks like logits: made by a layer with a linear
    activation (a ``Dense`` or conv without activation) and at least 2 units. A multi-output
    regression head looks the same; methods that weight by probabilities say how to opt out."""
    path = L.output_layer_paths(model)[output]
    if path is None:
        return False
    layer = L._layer_at(model, path)
    units = L.as_list(model.outputs)[output].shape[-1]
    return L.activation_name(layer) == "linear" and units is not None and units >= 2


def check_score(model, score, target, method=None) -> str:
    """``score`` checked for ``target`` (a :class:`~kerasviz.Target`) and ``method`` (a
    :class:`~kerasviz.methods.Method`, or None), before any TensorFlow work.

    Raises:
        ArgumentError: an unknown value, or ``"probability"`` for a method whose map does not read
            the score (``Method.scored`` False), a callable target or an output that does not end
            in a softmax.
    """
    from kerasviz import _validate
    from kerasviz.errors import ArgumentError

    _validate.one_of("score", score, SCORES)
    if score == "probability" and method is not None and not method.scored:
        raise ArgumentError(f"score='probability' does not apply to method {method.name!r}: its "
                            f"map does not read the target's score, so it would be the logit's "
                            f"map. Expected score='logit' for {method.name!r}, or a method that "
                            f"reads the score. Received: score={score!r}.")
    if score == "probability" and (target.fn is not None or not ends_in_softmax(model, target.output)):
        what = "a callable target" if target.fn is not None else \
            f"output {target.output} of model {model.name!r}, which does not end in a softmax"
        raise ArgumentError(f"score='probability' needs a class target on an output that ends in "
                            f"a softmax. Expected score='logit' for {what}. "
                            f"Received: score={score!r}.")
    return score


#: Compiled plans kept per model (least recently used dropped first).
MAX_PLANS = 32
_PLANS = model_cache()


def plan_for(model, method, layer: str | None, target, input_shape: tuple, options: dict,
             batch_size: int = DEFAULT_BATCH_SIZE, score: str = "logit") -> Plan:
    """The cached :class:`Plan` for this (model, layer, method, input shape, target kind,
    static option values, shapes of the graph-input options, batch size).

    The target's units and the graph-input options (:mod:`kerasviz.methods.options`) are graph
    inputs: other classes, seeds, noise levels or step counts do not re-trace. A callable
    target is keyed by its code and closure (:func:`_callable_key`). At most :data:`MAX_PLANS`
    plans are kept per model (least recently used dropped), in a cache emptied by
    :func:`kerasviz.clear_caches`.

    Args:
        options: every option of ``method``, checked (:meth:`Method.check`).
        score: :attr:`Plan.score`, checked (:func:`check_score`).

    Raises:
        ArgumentError: an array option that does not broadcast to one input (before any
            TensorFlow work).
    """
    for k, spec in method.specs.items():
        if hasattr(spec, "check_shape"):
            spec.check_shape(k, options[k], input_shape)
    opts = tuple(sorted((k, _option_key(v)) if method.specs[k].static else (k, np.shape(v))
                        for k, v in options.items()))
    tkey = ("fn", _callable_key(target.fn)) if target.fn is not None else target.key
    key = (layer, method.key, tuple(input_shape), tkey, opts, int(batch_size), score)
    cache = _PLANS.get(model)
    if cache is None:
        cache = _PLANS[model] = OrderedDict()
    plan = cache.get(key)
    if plan is None:
        plan = cache[key] = Plan(model, method, layer, target, input_shape, options, batch_size,
                                 score)
        if plan.saved_model is None:  # a SavedModel's explain signature is its own pass
            plan.clean = _clean_pass(model, layer, target, tuple(input_shape), tkey, score)
        while len(cache) > MAX_PLANS:
            cache.popitem(last=False)
    else:
        cache.move_to_end(key)
    plan.target = target  # same output / callable; labels and units may differ
    return plan


_PASSES = model_cache()


def _clean_pass(model, layer, target, input_shape: tuple, tkey, score: str) -> CleanPass:
    """The cached :class:`CleanPass` of (model, layer, input shape, target kind, score); at most
    :data:`MAX_PLANS` per model, as plans."""
    cache = _PASSES.get(model)
    if cache is None:
        cache = _PASSES[model] = OrderedDict()
    key = (layer, input_shape, tkey, score)
    clean = cache.get(key)
    if clean is None:
        clean = cache[key] = CleanPass(model, layer, target, input_shape, score)
        while len(cache) > MAX_PLANS:
            cache.popitem(last=False)
    else:
        cache.move_to_end(key)
    return clean


def check_layer_is_spatial(model, path: str) -> None:
    """Raise :class:`ModelError` unless layer ``path`` outputs ``(N, h, w, c)``."""
    shape = tuple(L.flatten(model).taps[path].shape)
    if len(shape) != 4:
        raise ModelError(f"Layer {path!r} outputs shape {shape}, not a 4-D (N, h, w, c) feature "
                         f"map, so a CAM method cannot use it. Expected a conv layer; "
                         f"layer=None picks {L.default_conv_layer(model)!r}.")
