"""Pure-numpy rendering: colormaps, overlays, grids, boxes and crops.

Never imports TensorFlow or Keras: everything here takes and returns numpy arrays, so it is usable
on results loaded from disk. Images are ``uint8 (H, W, 3)`` RGB; maps are ``float (H, W)``
in [0, 1] unless stated.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from kerasviz import _validate
from kerasviz.errors import ArgumentError, ImageError

_CV2_COLORMAPS = {"jet": 2, "turbo": 20, "viridis": 16, "inferno": 14, "magma": 13, "hot": 11,
                  "gray": None}
#: colormap names :func:`colorize` accepts
COLORMAPS: tuple[str, ...] = tuple(_CV2_COLORMAPS)


def _map2d(m, name: str = "map") -> np.ndarray:
    try:
        m = np.asarray(m, np.float32)
    except (TypeError, ValueError):
        raise ArgumentError(f"{name} must be a 2-D (H, W) array of numbers. Received: "
                            f"{name} of type {type(m).__name__}.") from None
    if m.ndim != 2 or 0 in m.shape:
        raise ArgumentError(f"{name} must be one 2-D (H, W) map. Received: {name} of shape "
                            f"{m.shape}. For a batch pass maps[i].")
    return m


def _image(image) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or 0 in image.shape:
        raise ImageError(f"Expected one uint8 RGB image of shape (H, W, 3). Received: an array of "
                         f"shape {image.shape}. For a batch pass images[i].")
    return image


def check_colormap(colormap: str) -> str:
    """``colormap`` if it is one of :data:`COLORMAPS`, else :class:`ArgumentError`."""
    return _validate.one_of("colormap", colormap, COLORMAPS)


def check_alpha(alpha: float) -> float:
    """``alpha`` (heatmap weight) as a float in [0, 1], else :class:`ArgumentError`."""
    return _validate.number("alpha", alpha, 0.0, 1.0)


def check_threshold(threshold: float) -> float:
    """``threshold`` (fraction of a map's maximum) as a float in [0, 1], else
    :class:`ArgumentError`."""
    return _validate.number("threshold", threshold, 0.0, 1.0)


def to_uint8(x: np.ndarray) -> np.ndarray:
    """``float`` in [0, 1] → ``uint8`` in [0, 255] (values outside are clipped)."""
    return (np.clip(np.asarray(x, np.float32), 0, 1) * 255 + 0.5).astype(np.uint8)


def standardized(x: np.ndarray, std: float = 0.1) -> np.ndarray:
    """The book's ``deprocess_image``, the usual display of gradients and filter patterns:
    ``float (H, W, C)`` → ``(x − mean) / (std(x) + 1e-5) · std + 0.5``, clipped to [0, 1], as
    ``uint8 (H, W, C)``."""
    x = np.asarray(x, np.float32)
    std = _validate.number("std", std, lo=0.0, lo_open=True)
    x = (x - x.mean()) / (x.std() + 1e-5) * std + 0.5
    return np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)


def resize_map(m: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a ``(h, w)`` float map to ``size = (H, W)``."""
    import cv2

    m = _map2d(m)
    size = _validate.size_hw("size", size)
    if m.shape == size:
        return m
    return cv2.resize(m, (int(size[1]), int(size[0])), interpolation=cv2.INTER_LINEAR)


def map_to_window(m: np.ndarray, window: Sequence[float], size: tuple[int, int]) -> np.ndarray:
    """Move a map onto the image it was cut from: the one place that maps model-input pixels to
    original pixels.

    Args:
        m: ``(h, w)`` map covering ``window``.
        window: ``[x0, y0, x1, y1]`` in the image's pixels (edges; see
            :func:`kerasviz.core.images.fit_window`).
        size: the image's ``(H, W)``.

    Returns:
        ``float32 (H, W)``: ``m`` resized bilinearly onto ``window`` (pixel centres mapped as
        ``cv2.resize`` maps them), 0 where a pixel's centre is outside ``window``.
    """
    import cv2

    m = _map2d(m)
    size = _validate.size_hw("size", size)
    x0, y0, x1, y1 = (float(v) for v in window)
    if (x0, y0, x1, y1) == (0.0, 0.0, size[1], size[0]):
        return resize_map(m, size)
    if not (x1 > x0 and y1 > y0):
        raise ArgumentError(f"window must be [x0, y0, x1, y1] with x1 > x0 and y1 > y0. "
                            f"Received: window={list(window)!r}.")
    sx, sy = m.shape[1] / (x1 - x0), m.shape[0] / (y1 - y0)
    # image pixel centre X + 0.5 lies at map coordinate (X + 0.5 - x0) · sx, i.e. index that - 0.5
    to_map = np.array([[sx, 0, (0.5 - x0) * sx - 0.5], [0, sy, (0.5 - y0) * sy - 0.5]])
    out = cv2.warpAffine(m, to_map, (size[1], size[0]), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                         borderMode=cv2.BORDER_REPLICATE)
    ys, xs = np.arange(size[0]) + 0.5, np.arange(size[1]) + 0.5
    inside = ((ys >= y0) & (ys < y1))[:, None] & ((xs >= x0) & (xs < x1))[None]
    return np.where(inside, out, 0.0).astype(np.float32)


def colorize(m: np.ndarray, colormap: str = "jet") -> np.ndarray:
    """``(H, W)`` map in [0, 1] → ``uint8 (H, W, 3)`` RGB through an OpenCV colormap
    (``jet``, ``turbo``, ``viridis``, ``inferno``, ``magma``, ``hot``, ``gray``).

    Raises:
        ArgumentError: unknown colormap, or ``m`` is not 2-D.
    """
    import cv2

    check_colormap(colormap)
    u8 = to_uint8(_map2d(m))
    if _CV2_COLORMAPS[colormap] is None:
        return np.repeat(u8[..., None], 3, axis=2)
    return cv2.applyColorMap(u8, _CV2_COLORMAPS[colormap])[..., ::-1].copy()


def overlay(image: np.ndarray, m: np.ndarray, alpha: float = 0.4, colormap: str = "jet") -> np.ndarray:
    """Blend a heatmap over an image: ``(1 - alpha)·image + alpha·colormap(map)``.

    Args:
        image: ``uint8 (H, W, 3)``.
        m: ``(h, w)`` map in [0, 1], resized bilinearly to ``(H, W)``.

    Returns:
        ``uint8 (H, W, 3)``.

    Raises:
        ArgumentError: ``alpha`` outside [0, 1], unknown colormap, ``m`` not 2-D.
        ImageError: ``image`` is not ``(H, W, 3)``.
    """
    alpha = check_alpha(alpha)
    check_colormap(colormap)
    image = _image(image)
    heat = colorize(resize_map(m, image.shape[:2]), colormap).astype(np.float32)
    out = (1 - alpha) * image.astype(np.float32) + alpha * heat
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def box_from_map(m: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Bounding box ``int32 [x0, y0, x1, y1]`` (x1, y1 exclusive) of the largest connected
    region where ``map >= threshold``, the region holding the map's maximum preferred.
    An all-zero map gives the whole image. ``threshold`` is in [0, 1] (ArgumentError otherwise)."""
    import cv2

    threshold = check_threshold(threshold)
    m = _map2d(m)
    mask = (m >= threshold * m.max()).astype(np.uint8) if m.max() > 0 else np.ones_like(m, np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    peak = labels[np.unravel_index(np.argmax(m), m.shape)]
    best = peak if peak > 0 else 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    x, y, w, h = stats[best, :4]
    return np.array([x, y, x + w, y + h], np.int32)


def crop(image: np.ndarray, m: np.ndarray, threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """The region a map points at.

    Returns:
        ``(masked, cropped)``: the image with pixels where ``map < threshold`` darkened to black
        ``uint8 (H, W, 3)``, and the image cropped to :func:`box_from_map` ``uint8 (h, w, 3)``.

    Raises:
        ArgumentError: ``threshold`` outside [0, 1], ``m`` not 2-D.
        ImageError: ``image`` is not ``(H, W, 3)``.
    """
    threshold = check_threshold(threshold)
    image = _image(image)
    m = resize_map(m, image.shape[:2])
    masked = np.where((m >= threshold * max(m.max(), 1e-12))[..., None], image, 0).astype(np.uint8)
    x0, y0, x1, y1 = box_from_map(m, threshold)
    return masked, image[y0:y1, x0:x1].copy()


def draw_box(image: np.ndarray, box: Sequence[int], color=(255, 0, 0), thickness: int = 2) -> np.ndarray:
    """Copy of ``image`` with a rectangle ``[x0, y0, x1, y1]`` drawn on it."""
    import cv2

    thickness = _validate.positive_int("thickness", thickness)
    color = _validate.rgb("color", color)
    if np.asarray(box).shape != (4,):
        raise ArgumentError(f"box must be 4 numbers [x0, y0, x1, y1]. Received: box={box!r}.")
    out = np.ascontiguousarray(_image(image)).copy()
    x0, y0, x1, y1 = (int(v) for v in box)
    cv2.rectangle(out, (x0, y0), (max(x0, x1 - 1), max(y0, y1 - 1)), tuple(int(c) for c in color),
                  thickness)
    return out


def tile(images: Sequence[np.ndarray] | np.ndarray, cols: int = 16, pad: int = 1,
         pad_value: int = 255) -> np.ndarray:
    """Tile equally sized images ``(N, h, w[, 3])`` into one grid image, row by row.

    Memory is one output array: ``rows·(h+pad) × cols·(w+pad)`` pixels.

    Raises:
        ArgumentError: ``cols`` < 1, ``pad`` < 0, ``pad_value`` outside [0, 255], or ``images``
            not a non-empty ``(N, h, w[, c])`` stack.
    """
    cols = _validate.positive_int("cols", cols)
    pad = _validate.integer("pad", pad, lo=0)
    pad_value = _validate.integer("pad_value", pad_value, 0, 255)
    try:
        images = np.asarray(images)
    except ValueError:  # images of different sizes
        images = np.asarray(images, dtype=object)
    if images.ndim not in (3, 4) or images.dtype == object or 0 in images.shape:
        raise ArgumentError(f"tile needs a non-empty stack of equally sized images (N, h, w[, c]). "
                            f"Received: images of shape {images.shape}.")
    n, h, w = images.shape[:3]
    cols = min(cols, n)
    rows = -(-n // cols)
    shape = (rows * (h + pad) - pad, cols * (w + pad) - pad) + images.shape[3:]
    grid = np.full(shape, pad_value, dtype=images.dtype)
    for i in range(n):
        r, c = divmod(i, cols)
        grid[r * (h + pad): r * (h + pad) + h, c * (w + pad): c * (w + pad) + w] = images[i]
    return grid


def tile_any(images: Sequence[np.ndarray], cols: int = 2, pad: int = 8, pad_value: int = 255,
             note: str | None = None) -> np.ndarray:
    """:func:`tile` for ``uint8 (h_i, w_i, 3)`` images of different sizes: each is placed top-left
    in a cell of the largest size; ``note`` adds a band of text below the grid.

    Returns:
        ``uint8 (H, W, 3)``.
    """
    if not len(images):
        raise ArgumentError("tile_any needs at least one image. Received: images=[].")
    images = [_image(im) for im in images]
    h = max(im.shape[0] for im in images)
    w = max(im.shape[1] for im in images)
    cells = np.full((len(images), h, w, 3), pad_value, np.uint8)
    for cell, im in zip(cells, images):
        cell[:im.shape[0], :im.shape[1]] = im
    grid = tile(cells, cols=cols, pad=pad, pad_value=pad_value)
    if note is None:
        return grid
    band = title_band(grid[:1], note, height=24, background=pad_value)[:24]
    return np.concatenate([grid, band], axis=0)


def row(images: Sequence[np.ndarray], height: int, pad: int = 4, pad_value: int = 255) -> np.ndarray:
    """Panels of any sizes side by side, each resized to ``height`` pixels with its aspect kept
    (nearest-neighbour when enlarging by 2× or more, so small maps stay crisp; area otherwise).

    Args:
        images: ``uint8 (h_i, w_i, 3)`` panels.
        height: output height in pixels, ≥ 1.

    Returns:
        ``uint8 (height, Σ w_i' + pad·(n-1), 3)``.
    """
    import cv2

    height = _validate.positive_int("height", height)
    pad = _validate.integer("pad", pad, lo=0)
    if not len(images):
        raise ArgumentError("row needs at least one panel. Received: images=[].")
    panels = []
    for im in images:
        im = _image(im)
        h, w = im.shape[:2]
        width = max(1, round(w * height / h))
        method = cv2.INTER_NEAREST if height >= 2 * h else cv2.INTER_AREA
        panels.append(cv2.resize(np.ascontiguousarray(im, np.uint8), (width, height),
                                 interpolation=method))
    gap = np.full((height, pad, 3), pad_value, np.uint8)
    parts = [p for panel in panels for p in (panel, gap)][:-1]
    return np.concatenate(parts, axis=1)


def draw_rays(image: np.ndarray, origin: Sequence[float], angles_deg: Sequence[float],
              lengths: Sequence[float], labels: Sequence[str] | None = None,
              color=(255, 255, 0), thickness: int = 1) -> np.ndarray:
    """Copy of ``image`` with one ray per angle from ``origin`` (``x, y`` pixels; 0° points up,
    negative angles to the left), each ``lengths[i]`` pixels long and ending in a dot, with
    ``labels[i]`` written beyond its end. Returns ``uint8 (H, W, 3)``."""
    import cv2

    out = _image(image).astype(np.uint8).copy()
    color = tuple(int(c) for c in _validate.rgb("color", color))
    if len(angles_deg) != len(lengths) or (labels is not None and len(labels) != len(lengths)):
        raise ArgumentError(f"draw_rays needs one length (and label) per angle. Received: "
                            f"{len(angles_deg)} angles, {len(lengths)} lengths.")
    x0, y0 = (float(v) for v in origin)
    scale = max(out.shape[:2]) / 400
    for i, (angle, length) in enumerate(zip(angles_deg, lengths)):
        dx, dy = np.sin(np.radians(angle)), -np.cos(np.radians(angle))
        end = (round(x0 + dx * length), round(y0 + dy * length))
        cv2.line(out, (round(x0), round(y0)), end, color, thickness, cv2.LINE_AA)
        cv2.circle(out, end, thickness + 2, color, -1, cv2.LINE_AA)
        if labels is not None:
            (tw, th), _ = cv2.getTextSize(labels[i], cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
            cx, cy = x0 + dx * (length + 1.2 * th + 4), y0 + dy * (length + 1.2 * th + 4)
            at = (int(np.clip(cx - tw / 2, 0, out.shape[1] - tw)), int(np.clip(cy + th / 2, th, out.shape[0] - 1)))
            cv2.putText(out, labels[i], at, cv2.FONT_HERSHEY_SIMPLEX, scale, color, 1, cv2.LINE_AA)
    return out


def colormap_stops(colormap: str = "jet", n: int = 11) -> list[str]:
    """``n`` CSS colours ``#rrggbb`` from 0 to 1 along ``colormap``: a legend's gradient."""
    n = _validate.integer("n", n, lo=2)
    rgb = colorize(np.linspace(0, 1, n, dtype=np.float32)[None], colormap)[0]
    return ["#%02x%02x%02x" % tuple(int(c) for c in px) for px in rgb]


def png_bytes(image: np.ndarray) -> bytes:
    """``uint8 (H, W, 3)`` RGB or ``(H, W)`` grey encoded as a PNG file's bytes."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(image)).save(buf, format="PNG")
    return buf.getvalue()


def png_data_uri(image: np.ndarray) -> str:
    """``uint8 (H, W, 3)`` as ``data:image/png;base64,…``, for an ``<img src=…>`` in HTML."""
    import base64

    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode("ascii")


def labelled_grid(images: Sequence[np.ndarray], labels: Sequence[str], cols: int = 8,
                  min_width: int = 96, limit: int = 64) -> np.ndarray:
    """Equally sized ``uint8 (h, w, 3)`` images, each under a band with its label, in a grid of
    ``cols``; small images are enlarged (nearest-neighbour, integer factor) to at least
    ``min_width`` pixels so labels stay readable; at most ``limit`` shown (a band below says so).

    Returns:
        ``uint8 (H, W, 3)``.
    """
    n = len(images)
    factor = max(1, -(-min_width // np.asarray(images[0]).shape[1]))
    cells = [title_band(resize_nearest(im, factor), str(label), height=18)
             for im, label in zip(images[:limit], labels[:limit])]
    return tile_any(cells, cols=cols, pad=4,
                    note=None if n <= limit else f"showing {limit} of {n}")


def save_png(path, image: np.ndarray) -> None:
    """Write ``uint8 (H, W, 3)`` RGB or ``(H, W)`` grey to a PNG file (folders are created)."""
    from pathlib import Path

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(png_bytes(image))


def resize_nearest(image: np.ndarray, factor: int) -> np.ndarray:
    """Enlarge an image by an integer ``factor`` ≥ 1 with nearest-neighbour (crisp pixels)."""
    factor = _validate.positive_int("factor", factor)
    return np.repeat(np.repeat(np.asarray(image), factor, axis=0), factor, axis=1)


def title_band(image: np.ndarray, text: str, height: int = 18, color=(0, 0, 0),
               background: int = 255) -> np.ndarray:
    """Copy of ``uint8 (H, W, 3)`` ``image`` with a band of ``height`` pixels above it holding
    ``text`` (OpenCV's Hershey font, shrunk to fit the width). Returns ``uint8 (H+height, W, 3)``."""
    import cv2

    height = _validate.integer("height", height, lo=8)
    if not isinstance(text, str):
        raise ArgumentError(f"text must be a string. Received: text={text!r} of type "
                            f"{type(text).__name__}.")
    text = ascii_text(text)
    color = _validate.rgb("color", color)
    background = _validate.integer("background", background, 0, 255)
    image = _image(image)
    band = np.full((height,) + image.shape[1:], background, np.uint8)
    scale = min(height / 30.0, 1.0)
    (tw, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    while tw > image.shape[1] - 4 and scale > 0.05:  # glyph widths are rounded: not linear
        scale *= max(0.5, min(0.97, (image.shape[1] - 4) / tw))
        (tw, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    cv2.putText(band, text, (2, height - 5), cv2.FONT_HERSHEY_SIMPLEX, scale,
                tuple(int(c) for c in color), 1, cv2.LINE_AA)
    return np.concatenate([band, image.astype(np.uint8)], axis=0)


def fit(image: np.ndarray, size: int, background: int = 255) -> np.ndarray:
    """``uint8 (H, W, 3)`` ``image`` scaled to fit a ``size`` × ``size`` square, aspect kept and
    centred on ``background`` grey (nearest-neighbour when enlarging by 2× or more, as
    :func:`row`). Returns ``uint8 (size, size, 3)``."""
    import cv2

    size = _validate.positive_int("size", size)
    background = _validate.integer("background", background, 0, 255)
    image = np.ascontiguousarray(_image(image), np.uint8)
    h, w = image.shape[:2]
    scale = size / max(h, w)
    nh, nw = max(1, min(size, round(h * scale))), max(1, min(size, round(w * scale)))
    method = cv2.INTER_NEAREST if scale >= 2 else cv2.INTER_AREA
    out = np.full((size, size, 3), background, np.uint8)
    top, left = (size - nh) // 2, (size - nw) // 2
    out[top:top + nh, left:left + nw] = cv2.resize(image, (nw, nh), interpolation=method)
    return out


#: Characters OpenCV's Hershey font lacks, spelled in ASCII (others become ``?``)
_ASCII = {"→": "->", "←": "<-", "…": "...", "×": "x", "·": "*", "≥": ">=", "≤": "<=", "—": "-",
          "–": "-", "‘": "'", "’": "'", "“": '"', "”": '"', "°": " deg"}


def ascii_text(text: str) -> str:
    """``text`` in the characters OpenCV can draw (arrows, ellipses, dashes spelled out)."""
    text = "".join(_ASCII.get(c, c) for c in str(text))
    return text.encode("ascii", "replace").decode("ascii")


def message(text: str, size: tuple[int, int], color=(150, 20, 20),
            background=(255, 236, 236)) -> np.ndarray:
    """A panel of ``size = (H, W)`` pixels filled with ``background`` and ``text`` written on it,
    word-wrapped to the width (lines that do not fit the height end in ``...``): what a grid
    shows where a picture could not be made. Returns ``uint8 (H, W, 3)``."""
    import cv2

    h, w = _validate.size_hw("size", size)
    color, background = _validate.rgb("color", color), _validate.rgb("background", background)
    out = np.empty((h, w, 3), np.uint8)
    out[:] = background
    font, scale, margin = cv2.FONT_HERSHEY_SIMPLEX, 0.38, 5
    line_h = cv2.getTextSize("Ag", font, scale, 1)[0][1] + 6

    def fits(line: str) -> bool:
        return cv2.getTextSize(line, font, scale, 1)[0][0] <= w - 2 * margin

    lines: list[str] = []
    for word in ascii_text(text).split():
        while not fits(word) and len(word) > 1:  # a word wider than the panel: cut it
            cut = max(k for k in range(1, len(word)) if fits(word[:k]) or k == 1)
            lines.append(word[:cut])
            word = word[cut:]
        if lines and fits(f"{lines[-1]} {word}"):
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    room = max(1, (h - 2 * margin) // line_h)
    if len(lines) > room:
        lines = lines[:room]
        while lines[-1] and not fits(lines[-1] + " ..."):
            lines[-1] = lines[-1][:-1]
        lines[-1] = (lines[-1].rstrip() + " ...").strip()
    for i, line in enumerate(lines):
        cv2.putText(out, line, (margin, margin + (i + 1) * line_h - 4), font, scale,
                    tuple(int(c) for c in color), 1, cv2.LINE_AA)
    return out


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of boxes ``[x0, y0, x1, y1]`` (``x1``, ``y1`` exclusive), pairwise
    along the first axis: ``(N, 4)`` and ``(N, 4)`` → ``float64 (N,)`` in [0, 1]."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    w = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    h = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = w * h
    area = lambda r: (r[:, 2] - r[:, 0]) * (r[:, 3] - r[:, 1])  # noqa: E731
    union = area(a) + area(b) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def peak_in_box(maps: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Whether the maximum of each map ``(N, H, W)`` lies inside its box ``(N, 4)``
    ``[x0, y0, x1, y1]`` (``x1``, ``y1`` exclusive): ``bool (N,)``."""
    maps, boxes = np.asarray(maps), np.asarray(boxes).reshape(-1, 4)
    y, x = np.unravel_index(maps.reshape(len(maps), -1).argmax(1), maps.shape[1:])
    return (x >= boxes[:, 0]) & (x < boxes[:, 2]) & (y >= boxes[:, 1]) & (y < boxes[:, 3])


def blur(m: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of a ``(H, W)`` float map with standard deviation ``sigma`` pixels
    (``sigma <= 0`` returns the map unchanged; sigmas over ``4·max(H, W)``, where the blur is
    already flat, are capped there)."""
    import cv2

    sigma = _validate.number("sigma", sigma)
    m = _map2d(m)
    sigma = min(sigma, 4.0 * max(m.shape))
    return m if sigma <= 0 else cv2.GaussianBlur(m, (0, 0), float(sigma))
