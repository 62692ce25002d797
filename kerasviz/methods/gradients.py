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

from kerasviz.methods.options import Array, Int
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
def integrated_gradients(ctx, steps=Int(32, lo=1), baseline=Array(0.0)):
    """``grads = (x − x₀) · ∫₀¹ ∂S/∂x(x₀ + α(x − x₀)) dα`` by the trapezoidal rule on ``steps``
    intervals (``steps + 1`` gradient evaluations, batched in chunks: a graph loop).
    Completeness: ``Σ grads ≈ S(x) − S(x₀)``, the error shrinking as ``1/steps²`` for smooth
    models.

    Args:
        steps: number of intervals of the path integral (int ≥ 1).
        baseline: ``x₀``, a finite number or an array broadcastable to one input ``(H, W, C)``,
            in model-input space (after preprocessing).
    """
    x = ctx.x
    m = tf.cast(steps, tf.float32)
    base = tf.broadcast_to(tf.cast(baseline, tf.float32), tf.shape(x))
    diff = x - base
    shape = tf.shape(x)

    def chunk(start, count):
        k = tf.cast(tf.range(start, start + count), tf.float32)
        weight = tf.where((k == 0) | (k == m), 0.5 / m, 1.0 / m)
        xs = base[None] + (k / m)[:, None, None, None, None] * diff[None]
        g = ctx.on(tf.reshape(xs, tf.concat([[-1], shape[1:]], 0))).dx
        g = tf.reshape(g, tf.concat([[count], shape], 0))
        return tf.reduce_sum(g * weight[:, None, None, None, None], axis=0)

    return ctx.pixels(diff * ctx.sum_chunks(chunk, steps + 1, x), reduce="sum")
