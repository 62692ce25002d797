"""The model-randomisation sanity check (Adebayo et al., "Sanity Checks for Saliency Maps",
NeurIPS 2018): re-initialise the layers of a *copy* of the model one by one from the top
(cascading), explain the same images and classes after each step, and measure how similar the
maps stay to the trained model's. A method whose maps do not change when the weights they should
depend on are destroyed is not explaining the model (it mostly shows the image's edges).

Similarities, per image, of the trained map ``a`` and the randomised map ``b`` (both
``Explanation.maps``, in [0, 1]):

* ``spearman``: Spearman rank correlation of ``|a|`` and ``|b|`` (ties get their mean rank);
* ``ssim``: structural similarity (Wang et al. 2004: Gaussian window σ = 1.5, data range 1,
  ``K1 = 0.01``, ``K2 = 0.03``), mean over the map;
* ``hog``: Pearson correlation of the histograms of oriented gradients (8 × 8-pixel cells,
  9 unsigned orientation bins, no block normalisation) of the two maps.

The user's model is never changed: the layers of a clone (``keras.models.clone_model`` with the
trained weights copied) are re-initialised with their own initialisers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kerasviz import _validate

#: The similarity measures, in column order.
SIMILARITIES = ("spearman", "ssim", "hog")


def ranks(a: np.ndarray) -> np.ndarray:
    """Ranks ``1 … n`` of each row of ``a`` ``(N, n)``, ties getting their mean rank."""
    out = np.empty(a.shape, np.float64)
    for i, row in enumerate(a):
        _, inv, counts = np.unique(row, return_inverse=True, return_counts=True)
        ends = np.cumsum(counts)
        out[i] = (ends - (counts - 1) / 2)[inv]
    return out


def _pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Pearson correlation of ``(N, n)`` arrays; 0 where a row is constant."""
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    den = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    return np.where(den > 0, (a * b).sum(axis=1) / np.where(den > 0, den, 1), 0.0)


def spearman(a, b) -> np.ndarray:
    """``float64 (N,)`` Spearman rank correlation of ``|a|`` and ``|b|`` ``(N, H, W)``."""
    n = len(a)
    return _pearson(ranks(np.abs(np.asarray(a, np.float64)).reshape(n, -1)),
                    ranks(np.abs(np.asarray(b, np.float64)).reshape(n, -1)))


def ssim_map(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-pixel SSIM of two ``(H, W)`` maps in [0, 1] (Gaussian window 11 × 11, σ = 1.5)."""
    import cv2

    c1, c2 = 0.01 ** 2, 0.03 ** 2
    g = lambda m: cv2.GaussianBlur(m, (11, 11), 1.5)  # noqa: E731 (Wang et al.'s window)
    mx, my = g(x), g(y)
    vx, vy, cxy = g(x * x) - mx * mx, g(y * y) - my * my, g(x * y) - mx * my
    return ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))


def ssim(a, b) -> np.ndarray:
    """``float64 (N,)`` mean structural similarity of maps in [0, 1] ``(N, H, W)``."""
    return np.array([ssim_map(x, y).mean() for x, y in zip(np.asarray(a, np.float64),
                                                           np.asarray(b, np.float64))])


def hog(maps, cell: int = 8, bins: int = 9) -> np.ndarray:
    """``float64 (N, cells_y · cells_x · bins)``: per cell, the gradient magnitudes of the map
    summed per unsigned orientation bin (central differences)."""
    m = np.asarray(maps, np.float64)
    gy, gx = np.gradient(m, axis=(1, 2))
    mag = np.hypot(gx, gy)
    b = np.minimum((np.mod(np.arctan2(gy, gx), np.pi) / np.pi * bins).astype(int), bins - 1)
    n, h, w = m.shape
    cy, cx = h // cell, w // cell
    onehot = (b[..., None] == np.arange(bins)) * mag[..., None]
    onehot = onehot[:, :cy * cell, :cx * cell].reshape(n, cy, cell, cx, cell, bins)
    return onehot.sum(axis=(2, 4)).reshape(n, -1)


def hog_similarity(a, b) -> np.ndarray:
    """``float64 (N,)`` Pearson correlation of the :func:`hog` features of two map batches."""
    return _pearson(hog(a), hog(b))


SIMILARITY = {"spearman": spearman, "ssim": ssim, "hog": hog_similarity}


@dataclass(frozen=True, eq=False)
class SanityCheck:
    """Result of :func:`model_randomisation`.

    Attributes:
        methods: the methods checked.
        layers: ``["trained", <top layer>, …]``: the step at which each layer (and every layer
            above it) is randomised; step 0 is the trained model.
        similarity: ``{method: {measure: float64 (steps, N)}}`` similarity of each step's maps to
            the trained maps (1 at step 0), measures of :data:`SIMILARITIES`.
    """
    methods: tuple
    layers: tuple
    similarity: dict

    def mean(self, method: str, measure: str = "spearman") -> np.ndarray:
        """``float64 (steps,)`` the similarity averaged over images, per step."""
        return self.similarity[method][measure].mean(axis=1)

    def to_dict(self) -> dict:
        return {"layers": list(self.layers),
                "similarity": {m: {k: self.mean(m, k).round(4).tolist() for k in SIMILARITIES}
                               for m in self.methods}}

    def __str__(self) -> str:
        width = max(len(m) for m in self.methods) + 2
        lines = ["Cascading randomisation (Adebayo et al. 2018): mean Spearman rank correlation "
                 "of |map| with the trained model's (1 = unchanged; a faithful method falls "
                 "towards 0)", "randomised down to: " + " | ".join(self.layers)]
        for m in self.methods:
            lines.append(f"{m:{width}s}" + " ".join(f"{v:6.2f}" for v in self.mean(m)))
        return "\n".join(lines)

    def figure(self):
        """A Matplotlib figure: one panel per similarity measure, one line per method, the
        randomised layers along x."""
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, len(SIMILARITIES), figsize=(4.2 * len(SIMILARITIES), 3.6),
                                 sharey=True)
        for ax, measure in zip(axes, SIMILARITIES):
            for m in self.methods:
                ax.plot(self.mean(m, measure), marker="o", ms=3, label=m)
            ax.set_xticks(range(len(self.layers)), self.layers, rotation=60, fontsize=7)
            ax.set_title(measure)
            ax.axhline(0, color="0.7", lw=0.5)
            ax.set_xlabel("randomised from the top down to")
        axes[0].set_ylabel("similarity to the trained maps")
        axes[-1].legend(fontsize=7)
        fig.tight_layout()
        return fig


def randomised_layers(model) -> list[str]:
    """Names of the layers with weights, top (output) first: the order of the cascade."""
    return [layer.name for layer in reversed(model.layers) if layer.weights]


def model_randomisation(model, images, methods=("gradcam", "saliency", "guided_backprop"),
                        target=None, *, seed: int = 0, batch_size: int | None = None) -> SanityCheck:
    """Cascading model randomisation (Adebayo et al. 2018) on a clone of ``model``.

    Step 0 explains ``images`` with the trained weights (``target``: None = the trained model's
    top class; the same classes are explained at every step). Step ``k`` re-initialises the
    ``k``-th layer with weights from the top (:func:`randomised_layers`), keeping the layers
    above it random, with each weight's own initialiser (``kernel_initializer``,
    ``bias_initializer``, ``gamma_initializer``, …; normal with the trained weights' standard
    deviation for a weight without one), seeded by ``seed``.

    Returns:
        :class:`SanityCheck`.

    Raises:
        ModelError: not a Functional / Sequential model (it is cloned).
    """
    import keras

    from kerasviz.core.models import check_model
    from kerasviz.methods import get
    from kerasviz.methods.explainer import explain
    from kerasviz.metrics.measures import model_input, resolve_units

    check_model(model, graph=True, what="model_randomisation")
    names = [get(m).name for m in methods]
    seed = _validate.integer("seed", seed, lo=0, hi=2**31 - 1)
    x = model_input(model, images)
    output, units = resolve_units(model, x, target)
    from kerasviz.core.targets import Output

    tgt = Output(output, [int(u) for u in units])
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    from kerasviz.core.models import model_info, register_model

    info = model_info(model)
    register_model(clone, preprocess=info.preprocess, deprocess=info.deprocess,
                   class_names=info.class_names)

    def maps():
        return {m: explain(clone, x, m, target=tgt, batch_size=batch_size, progress=False).maps
                for m in names}

    import warnings

    with warnings.catch_warnings():  # empty maps of a random model are a result here
        warnings.simplefilter("ignore")
        trained = maps()
        steps = [trained]
        layers = randomised_layers(clone)
        rng = np.random.default_rng(seed)
        for k, name in enumerate(layers):
            _reinitialise(clone.get_layer(name), rng, seed + k)
            steps.append(maps())
    sim = {m: {k: np.stack([SIMILARITY[k](trained[m], s[m]) for s in steps]) for k in SIMILARITIES}
           for m in names}
    return SanityCheck(tuple(names), ("trained", *layers), sim)


def _reinitialise(layer, rng, seed: int) -> None:
    """Assign fresh values to every weight of ``layer`` (see :func:`model_randomisation`)."""
    import keras

    for w in layer.weights:
        short = w.path.split("/")[-1] if hasattr(w, "path") else w.name.split("/")[-1].split(":")[0]
        init = getattr(layer, f"{short}_initializer", None)  # kernel_, gamma_, moving_mean_…
        if init is not None:
            init = keras.initializers.get(init)
            cfg = init.get_config()
            if "seed" in cfg:
                init = type(init).from_config({**cfg, "seed": seed})
            value = np.asarray(init(tuple(w.shape)), np.float32)
        else:
            value = rng.normal(0, float(np.std(w.numpy())) or 1.0, tuple(w.shape)).astype(np.float32)
        w.assign(value)
