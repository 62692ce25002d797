"""Inside the network: intermediate activations, per-layer statistics, channel grids and filter
weights (Chollet, *Deep Learning with Python*, 1st ed. §5.4.1; 2nd ed. §9.4.1).

Layers are addressed as everywhere in kerasviz (see :mod:`kerasviz.core.layers`): by name
(``"conv2"``), by path through a nested model (``"vgg16/block5_conv3"`` when a VGG16 base sits
inside a classifier), by index, by glob pattern (``"block*_conv*"``) or by class
(``keras.layers.Conv2D``). Every requested layer is read from **one** sub-model built once per
(model, layers) by :func:`kerasviz.core.replay.replay_model`, and each chunk of images goes
through it once.

Filter *patterns* (gradient ascent in input space) live in :mod:`kerasviz.inside.patterns`.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Any, Iterator, Sequence

import numpy as np

from kerasviz import _validate
from kerasviz.core import layers as _layers
from kerasviz.core.replay import replay_model
from kerasviz.present import render
from kerasviz.errors import ArgumentError, LayerNotFoundError, ModelError, suggest

__all__ = ["activations", "layer_stats", "LayerStats", "StatsTable", "sparsity_figure",
           "select_indices", "channel_grid", "channel_figure", "filter_weights"]


# --- activations ------------------------------------------------------------------------------

def _forward_chunks(model, images, layers, batch_size: int,
                    preprocess) -> tuple[list[str], Iterator]:
    """Resolve layers, preprocess images, and yield per-chunk lists of numpy outputs.

    Validation (layers and images) happens before any TensorFlow work on the images.
    """
    from kerasviz.core.models import preprocess as _preprocess

    batch_size = _validate.positive_int("batch_size", batch_size)
    paths = _layers.select_layers(model, layers)
    x = _preprocess(model, images, preprocess=preprocess)

    def chunks():
        tap = replay_model(model, paths, outputs=False)
        for start in range(0, len(x), batch_size):
            outs = _layers.as_list(tap(x[start:start + batch_size], training=False))
            yield [np.asarray(o, np.float32) for o in outs[:len(paths)]]

    return paths, chunks()


def activations(model, images: Any, layers: Any = None, *, batch_size: int = 32,
                preprocess=None) -> dict[str, np.ndarray]:
    """Outputs of chosen layers for a batch of images, read through one sub-model.

    Args:
        model: a built Sequential or Functional ``keras.Model`` (nested models allowed).
        images: raw images (``uint8`` arrays, file paths, PIL images: resized and preprocessed
            for the model) or a float batch that is already model input ``(N, H, W, C)``; see
            :func:`kerasviz.preprocess`.
        layers: names, paths (``"vgg16/block5_conv3"``), indices, glob patterns
            (``"block*_conv*"``), layer classes (``keras.layers.Conv2D``), one of these or a list
            of them. ``None``: every layer with a 4-D output (nested models themselves excluded).
        batch_size: images per forward pass (bounds memory); each chunk goes through the
            sub-model exactly once, whatever the number of layers.
        preprocess: overrides the model's preprocessing for raw images.

    Returns:
        ``dict`` layer path -> ``float32`` array ``(N, h, w, c)`` (channels-last; ``(N, units)``
        for a dense layer asked for explicitly), in model order. The values are the layer's
        outputs in inference mode (``training=False``).

    Raises:
        LayerNotFoundError: an unknown layer; the message lists the closest layer paths.
        ModelError: a subclassed / unbuilt model, or no layer with a 4-D output.
        ImageError: unreadable images or a float batch of the wrong shape.
    """
    paths, chunks = _forward_chunks(model, images, layers, batch_size, preprocess)
    parts = list(chunks)
    return {p: np.concatenate([c[i] for c in parts]) for i, p in enumerate(paths)}


# --- statistics -------------------------------------------------------------------------------

@dataclass(frozen=True)
class LayerStats:
    """Summary of one layer's outputs over a batch of images.

    Attributes:
        layer: layer path.
        kind: the layer's class name (``"Conv2D"``).
        depth: position of the layer in model order (0 = first layer after the input).
        shape: output shape without the batch axis, e.g. ``(48, 48, 16)``.
        mean, std, max: over every value of every image.
        zero_fraction: fraction of values with ``|a| <= zero_tol`` (ReLU sparsity).
        dead_fraction: fraction of channels (last axis) that are zero for every position of
            every image.
    """
    layer: str
    kind: str
    depth: int
    shape: tuple
    mean: float
    std: float
    max: float
    zero_fraction: float
    dead_fraction: float


class StatsTable(list):
    """A list of :class:`LayerStats` that prints as a table and converts to JSON."""

    _COLUMNS = ("layer", "kind", "shape", "mean", "std", "max", "zero_fraction", "dead_fraction")

    def as_dicts(self) -> list[dict]:
        """Rows as plain dicts (shapes as lists), ready for ``json.dumps``."""
        return [{**asdict(r), "shape": list(r.shape)} for r in self]

    def to_json(self, **kwargs) -> str:
        """The rows as a JSON list of objects."""
        return json.dumps(self.as_dicts(), **kwargs)

    _HEAD = ("layer", "type", "output shape", "mean", "std", "max", "zeros", "dead ch.")

    def _rows(self) -> list[list[str]]:
        """The table's cells, one list of strings per layer (the order of ``_HEAD``)."""
        return [[r.layer, r.kind, "×".join(map(str, r.shape)), f"{r.mean:.4g}", f"{r.std:.4g}",
                 f"{r.max:.4g}", f"{r.zero_fraction:.1%}", f"{r.dead_fraction:.1%}"] for r in self]

    def __repr__(self) -> str:
        names = [r.layer for r in self]
        shown = names if len(names) <= 4 else names[:2] + ["…"] + names[-1:]
        dead = sum(r.dead_fraction > 0 for r in self)
        return (f"StatsTable({len(self)} layers: {', '.join(shown)}; "
                f"{dead} with dead channels)")

    def _repr_html_(self) -> str:
        """The table of :meth:`__str__` as an HTML ``<table>`` (notebooks)."""
        from html import escape

        cell = lambda tag, i, c: (f"<{tag} style='text-align:{'left' if i < 3 else 'right'}'>"  # noqa: E731
                                  f"{escape(c)}</{tag}>")
        head = "".join(cell("th", i, c) for i, c in enumerate(self._HEAD))
        body = "".join("<tr>" + "".join(cell("td", i, c) for i, c in enumerate(r)) + "</tr>"
                       for r in self._rows())
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def __str__(self) -> str:
        head, rows = list(self._HEAD), self._rows()
        widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
                  for i, h in enumerate(head)]
        fmt = lambda cells: "  ".join(c.ljust(w) if i < 3 else c.rjust(w)  # noqa: E731
                                      for i, (c, w) in enumerate(zip(cells, widths)))
        return "\n".join([fmt(head), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows])


def layer_stats(model, images: Any, layers: Any = None, *, zero_tol: float = 0.0,
                batch_size: int = 32, preprocess=None) -> StatsTable:
    """Per-layer activation statistics: the numbers behind the book's remark that activations
    grow sparser with depth.

    Computed in one streaming pass (one sub-model call per chunk of ``batch_size`` images); the
    activations of all images are never held at once.

    Args:
        model, images, layers, batch_size, preprocess: as for :func:`activations`.
        zero_tol: values with ``|a| <= zero_tol`` count as zero (0: exact zeros, as ReLU gives).

    Returns:
        :class:`StatsTable` of :class:`LayerStats`, one row per layer in model order.
        ``print(table)`` shows a table; ``table.to_json()`` gives JSON;
        :func:`sparsity_figure` plots zero and dead fractions against depth.

    Raises:
        As :func:`activations`.
    """
    zero_tol = _validate.number("zero_tol", zero_tol, lo=0)
    paths, chunks = _forward_chunks(model, images, layers, batch_size, preprocess)
    acc = [None] * len(paths)
    for outs in chunks:
        for i, a in enumerate(outs):
            flat = a.reshape(-1, a.shape[-1]) if a.ndim > 1 else a.reshape(-1, 1)
            zero = np.abs(flat) <= zero_tol
            part = np.array([flat.size, flat.sum(dtype=np.float64),
                             np.square(flat, dtype=np.float64).sum(), zero.sum()])
            live = ~zero.all(axis=0)
            mx = float(flat.max())
            if acc[i] is None:
                acc[i] = [part, live, mx]
            else:
                acc[i] = [acc[i][0] + part, acc[i][1] | live, max(acc[i][2], mx)]
    table = {r.path: r for r in _layers.layer_table(model)}
    rows = StatsTable()
    for path, (part, live, mx) in zip(paths, acc):
        n, s, ss, z = part
        mean = s / n
        info = table[path]
        rows.append(LayerStats(
            layer=path, kind=type(info.layer).__name__, depth=info.index,
            shape=tuple(info.output_shape[1:]), mean=float(mean),
            std=float(math.sqrt(max(ss / n - mean * mean, 0.0))), max=mx,
            zero_fraction=float(z / n), dead_fraction=float(1.0 - live.mean())))
    return rows


def sparsity_figure(stats: Sequence[LayerStats], title: str | None = None):
    """Plot zero fraction and dead-channel fraction against layer depth.

    Args:
        stats: rows from :func:`layer_stats`.
        title: figure title (default "Sparsity vs depth").

    Returns:
        ``matplotlib.figure.Figure`` (not attached to pyplot; save with ``fig.savefig``).
    """
    from matplotlib.figure import Figure

    if not stats:
        raise ArgumentError("Expected at least one LayerStats row. Received: stats=[]")
    fig = Figure(figsize=(max(5.0, 0.45 * len(stats) + 2), 3.8), layout="constrained")
    ax = fig.add_subplot()
    pos = np.arange(len(stats))
    ax.plot(pos, [100 * r.zero_fraction for r in stats], "o-", label="zero activations")
    ax.plot(pos, [100 * r.dead_fraction for r in stats], "s--", label="dead channels")
    ax.set_xticks(pos, [r.layer.split("/")[-1] for r in stats], rotation=60, ha="right",
                  fontsize=8)
    ax.set_ylabel("% of the layer")
    ax.set_ylim(-2, 102)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title or "Sparsity vs depth")
    return fig


# --- channel grids ----------------------------------------------------------------------------

def select_indices(n: int, spec: Any, name: str = "channels") -> np.ndarray:
    """Resolve a channel / filter selection against ``n`` channels.

    Args:
        n: number of channels.
        spec: None (all), an int, a sequence or ``range`` of ints (negative count from the end),
            or a ``slice`` (Python slicing: out-of-range bounds are clipped).
        name: argument name for error messages.

    Returns:
        ``int64 (k,)`` indices in ``[0, n)``, in the given order.

    Raises:
        ArgumentError: an index out of range, a non-integer, or an empty selection.
    """
    if spec is None:
        return np.arange(n)
    if isinstance(spec, slice):
        idx = np.arange(n)[spec]
    else:
        seq = list(spec) if isinstance(spec, (range, list, tuple)) else spec
        idx = np.atleast_1d(np.asarray(seq))
        if idx.dtype.kind not in "iu" or (idx.size and (idx.min() < -n or idx.max() >= n)):
            raise ArgumentError(f"Expected {name} indices in [0, {n}). Received: {name}={spec!r}")
        idx = idx.astype(np.int64) % n
    if idx.size == 0:
        raise ArgumentError(f"No {name} selected (there are {n}). Received: {name}={spec!r}")
    return idx


def _pick_channels(a: np.ndarray, channels, sort) -> np.ndarray:
    idx = select_indices(a.shape[-1], channels)
    if sort in ("mean", "-mean"):
        means = a[..., idx].mean(axis=(0, 1))
        idx = idx[np.argsort(-means if sort == "mean" else means, kind="stable")]
    elif sort is not None:
        raise ArgumentError(f"Unknown sort. Expected None, 'mean' (largest first) or '-mean'. "
                            f"Received: sort={sort!r}")
    return idx


def channel_grid(acts: np.ndarray, title: str | None = None, *, cols: int = 16,
                 channels: Any = None, sort: str | None = None, scale: int | None = None,
                 colormap: str = "viridis", pad: int = 1) -> np.ndarray:
    """The book's activation grid: every channel of one image's feature map, in rows of 16.

    Each channel is standardised and clipped for display as in the book
    (``(a - mean) / std · 64 + 128`` clipped to [0, 255], i.e. ±2 std); constant channels (dead
    ones) show as uniform dark tiles. Tiles are enlarged by an integer factor with
    nearest-neighbour, so small maps stay crisp.

    Memory: one ``float32`` copy of the chosen channels plus the ``uint8`` grid; a 512-channel
    14×14 layer gives a 32×16 grid of tiles (about 3 MB), a 64-channel 224×224 layer about 10 MB.

    Args:
        acts: ``(h, w, c)`` activations of one image (or ``(1, h, w, c)``), e.g.
            ``activations(model, img)["conv2"][0]``.
        title: written in a band above the grid (the layer name, as in the book).
        cols: tiles per row (the book's 16).
        channels: subset to show: indices, a ``range`` or a ``slice``; default all.
        sort: ``"mean"`` orders tiles by mean activation, largest first (``"-mean"``: smallest).
        scale: enlargement factor; default: the smallest that makes tiles ≥ 32 px (at most 8).
        colormap: see :func:`kerasviz.present.render.colorize` (the book used viridis).
        pad: white pixels between tiles.

    Returns:
        ``uint8 (H, W, 3)`` RGB image.

    Raises:
        ArgumentError: ``acts`` is not one image's ``(h, w, c)`` map, or bad channels / sort.
    """
    a = np.asarray(acts)
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 3 or 0 in a.shape:
        raise ArgumentError(f"Expected one image's activations of shape (h, w, c). Received: shape "
                         f"{a.shape}. For a batch pass acts[i].")
    idx = _pick_channels(a, channels, sort)
    sel = np.moveaxis(a[..., idx].astype(np.float32), -1, 0)            # (k, h, w)
    mean = sel.mean(axis=(1, 2), keepdims=True)
    std = sel.std(axis=(1, 2), keepdims=True)
    unit = np.where(std > 0, ((sel - mean) / np.where(std > 0, std, 1) * 64 + 128) / 255, 0.0)
    k, h, w = unit.shape
    tiles = render.colorize(np.clip(unit, 0, 1).reshape(k * h, w), colormap).reshape(k, h, w, 3)
    if scale is None:
        scale = int(min(8, max(1, math.ceil(32 / max(h, w)))))
    if scale > 1:
        tiles = np.repeat(np.repeat(tiles, scale, axis=1), scale, axis=2)
    grid = render.tile(tiles, cols=cols, pad=pad)
    return render.title_band(grid, title) if title else grid


def channel_figure(acts: np.ndarray, title: str | None = None, **grid_options):
    """:func:`channel_grid` as a matplotlib Figure (title as the axes title, no ticks).

    Returns:
        ``matplotlib.figure.Figure`` (not attached to pyplot), width ≤ 16 inches.
    """
    from matplotlib.figure import Figure

    grid = channel_grid(acts, None, **grid_options)
    width = min(16.0, max(4.0, grid.shape[1] / 80))
    fig = Figure(figsize=(width, width * grid.shape[0] / grid.shape[1] + 0.5), layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(grid, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return fig


# --- filter weights ---------------------------------------------------------------------------

def filter_weights(model, layer: Any = None, *, filters: Any = None,
                   input_channel: int | str | None = None) -> np.ndarray:
    """Convolution kernels as small images.

    A first layer that sees RGB (3 input channels) gives colour tiles: filter ``f`` is
    ``kernel[:, :, :, f]`` (its R, G, B weights). Deeper layers give grey tiles, either of one
    chosen input channel or averaged over input channels. A ``DepthwiseConv2D`` has one kernel
    per (input channel, multiplier): each is a grey tile, in channel order. Every tile is scaled
    symmetrically, ``0.5 + 0.5 · w / max|w|`` per filter, so zero weight is mid-grey.

    Args:
        model: a built ``keras.Model``.
        layer: a ``Conv2D`` / ``DepthwiseConv2D`` (any spec :func:`kerasviz.resolve_layer`
            takes); default: the first such layer.
        filters: output filters to show (indices, ``range`` or ``slice``); default all.
        input_channel: ``None``: RGB for a layer with 3 input channels, else the mean over
            input channels; ``"mean"``: always the mean; an int: that input channel only.

    Returns:
        ``uint8 (F, kh, kw, 3)``; enlarge with :func:`kerasviz.present.render.resize_nearest` and tile
        with :func:`kerasviz.present.render.tile`.

    Raises:
        LayerNotFoundError: the layer is unknown or is not a 2-D convolution.
    """
    import keras

    kinds = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)
    rows = _layers.layer_table(model)
    convs = [r.path for r in rows if isinstance(r.layer, kinds)]
    if layer is None:
        if not convs:
            raise ModelError(f"Model {model.name!r} has no Conv2D or DepthwiseConv2D layer.")
        path = convs[0]
    else:
        path = _layers.resolve_layer(model, layer)
    lyr = next(r.layer for r in rows if r.path == path)
    if not isinstance(lyr, kinds):
        raise LayerNotFoundError(
            f"Layer {path!r} is a {type(lyr).__name__}, which has no 2-D convolution kernel. "
            f"Expected a Conv2D or DepthwiseConv2D layer. {suggest(path.split('/')[-1], convs)}")
    kernel = np.asarray(lyr.kernel, np.float32)                     # (kh, kw, cin, cout|mult)
    kh, kw, cin, cout = kernel.shape
    if isinstance(lyr, keras.layers.DepthwiseConv2D):
        tiles = kernel.reshape(kh, kw, 1, cin * cout)                # channel-major order
        rgb = False
    else:
        if input_channel is None:
            input_channel = "rgb" if cin == 3 else "mean"
        if input_channel == "rgb":
            tiles, rgb = kernel, True
        elif input_channel == "mean":
            tiles, rgb = kernel.mean(axis=2, keepdims=True), False
        elif isinstance(input_channel, (int, np.integer)) and -cin <= input_channel < cin:
            tiles, rgb = kernel[:, :, input_channel:input_channel + 1 or None], False
        else:
            raise ArgumentError(f"Expected input_channel None, 'mean' or an int in [0, {cin}). "
                             f"Received: input_channel={input_channel!r}")
    tiles = np.moveaxis(tiles if rgb else tiles[:, :, 0], -1, 0)    # (F, kh, kw[, 3])
    tiles = tiles[select_indices(tiles.shape[0], filters, "filters")]
    peak = np.abs(tiles).max(axis=tuple(range(1, tiles.ndim)), keepdims=True)
    unit = 0.5 + 0.5 * tiles / np.where(peak > 0, peak, 1)
    u8 = render.to_uint8(unit)
    return u8 if rgb else np.repeat(u8[..., None], 3, axis=-1)
