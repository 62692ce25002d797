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

import numpy as np
import tensorflow as tf

from kerasviz.methods import register


@register("saliency", family="pixel", needs="input_grads",
          doc="Vanilla saliency: the gradient of the score w.r.t. the input pixels (Simonyan et al. 2014)")
def saliency(ctx):
    """``grads = ∂S/∂x``; map ``max_c |grads|``."""
    return ctx.pixels(ctx.dx)


@register("smoothgrad", family="pixel", needs="scores",
          doc="SmoothGrad: the gradient averaged over noisy copies of the input (Smilkov et al. 2017)")
def smoothgrad(ctx, samples=25, noise=0.15, seed=0):
    """``grads = mean_j ∂S/∂x (x + ε_j)``, ``ε_j ~ N(0, σ²)``, ``σ = noise · (max x − min x)`` per
    image. The noise of sample ``j`` is drawn from the stateless seed ``(seed, j)`` and is the same
    for every image, so results depend only on ``seed``, not on batching. Samples are batched in
    chunks (a graph loop).

    Args:
        samples: number of noisy copies (Smilkov et al. use 50).
        noise: noise level as a fraction of each image's value range (paper: 0.1–0.2).
        seed: integer seed of the noise.
    """
    x = ctx.x
    span = tf.reduce_max(x, axis=(1, 2, 3)) - tf.reduce_min(x, axis=(1, 2, 3))
    sigma = (float(noise) * span)[None, :, None, None, None]
    shape = tf.shape(x)[1:]

    def chunk(start, count):
        eps = tf.map_fn(lambda j: tf.random.stateless_normal(shape, tf.stack([int(seed), j])),
                        tf.range(start, start + count), fn_output_signature=tf.float32)
        xs = tf.reshape(x[None] + sigma * eps[:, None], tf.concat([[-1], shape], 0))
        g, _ = ctx.input_grads(xs, ctx.tile(ctx.units, count))
        return tf.reduce_sum(tf.reshape(g, tf.concat([[count], tf.shape(x)], 0)), axis=0)

    return ctx.pixels(ctx.sum_chunks(chunk, int(samples), x) / float(samples))


@register("gradxinput", family="pixel", needs="input_grads",
          doc="Gradient × input: first-order contribution of each input value (Shrikumar et al. 2016)")
def gradxinput(ctx):
    """``grads = x · ∂S/∂x``; map ``|Σ_c grads|``."""
    return ctx.pixels(ctx.x * ctx.dx, reduce="sum")


@register("integrated_gradients", family="pixel", needs="scores",
          doc="Integrated gradients: gradients along the path from a baseline, × (input − baseline) "
              "(Sundararajan et al. 2017)")
def integrated_gradients(ctx, steps=32, baseline=0.0):
    """``grads = (x − x₀) · ∫₀¹ ∂S/∂x(x₀ + α(x − x₀)) dα`` by the trapezoidal rule on ``steps``
    intervals (``steps + 1`` gradient evaluations, batched in chunks: a graph loop).
    Completeness: ``Σ grads ≈ S(x) − S(x₀)``, the error shrinking as ``1/steps²`` for smooth
    models.

    Args:
        steps: number of intervals of the path integral.
        baseline: ``x₀``, a number or an array broadcastable to one input ``(H, W, C)``, in
            model-input space (after preprocessing).
    """
    x = ctx.x
    m = int(steps)
    base = tf.broadcast_to(tf.constant(np.asarray(baseline, np.float32)), tf.shape(x))
    diff = x - base
    shape = tf.shape(x)

    def chunk(start, count):
        k = tf.cast(tf.range(start, start + count), tf.float32)
        alpha = k / m
        weight = tf.where((k == 0) | (k == m), 0.5 / m, 1.0 / m)
        xs = base[None] + alpha[:, None, None, None, None] * diff[None]
        xs = tf.reshape(xs, tf.concat([[-1], shape[1:]], 0))
        g, _ = ctx.input_grads(xs, ctx.tile(ctx.units, count))
        g = tf.reshape(g, tf.concat([[count], shape], 0))
        return tf.reduce_sum(g * weight[:, None, None, None, None], axis=0)

    return ctx.pixels(diff * ctx.sum_chunks(chunk, m + 1, x), reduce="sum")
