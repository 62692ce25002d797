"""Grad-CAM times a pixel attribution: Guided Grad-CAM's idea (Selvaraju et al. 2017, Sec. 3.1)
with integrated gradients as the pixel factor instead of guided backpropagation.

Grad-CAM's map has the layer's resolution (7 × 7 on a 224-px ImageNet network): an object
narrower than one cell is spread over the cell and its neighbours. Multiplying by a pixel
attribution sharpens it to the pixels that carry the evidence; integrated gradients, unlike
guided backpropagation, passes the model-randomisation sanity check (Adebayo et al. 2018), and a
light blur keeps the product from being as speckled as the raw gradients. The settings are fixed
in advance, not tuned on a data set: the blur's σ is :data:`BLUR_SIGMA_PER_PIXEL` of the input's
width (4 px on a 224-px input, 1/8 of a 7 × 7 cell), integrated gradients' defaults otherwise.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from kerasviz.methods import registry
from kerasviz.methods.gradients import MAX_STEPS, path_gradients_kept
from kerasviz.methods.options import Array, Int
from kerasviz.methods.registry import register

#: σ of the Gaussian blur of the integrated-gradients factor, per pixel of input width.
BLUR_SIGMA_PER_PIXEL = 4 / 224


def gaussian_blur(images, sigma: float):
    """Per-channel Gaussian blur of ``images`` ``float32 (n, H, W, C)`` (``C`` static) with
    standard deviation ``sigma`` pixels (a Python float), zero padding, kernel radius ``⌈3σ⌉``."""
    r = max(1, int(np.ceil(3 * sigma)))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k = (k / k.sum()).astype(np.float32)
    c = images.shape[-1]
    rows = tf.constant(np.tile(k[:, None, None, None], (1, 1, c, 1)))
    cols = tf.constant(np.tile(k[None, :, None, None], (1, 1, c, 1)))
    out = tf.nn.depthwise_conv2d(images, rows, [1, 1, 1, 1], "SAME")
    return tf.nn.depthwise_conv2d(out, cols, [1, 1, 1, 1], "SAME")


@register("gradcam_ig", uses_layer=True, postprocess="pixel", held=path_gradients_kept,
          doc="Grad-CAM × lightly blurred |integrated gradients|: Guided Grad-CAM with a pixel "
              "factor that passes the sanity checks (kerasviz)")
def gradcam_ig(ctx, steps=Int(32, lo=1, hi=MAX_STEPS), baseline=Array(0.0)):
    """``grads = G · blur_σ(|IG_c|)`` with ``G`` the ``gradcam`` map (CAM rule: ReLU, bilinear
    resize, min-max) and ``IG_c`` integrated gradients' per-channel attribution (``steps``,
    ``baseline`` as there), σ = :data:`BLUR_SIGMA_PER_PIXEL` × the input's width; map
    ``max_c grads`` min-max scaled."""
    ig = registry.get("integrated_gradients")(ctx, steps=steps, baseline=baseline).grads
    sigma = BLUR_SIGMA_PER_PIXEL * max(ctx.x.shape[1], ctx.x.shape[2])
    return ctx.pixels(gaussian_blur(tf.abs(ig), sigma) * ctx.maps_of("gradcam")[..., None])
