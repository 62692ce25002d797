"""Black-box methods: maps from forward passes only (no gradient, no layer), so they explain any
model kerasviz can run, a SavedModel without usable gradients included.

Both are *pixel* methods: ``raw`` is a signed ``float32 (n, H, W)`` map at the input's
resolution and ``grads`` spreads it evenly over the ``C`` channels (``Σ_c grads = raw``); the
map is ``|raw|`` min-max scaled per image. Every model evaluation goes through
``ctx.model_scores`` inside one graph loop over chunks of at most ``batch_size`` evaluations.

References:
    Zeiler & Fergus, "Visualizing and Understanding Convolutional Networks", ECCV 2014
    (occlusion).
    Petsiuk, Das & Saenko, "RISE: Randomized Input Sampling for Explanation of Black-box
    Models", BMVC 2018.
"""
from __future__ import annotations

import tensorflow as tf

from kerasviz.methods.options import Float, Int, Seed
from kerasviz.methods.registry import register


def _spread(ctx, raw):
    """A pixel result whose ``grads`` ``(n, H, W, C)`` split ``raw`` ``(n, H, W)`` evenly over
    the channels (so the ``"sum"`` reduction gives ``raw`` back)."""
    c = tf.shape(ctx.x)[3]
    grads = tf.repeat(raw[..., None] / tf.cast(c, tf.float32), c, axis=3)
    return ctx.pixels(grads, reduce="sum")


def _windows(size, patch, stride):
    """``float32 (k, size)`` 0/1 rows: the 1-D windows of length ``patch`` at ``0, stride, …``,
    the last one moved to end at ``size`` (so that every position is covered when
    ``stride ≤ patch``)."""
    patch = tf.minimum(patch, size)
    count = (size - patch + stride - 1) // stride + 1
    starts = tf.minimum(tf.range(count) * stride, size - patch)[:, None]
    pos = tf.range(size)[None]
    return tf.cast((pos >= starts) & (pos < starts + patch), tf.float32)


@register("occlusion", uses_layer=False,
          doc="Occlusion: the score drop when a sliding square patch is replaced by a baseline "
              "value (Zeiler & Fergus 2014)")
def occlusion(ctx, patch=Int(8, lo=1), stride=Int(4, lo=1), baseline=Float(0.0)):
    """For each patch position j (a ``patch × patch`` square moved by ``stride`` pixels in both
    directions; the last row and column of positions end at the image's edge, so every pixel is
    covered), ``d_j = S(x) − S(x_j)`` with ``x_j`` = ``x`` whose patch is set to ``baseline`` in
    every channel, ``S`` the target score (pre-softmax, as for the other methods)::

        raw_ij = Σ_j d_j · M_j(i, j) / Σ_j M_j(i, j)      (M_j: 1 inside patch j)

    the mean drop over the patches covering the pixel (captum's ``Occlusion``); 0 for pixels no
    patch covers (between patches when ``stride > patch``). One forward pass per position:
    ``⌈(H − patch) / stride⌉ + 1`` times the same along W.

    Args:
        patch: side of the square patch in pixels (int ≥ 1; clipped to the image's size).
        stride: step between patch positions in pixels (int ≥ 1).
        baseline: the value the patch is filled with, in model-input space (after
            preprocessing; 0 is black for inputs in [0, 1]).
    """
    x = ctx.x
    rows = _windows(tf.shape(x)[1], patch, stride)  # (ny, H)
    cols = _windows(tf.shape(x)[2], patch, stride)  # (nx, W)
    nx = tf.shape(cols)[0]
    fill = tf.cast(baseline, tf.float32)

    def chunk(start, count):
        j = tf.range(start, start + count)
        m = tf.gather(rows, j // nx)[:, :, None] * tf.gather(cols, j % nx)[:, None, :]  # (k, H, W)
        mk = m[:, None, :, :, None]
        xs = x[None] * (1.0 - mk) + fill * mk  # (k, n, H, W, C)
        xs = tf.reshape(xs, tf.concat([[-1], tf.shape(x)[1:]], 0))
        s = tf.reshape(ctx.model_scores(xs, ctx.tile(ctx.units, count)), [count, -1])
        return tf.einsum("kn,khw->nhw", ctx.scores[None] - s, m)

    total = tf.shape(rows)[0] * nx
    drops = ctx.sum_chunks(chunk, total, x[..., 0])
    cover = tf.reduce_sum(rows, 0)[:, None] * tf.reduce_sum(cols, 0)[None, :]  # Σ_j M_j
    return _spread(ctx, tf.math.divide_no_nan(drops, cover[None]))  # 0 where no patch reaches


def rise_masks(start, count, size, cells, p, seed):
    """``float32 (count, H, W)`` RISE masks number ``start … start + count − 1`` in [0, 1]: a
    ``cells × cells`` grid of 0/1 cells (1 with probability ``p``), bilinearly upsampled to
    ``(cells + 1) · ⌈H / cells⌉`` (same along W) and cropped to ``(H, W)`` at a random shift
    below one cell. Mask i depends only on ``(seed, i)`` (stateless random numbers), not on the
    batching."""
    h, w = size[0], size[1]
    ch, cw = (h + cells - 1) // cells, (w + cells - 1) // cells
    big = tf.stack([(cells + 1) * ch, (cells + 1) * cw])

    def one(i):
        sd = tf.stack([tf.cast(seed, tf.int32), i])
        grid = tf.cast(tf.random.stateless_uniform([cells, cells, 1], sd) < p, tf.float32)
        up = tf.image.resize(grid, big, method="bilinear")
        shift = tf.random.stateless_uniform([2], sd + [0, 2 ** 30], 0, 2 ** 30, tf.int32)
        dy, dx = shift[0] % ch, shift[1] % cw
        return up[dy:dy + h, dx:dx + w, 0]

    return tf.map_fn(one, tf.range(start, start + count), fn_output_signature=tf.float32)


@register("rise", uses_layer=False,
          doc="RISE: the class probability on randomly masked inputs, averaged per pixel over "
              "the masks that keep it (Petsiuk et al. 2018)")
def rise(ctx, masks=Int(1000, lo=1), cells=Int(7, lo=1), p=Float(0.5, lo=0.0, hi=1.0, lo_open=True),
         seed=Seed(0), baseline=Float(0.0)):
    """``raw = Σ_i f(x ⊙ M_i) · M_i / (masks · p)`` (the paper's Eq. 6: a Monte-Carlo estimate of
    ``E[f(x ⊙ M) | M(λ) = 1]``), with ``M_i`` from :func:`rise_masks` (the same masks for every
    image) and ``f`` the softmax probability of the target when the explained output ends in a
    softmax or in logits (as in the paper; Score-CAM does the same), else the target score. One forward pass
    per mask.

    Args:
        masks: number of random masks (int ≥ 1; the paper uses 4000–8000 on ImageNet).
        cells: the masks' grid is ``cells × cells`` (int ≥ 1; 7 in the paper).
        p: probability that a grid cell is kept (in (0, 1]; 0.5 in the paper).
        seed: seed of the masks (int in [0, 2³¹ − 1]).
    """
    x = ctx.x
    keep, fill = tf.cast(p, tf.float32), tf.cast(baseline, tf.float32)

    def chunk(start, count):
        m = rise_masks(start, count, tf.shape(x)[1:3], cells, keep, seed)  # (k, H, W)
        mk = m[:, None, :, :, None]
        xs = tf.reshape(x[None] * mk + fill * (1.0 - mk), tf.concat([[-1], tf.shape(x)[1:]], 0))
        s = ctx.model_scores(xs, ctx.tile(ctx.units, count), probability=True)
        return tf.einsum("kn,khw->nhw", tf.reshape(s, [count, -1]), m)

    total = ctx.sum_chunks(chunk, masks, x[..., 0])
    return _spread(ctx, total / (tf.cast(masks, tf.float32) * keep))
