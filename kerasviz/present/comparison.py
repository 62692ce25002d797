"""``kerasviz.compare``: several models and methods on the same images, as one labelled grid.

(The module is not called ``compare.py`` so that ``kerasviz.compare`` stays the function.)

One row per image × model (image-major: image 0 with every model, then image 1…), one column per
method after a first ``input`` column (the image as that model saw it). Per model the images are
decoded once, resized and preprocessed once, and run forward once (the predictions that title
the row); every method then works on that same preprocessed batch. A cell that cannot be
computed (a :class:`~kerasviz.KerasvizError` from the method, e.g. ``cam`` on a model without a
GAP → Dense head) holds the reason, drawn in the cell and in :attr:`Cell.error`.

The grid is drawn with :mod:`kerasviz.present.render` (numpy / OpenCV), so its layout is exact:
cells of ``cell_size`` × ``cell_size`` pixels under a title band of :data:`TITLE_HEIGHT` pixels
(two lines: ``model: target value`` and the method), separated and framed by :data:`GRID_PAD`
pixels of grey :data:`GRID_GREY`.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from kerasviz import _progress, _validate
from kerasviz.errors import ArgumentError, ImageError, KerasvizError, one_line, suggest
from kerasviz.present import render
from kerasviz.present.explanation import Explanation

#: Default side of a cell's picture in pixels (96-pixel inputs are enlarged 2×, crisply).
CELL_SIZE = 192
#: Height of one title line above a cell; each cell has two.
TITLE_LINE = 16
TITLE_HEIGHT = 2 * TITLE_LINE
#: Width of the separators between cells and of the frame around the grid, in pixels.
GRID_PAD = 4
#: Grey level (R = G = B) of the separators and the frame.
GRID_GREY = 96
#: Name of the first column: the image as the model saw it.
INPUT = "input"


@dataclass(frozen=True, eq=False)
class Cell:
    """One cell of a :class:`Comparison`.

    Attributes:
        row, column: position in the grid (column 0 is the ``input`` column).
        image: index of the image in the images given.
        model: the model's name (unique within the comparison).
        method: the method's registry name, or ``"input"``.
        target: the unit explained (class id / output unit), or None for a callable target.
        label: what the title says about the target: ``"circle p=0.93"`` (softmax
            probability from the model's output), ``"front 0.42"`` (a regression output's
            value) or ``"circle score 3.1"`` (a classifier without softmax).
        title: the two title lines drawn above the picture.
        picture: ``uint8 (cell_size, cell_size, 3)``: the heatmap over the image, the image
            (``input``), or the reason it could not be made.
        explanation: the method's :class:`~kerasviz.Explanation` for this image alone
            (``len == 1``), or None (``input`` column, or an error).
        error: why the cell could not be computed (one line), else None.
        seconds: the method's time on this model (``input``: the forward pass's), divided by
            the number of images.
    """
    row: int
    column: int
    image: int
    model: str
    method: str
    target: int | None
    label: str
    title: tuple[str, str]
    picture: np.ndarray
    explanation: Explanation | None = None
    error: str | None = None
    seconds: float = 0.0

    @property
    def score(self) -> float | None:
        """The explained score (pre-softmax, see :attr:`Explanation.scores`), or None."""
        if self.explanation is None or self.explanation.scores is None:
            return None
        return _number(self.explanation.scores[0])

    @property
    def box(self) -> list[int] | None:
        """``[x0, y0, x1, y1]`` of the region the map points at, in model input pixels
        (:meth:`Explanation.boxes`), or None."""
        return None if self.explanation is None else self.explanation.boxes()[0].tolist()

    def to_dict(self) -> dict:
        """JSON-able: column, method, target, label, score, box, error, seconds."""
        return {"column": self.column, "method": self.method, "target": self.target,
                "label": self.label, "score": self.score, "box": self.box, "error": self.error,
                "seconds": round(self.seconds, 4)}


@dataclass(frozen=True, eq=False)
class Row:
    """One row of a :class:`Comparison`: an image as one model saw it.

    Attributes:
        index: row number.
        image: index of the image in the images given; ``image_name`` its file name (or
            ``"image <i>"``).
        model: the model's name; ``kind`` what its numbers are: ``"probability"`` (softmax
            output), ``"score"`` (other classifiers) or ``"value"`` (regression).
        predictions: the top 5 units of the explained output, highest first:
            ``[{"unit": int, "name": str, "value": float}]``.
        shown: ``uint8 (H, W, 3)`` the image resized to the model's input, before preprocessing.
    """
    index: int
    image: int
    image_name: str
    model: str
    kind: str
    predictions: list
    shown: np.ndarray

    def to_dict(self) -> dict:
        return {"row": self.index, "image": self.image, "image_name": self.image_name,
                "model": self.model, "kind": self.kind, "predictions": self.predictions}


class Comparison:
    """The result of :func:`compare`: a grid of cells, rows = images × models, columns =
    ``input`` + methods.

    Attributes:
        rows: the :class:`Row` of each grid row.
        cells: ``cells[row][column]``, :class:`Cell` objects.
        models, methods, image_names: the names along the axes (methods without ``input``).
        cell_size: side of each cell's picture in pixels.
    """

    def __init__(self, rows: list[Row], cells: list[list[Cell]], models: tuple, methods: tuple,
                 image_names: tuple, cell_size: int = CELL_SIZE):
        self.rows, self.cells = rows, cells
        self.models, self.methods, self.image_names = models, methods, image_names
        self.cell_size = cell_size
        self._grid: np.ndarray | None = None

    def __repr__(self) -> str:
        failed = sum(c.error is not None for r in self.cells for c in r)
        return (f"Comparison(images={len(self.image_names)}, models={list(self.models)}, "
                f"methods={list(self.methods)}, failed_cells={failed})")

    @property
    def explanations(self) -> dict:
        """``{(image_index, model_name, method): Explanation}`` of every computed cell."""
        return {(c.image, c.model, c.method): c.explanation
                for r in self.cells for c in r if c.explanation is not None}

    def cell(self, image: int, model: str, method: str) -> Cell:
        """The cell of image ``image`` (index), model ``model`` and ``method`` (or ``"input"``).

        Raises:
            ArgumentError: no such cell (the valid names are listed).
        """
        for r in self.cells:
            for c in r:
                if (c.image, c.model, c.method) == (image, model, method):
                    return c
        raise ArgumentError(f"No cell for image={image!r}, model={model!r}, method={method!r}. "
                            f"Expected an image index below {len(self.image_names)}, a model of "
                            f"{list(self.models)} and a method of {[INPUT, *self.methods]}.")

    # -- pictures ---------------------------------------------------------------------------
    def grid(self) -> np.ndarray:
        """The labelled grid: ``uint8 (R·(T+S+P)+P, C·(S+P)+P, 3)`` with R rows, C columns,
        S = ``cell_size``, T = :data:`TITLE_HEIGHT`, P = :data:`GRID_PAD`; separators and frame
        are grey :data:`GRID_GREY`, title bands white."""
        if self._grid is None:
            blocks = []
            for r in self.cells:
                for c in r:
                    block = render.title_band(c.picture, c.title[1], TITLE_LINE)
                    blocks.append(render.title_band(block, c.title[0], TITLE_LINE))
            grid = render.tile(blocks, cols=len(self.cells[0]), pad=GRID_PAD, pad_value=GRID_GREY)
            self._grid = np.pad(grid, ((GRID_PAD,) * 2, (GRID_PAD,) * 2, (0, 0)),
                                constant_values=GRID_GREY)
        return self._grid

    def png(self) -> bytes:
        """The grid (:meth:`grid`) as PNG bytes."""
        return render.png_bytes(self.grid())

    def _repr_png_(self) -> bytes:
        return self.png()

    def save(self, path: str | Path) -> Path:
        """Write the grid as a PNG file (atomically; never through a symbolic link); returns
        the path. The folder must exist.

        Raises:
            OutputError: ``path`` is a symbolic link.
        """
        from kerasviz.present.outputs import _atomic_write

        path = Path(path)
        _atomic_write(path, self.png())
        return path

    def figure(self, dpi: int = 100):
        """A Matplotlib Figure showing the grid at its pixel size (``dpi`` pixels per inch)."""
        import matplotlib.pyplot as plt

        dpi = _validate.positive_int("dpi", dpi)
        grid = self.grid()
        fig = plt.figure(figsize=(grid.shape[1] / dpi, grid.shape[0] / dpi), dpi=dpi)
        ax = fig.add_axes((0, 0, 1, 1))
        ax.imshow(grid, interpolation="nearest")
        ax.axis("off")
        return fig

    # -- data ---------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """JSON-able summary: the axes, and per row the model, the image, the top-5
        predictions and each cell's method / target / score / box / error / seconds."""
        return {"models": list(self.models), "methods": list(self.methods),
                "images": list(self.image_names), "cell_size": self.cell_size,
                "rows": [{**row.to_dict(), "cells": [c.to_dict() for c in cells]}
                         for row, cells in zip(self.rows, self.cells)]}

    def write(self, folder) -> Path:
        """Write ``grid.png``, ``results.json``, one PNG per cell and ``index.html`` (last) into
        an :class:`~kerasviz.present.outputs.OutputFolder`, and mark it complete. Returns the
        index's path."""
        from kerasviz.present.report import Report

        folder.write_text("results.json", json.dumps(self.to_dict(), indent=1) + "\n")
        rep = Report("kerasviz compare", folder)
        rep.section("Grid", f"Rows: {len(self.image_names)} image(s) × {len(self.models)} "
                            f"model(s); columns: input, {', '.join(self.methods)}.")
        rep.figure("grid", self.grid(), "rows: image × model; columns: input, then each method")
        for row, cells in zip(self.rows, self.cells):
            fmt = ".3f" if row.kind == "probability" else ".3g"
            top = ", ".join(f"{p['name']} {p['value']:{fmt}}" for p in row.predictions)
            kinds = {"probability": "probabilities", "score": "scores", "value": "values"}
            rep.section(f"{row.image_name} · {row.model}", f"Top 5 {kinds[row.kind]}: {top}.",
                        inline=True)
            for c in cells:
                caption = " · ".join(c.title) + (f" — cannot compute: {c.error}" if c.error else "")
                rep.figure(f"cell_r{c.row:02d}_c{c.column:02d}", c.picture, caption)
        return rep.write()

    def to_html(self, folder: str | Path, *, force: bool = False) -> Path:
        """Write the comparison as ``<folder>/index.html`` with ``grid.png``, ``results.json``
        and one PNG per cell beside it, through an
        :class:`~kerasviz.present.outputs.OutputFolder` (atomic files; a non-empty folder
        that is not a previous comparison is refused unless ``force=True``). Returns the
        index's path.

        Raises:
            OutputError: the folder may not be written (see ``OutputFolder``).
        """
        from kerasviz.present.outputs import OutputFolder

        out = OutputFolder(folder, "compare", {"models": list(self.models),
                                               "methods": list(self.methods)},
                           force=_validate.boolean("force", force))
        return self.write(out)


# --- computing -------------------------------------------------------------------------------

def compare(models: Any, images: Any, methods: Any, targets: Any = None, layers: Any = None, *,
            preprocess: Any = None, progress: bool | None = None,
            cell_size: int = CELL_SIZE) -> Comparison:
    """Explain the same images with several models and methods, side by side.

    Args:
        models: one model or a list: ``keras.Model`` objects or anything
            :func:`kerasviz.load_model` takes (``"shapes"``, ``"sensors"``, a ``.keras`` file).
            Each model gets the images at its own input size and preprocessing.
        images: raw images, as :func:`kerasviz.explain` takes them: file paths, ``uint8``
            arrays ``(H, W, 3)`` / ``(N, H, W, 3)`` (any sizes), PIL images, or a list of these.
        methods: a registered method name (``kerasviz.methods()`` lists them), a
            :class:`~kerasviz.methods.Method` (e.g. ``kerasviz.methods.smooth("gradcam")``), or
            a list of these.
        targets: what to explain (see :func:`kerasviz.explain`): None (each image's top unit),
            one target for every model, or a dict ``{model name: target}``.
        layers: the conv layer of the CAM methods: None (the last 4-D layer), one layer for
            every model, or a dict ``{model name: layer}``.
        preprocess: for models kerasviz does not know: one function for all, or a dict
            ``{model name: function}`` (``uint8``-range float32 RGB ``(N, H, W, 3)`` → input).
        progress: a progress bar over models × methods (default: when stderr is a terminal).
        cell_size: side of each cell's picture in the grid, in pixels (≥ 32).

    Returns:
        :class:`Comparison`: ``.grid()`` / ``.png()`` / ``.save(path)`` / ``.figure()`` (the
        labelled grid), ``.to_html(folder)``, ``.explanations``, ``.cells``, ``.to_dict()``.

    Raises:
        UnknownMethodError: an unknown method (closest names listed).
        ImageError: an unreadable image, no images, or a float batch (compare needs raw images,
            as each model preprocesses its own).
        ModelError: a model that cannot be loaded or used.
        ArgumentError: a dict key that names no model, a bad ``cell_size``.
        LayerNotFoundError, TargetError, UnknownClassError: a layer or target that does not fit
            a model (checked before any model runs).
    """
    from kerasviz import methods as registry

    one = isinstance(methods, (str, registry.Method))
    chosen = {m.name: m for m in map(registry.get, [methods] if one else methods)}
    if not chosen:
        raise ArgumentError("compare needs at least one method. Received: methods=[]. "
                            f"Available: {registry.names()}.")
    names = list(chosen)
    cell_size = _validate.integer("cell_size", cell_size, lo=32)
    originals, image_names = _decode(images)
    loaded = _load_models(models)
    model_names = list(loaded)
    per = {what: _per_model(what, value, model_names) for what, value in
           (("targets", targets), ("layers", layers), ("preprocess", preprocess))}
    runs = [_ModelRun(name, model, originals, per["targets"][name], per["layers"][name],
                      per["preprocess"][name], chosen.values()) for name, model in loaded.items()]
    rows: list[Row] = []
    cells: list[list[Cell]] = []
    results = {}
    with _progress.bar(total=len(runs) * len(names), progress=progress, desc="compare",
                       unit="map") as bar:
        for run in runs:
            run.forward()
            for name, method in chosen.items():
                results[run.name, name] = run.explain(method)
                bar.update(1)
    for i, image_name in enumerate(image_names):
        for run in runs:
            r = len(rows)
            rows.append(run.row(r, i, image_name))
            line = [run.input_cell(r, i, cell_size)]
            for c, method in enumerate(names, start=1):
                line.append(run.cell(r, c, i, method, results[run.name, method], cell_size))
            cells.append(line)
    return Comparison(rows, cells, tuple(model_names), tuple(names), tuple(image_names),
                      cell_size)


def _decode(images) -> tuple[list[np.ndarray], list[str]]:
    """Each image read once at its own size: ``uint8 (H_i, W_i, 3)``, and a name per image."""
    from kerasviz.core.images import load_image, sources

    if isinstance(images, np.ndarray) and np.issubdtype(images.dtype, np.floating):
        raise ImageError(f"compare needs raw images (uint8 arrays, paths or PIL images): each "
                         f"model resizes and preprocesses its own. Received: a float array of "
                         f"shape {images.shape}; pass uint8 images, e.g. "
                         f"(x * 255).round().astype('uint8') for [0, 1] floats.")
    srcs = sources(images)
    names = [Path(s).name if isinstance(s, (str, Path)) else f"image {i}"
             for i, s in enumerate(srcs)]
    return [load_image(s) for s in srcs], names


def _load_models(models) -> dict:
    """``{unique name: keras.Model}``; names given are loaded with :func:`kerasviz.load_model`."""
    import keras

    from kerasviz.core.models import check_model, load_model, model_info

    given = list(models) if isinstance(models, (list, tuple)) else [models]
    if not given:
        raise ArgumentError("compare needs at least one model. Received: models=[].")
    out = {}
    for m in given:
        model = m if isinstance(m, keras.Model) else load_model(m)
        check_model(model, graph=True, what="compare")
        name, k = model_info(model).name, 2
        while name in out:
            name, k = f"{model_info(model).name}-{k}", k + 1
        out[name] = model
    return out


def _per_model(what: str, value, names: list[str]) -> dict:
    """``{model name: value}``: a dict's entries (keys checked), else ``value`` for every model."""
    if not isinstance(value, dict):
        return {n: value for n in names}
    unknown = [k for k in value if k not in names]
    if unknown:
        raise ArgumentError(f"{what} has an entry for {unknown[0]!r}, which is not a model of "
                            f"this comparison. Expected keys among {names}. "
                            f"{suggest(str(unknown[0]), names)}")
    return {n: value.get(n) for n in names}


def _number(v) -> float | None:
    v = float(v)
    return v if np.isfinite(v) else None


class _ModelRun:
    """One model's share of a comparison: its images (resized and preprocessed once), its one
    clean forward pass, its target and the methods' results."""

    def __init__(self, name, model, originals, target, layer, preprocess, methods):
        from kerasviz.core import layers as L
        from kerasviz.core import models as M
        from kerasviz.core.images import as_uint8_batch
        from kerasviz.core.targets import as_target

        self.name, self.model = name, model
        info = M.model_info(model)
        self.task = info.task
        self.shown = as_uint8_batch(originals, info.input_size, crop=info.center_crop)
        # checked before any model runs: the target, an explicit layer, the preprocessing
        self.spec, self.target = target, as_target(model, target, len(originals))
        self.layer = None
        if layer is not None and any(m.uses_layer for m in methods):
            self.layer = L.resolve_layer(model, layer)
        self.x = M.preprocess(model, self.shown, preprocess=preprocess)
        self.outputs, self.seconds = None, 0.0

    def forward(self) -> None:
        """The one clean forward pass; resolves "top unit" targets on its outputs."""
        from kerasviz.core.layers import as_list
        from kerasviz.core.targets import as_target

        start = time.perf_counter()
        self.outputs = [np.asarray(o, np.float32)
                        for o in as_list(self.model.predict(self.x, verbose=0))]
        self.seconds = time.perf_counter() - start
        if self.target.fn is None:
            self.target = as_target(self.model, self.spec, len(self.x), outputs=self.outputs)

    def explain(self, method) -> tuple[Explanation | None, str | None, float]:
        """``(explanation of every image, None, seconds)`` or ``(None, reason, seconds)`` for
        a :class:`~kerasviz.methods.Method`."""
        from kerasviz.methods.explainer import explain

        spec = self.target.fn if self.target.fn is not None else _resolved(self.target)
        start = time.perf_counter()
        try:
            exp = explain(self.model, self.x, method, target=spec,
                          layer=self.layer if method.uses_layer else None)
        except KerasvizError as exc:
            return None, one_line(exc), time.perf_counter() - start
        return replace(exp, images=self.shown), None, time.perf_counter() - start

    # -- presentation ---------------------------------------------------------------------
    def _values(self, i: int) -> np.ndarray:
        out = self.outputs[self.target.output][i]
        return out.reshape(-1, out.shape[-1]).mean(axis=0) if out.ndim > 1 else out.reshape(-1)

    @property
    def kind(self) -> str:
        from kerasviz.core import replay

        if self.task == "regression":
            return "value"
        path = replay.output_layer_paths(self.model)[self.target.output]
        softmax = path is not None and replay.activation_name(
            replay.layer_at(self.model, path)) == "softmax"
        return "probability" if softmax else "score"

    def _unit_name(self, unit: int) -> str:
        from kerasviz.core import targets

        names = targets.class_names(self.model, self.target.output)
        if names and 0 <= unit < len(names):
            return names[unit]
        return targets._labeler(self.model, self.target.output)(unit)  # "sensors[2]", "dense"

    def label(self, i: int) -> str:
        if self.target.units is None:
            return self.target.labels[i]
        unit = int(self.target.units[i])
        value, name = float(self._values(i)[unit]), self._unit_name(unit)
        return {"probability": f"{name} p={value:.2f}", "score": f"{name} score {value:.3g}",
                "value": f"{name} {value:.3g}"}[self.kind]

    def row(self, index: int, i: int, image_name: str) -> Row:
        values = self._values(i)
        top = np.argsort(-values, kind="stable")[:5]
        preds = [{"unit": int(u), "name": self._unit_name(int(u)), "value": _number(values[u])}
                 for u in top]
        return Row(index, i, image_name, self.name, self.kind, preds, self.shown[i])

    def _unit(self, i: int) -> int | None:
        return None if self.target.units is None else int(self.target.units[i])

    def input_cell(self, r: int, i: int, size: int) -> Cell:
        label = self.label(i)
        return Cell(r, 0, i, self.name, INPUT, self._unit(i), label,
                    (f"{self.name}: {label}", INPUT), render.fit(self.shown[i], size),
                    seconds=self.seconds / len(self.x))

    def cell(self, r: int, c: int, i: int, method: str, result, size: int) -> Cell:
        exp, error, seconds = result
        label = self.label(i)
        title = (f"{self.name}: {label}", method)
        per_image = seconds / len(self.x)
        if exp is None:
            picture = render.message(f"cannot compute {method}: {error}", (size, size))
            return Cell(r, c, i, self.name, method, self._unit(i), label, title, picture,
                        None, error, per_image)
        one = exp[i]
        return Cell(r, c, i, self.name, method, self._unit(i), label, title,
                    render.fit(one.overlay()[0], size), one, None, per_image)


def _resolved(target):
    """A resolved :class:`~kerasviz.Target` as an ``Output`` spec ``explain`` takes."""
    from kerasviz.core.targets import Output

    return Output(target.output, [int(u) for u in target.units])
