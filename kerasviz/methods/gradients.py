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

import tensorflow as tf

from kerasviz.methods.options import Array, Float, Int
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


@register("integrated_gradients", uses_layer=False,
          doc="Integrated gradients: gradients along the path from a baseline, × (input − baseline) "
              "(Sundararajan et al. 2017)")
def integrated_gradients(ctx, steps=Int(32, lo=1), baseline=Array(0.0),
                         tolerance=Float(0.0, lo=0.0), max_steps=Int(1024, lo=1)):
    """``grads = (x − x₀) · ∫₀¹ ∂S/∂x(x₀ + α(x − x₀)) dα`` by the trapezoidal rule on ``steps``
    intervals (``steps + 1`` gradient evaluations, batched in chunks: a graph loop; the last,
    α = 1, is the clean pass every method runs).

    Completeness (the paper's axiom): ``Σ grads = S(x) − S(x₀)`` for the exact integral. The
    rule's error in it is reported per image in ``Explanation.info``: ``completeness_error``
    ``|Σ grads − (S(x) − S(x₀))|``, ``score_change`` ``S(x) − S(x₀)`` (the scores at the path's
    end points: no extra pass) and ``steps`` (the intervals used). Along the path
    ``Σ (x − x₀) · ∂S/∂x`` is ``d S / dα``, so the error is the rule's error in integrating it:
    ``O(1/steps²)`` for a smooth model; ReLU networks make ``d S / dα`` jump at every unit that
    switches on the path, and there the error shrinks as ``1/steps`` (with signs that mostly
    cancel, where a one-sided Riemann sum's add up).

    Args:
        steps: intervals of the path integral (int ≥ 1).
        baseline: ``x₀``, a finite number or an array broadcastable to one input ``(H, W, C)``,
            in model-input space (after preprocessing).
        tolerance: when > 0, halve the intervals (``steps`` new evaluations each time, the old
            ones reused) until ``completeness_error ≤ tolerance · |S(x) − S(x₀)|`` or
            ``max_steps`` would be passed; each image stops at its own count, so its result does
            not depend on the other images of the batch. 0 (default): ``steps`` intervals.
        max_steps: the most intervals ``tolerance`` may reach (int ≥ 1).
    """
    x = ctx.x
    base = tf.broadcast_to(tf.cast(baseline, tf.float32), tf.shape(x))
    diff = x - base
    shape = tf.shape(x)

    def integral(total, alpha, weight, at_baseline=False):
        """``Σ_k weight(k) · ∂S/∂x(x₀ + alpha(k) · (x − x₀))`` over ``k < total``; with
        ``at_baseline``, also ``S(x₀)`` ``(n,)``, the score at the point ``k = 0`` (α = 0)."""
        def chunk(start, count):
            k = tf.cast(tf.range(start, start + count), tf.float32)
            xs = base[None] + alpha(k)[:, None, None, None, None] * diff[None]
            path = ctx.on(tf.reshape(xs, tf.concat([[-1], shape[1:]], 0)))
            g = tf.reshape(path.dx, tf.concat([[count], shape], 0))
            mean = tf.reduce_sum(g * weight(k)[:, None, None, None, None], axis=0)
            if not at_baseline:
                return mean
            return mean, tf.reduce_sum(tf.reshape(path.scores, [count, -1])
                                       * tf.cast(k == 0, tf.float32)[:, None], axis=0)

        return ctx.sum_chunks(chunk, total, (x, ctx.scores) if at_baseline else x)

    def error(mean_grad):
        return tf.abs(tf.reduce_sum(diff * mean_grad, axis=[1, 2, 3]) - change)

    # the trapezoidal rule's last point, α = 1, is x itself: its gradient and score are the
    # clean pass's, which every method runs; the path adds the points α = 0 … (steps − 1) / steps
    # (after the clean pass: run beside it, the path's first chunk would hold its activations
    # at the same time)
    m = tf.cast(steps, tf.float32)
    with tf.control_dependencies([ctx.dx]):
        mean, at_baseline = integral(steps, lambda k: k / m,
                                     lambda k: tf.where(k == 0, 0.5 / m, 1.0 / m), at_baseline=True)
    mean += ctx.dx * (0.5 / m)
    change = ctx.scores - at_baseline  # S(x) − S(x₀), from no extra pass
    err, used = error(mean), tf.fill(tf.shape(change), tf.convert_to_tensor(steps))
    limit = tf.cast(tolerance, tf.float32) * tf.abs(change)

    def refine(n, mean, err, used):
        """Halve the intervals: T_2n = T_n / 2 + (1 / 2n) Σ_j ∂S/∂x at the n midpoints; images
        already within the tolerance keep their result."""
        n2 = 2.0 * tf.cast(n, tf.float32)
        finer = mean / 2 + integral(n, lambda k: (2 * k + 1) / n2, lambda k: tf.fill(tf.shape(k), 1 / n2))
        todo = err > limit
        return (2 * n, tf.where(todo[:, None, None, None], finer, mean),
                tf.where(todo, error(finer), err), tf.where(todo, 2 * n, used))

    def more(n, mean, err, used):
        return (tolerance > 0) & (2 * n <= max_steps) & tf.reduce_any(err > limit)

    _, mean, err, used = tf.while_loop(more, refine, (tf.convert_to_tensor(steps), mean, err, used))
    result = ctx.pixels(diff * mean, reduce="sum")
    result.info = {"completeness_error": err, "score_change": change, "steps": used}
    return result
