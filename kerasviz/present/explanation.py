"""The result of :func:`kerasviz.explain`: maps, raw values and the pictures made from them.

Rendering is delegated to :mod:`kerasviz.present.render` (numpy only); this module imports no TensorFlow.
"""
from __future__ import annotations

import io
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
            a softmax).
        images: ``uint8 (N, H, W, 3)`` the images as the model saw them, for display, or None.
        family: ``"cam"`` or ``"pixel"`` (see :mod:`kerasviz.methods`).
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
    images: np.ndarray | None = field(default=None, repr=False)
    family: str = "cam"

    def __len__(self) -> int:
        return len(self.maps)

    def __getitem__(self, index) -> "Explanation":
        """The explanation of some images (an int or a slice keeps the batch axis)."""
        idx = [index] if isinstance(index, (int, np.integer)) else index

        def pick(a):
            return None if a is None else np.asarray(a)[idx]

        return replace(self, maps=self.maps[idx], raw=self.raw[idx], target=pick(self.target),
                       labels=tuple(np.asarray(self.labels, dtype=object)[idx]),
                       scores=pick(self.scores), grads=pick(self.grads), images=pick(self.images))

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

    def overlay(self, images: Any = None, alpha: float = 0.4, colormap: str = "jet") -> np.ndarray:
        """Heatmaps blended over the images.

        Args:
            images: ``uint8 (N, H', W', 3)`` (any size: maps are resized to it) or paths; None uses
                the images the model saw.
            alpha: weight of the heatmap, in [0, 1].
            colormap: see :func:`kerasviz.present.render.colorize`.

        Returns:
            ``uint8 (N, H', W', 3)``.

        Raises:
            ArgumentError: ``alpha`` outside [0, 1] or an unknown colormap.
            ImageError: no display images, or not one image per map.
        """
        alpha, colormap = render.check_alpha(alpha), render.check_colormap(colormap)
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

    def boxes(self, threshold: float = REGION_THRESHOLD, smooth: float | None = None) -> np.ndarray:
        """Bounding box of the region each map points at: the connected region around the peak
        where ``map ≥ threshold · max``, on :meth:`region_maps` (``smooth``: blur in pixels).
        The default threshold is :data:`REGION_THRESHOLD`.

        Returns:
            ``int32 (N, 4)`` ``[x0, y0, x1, y1]`` in input pixels, ``x1``/``y1`` exclusive.

        Raises:
            ArgumentError: ``threshold`` outside [0, 1] or ``smooth`` < 0.
        """
        threshold = render.check_threshold(threshold)
        return np.stack([render.box_from_map(m, threshold)
                         for m in self.region_maps(smooth)]).astype(np.int32)

    def crop(self, images: Any = None, threshold: float = REGION_THRESHOLD,
             smooth: float | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
        """The region each map points at ("the interesting region"), on :meth:`region_maps`.

        Returns:
            ``(masked, regions)``: ``uint8 (N, H, W, 3)`` images with pixels where
            ``map < threshold · max`` set to black, and a list of N ``uint8 (h_i, w_i, 3)`` crops
            to :meth:`boxes`.

        Raises:
            ArgumentError: ``threshold`` outside [0, 1] or ``smooth`` < 0.
            ImageError: no display images, or not one image per map.
        """
        threshold = render.check_threshold(threshold)
        images = self._images(images)
        pairs = [render.crop(im, m, threshold) for im, m in zip(images, self.region_maps(smooth))]
        return np.stack([p[0] for p in pairs]), [p[1] for p in pairs]

    def plot(self, images: Any = None, cols: int = 4, alpha: float = 0.4, colormap: str = "jet"):
        """A matplotlib Figure: one overlay per image titled with the target and its score
        (the bare maps when there are no display images)."""
        import matplotlib.pyplot as plt

        cols = _validate.positive_int("cols", cols)
        alpha, colormap = render.check_alpha(alpha), render.check_colormap(colormap)
        if images is None and self.images is None:
            pics = np.stack([render.colorize(m, colormap) for m in self.maps])
        else:
            pics = self.overlay(images, alpha, colormap)
        n = len(pics)
        cols = max(1, min(cols, n))
        rows = -(-n // cols)
        fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 3.2 * rows), squeeze=False)
        for ax in axes.flat:
            ax.axis("off")
        for i, ax in enumerate(axes.flat[:n]):
            ax.imshow(pics[i])
            score = "" if self.scores is None else f" ({float(self.scores[i]):.2f})"
            label = self.labels[i] if i < len(self.labels) else ""
            ax.set_title(f"{self.method}: {label}{score}", fontsize=9)
        fig.tight_layout()
        return fig

    def _repr_png_(self) -> bytes:
        """PNG of the overlays side by side (notebooks)."""
        from PIL import Image

        pics = self.overlay() if self.images is not None else \
            np.stack([render.colorize(m) for m in self.maps])
        buf = io.BytesIO()
        Image.fromarray(render.tile(pics[:16], cols=8, pad=2)).save(buf, format="PNG")
        return buf.getvalue()
