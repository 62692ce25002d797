"""The sanity checks of Adebayo et al., "Sanity Checks for Saliency Maps" (NeurIPS 2018).

* Model randomisation (:func:`model_randomisation`): re-initialise the layers of a *copy* of the
  model one by one from the top (cascading), explain the same images and classes after each
  step, and measure how similar the maps stay to the trained model's. A method whose maps do not
  change when the weights they should depend on are destroyed is not explaining the model (it
  mostly shows the image's edges).
* Data randomisation (:func:`data_randomisation`): compare the maps of a model trained on the
  true labels with those of the same architecture trained on randomly permuted labels (which can
  only memorise its training images). A method whose maps stay the same is blind to what the
  model learned from the labels.

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

import warnings
from dataclasses import dataclass

import numpy as np

from kerasviz import _validate
from kerasviz.errors import ModelError

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
    """Result of :func:`model_randomisation` and :func:`data_randomisation`.

    Attributes:
        methods: the methods checked.
        layers: the steps. Model randomisation: ``("trained", <top layer>, …)``, the step at
            which each layer (and every layer above it) is randomised. Data randomisation:
            ``("true labels", "shuffled labels")``. Step 0 is the reference model.
        similarity: ``{method: {measure: float64 (steps, N)}}`` similarity of each step's maps to
            the reference maps (1 at step 0; about 1 = unchanged, 0 = unrelated), measures of
            :data:`SIMILARITIES`.
        kind: ``"model"`` or ``"data"`` (which randomisation).
    """
    methods: tuple
    layers: tuple
    similarity: dict
    kind: str = "model"

    def mean(self, method: str, measure: str = "spearman") -> np.ndarray:
        """``float64 (steps,)`` the similarity averaged over images, per step."""
        return self.similarity[method][measure].mean(axis=1)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "layers": list(self.layers),
                "similarity": {m: {k: self.mean(m, k).round(4).tolist() for k in SIMILARITIES}
                               for m in self.methods}}

    def __str__(self) -> str:
        width = max(len(m) for m in self.methods) + 2
        if self.kind == "data":
            lines = ["Data randomisation (Adebayo et al. 2018): mean similarity of the maps of "
                     "the model trained on shuffled labels to the true-label model's (1 = "
                     "unchanged; a faithful method falls towards 0)",
                     " " * width + " ".join(f"{k:>8s}" for k in SIMILARITIES)]
            for m in self.methods:
                lines.append(f"{m:{width}s}" + " ".join(f"{self.mean(m, k)[1]:8.2f}"
                                                        for k in SIMILARITIES))
            return "\n".join(lines)
        lines = ["Cascading randomisation (Adebayo et al. 2018): mean Spearman rank correlation "
                 "of |map| with the trained model's (1 = unchanged; a faithful method falls "
                 "towards 0)", "randomised down to: " + " | ".join(self.layers)]
        for m in self.methods:
            lines.append(f"{m:{width}s}" + " ".join(f"{v:6.2f}" for v in self.mean(m)))
        return "\n".join(lines)

    def figure(self):
        """A Matplotlib figure: one panel per similarity measure; model randomisation: one line
        per method, the randomised layers along x; data randomisation: one bar per method (the
        mean over images, with their standard deviation)."""
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, len(SIMILARITIES), figsize=(4.2 * len(SIMILARITIES), 3.6),
                                 sharey=True)
        if self.kind == "data":
            for ax, measure in zip(axes, SIMILARITIES):
                values = [self.similarity[m][measure][1] for m in self.methods]
                ax.bar(range(len(self.methods)), [v.mean() for v in values],
                       yerr=[v.std() for v in values], color="C0", ecolor="0.4", capsize=2)
                ax.set_xticks(range(len(self.methods)), self.methods, rotation=60, fontsize=7)
                ax.set_title(measure)
                ax.axhline(0, color="0.7", lw=0.5)
            axes[0].set_ylabel("similarity to the true-label maps")
            fig.tight_layout()
            return fig
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

    from kerasviz.core.models import model_info, register_model

    seed = _validate.integer("seed", seed, lo=0, hi=2**31 - 1)
    names, x, tgt = _prepare(model, images, methods, target, "model_randomisation")
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    info = model_info(model)
    register_model(clone, preprocess=info.preprocess, deprocess=info.deprocess,
                   class_names=info.class_names)
    with warnings.catch_warnings():  # empty maps of a random model are a result here
        warnings.simplefilter("ignore")
        steps = [_maps(clone, x, names, tgt, batch_size)]
        layers = randomised_layers(clone)
        rng = np.random.default_rng(seed)
        for k, name in enumerate(layers):
            _reinitialise(clone.get_layer(name), rng, seed + k)
            steps.append(_maps(clone, x, names, tgt, batch_size))
    return SanityCheck(tuple(names), ("trained", *layers), _similarities(names, steps))


def data_randomisation(model, shuffled_model, images,
                       methods=("gradcam", "saliency", "guided_backprop"), target=None, *,
                       batch_size: int | None = None) -> SanityCheck:
    """Data randomisation (Adebayo et al. 2018): the maps of ``model`` (trained on the true
    labels) against those of ``shuffled_model``, the same architecture trained on randomly
    permuted labels (``kerasviz.load_model("shapes_shuffled")`` for the ``shapes`` model).

    Both models explain the same input (``images`` as ``model`` preprocesses them) for the same
    units: ``target`` (None = ``model``'s top class per image, since the shuffled model's own
    top class means nothing).

    Args:
        model, shuffled_model: Functional / Sequential models with the same input and output
            shapes; ``model`` is not changed.
        images: what :func:`kerasviz.explain` takes (raw ``uint8 (N, H, W, 3)`` or a
            preprocessed float batch).
        methods: method names (or :class:`~kerasviz.methods.Method` objects).
        target: None, a class (id or name) or one per image; not a callable.

    Returns:
        :class:`SanityCheck` with ``kind="data"``, steps ``("true labels", "shuffled labels")``:
        ``similarity[method][measure][1]`` ``float64 (N,)`` per image.

    Raises:
        ModelError: a model that is not Functional / Sequential, or models whose input or output
            shapes differ.
        UnknownMethodError, TargetError: before any model runs.
    """
    from kerasviz.core.models import check_model

    for m in (model, shuffled_model):
        check_model(m, graph=True, what="data_randomisation")
    shapes = [([tuple(t.shape[1:]) for t in m.inputs], [tuple(t.shape[1:]) for t in m.outputs])
              for m in (model, shuffled_model)]
    if shapes[0] != shapes[1]:
        raise ModelError(f"data_randomisation compares one architecture trained on true and on "
                         f"shuffled labels. Expected models with the same input and output "
                         f"shapes. Received: (input, output) shapes {shapes[0]} for model="
                         f"{model.name!r} and {shapes[1]} for shuffled_model="
                         f"{shuffled_model.name!r}.")
    names, x, tgt = _prepare(model, images, methods, target, "data_randomisation")
    with warnings.catch_warnings():  # empty maps of a memorising model are a result here
        warnings.simplefilter("ignore")
        steps = [_maps(m, x, names, tgt, batch_size) for m in (model, shuffled_model)]
    return SanityCheck(tuple(names), ("true labels", "shuffled labels"),
                       _similarities(names, steps), kind="data")


def _prepare(model, images, methods, target, what: str):
    """Checks (before any TensorFlow work) and the shared inputs of a sanity check: method names,
    ``x`` ``float32 (N, H, W, C)`` (``model``'s input) and the :class:`~kerasviz.Output` target
    with concrete units (None resolved to ``model``'s top class)."""
    from kerasviz.core.models import check_model
    from kerasviz.core.targets import Output
    from kerasviz.methods import get
    from kerasviz.metrics.measures import model_input, resolve_units

    check_model(model, graph=True, what=what)
    names = [get(m).name for m in methods]
    x = model_input(model, images)
    output, units = resolve_units(model, x, target)
    return names, x, Output(output, [int(u) for u in units])


def _maps(model, x, names, target, batch_size) -> dict:
    """``{method: float32 (N, H, W)}`` the maps of ``model`` on ``x``."""
    from kerasviz.methods.explainer import explain

    return {m: explain(model, x, m, target=target, batch_size=batch_size, progress=False).maps
            for m in names}


def _similarities(names, steps: list) -> dict:
    """``{method: {measure: float64 (steps, N)}}`` of each step's maps to step 0's."""
    return {m: {k: np.stack([SIMILARITY[k](steps[0][m], s[m]) for s in steps])
                for k in SIMILARITIES} for m in names}


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
