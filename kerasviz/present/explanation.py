"""The result of :func:`kerasviz.explain`: maps, raw values and the pictures made from them.

Rendering is delegated to :mod:`kerasviz.present.render` (numpy only); this module imports no TensorFlow.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from kerasviz import _validate
from kerasviz.errors import ImageError
from kerasviz.present import render


#: Default ``threshold`` of :meth:`Explanation.boxes` and :meth:`Explanation.crop`: a region is
#: where the map reaches 30 % of its maximum. Between the CAM paper's 20 % and the half maximum;
#: chosen on validation images of the ``shapes`` model (seeds 50001–50003, where it gave the
#: best Grad-CAM IoU: 77–79 % of boxes at IoU ≥ 0.5, against 63 % at 0.5 and 64–70 % at 0.2),
#: not on the images the README's table and the tests use.
REGION_THRESHOLD = 0.3

#: Cell height in pixels and most images shown in a notebook's picture (:meth:`Explanation.strip`).
REPR_HEIGHT, REPR_LIMIT = 224, 8


class _OnFirstRead:
    """A dataclass field whose value may be given as a zero-argument function, called the first
    time the field is read (its result then kept). :func:`kerasviz.explain` gives the display
    images so: most calls never draw, and making them costs a small model as much as its maps."""

    def __set_name__(self, owner, name):
        self.slot = f"_{name}_value"

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        value = obj.__dict__[self.slot]
        if callable(value):
            value = obj.__dict__[self.slot] = value()
        return value

    def __set__(self, obj, value):
        obj.__dict__[self.slot] = None if value is self else value  # self: the field's default


@dataclass(frozen=True, eq=False)  # arrays inside: compare fields yourself
class Explanation:
    """Why a model decided, for a batch of N images.

    Normalisation rule for ``maps``: CAM methods (``raw`` at the layer's resolution) → ReLU →
    bilinear resize to the input size → min-max per image; pixel methods → ``|raw|`` → min-max
    per image. A constant map becomes all zeros. So ``maps`` is comparable *within* an image, not
    across images or methods; use ``raw`` for that.

    Attributes:
        maps: ``float32 (N, H, W)`` in [0, 1] at the model's input resolution, channels-last.
        raw: unnormalised maps: ``float32 (N, h, w)`` at the layer's resolution for CAM methods
            (signed, before the ReLU), ``float32 (N, H, W)`` channel-reduced for pixel methods
            (signed for ``gradxinput`` and ``integrated_gradients``).
        grads: ``float32 (N, H, W, C)`` per-pixel, per-channel attributions of pixel methods (the
            gradient for ``saliency``; see :mod:`kerasviz.methods.gradients`), else None.
        method: registry name of the method.
        target: ``int (N,)`` the unit (class id) explained per image, or None for a callable target.
        output: index of the model output explained.
        labels: a readable name of each image's target (``"281 tabby"``).
        layer: path of the layer a CAM method looked at (``"vgg16/block5_conv3"``), else None.
        scores: ``float32 (N,)`` the target's score per image (pre-softmax when the model ends in
            a softmax; the softmax probability with ``explain(score="probability")``).
        images: ``uint8 (N, H, W, 3)`` the images as the model saw them, for display, or None
            (may be given as a function returning them, called on first read).
        family: ``"cam"`` or ``"pixel"`` (see :mod:`kerasviz.methods`).
        probabilities: ``float32 (N,)`` in [0, 1], the model's softmax probability of each
            image's target when the explained output ends in a softmax (``scores`` are then its
            logits), else None.
        originals: when explain() was given raw images (paths, uint8, PIL): the N images as
            given, ``uint8 (H_i, W_i, 3)`` each at its own size, else None.
        windows: with ``originals``: ``float64 (N, 4)`` ``[x0, y0, x1, y1]``, where the model's
            input lies in each original, in its pixels (the whole image for a resize, the centre
            crop's rectangle for models with ``center_crop``, see
            :func:`kerasviz.core.images.fit_window`).
        task: what ``scores`` are, for titles: ``"classification"``, ``"regression"`` or
            ``"callable"`` (a callable target).
        info: what a method reports per image, name → ``(N,)`` array; e.g. integrated
            gradients' ``completeness_error`` ``|Σ grads − (S(x) − S(x₀))|``, ``score_change``
            ``S(x) − S(x₀)`` and ``steps`` (see :mod:`kerasviz.methods.gradients`). Empty for
            methods that report nothing.
        device: the TensorFlow device the maps were computed on (``"CPU:0"``, ``"GPU:0"``).
    """
    maps: np.ndarray
    raw: np.ndarray
    method: str
    target: np.ndarray | None
    output: int = 0
    labels: tuple = ()
    layer: str | None = None
    scores: np.ndarray | None = None
    grads: np.ndarray | None = None
    images: np.ndarray | None = field(default=_OnFirstRead(), repr=False)
    family: str = "cam"
    probabilities: np.ndarray | None = None
    originals: tuple | None = field(default=None, repr=False)
    windows: np.ndarray | None = None
    task: str = "classification"
    info: dict = field(default_factory=dict)
    device: str | None = None

    def __len__(self) -> int:
        return len(self.maps)

    def __getitem__(self, index) -> "Explanation":
        """The explanation of some images (an int or a slice keeps the batch axis)."""
        idx = [index] if isinstance(index, (int, np.integer)) else index

        def pick(a):
            return None if a is None else np.asarray(a)[idx]

        originals = None if self.originals is None else \
            tuple(self.originals[i] for i in np.arange(len(self))[idx])
        return replace(self, maps=self.maps[idx], raw=self.raw[idx], target=pick(self.target),
                       labels=tuple(np.asarray(self.labels, dtype=object)[idx]),
                       scores=pick(self.scores), grads=pick(self.grads), images=pick(self.images),
                       probabilities=pick(self.probabilities), originals=originals,
                       windows=pick(self.windows),
                       info={k: pick(v) for k, v in self.info.items()})

    def __repr__(self) -> str:
        layer = f", layer={self.layer!r}" if self.layer else ""
        return (f"Explanation(method={self.method!r}, n={len(self)}, maps={self.maps.shape}"
                f"{layer}, labels={list(self.labels)[:4]}{'…' if len(self) > 4 else ''})")

    def _images(self, images) -> np.ndarray:
        if images is None:
            if self.images is None:
                raise ImageError("This explanation has no display images (it was computed from a "
                                 "float batch with unknown preprocessing). Pass images=uint8 "
                                 "(N, H, W, 3).")
            return self.images
        from kerasviz.core.images import as_uint8_batch

        images = as_uint8_batch(images)
        if len(images) != len(self):
            raise ImageError(f"Expected {len(self)} images, one per map. Received: {len(images)}.")
        return images

    def _on_originals(self, maps: np.ndarray) -> list[np.ndarray]:
        """``maps`` ``(N, H, W)`` at the model's input, each moved onto its original: ``float32
        (H_i, W_i)``, 0 outside the model's centre crop (:func:`render.map_to_window`)."""
        if self.originals is None:
            raise ImageError("This explanation does not know the original images (explain() was "
                             "given a float batch, not paths, uint8 arrays or PIL images). Use "
                             "original=False, or pass images= to draw on other images.")
        return [render.map_to_window(m, w, o.shape[:2])
                for m, w, o in zip(maps, self.windows, self.originals)]

    def overlay(self, images: Any = None, alpha: float = 0.4, colormap: str = "jet", *,
                original: bool = False):
        """Heatmaps blended over the images.

        Args:
            images: ``uint8 (N, H', W', 3)`` (any size: maps are resized to it) or paths; None uses
                the images the model saw.
            alpha: weight of the heatmap, in [0, 1].
            colormap: see :func:`kerasviz.present.render.colorize`.
            original: draw on the images explain() was given, each at its own size and aspect
                (:attr:`originals`; 0 outside a centre crop) instead of ``images``.

        Returns:
            ``uint8 (N, H', W', 3)``; with ``original=True`` a list of N ``uint8 (H_i, W_i, 3)``
            (the originals may differ in size).

        Raises:
            ArgumentError: ``alpha`` outside [0, 1] or an unknown colormap.
            ImageError: no display images, not one image per map, or ``original=True`` without
                originals.
        """
        alpha, colormap = render.check_alpha(alpha), render.check_colormap(colormap)
        if original:
            return [render.overlay(o, m, alpha, colormap)
                    for o, m in zip(self.originals, self._on_originals(self.maps))]
        images = self._images(images)
        return np.stack([render.overlay(im, m, alpha, colormap) for im, m in zip(images, self.maps)])

    def region_maps(self, smooth: float | None = None) -> np.ndarray:
        """The maps regions are cut from: ``maps`` blurred with a Gaussian of ``smooth`` pixels.

        ``smooth=None`` picks 0 for CAM maps (already smooth) and ``max(H, W) / 16`` for pixel
        maps, which are too sparse to threshold as they are (a few isolated pixels would pass).

        Raises:
            ArgumentError: ``smooth`` is not a number ≥ 0.
        """
        if smooth is None:
            smooth = 0.0 if self.family == "cam" else max(self.maps.shape[1:]) / 16
        smooth = _validate.number("smooth", smooth, lo=0.0)
        return np.stack([render.blur(m, smooth) for m in self.maps])

    def boxes(self, threshold: float = REGION_THRESHOLD, smooth: float | None = None, *,
              original: bool = False) -> np.ndarray:
        """Bounding box of the region each map points at: the connected region around the peak
        where ``map ≥ threshold · max``, on :meth:`region_maps` (``smooth``: blur in pixels).
        The default threshold is :data:`REGION_THRESHOLD`.

        Args:
            original: boxes in the pixels of each original image (:attr:`originals`), found on
                the region map moved onto it, instead of the model's input pixels.

        Returns:
            ``int32 (N, 4)`` ``[x0, y0, x1, y1]`` in input (or original) pixels, ``x1``/``y1``
            exclusive.

        Raises:
            ArgumentError: ``threshold`` outside [0, 1] or ``smooth`` < 0.
            ImageError: ``original=True`` without originals.
        """
        threshold = render.check_threshold(threshold)
        maps = self.region_maps(smooth)
        if original:
            maps = self._on_originals(maps)
        return np.stack([render.box_from_map(m, threshold) for m in maps]).astype(np.int32)

    def crop(self, images: Any = None, threshold: float = REGION_THRESHOLD,
             smooth: float | None = None, *, original: bool = False):
        """The region each map points at ("the interesting region"), on :meth:`region_maps`.

        Args:
            original: cut from the original images (:attr:`originals`) at their own sizes.

        Returns:
            ``(masked, regions)``: ``uint8 (N, H, W, 3)`` images with pixels where
            ``map < threshold · max`` set to black (with ``original=True`` a list of N
            ``uint8 (H_i, W_i, 3)``), and a list of N ``uint8 (h_i, w_i, 3)`` crops to
            :meth:`boxes`.

        Raises:
            ArgumentError: ``threshold`` outside [0, 1] or ``smooth`` < 0.
            ImageError: no display images, not one image per map, or ``original=True`` without
                originals.
        """
        threshold = render.check_threshold(threshold)
        maps = self.region_maps(smooth)
        if original:
            pairs = [render.crop(o, m, threshold)
                     for o, m in zip(self.originals, self._on_originals(maps))]
            return [p[0] for p in pairs], [p[1] for p in pairs]
        pairs = [render.crop(im, m, threshold) for im, m in zip(self._images(images), maps)]
        return np.stack([p[0] for p in pairs]), [p[1] for p in pairs]

    def title(self, i: int) -> str:
        """What image ``i`` is explained for, to title a picture: its label and, for a softmax
        model, the model's probability and the logit that was explained (``"281 tabby
        p=87.3% (logit 9.12)"``); otherwise the output value (``"output 3.21"``) or, for a
        callable target, its score."""
        label = self.labels[i] if i < len(self.labels) else ""
        if self.scores is None:
            return label
        score = float(self.scores[i])
        if self.probabilities is not None:
            return f"{label} p={float(self.probabilities[i]):.1%} (logit {score:.2f})"
        return f"{label} {'score' if self.task == 'callable' else 'output'} {score:.3g}".strip()

    def _pictures(self, images, alpha, colormap, original) -> list[np.ndarray]:
        """Overlays for plots: on the originals when known (``original=None``), else on the
        model's images, else the bare colourised maps."""
        if original is None:
            original = images is None and self.originals is not None
        if original:
            return self.overlay(alpha=alpha, colormap=colormap, original=True)
        if images is None and self.images is None:
            return [render.colorize(m, colormap) for m in self.maps]
        return list(self.overlay(images, alpha, colormap))

    def plot(self, images: Any = None, cols: int = 4, alpha: float = 0.4, colormap: str = "jet",
             *, original: bool | None = None):
        """A matplotlib Figure: one overlay per image titled with the method and :meth:`title`
        (label, probability and logit for softmax models, else the output value).

        ``original=None`` draws on the original images at their own aspect when they are known
        (see :meth:`overlay`), else on the images the model saw, else shows the bare maps.
        """
        import matplotlib.pyplot as plt

        cols = _validate.positive_int("cols", cols)
        alpha, colormap = render.check_alpha(alpha), render.check_colormap(colormap)
        pics = self._pictures(images, alpha, colormap, original)
        n = len(pics)
        cols = max(1, min(cols, n))
        rows = -(-n // cols)
        fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 3.2 * rows), squeeze=False)
        for ax in axes.flat:
            ax.axis("off")
        for i, ax in enumerate(axes.flat[:n]):
            ax.imshow(pics[i])
            ax.set_title(f"{self.method}: {self.title(i)}", fontsize=9)
        fig.tight_layout()
        return fig

    def strip(self, height: int = REPR_HEIGHT, limit: int = REPR_LIMIT) -> np.ndarray:
        """The picture notebooks show: per image, the image and its overlay side by side
        ``height`` pixels high (originals at their aspect when known), under a title band with
        the method and :meth:`title`; two images a row, at most ``limit`` images (a last band
        says how many are not shown).

        Returns:
            ``uint8 (H, W, 3)``.
        """
        height = _validate.positive_int("height", height)
        limit = _validate.positive_int("limit", limit)
        part = self[:limit]
        shown = part.originals if part.originals is not None else part.images
        pics = part._pictures(None, 0.4, "jet", None)
        cells = []
        for i, pic in enumerate(pics):
            panels = [pic] if shown is None else [shown[i], pic]
            cell = render.row(panels, height)
            cells.append(render.title_band(cell, f"{self.method}: {part.title(i)}", height=22))
        return render.tile_any(cells, cols=2, pad=8, note=None if len(self) <= limit else
                               f"showing {limit} of {len(self)} images")

    def _repr_png_(self) -> bytes:
        """PNG of :meth:`strip` (notebooks)."""
        return render.png_bytes(self.strip())
