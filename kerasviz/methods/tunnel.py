"""The noise tunnel: SmoothGrad of any method (as captum's ``NoiseTunnel``).

``smooth(method)`` is a new method whose raw result is the mean of ``method``'s raw result over
noisy copies of the input::

    raw(x) = mean_j raw_method(x + ε_j),   ε_j ~ N(0, σ²),   σ = noise · (max x − min x) per image

For a CAM method the layer-resolution maps are averaged; for a pixel method the per-channel
``grads`` are averaged and then reduced over channels as the method does (so ``smooth("saliency")``
is SmoothGrad, Smilkov et al. 2017). The targets are the units resolved at the clean input. The
result is post-processed by the method's own rule.

The noise of sample ``j`` is drawn from the stateless seed ``(seed, j)`` and is the same for every
image, so results depend only on ``seed``, not on batching. Samples are batched in chunks of at
most ``batch_size`` model evaluations: a graph loop in the method's compiled graph.

Use it as ``explain(model, x, method="gradcam++", smooth=dict(samples=16, noise=0.1))`` or
``explain(model, x, method=kerasviz.methods.smooth("gradcam++", samples=16))``.

References:
    Smilkov et al., "SmoothGrad: removing noise by adding noise", 2017.
"""
from __future__ import annotations

import tensorflow as tf

from kerasviz.errors import ArgumentError, suggest
from kerasviz.methods import registry
from kerasviz.methods.options import Float, Int, Seed

#: The tunnel's settings and their defaults (``smooth(method, **settings)``).
SETTINGS = {"samples": 25, "noise": 0.15, "seed": 0}


def smooth(method, **settings) -> registry.Method:
    """The noise-tunnel version of ``method`` (see the module docstring).

    Args:
        method: a method name or :class:`kerasviz.methods.Method`.
        **settings: defaults of the new method's options ``samples`` (int ≥ 1, default 25),
            ``noise`` (fraction of each image's value range, ≥ 0, default 0.15) and ``seed``
            (int in [0, 2³¹ − 1], default 0). The method's own options keep their defaults.

    Returns:
        A :class:`kerasviz.methods.Method` named ``"smooth(<method>)"`` with the options of
        ``method`` plus ``samples``, ``noise`` and ``seed`` (graph inputs: new values do not
        recompile). Not registered; pass it as ``method=``.

    Raises:
        ArgumentError: an unknown setting or a value out of range, or a method that already has
            an option called ``samples``, ``noise`` or ``seed``.
        UnknownMethodError: an unknown method name.
    """
    inner = registry.get(method)
    for k in settings:
        if k not in SETTINGS:
            raise ArgumentError(f"Unknown noise-tunnel setting {k!r}. Expected keys among "
                                f"{sorted(SETTINGS)}. Received: smooth={settings!r}. "
                                f"{suggest(k, SETTINGS)}".rstrip())
    clash = sorted(set(SETTINGS) & set(inner.specs))
    if clash:
        raise ArgumentError(f"Method {inner.name!r} has its own option(s) {clash}, so it cannot "
                            f"be smoothed. Expected a method without them. Received: "
                            f"method={inner.name!r}.")
    specs = {"samples": Int(SETTINGS["samples"], lo=1), "noise": Float(SETTINGS["noise"], lo=0.0),
             "seed": Seed(SETTINGS["seed"])}
    specs = {**{k: s.with_default(s.check(k, settings[k])) if k in settings else s
                for k, s in specs.items()}, **inner.specs}

    def tunnel(ctx, samples, noise, seed, **options):
        x = ctx.x
        span = tf.reduce_max(x, axis=(1, 2, 3)) - tf.reduce_min(x, axis=(1, 2, 3))
        sigma = (tf.cast(noise, tf.float32) * span)[None, :, None, None, None]
        shape = tf.shape(x)[1:]
        found = {}  # what the method returns, seen when the loop body is traced

        def chunk(start, count):
            seeds = tf.stack([tf.fill([count], tf.cast(seed, tf.int32)),
                              tf.range(start, start + count)], axis=1)
            eps = tf.map_fn(lambda sd: tf.random.stateless_normal(shape, sd), seeds,
                            fn_output_signature=tf.float32)
            xs = tf.reshape(x[None] + sigma * eps[:, None], tf.concat([[-1], shape], 0))
            result = inner.fn(ctx.on(xs), **options)
            value = result.raw if result.grads is None else result.grads
            found.update(reduce=result.reduce, shape=value.shape[1:])
            per_sample = tf.reshape(value, tf.concat([[count, -1], tf.shape(value)[1:]], 0))
            return tf.reduce_sum(per_sample, axis=0)[None]

        total = tf.reduce_sum(ctx.concat_chunks(chunk, samples), axis=0)
        mean = tf.ensure_shape(total, [None, *found["shape"]]) / tf.cast(samples, tf.float32)
        return ctx.cam(mean) if found["reduce"] is None else ctx.pixels(mean, found["reduce"])

    return registry.Method(f"smooth({inner.name})", tunnel, f"{inner.doc}, smoothed by the noise "
                           "tunnel (Smilkov et al. 2017)", inner.uses_layer, inner.postprocess,
                           specs, key=("smooth", inner.key), scored=inner.scored,
                           relation=inner.relation)
