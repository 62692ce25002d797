"""The CAM family: a map at a conv layer's resolution, ``raw = Σ_k w_k · A_k`` or a per-position
variant, computed from the layer's activations ``A (n, h, w, c)`` and, for most, the gradient
``dA = ∂S/∂A`` of the (pre-softmax) target score ``S``.

Notation below: ``A_ij^k`` activation of channel k at (i, j), ``g_ij^k = ∂S/∂A_ij^k``.

References:
    Zhou et al., "Learning Deep Features for Discriminative Localization" (CAM), CVPR 2016.
    Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via Gradient-based
    Localization", ICCV 2017.
    Chattopadhay et al., "Grad-CAM++: Generalized Gradient-based Visual Explanations for Deep
    Convolutional Networks", WACV 2018 (arXiv:1710.11063).
    Fu et al., "Axiom-based Grad-CAM" (XGrad-CAM), BMVC 2020.
    Jiang et al., "LayerCAM: Exploring Hierarchical Class Activation Maps", IEEE TIP 2021.
    Draelos & Carin, "Use HiResCAM instead of Grad-CAM for faithful explanations", 2020.
    Muhammad & Yeasin, "Eigen-CAM: Class Activation Map using Principal Components", IJCNN 2020.
    Wang et al., "Score-CAM: Score-Weighted Visual Explanations for CNNs", CVPR-W 2020; its
    code's "Faster Score-CAM" note (keep the channels of largest activation variance).
    Feng, Zhu, Stanković & Ji, "Cluster-CAM: Cluster-Weighted Visual Interpretation of CNNs'
    Decision in Image Classification", arXiv:2302.01642, 2023 (K-means groups of channels).
    Desai & Ramaswamy, "Ablation-CAM: Visual Explanations for Deep Convolutional Network via
    Gradient-free Localization", WACV 2020.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from kerasviz import _keras_compat as K
from kerasviz.core import layers as L
from kerasviz.errors import ModelError, TargetError
from kerasviz.methods.base import normalise
from kerasviz.methods.options import Choice, Int
from kerasviz.methods.registry import register


def _gap_dense(model, layer: str, output: int):
    """The Dense layer of a ``GlobalAveragePooling2D → Dense`` head producing ``output``."""
    flat = L.flatten(model)
    head = L.output_layer_paths(model)[output]
    dense = L._layer_at(model, head) if head else None
    problem = None
    if not isinstance(dense, keras.layers.Dense):
        problem = f"its output is made by {type(dense).__name__}, not Dense"
    else:
        src = K.source_layer(K.input_tensor(flat.taps[head]), skip=(keras.layers.Dropout,))
        channels = flat.taps[layer].shape[-1]
        if not isinstance(src, keras.layers.GlobalAveragePooling2D):
            problem = f"the Dense layer's input comes from {type(src).__name__}, not GlobalAveragePooling2D"
        elif dense.kernel.shape[0] != channels:
            problem = (f"layer {layer!r} has {channels} channels but the Dense layer takes "
                       f"{dense.kernel.shape[0]}")
    if problem:
        raise ModelError(f"method='cam' needs a GlobalAveragePooling2D → Dense head (Zhou et al.); "
                         f"in model {model.name!r} {problem}. Use method='gradcam', which equals "
                         f"CAM on such heads and works on any model.")
    return dense


@register("cam", uses_layer=True, scored=False,
          doc="CAM: channels weighted by the GAP→Dense head's weights of the class (Zhou et al. 2016)")
def cam(ctx):
    """``raw = Σ_k W[k, c] A^k`` with ``W`` the kernel of the Dense layer after global average
    pooling (bias left out). Needs a GAP → Dense head; equals Grad-CAM there."""
    if ctx.units is None:
        raise TargetError("method='cam' needs a class / unit target (the head's weights of that "
                          "unit), not a callable. Use method='gradcam' for callable targets.")
    dense = _gap_dense(ctx.plan.model, ctx.plan.layer, ctx.plan.target.output)
    weights = tf.gather(tf.convert_to_tensor(dense.kernel), ctx.units, axis=1)  # (c, n)
    return ctx.cam(ctx.weighted(tf.transpose(weights)))


@register("gradcam", uses_layer=True,
          doc="Grad-CAM: channels weighted by their spatially averaged gradient (Selvaraju et al. 2017)")
def gradcam(ctx):
    """``w_k = mean_ij g_ij^k``; ``raw = Σ_k w_k A^k`` (the paper's ReLU is applied in ``maps``)."""
    return ctx.cam(ctx.weighted(tf.reduce_mean(ctx.dA, axis=(1, 2))))


@register("gradcam++", uses_layer=True,
          doc="Grad-CAM++: positive gradients weighted per position, paper Eq. 19 with Eq. 10 "
              "(Chattopadhay et al. 2018)")
def gradcam_plus_plus(ctx):
    """Grad-CAM++ as in the paper's Eq. 19 (exponential of the score, so the 2nd and 3rd
    derivatives are powers of the 1st) and Eq. 10 (weights)::

        α_ij^k = g_ij^k² / (2 g_ij^k² + Σ_ab A_ab^k · g_ij^k³)      (0 where the denominator is 0)
        w_k    = Σ_ij α_ij^k · relu(g_ij^k)
        raw    = Σ_k w_k A^k

    The factor ``exp(S)`` of Eq. 10's ``relu(∂Y/∂A) = exp(S)·relu(g)`` is one positive constant per
    image and is left out (it does not change the normalised map and overflows for large scores).
    """
    g = ctx.dA
    g2 = tf.square(g)
    denom = 2.0 * g2 + tf.reduce_sum(ctx.A, axis=(1, 2), keepdims=True) * g2 * g
    alpha = tf.math.divide_no_nan(g2, denom)
    return ctx.cam(ctx.weighted(tf.reduce_sum(alpha * tf.nn.relu(g), axis=(1, 2))))


@register("xgradcam", uses_layer=True,
          doc="XGrad-CAM: gradients weighted by the normalised activations (Fu et al. 2020)")
def xgradcam(ctx):
    """``w_k = Σ_ij (A_ij^k / Σ_ab A_ab^k) · g_ij^k``; ``raw = Σ_k w_k A^k``."""
    total = tf.reduce_sum(ctx.A, axis=(1, 2), keepdims=True)
    share = tf.math.divide_no_nan(ctx.A, total)
    return ctx.cam(ctx.weighted(tf.reduce_sum(share * ctx.dA, axis=(1, 2))))


@register("layercam", uses_layer=True,
          doc="LayerCAM: activations weighted by their positive gradient, per position (Jiang et al. 2021)")
def layercam(ctx):
    """``raw_ij = Σ_k relu(g_ij^k) · A_ij^k``."""
    return ctx.cam(tf.reduce_sum(tf.nn.relu(ctx.dA) * ctx.A, axis=-1))


@register("hirescam", uses_layer=True,
          doc="HiResCAM: gradient × activation summed over channels, per position (Draelos & Carin 2020)")
def hirescam(ctx):
    """``raw_ij = Σ_k g_ij^k · A_ij^k`` (its spatial sum is the first-order Taylor term of S)."""
    return ctx.cam(tf.reduce_sum(ctx.dA * ctx.A, axis=-1))


@register("eigencam", uses_layer=True, scored=False,
          doc="Eigen-CAM: projection on the first principal direction of the activations; "
              "class-agnostic (Muhammad & Yeasin 2020)")
def eigencam(ctx):
    """``A`` as a ``(h·w, c)`` matrix, not centred (as in the paper); ``raw`` is its projection on
    the first right singular vector, the sign chosen so that ``raw`` correlates positively with the
    channel-summed activation (the SVD's sign is arbitrary). Ignores the target."""
    a = ctx.A
    flat = tf.reshape(a, [tf.shape(a)[0], -1, tf.shape(a)[3]])
    _, _, v = tf.linalg.svd(flat, full_matrices=False)
    proj = tf.einsum("npc,nc->np", flat, v[:, :, 0])
    sign = tf.sign(tf.reduce_sum(proj * tf.reduce_sum(flat, -1), axis=1, keepdims=True))
    proj = proj * tf.where(sign == 0, 1.0, sign)
    return ctx.cam(tf.reshape(proj, tf.shape(a)[:3]))


@register("scorecam", uses_layer=True,
          doc="Score-CAM: channels weighted by the class probability of the input masked by "
              "each channel (Wang et al. 2020)")
def scorecam(ctx, max_channels=Int(None, lo=1, static=True), groups=Int(None, lo=1, static=True),
             weights=Choice("probability", ("probability", "logit"))):
    """For each channel k: ``M_k`` = upsampled ``A^k`` min-max scaled to [0, 1];
    ``w_k = p_c(x ⊙ M_k)``, the softmax probability of the target class on the masked input (the
    authors' code and tf-keras-vis; some ports softmax the logits over channels instead);
    ``raw = Σ_k w_k A^k``. One forward pass per channel, batched in chunks of ``batch_size``
    model evaluations (a graph loop).

    Args:
        max_channels: use only this many channels per image (int ≥ 1), those with the largest
            spatial variance of activation (Faster Score-CAM); None = all channels. One compiled
            graph per value (it sets a tensor's shape).
        groups: cluster the channels into this many groups by K-means on their min-max scaled
            maps (:func:`channel_groups`, after Cluster-CAM, which builds its map from the groups
            differently) and run one forward pass per group, masked by the group's mean map;
            every channel gets its group's weight, so all channels still make the map (Faster
            Score-CAM drops the others). None = one pass per channel. One graph per value.
            With ``max_channels`` too, the kept channels are grouped.
        weights: ``"probability"`` (default): ``p_c`` in [0, 1], a softmax over the output's
            logits whether the model ends in a softmax or in logits (a ``Dense`` of ≥ 2 units
            without activation); for other outputs (sigmoid, one unit, regression) and callable
            targets, the target score itself. ``"logit"``: the target's pre-softmax score
            ``z_c`` (pass it for a linear multi-output regression head, which looks like logits).
    """
    a = ctx.A
    c = a.shape[-1]
    k = c if max_channels is None else min(max_channels, c)
    var = tf.math.reduce_variance(a, axis=(1, 2))
    idx = tf.math.top_k(var, k=k).indices if k < c else tf.tile(tf.range(c)[None], [tf.shape(a)[0], 1])
    ak = tf.gather(a, idx, axis=3, batch_dims=1)  # (n, h, w, k)
    labels, masks = channel_groups(ak, groups) if groups is not None and groups < k else (None, ak)

    def chunk(start, count):
        m = normalise(ctx.upsample(masks[..., start:start + count]))  # (n, H, W, count) in [0, 1]
        xs = ctx.x[None] * tf.transpose(m, [3, 0, 1, 2])[..., None]  # (count, n, H, W, C)
        xs = tf.reshape(xs, tf.concat([[-1], tf.shape(ctx.x)[1:]], 0))
        s = ctx.model_scores(xs, ctx.tile(ctx.units, count), weights == "probability")
        return tf.reshape(s, [count, -1])

    w = tf.transpose(ctx.concat_chunks(chunk, masks.shape[-1]))  # (n, passes)
    if labels is not None:
        w = tf.gather(w, labels, batch_dims=1)  # (n, k): each channel its group's weight
    return ctx.cam(tf.einsum("nhwk,nk->nhw", ak, w))


def channel_groups(a, groups: int, iterations: int = 10):
    """K-means of the channels of ``a`` ``float32 (n, h, w, k)``, per image, by their maps
    min-max scaled to [0, 1]: farthest-point initialisation from the map of largest norm, then
    ``iterations`` Lloyd steps (deterministic; a group left empty keeps its centre).

    Returns:
        ``labels int32 (n, k)`` in ``[0, groups)`` and the groups' mean scaled maps
        ``float32 (n, h, w, groups)`` in [0, 1] (0 for an empty group).
    """
    n, hw, k = tf.shape(a)[0], tf.shape(a)[1:3], a.shape[-1]
    f = tf.transpose(tf.reshape(normalise(a), [n, -1, k]), [0, 2, 1])  # (n, k, h·w)
    sq = tf.reduce_sum(tf.square(f), -1)  # (n, k)

    def dist(centres):  # squared distances (n, k, g)
        return (sq[..., None] - 2.0 * tf.einsum("nkp,ngp->nkg", f, centres)
                + tf.reduce_sum(tf.square(centres), -1)[:, None])

    def farthest(i, nearest, chosen):  # add the channel farthest from the chosen ones
        centre = tf.gather(f, tf.argmax(nearest, 1, output_type=tf.int32), batch_dims=1)  # (n, h·w)
        d = dist(centre[:, None])[..., 0]
        return i + 1, tf.minimum(nearest, d), chosen.write(i, centre)

    # above every distance (≤ 4 max |f|²), so the first pick is the map of largest norm
    nearest = sq + 4.0 * tf.reduce_max(sq, 1, keepdims=True) + 1.0
    start = (tf.constant(0), nearest, tf.TensorArray(tf.float32, size=groups))
    _, _, chosen = tf.while_loop(lambda i, *_: i < groups, farthest, start)
    centres = tf.transpose(chosen.stack(), [1, 0, 2])  # (n, g, h·w)
    for _ in range(iterations):
        onehot = tf.one_hot(tf.argmin(dist(centres), -1), groups)  # (n, k, g)
        count = tf.reduce_sum(onehot, 1)[..., None]  # (n, g, 1)
        mean = tf.einsum("nkg,nkp->ngp", onehot, f) / tf.maximum(count, 1.0)
        centres = tf.where(count > 0, mean, centres)
    labels = tf.argmin(dist(centres), -1, output_type=tf.int32)
    onehot = tf.one_hot(labels, groups)
    mean = tf.einsum("nkg,nkp->ngp", onehot, f) / tf.maximum(tf.reduce_sum(onehot, 1)[..., None], 1.0)
    return labels, tf.reshape(tf.transpose(mean, [0, 2, 1]), tf.concat([[n], hw, [groups]], 0))


@register("ablationcam", uses_layer=True,
          doc="Ablation-CAM: channels weighted by the score drop when each is zeroed "
              "(Desai & Ramaswamy 2020)")
def ablationcam(ctx):
    """``w_k = (S − S_k) / |S|`` with ``S_k`` the score with channel k of the layer set to zero
    (the model is evaluated from the layer onwards only); ``raw = Σ_k w_k A^k``. The paper divides
    by ``S``; dividing by ``|S|`` is the same for a positive score and keeps the sign of the map
    for a negative one. Channels are batched in chunks (a graph loop)."""
    a = ctx.A
    c = a.shape[-1]

    def chunk(start, count):
        keep = 1.0 - tf.one_hot(tf.range(start, start + count), c)  # (count, c)
        ablated = a[None] * keep[:, None, None, None, :]  # (count, n, h, w, c)
        ablated = tf.reshape(ablated, tf.concat([[-1], tf.shape(a)[1:]], 0))
        s = ctx.head_scores(ablated, ctx.tile(ctx.units, count), ctx.tile(ctx.x, count))
        return tf.reshape(s, [count, -1])

    ablated_scores = tf.transpose(ctx.concat_chunks(chunk, c, scale=8))  # (n, c)
    s = ctx.scores[:, None]
    weights = (s - ablated_scores) / tf.maximum(tf.abs(s), 1e-7)
    return ctx.cam(ctx.weighted(weights))
