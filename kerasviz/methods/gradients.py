"""The gradient family: attributions per input pixel and channel from ``∂S/∂x``, where ``S`` is
the pre-softmax target score and ``x`` the model input (after preprocessing).

``grads`` (``(N, H, W, C)``) and the channel reduction of each method:

==========================  ======================================  ====================
method                      ``grads``                                map before scaling
==========================  ======================================  ====================
``saliency``                ``∂S/∂x``                                ``max_c |grads|``
``smoothgrad``              mean of ``∂S/∂x`` at noisy copies        ``max_c |grads|``
``gradxinput``              ``x · ∂S/∂x``                            ``|Σ_c grads|``
``integrated_gradients``    ``(x − x₀) · ∫₀¹ ∂S/∂x(x₀ + α(x − x₀))``   ``|Σ_c grads|``
==========================  ======================================  ====================

Warnings:
    Gradient × input and integrated gradients depend on the input's scale and the baseline: with
    Caffe-style preprocessing (VGG16, ResNet50) ``x = 0`` is the mean colour, not black.

References:
    Simonyan et al., "Deep Inside Convolutional Networks: Visualising Image Classification
    Models and Saliency Maps", ICLR-W 2014.
    Smilkov et al., "SmoothGrad: removing noise by adding noise", 2017.
    Shrikumar et al., "Not Just a Black Box: Learning Important Features Through Propagating
    Activation Differences", 2016 (gradient × input).
    Sundararajan et al., "Axiomatic Attribution for Deep Networks" (integrated gradients), ICML 2017.
"""
from __future__ import annotations

import math

import tensorflow as tf

from kerasviz.errors import ArgumentError
from kerasviz.methods import registry
from kerasviz.methods.options import Array, Choice, Float, Int
from kerasviz.methods.registry import register
from kerasviz.methods.tunnel import smooth


@register("saliency", uses_layer=False,
          doc="Vanilla saliency: the gradient of the score w.r.t. the input pixels (Simonyan et al. 2014)")
def saliency(ctx):
    """``grads = ∂S/∂x``; map ``max_c |grads|``."""
    return ctx.pixels(ctx.dx)


smoothgrad = register("smoothgrad", uses_layer=False,
                      doc="SmoothGrad: the gradient averaged over noisy copies of the input "
                          "(Smilkov et al. 2017)")(smooth("saliency"))
"""``grads = mean_j ∂S/∂x (x + ε_j)``: the noise tunnel (:mod:`kerasviz.methods.tunnel`) over
``saliency``, options ``samples=25``, ``noise=0.15`` (fraction of each image's value range; the
paper uses 0.1–0.2 and 50 samples), ``seed=0``; map ``max_c |grads|``."""


@register("gradxinput", uses_layer=False,
          doc="Gradient × input: first-order contribution of each input value (Shrikumar et al. 2016)")
def gradxinput(ctx):
    """``grads = x · ∂S/∂x``; map ``|Σ_c grads|``."""
    return ctx.pixels(ctx.x * ctx.dx, reduce="sum")


def _steps_within_max(values):
    """``max_steps`` below ``steps`` with a ``tolerance``: refused (the call could not refine)."""
    if values["tolerance"] > 0 and values["max_steps"] < values["steps"]:
        raise ArgumentError(
            f"Option max_steps={values['max_steps']} of method 'integrated_gradients' is below "
            f"steps={values['steps']}, so tolerance={values['tolerance']} could add no steps. "
            f"Expected max_steps >= steps: raise max_steps or lower steps.")


#: The most ``steps`` / ``max_steps`` integrated gradients accepts: step counts are int32, and a
#: refinement round doubles them (``2 · 2³⁰`` would wrap).
MAX_STEPS = 2 ** 30


def path_gradients_kept(values, input_shape) -> int:
    """Bytes the adaptive rule keeps per image: every path point's gradient, ``steps + 1``
    float32 arrays shaped like one input (:attr:`kerasviz.methods.registry.Method.held`)."""
    if values.get("rule", registry.get("integrated_gradients").specs["rule"].default) == "uniform":
        return 0  # gradcam_ig has no rule option: it runs integrated gradients' default
    return (int(values["steps"]) + 1) * 4 * math.prod(input_shape)


@register("integrated_gradients", uses_layer=False, relation=_steps_within_max, held=path_gradients_kept,
          doc="Integrated gradients: gradients along the path from a baseline, × (input − baseline) "
              "(Sundararajan et al. 2017)")
def integrated_gradients(ctx, steps=Int(32, lo=1, hi=MAX_STEPS), baseline=Array(0.0),
                         rule=Choice("adaptive", ("adaptive", "uniform")),
                         tolerance=Float(0.0, lo=0.0), max_steps=Int(1024, lo=1, hi=MAX_STEPS)):
    """``grads = (x − x₀) · ∫₀¹ ∂S/∂x(x₀ + α(x − x₀)) dα`` by the trapezoidal rule on ``steps``
    intervals of the path (``steps + 1`` gradient evaluations, batched in chunks: a graph loop;
    the last, α = 1, is the clean pass every method runs).

    Completeness (the paper's axiom): ``Σ grads = S(x) − S(x₀)`` for the exact integral. The
    rule's error in it is reported per image in ``Explanation.info``: ``completeness_error``
    ``|Σ grads − (S(x) − S(x₀))|``, ``score_change`` ``S(x) − S(x₀)`` (the scores at the path's
    end points: no extra pass) and ``steps`` (the intervals used). Along the path
    ``Σ (x − x₀) · ∂S/∂x`` is ``dS/dα``, so the error is the rule's error in integrating it.
    ReLU networks make ``dS/dα`` jump wherever a unit switches on the path, and a few large
    jumps decide a uniform grid's error, which need not shrink as the grid is refined.

    ``rule="adaptive"`` (default) places the points where the errors are: each evaluation gives
    ``∂S/∂x`` and ``S`` at its point, from which every interval's error in the score and an
    estimate of its error in the attributions follow (:func:`adaptive_trapezoid`). It starts from
    ``steps // 4`` equal intervals and bisects, in rounds of ``steps // 8`` points (at least 1), the
    intervals of largest error, per image, until it has ``steps`` intervals. It keeps each
    point's gradient ``(H, W, C)`` until the end, as the trapezoid weights of a point change when
    its neighbours come: ``steps + 1`` input-sized arrays per image of a chunk (a chunk takes at
    most ``batch_size`` images, and fewer where their arrays would pass
    :data:`~kerasviz.methods.base.HELD_BYTES`; not inside the noise tunnel, whose passes hold
    samples). ``rule="uniform"``: ``steps`` equal intervals, whose memory does not grow with
    ``steps``.

    Args:
        steps: intervals of the path integral (int in [1, :data:`MAX_STEPS`]).
        baseline: ``x₀``, a finite number or an array broadcastable to one input ``(H, W, C)``,
            in model-input space (after preprocessing).
        rule: ``"adaptive"`` (default) or ``"uniform"`` (above).
        tolerance: when > 0, halve every interval (``steps`` new evaluations the first time, the
            old ones reused) until ``completeness_error ≤ tolerance · |S(x) − S(x₀)|`` or
            ``max_steps`` would be passed; each image stops at its own count. 0 (default):
            ``steps`` intervals. A progress bar counts the most points the call may evaluate.
        max_steps: the most intervals ``tolerance`` may reach (int in [1, :data:`MAX_STEPS`]).
    """
    x = ctx.x
    base = tf.broadcast_to(tf.cast(baseline, tf.float32), tf.shape(x))
    diff = x - base
    shape = tf.shape(x)

    def at(alpha):
        """The context of the path points ``x₀ + α (x − x₀)``, ``alpha`` ``(count, n)`` or
        ``(count, 1)``, batched ``(count · n, H, W, C)`` sample-major."""
        xs = base[None] + alpha[:, :, None, None, None] * diff[None]
        return ctx.on(tf.reshape(xs, tf.concat([[-1], shape[1:]], 0)))

    def can_double(m):  # a refinement round doubles the intervals, m → 2m, within max_steps
        return m <= max_steps // 2  # (2 * m could wrap int32)

    # the most path points the call may evaluate (a refinement round adds as many as came
    # before): the progress bar counts every pass over this call's path as a part of them
    most = tf.where(tolerance > 0, tf.while_loop(can_double, lambda m: (2 * m,),
                                                 (tf.convert_to_tensor(steps),))[0], steps)
    entry = object()  # this call's entry in the progress bar: every pass over its path counts into it

    def integral(total, alpha, weight, at_baseline=False, done=0):
        """``Σ_k weight(k) · ∂S/∂x`` at ``alpha(k)`` over ``k < total`` (``alpha``, ``weight``:
        ``(count, n)`` or ``(count, 1)`` for ``k`` ``(count,)``); with ``at_baseline``, also the
        score ``(n,)`` at the point ``k = 0``, α = 0. ``done``: path points before (progress)."""
        def chunk(start, count):
            k = tf.range(start, start + count)
            path = at(alpha(k))
            g = tf.reshape(path.dx, tf.concat([[count], shape], 0))
            mean = tf.reduce_sum(g * weight(k)[:, :, None, None, None], axis=0)
            if not at_baseline:
                return mean
            return mean, tf.reduce_sum(tf.reshape(path.scores, [count, -1])
                                       * tf.cast(k == 0, tf.float32)[:, None], axis=0)

        return ctx.sum_chunks(chunk, total, (x, ctx.scores) if at_baseline else x,
                              report=(done, most, entry))

    def points(alpha, done):
        """At the path points ``alpha`` ``(count, n)``: ``∂S/∂x`` ``(count, n, H, W, C)`` and ``S``
        ``(count, n)``; ``done`` points came before (for the progress bar)."""
        def chunk(start, count):
            path = at(alpha[start:start + count])
            return (tf.reshape(path.dx, tf.concat([[count], shape], 0)),
                    tf.reshape(path.scores, [count, -1]))

        return ctx.concat_chunks(chunk, tf.shape(alpha)[0], outputs=2, report=(done, most, entry))

    # the last point, α = 1, is x itself: its gradient and score are the clean pass's, which every
    # method runs; the path adds the others (after the clean pass: run beside it, the path's first
    # chunk would hold its activations at the same time)
    with tf.control_dependencies([ctx.dx]):
        if rule == "uniform":
            m = tf.cast(steps, tf.float32)
            mean, at_baseline = integral(steps, lambda k: tf.cast(k, tf.float32)[:, None] / m,
                                         lambda k: tf.where(k == 0, 0.5 / m, 1.0 / m)[:, None],
                                         at_baseline=True)
            mean += ctx.dx * (0.5 / m)
            grid = tf.cast(tf.range(steps + 1), tf.float32)[None] / m  # (1, steps + 1)
        else:
            grid, mean, at_baseline = adaptive_trapezoid(points, ctx.dx, ctx.scores, diff, steps)
    change = ctx.scores - at_baseline  # S(x) − S(x₀), from no extra pass

    def error(mean_grad):
        return tf.abs(tf.reduce_sum(diff * mean_grad, axis=[1, 2, 3]) - change)

    err, used = error(mean), tf.fill(tf.shape(change), tf.convert_to_tensor(steps))
    limit = tf.cast(tolerance, tf.float32) * tf.abs(change)
    low, width = grid[:, :-1], grid[:, 1:] - grid[:, :-1]  # the grid's intervals (n or 1, steps)

    def refine(m, mean, err, used):
        """Halve every interval, ``T' = T / 2 + Σ_i (h_i / 2) ∂S/∂x(midpoint_i)``; ``m``
        intervals so far, each interval of the grid split into ``m / steps`` equal parts. Images
        already within the tolerance keep their result."""
        parts = m // steps
        half = tf.cast(2 * parts, tf.float32)

        def sub(k):  # the grid interval (start, width) holding sub-interval k, and k's place in it
            i = k // parts
            return (tf.transpose(tf.gather(low, i, axis=1)), tf.transpose(tf.gather(width, i, axis=1)),
                    tf.cast(k % parts, tf.float32)[:, None])

        def alpha(k):
            lo, h, j = sub(k)
            return lo + (2 * j + 1) * h / half

        finer = mean / 2 + integral(m, alpha, lambda k: sub(k)[1] / half, done=m)
        todo = err > limit
        return (2 * m, tf.where(todo[:, None, None, None], finer, mean),
                tf.where(todo, error(finer), err), tf.where(todo, 2 * m, used))

    def more(m, mean, err, used):
        return (tolerance > 0) & can_double(m) & tf.reduce_any(err > limit)

    _, mean, err, used = tf.while_loop(more, refine, (tf.convert_to_tensor(steps), mean, err, used))
    result = ctx.pixels(diff * mean, reduce="sum")
    result.info = {"completeness_error": err, "score_change": change, "steps": used}
    return result


#: Weight of an interval's share of the score's error beside its share of the attributions' error
#: estimate, when the adaptive rule ranks intervals (see :func:`adaptive_trapezoid`).
SCORE_SHARE = 0.25


def adaptive_trapezoid(points, grad_end, score_end, diff, steps):
    """The trapezoidal rule on a grid of ``steps`` intervals of [0, 1] refined where it errs.

    Each evaluation gives, at its point α, ``∂S/∂x`` and the score ``S``, hence its slope ``S' = Σ
    (x − x₀) ∂S/∂x``; two errors of an interval [a, b] of width ``h`` follow at no extra cost:

    * the score's, ``|h/2 (S'(a) + S'(b)) − (S(b) − S(a))|``: exactly what the interval adds to
      the completeness error;
    * the attributions', estimated by ``h/2 ‖(x − x₀)(∂S/∂x(b) − ∂S/∂x(a))‖₂``: along the path of
      a piecewise-linear network (ReLU, ReLU6, max-pooling) the gradient is piecewise constant,
      so an interval where no unit switches is exact, and one where the gradient jumps once, at
      ``t``, errs by ``(h/2 − (b − t))`` times that difference (the estimate is then a bound;
      jumps that undo each other inside one interval hide from it).

    Starts from ``steps // 4`` equal intervals (at least 1), then bisects, in rounds of
    ``steps // 8`` points (at least 1), each image's intervals of largest ``share of the
    attributions' estimate + SCORE_SHARE · share of the score's error`` (shares of the image's
    totals), until there are ``steps``. Errors at rounding level get a width term, ``1e-4 · h ·``
    the size of the quantity, so that among them the widest goes first.

    Args:
        points: ``alpha (count, n), done → (∂S/∂x (count, n, H, W, C), S (count, n))``.
        grad_end, score_end: ``∂S/∂x`` ``(n, H, W, C)`` and ``S`` ``(n,)`` at α = 1.
        diff: ``x − x₀`` ``(n, H, W, C)``.
        steps: int32 scalar ≥ 1.

    Returns:
        ``grid (n, steps + 1)`` (sorted, 0 … 1), ``∫₀¹ ∂S/∂x dα`` ``(n, H, W, C)`` and ``S(α = 0)``
        ``(n,)``.
    """
    n = tf.shape(score_end)[0]
    images = tf.range(n)
    first, per = tf.maximum(1, steps // 4), tf.maximum(1, steps // 8)

    def norm(t):  # ‖(x − x₀) t‖₂ per image: t (n, H, W, C) → (n,)
        return tf.sqrt(tf.reduce_sum(tf.square(diff * t), axis=[1, 2, 3]))

    def slope_at(g):  # S' = Σ (x − x₀) ∂S/∂x per image: g (n, H, W, C) → (n,)
        return tf.reduce_sum(g * diff, axis=[1, 2, 3])

    size_end = norm(grad_end)
    # point slots: 0 … steps − 1 in the order computed (slot 0: α = 0), slot steps: α = 1; a slot
    # not yet computed has α = 2, which sorts after 1. Per slot (steps + 1, n): α, S', S and
    # ‖(x − x₀)(∂S/∂x(next point) − ∂S/∂x(slot))‖; ∂S/∂x per (slot, image), element slot · n + image
    alpha = tf.concat([tf.fill([steps, n], 2.0), tf.ones([1, n])], 0)
    slope = tf.concat([tf.zeros([steps, n]), slope_at(grad_end)[None]], 0)
    score = tf.concat([tf.zeros([steps, n]), score_end[None]], 0)
    change = tf.zeros([steps + 1, n])
    grads = tf.TensorArray(tf.float32, size=(steps + 1) * n, element_shape=grad_end.shape[1:])
    grads = grads.scatter(steps * n + images, grad_end)

    def by_alpha(alpha):  # (steps + 1, n) → each image's slots in the order of their α (n, steps + 1)
        return tf.argsort(tf.transpose(alpha), axis=1, stable=True)

    def sorted_(order, t):  # a slot-indexed (steps + 1, n) in α order (n, steps + 1)
        return tf.gather(tf.transpose(t), order, batch_dims=1)

    def pairs(slots):  # (count, n) slots → (count · n, 2) (slot, image) indices
        return tf.reshape(tf.stack([slots, tf.broadcast_to(images, tf.shape(slots))], -1), [-1, 2])

    def per_image(t, columns):  # t[image, columns[j, image]]: t (n, m), columns (count, n) → (count, n)
        # (gathered, not transposed: oneDNN logs an error for every graph transposing int32)
        return tf.gather_nd(t, tf.stack([tf.broadcast_to(images, tf.shape(columns)), columns], -1))

    def bisections(alpha, slope, score, change, count):  # the midpoints to add (count, n)
        order = by_alpha(alpha)
        a, d, s, v = (sorted_(order, t) for t in (alpha, slope, score, change))
        h = a[:, 1:] - a[:, :-1]
        real = a[:, 1:] <= 1.0  # intervals between computed points

        def share(err, size):
            err = tf.where(real, err + 1e-4 * h * (size[:, None] + 1e-12), 0.0)
            return err / tf.reduce_sum(err, axis=1, keepdims=True)

        err = (share(h / 2 * v[:, :-1], size_end)
               + SCORE_SHARE * share(tf.abs(h / 2 * (d[:, 1:] + d[:, :-1]) - (s[:, 1:] - s[:, :-1])),
                                     tf.abs(score_end - score[0])))
        worst = tf.math.top_k(tf.where(real, err, -1.0), count).indices  # (n, count)
        return tf.transpose(tf.gather(a, worst, batch_dims=1) + tf.gather(a, worst + 1, batch_dims=1)) / 2

    def round_(done, alpha, slope, score, change, grads):
        count = tf.where(done == 0, first, tf.minimum(per, steps - done))
        new = tf.cond(done == 0,
                      lambda: tf.tile(tf.cast(tf.range(first), tf.float32)[:, None] / tf.cast(first, tf.float32), [1, n]),
                      lambda: bisections(alpha, slope, score, change, count))
        g, s = points(new, done)
        slots = tf.broadcast_to((done + tf.range(count))[:, None], [count, n])
        alpha = tf.tensor_scatter_nd_update(alpha, pairs(slots), tf.reshape(new, [-1]))
        grads = grads.scatter(tf.reshape(slots * n + images, [-1]), tf.reshape(g, tf.concat([[-1], tf.shape(g)[2:]], 0)))

        # each new point's neighbours in α (the point α = 0 is its own left one)
        order = by_alpha(alpha)
        place = per_image(tf.argsort(order, axis=1), slots)
        left, right = per_image(order, tf.maximum(place - 1, 0)), per_image(order, place + 1)

        def changes(j, to_left, to_right, slopes):  # point by point: two neighbours' gradients at a time
            gj = g[j]
            return (j + 1, to_left.write(j, norm(gj - grads.gather(left[j] * n + images))),
                    to_right.write(j, norm(grads.gather(right[j] * n + images) - gj)),
                    slopes.write(j, slope_at(gj)))

        _, to_left, to_right, slopes = tf.while_loop(
            lambda j, *_: j < count, changes,
            (tf.constant(0),) + tuple(tf.TensorArray(tf.float32, size=count) for _ in range(3)),
            parallel_iterations=1)
        # the left neighbours' intervals, then the new points' own: in the first round a slot is
        # both (and the point α = 0 its own left neighbour, with 0), so the second write decides
        change = tf.tensor_scatter_nd_update(change, pairs(left), tf.reshape(to_left.stack(), [-1]))
        change = tf.tensor_scatter_nd_update(change, pairs(slots), tf.reshape(to_right.stack(), [-1]))
        return (done + count, alpha, tf.tensor_scatter_nd_update(slope, pairs(slots), tf.reshape(slopes.stack(), [-1])),
                tf.tensor_scatter_nd_update(score, pairs(slots), tf.reshape(s, [-1])), change, grads)

    _, alpha, slope, score, change, grads = tf.while_loop(
        lambda done, *_: done < steps, round_, (tf.constant(0), alpha, slope, score, change, grads))
    # trapezoid weights on the sorted grid, (α_{j+1} − α_{j−1}) / 2, back in slot order
    order = by_alpha(alpha)
    a = sorted_(order, alpha)
    w_sorted = (tf.concat([a[:, 1:], a[:, -1:]], 1) - tf.concat([a[:, :1], a[:, :-1]], 1)) / 2
    w = tf.transpose(tf.gather(w_sorted, tf.argsort(order, axis=1), batch_dims=1))  # (steps + 1, n)

    def add(p, mean):  # one point at a time: no second copy of the stored gradients
        return p + 1, mean + w[p][:, None, None, None] * grads.gather(p * n + images)

    _, mean = tf.while_loop(lambda p, _: p <= steps, add, (tf.constant(0), tf.zeros_like(grad_end)))
    return a, mean, score[0]
