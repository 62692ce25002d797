"""One table of methods × metrics: :func:`evaluate` and :class:`MetricsTable`."""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from kerasviz import _validate
from kerasviz.errors import ArgumentError
from kerasviz.metrics import measures

#: metric → (which way is better, what it measures). The table's columns, in order.
METRICS = {
    "deletion": ("lower", "AUC of the class probability as the most important pixels are "
                          "replaced by the baseline first"),
    "insertion": ("higher", "AUC of the class probability as the most important pixels are put "
                            "back into the baseline first"),
    "pointing_game": ("higher", "share of images whose map peaks inside the ground-truth box"),
    "energy_in_box": ("higher", "share of the map's sum inside the ground-truth box"),
    "max_sensitivity": ("lower", "largest relative change of the map under small uniform noise"),
    "gini": ("higher", "Gini index of the map: higher = sparser (easier to read), not more "
                       "faithful"),
}
#: metrics that need ground-truth boxes
BOX_METRICS = ("pointing_game", "energy_in_box")


def parse_method(spec) -> tuple[str, str, dict]:
    """``(label, method name, explain options)`` of a method spec: a registered name, or
    ``"name@probability"`` for ``explain(…, score="probability")``.

    Raises:
        UnknownMethodError: an unknown method name. ArgumentError: an unknown ``@`` suffix.
    """
    from kerasviz.methods import get

    name, _, how = str(spec).partition("@")
    m = get(name).name
    if not how:
        return m, m, {}
    if how != "probability":
        raise ArgumentError(f"A method spec is a method name, or name@probability to score the "
                            f"target's softmax probability. Received: {spec!r}.")
    return f"{m}@probability", m, {"score": "probability"}


@dataclass(frozen=True, eq=False)
class MetricsTable:
    """Methods × metrics on a set of images (:func:`evaluate`).

    Attributes:
        rows: row labels: method specs, then the reference maps (``"random"``, ``"center"``).
        metrics: the columns (keys of :data:`METRICS`).
        values: ``{row: {metric: float64 (N,)}}`` per image (NaN where a metric does not apply,
            e.g. max-sensitivity of a reference map).
        curves: ``{row: {"deletion" | "insertion": float32 (N, steps + 1)}}``.
        settings: what was run (``steps``, ``baseline``, ``samples``, ``radius``, ``seed``, …).
    """
    rows: tuple
    metrics: tuple
    values: dict
    curves: dict = field(repr=False)
    settings: dict

    def mean(self, row: str, metric: str) -> float:
        """The mean over images (NaN images left out; NaN if none)."""
        v = self.values[row][metric]
        return float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")

    def to_dict(self) -> dict:
        """JSON-ready: ``{"metrics": {m: {"better", "about"}}, "settings", "images",
        "rows": {row: {metric: mean or None}}}``."""
        def clean(v):
            return None if not np.isfinite(v) else round(v, 4)

        return {"metrics": {m: {"better": METRICS[m][0], "about": METRICS[m][1]}
                            for m in self.metrics},
                "settings": dict(self.settings), "images": self.settings.get("images"),
                "rows": {r: {m: clean(self.mean(r, m)) for m in self.metrics} for r in self.rows}}

    def _cells(self) -> list[list[str]]:
        return [[r] + ["–" if not np.isfinite(self.mean(r, m)) else f"{self.mean(r, m):.3f}"
                       for m in self.metrics] for r in self.rows]

    def header(self) -> list[str]:
        """Column titles with their direction (``deletion ↓``: lower is better)."""
        return ["method"] + [f"{m} {'↓' if METRICS[m][0] == 'lower' else '↑'}" for m in self.metrics]

    def __str__(self) -> str:
        rows = [self.header()] + self._cells()
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                           for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
        lines.insert(1, "-" * len(lines[0]))
        notes = [f"{m}: {'lower' if METRICS[m][0] == 'lower' else 'higher'} is better; {METRICS[m][1]}"
                 for m in self.metrics]
        return "\n".join(lines + [""] + notes)

    def to_markdown(self) -> str:
        """The table in Markdown (the directions in the header)."""
        head = self.header()
        lines = ["| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 1) + "|"]
        lines += ["| " + " | ".join([f"`{c[0]}`"] + c[1:]) + " |" for c in self._cells()]
        return "\n".join(lines)

    def figure(self):
        """A Matplotlib figure: mean deletion and insertion curves per row, and the table coloured
        per column from worst (light) to best (dark) by each metric's direction."""
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 3, figsize=(16, 0.32 * len(self.rows) + 3.2),
                                 gridspec_kw=dict(width_ratios=[1, 1, 1.5]))
        colours = plt.get_cmap("tab20")(np.arange(len(self.rows)) % 20)  # one colour per row
        for ax, mode in zip(axes[:2], ("deletion", "insertion")):
            for r, colour in zip(self.rows, colours):
                c = self.curves[r][mode].mean(axis=0)
                ax.plot(np.linspace(0, 1, len(c)), c, lw=1.2 if r in measures.REFERENCES else 1.6,
                        ls="--" if r in measures.REFERENCES else "-", color=colour, label=r)
            ax.set_title(f"{mode} ({'lower' if mode == 'deletion' else 'higher'} AUC is better)")
            ax.set_xlabel(f"fraction of pixels {'removed' if mode == 'deletion' else 'inserted'}")
            ax.set_ylabel("class probability (mean)")
        axes[1].legend(fontsize=6, ncol=2)
        means = np.array([[self.mean(r, m) for m in self.metrics] for r in self.rows])
        good = np.full(means.shape, np.nan)
        for j, m in enumerate(self.metrics):
            col = means[:, j]
            ok = np.isfinite(col)
            if ok.sum() > 1 and np.ptp(col[ok]) > 0:
                g = (col - np.nanmin(col)) / np.ptp(col[ok])
                good[:, j] = g if METRICS[m][0] == "higher" else 1 - g
        ax = axes[2]
        ax.imshow(np.ma.masked_invalid(good), cmap="Greens", vmin=-0.2, vmax=1.2, aspect="auto")
        for (i, j), v in np.ndenumerate(means):
            ax.text(j, i, "–" if not np.isfinite(v) else f"{v:.2f}", ha="center", va="center",
                    fontsize=7)
        ax.set_xticks(range(len(self.metrics)), self.header()[1:], rotation=20, fontsize=7)
        ax.set_yticks(range(len(self.rows)), self.rows, fontsize=7)
        ax.set_title("mean per method (darker = better)")
        fig.tight_layout()
        return fig


def evaluate(model, images, methods=None, target=None, boxes=None, *, steps: int = measures.DEFAULT_STEPS,
             baseline: str = "blur", samples: int = 8, radius: float = 0.05, seed: int = 0,
             references: bool = True, batch_size: int = 16) -> MetricsTable:
    """Every metric of :data:`METRICS` for every method on ``images``.

    Args:
        model: a classifier with one image input.
        images: raw images (``uint8``, paths: explained as explain() does) or a preprocessed
            float batch.
        methods: method specs (:func:`parse_method`: ``"gradcam"``, ``"gradcam@probability"``);
            None = every registered method.
        target: the class per image (None: the top class); every method explains the same.
        boxes: ``(N, 4)`` ground-truth ``[x0, y0, x1, y1]`` per image, in the pixels of the images
            as given (for raw images of another size than the model's input, they are mapped
            to the input, :func:`~kerasviz.metrics.boxes_in_input`); None skips the box metrics.
        steps, baseline: of the deletion and insertion curves (:func:`~kerasviz.metrics.curves`).
        samples, radius, seed: of :func:`~kerasviz.metrics.max_sensitivity`.
        references: add the rows ``random`` and ``center`` (maps that use no model: the floor).
        batch_size: model evaluations per graph step.

    Returns:
        :class:`MetricsTable`.

    Raises:
        ArgumentError, UnknownMethodError, ImageError, TargetError: bad arguments, named before
        any method runs.
    """
    from kerasviz.methods import names
    from kerasviz.methods.explainer import _inputs, explain

    specs = [parse_method(m) for m in (names() if methods is None else methods)]
    if not specs:
        raise ArgumentError("evaluate needs at least one method. Received: methods=[].")
    steps = _validate.positive_int("steps", steps)
    _validate.one_of("baseline", baseline, measures.BASELINES)
    x, _, originals, windows = _inputs(model, images, None)
    output, units = measures.resolve_units(model, x, target)
    if boxes is not None:
        boxes = measures.check_boxes(boxes, len(x))
        if windows is not None:
            boxes = measures.boxes_in_input(boxes, windows, x.shape[1:3])
    from kerasviz.core.targets import Output

    tgt = Output(output, [int(u) for u in units])
    metrics = tuple(m for m in METRICS if boxes is not None or m not in BOX_METRICS)
    maps = {}
    for label, name, opts in specs:
        with warnings.catch_warnings():  # an empty map is scored as what it is
            warnings.simplefilter("ignore")
            maps[label] = explain(model, x, name, target=tgt, batch_size=batch_size,
                                  progress=False, **opts).maps
    if references:
        for k in measures.REFERENCES:
            maps[k] = measures.reference_maps(k, len(x), x.shape[1:3], seed=seed)
    values, curves = {}, {}
    for label, m in maps.items():
        curves[label] = {mode: measures.curves(model, x, m, tgt, mode=mode, baseline=baseline,
                                               steps=steps, batch_size=batch_size)
                         for mode in ("deletion", "insertion")}
        v = {mode: measures.auc(c) for mode, c in curves[label].items()}
        if boxes is not None:
            v["pointing_game"] = measures.pointing_game(m, boxes).astype(np.float64)
            v["energy_in_box"] = measures.energy_in_box(m, boxes)
        spec = next((s for s in specs if s[0] == label), None)
        if spec is None:
            v["max_sensitivity"] = np.full(len(x), np.nan)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                v["max_sensitivity"] = measures.max_sensitivity(
                    model, x, spec[1], tgt, radius=radius, samples=samples, seed=seed,
                    batch_size=batch_size, **spec[2])
        v["gini"] = measures.gini(m)
        values[label] = {k: v[k] for k in metrics}
    settings = dict(images=len(x), steps=steps, baseline=baseline, samples=samples, radius=radius,
                    seed=seed, target="given" if target is not None else "top class")
    return MetricsTable(tuple(maps), metrics, values, curves, settings)
