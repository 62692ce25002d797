"""The tables and figures of docs/explaining/metrics.md: every method of explain() scored by
kerasviz.metrics on the shipped ``shapes`` model and on EfficientNet-Lite0 with the bundled photos,
and the model- and data-randomisation sanity checks on ``shapes``.

Settings, fixed here and stated in the page (light, so that the script runs in minutes on a CPU):

* ``shapes``: ``--n`` (32) new images (seed 2024, not a training or evaluation seed), each method
  explaining the true class; boxes from the data generator; deletion / insertion with 32 steps
  and the blur baseline; max-sensitivity with 4 draws of radius 0.05.
* EfficientNet-Lite0: the 16 hand-drawn targets of ``kerasviz/data/photo_boxes.json`` (6 photos),
  each explaining its class; 16 steps, blur baseline; max-sensitivity with 2 draws of radius 0.05;
  then, per target, energy-in-box and pointing game of ``gradcam``, ``gradcam@probability`` and
  ``gradcam_ig``.
* sanity check: 16 ``shapes`` images, cascading randomisation from the top.
* data randomisation: the same 16 images, true classes, ``shapes`` against ``shapes_shuffled``
  (the architecture trained on permuted labels); example maps of 3 images.

Every method also appears as ``gradcam@probability`` (Grad-CAM of the softmax probability), and
``random`` / ``center`` are maps that use no model.

Usage::

    python scripts/metrics_table.py                                   # print the tables
    python scripts/metrics_table.py --write docs/explaining/metrics.md --img docs/img

``--write`` replaces the text between ``<!-- metrics-<part> -->`` and ``<!-- /metrics-<part> -->``
(parts ``shapes``, ``photos``, ``sanity``, ``datarand``); ``--img`` writes ``metrics_shapes.png``,
``metrics_photos.png``, ``sanity_shapes.png``, ``datarand_shapes.png`` and ``datarand_maps.png``
there.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SANITY_METHODS = ("gradcam", "gradcam_ig", "saliency", "smoothgrad", "integrated_gradients",
                  "guided_backprop", "guided_gradcam")


def _methods() -> list[str]:
    import kerasviz

    names = [m.name for m in kerasviz.methods()]
    return names[:names.index("gradcam") + 1] + ["gradcam@probability"] + names[names.index("gradcam") + 1:]


def shapes_table(n: int, img: Path | None) -> str:
    import kerasviz
    from kerasviz.data import datasets

    model = kerasviz.load_model("shapes")
    images, labels, boxes = datasets.shapes(n, seed=2024)
    t0 = time.perf_counter()
    table = kerasviz.evaluate(model, images, _methods(), labels, boxes, steps=32, samples=4)
    sec = time.perf_counter() - t0
    if img:
        table.figure().savefig(img / "metrics_shapes.png", dpi=90)
    print(table, flush=True)
    return (f"{n} new `shapes` images (seed 2024), each method explaining the true class; "
            f"32 steps, blur baseline, max-sensitivity over 4 draws (radius 0.05); computed in "
            f"{sec:.0f} s on a CPU.\n\n" + table.to_markdown())


def photos_table(img: Path | None) -> str:
    import kerasviz
    from kerasviz.data import photos

    model = kerasviz.load_model("efficientnet_lite0")
    targets = photos.boxes()
    images = [photos.photo(t["photo"]) for t in targets]
    t0 = time.perf_counter()
    table = kerasviz.evaluate(model, images, _methods(), [t["class"] for t in targets],
                              [t["box"] for t in targets], steps=16, samples=2, batch_size=32)
    sec = time.perf_counter() - t0
    if img:
        table.figure().savefig(img / "metrics_photos.png", dpi=90)
    print(table, flush=True)
    listed = ", ".join(f"{t['photo']} / {t['class']}" for t in targets)
    return (f"EfficientNet-Lite0 on {len(targets)} hand-drawn targets ({listed}); 16 steps, "
            f"blur baseline, max-sensitivity over 2 draws (radius 0.05); computed in {sec:.0f} s "
            f"on a CPU.\n\n" + table.to_markdown() + "\n\n" + _per_target(table, targets))


def _per_target(table, targets, rows=("gradcam", "gradcam@probability", "gradcam_ig")) -> str:
    """Energy-in-box per target for the Grad-CAM variants (● = the map's peak is in the box), and
    on how many targets each variant's energy-in-box is higher than Grad-CAM's."""
    rows = [r for r in rows if r in table.values]
    e = {r: table.values[r]["energy_in_box"] for r in rows}
    hit = {r: table.values[r]["pointing_game"] for r in rows}
    lines = ["| target | " + " | ".join(f"`{r}`" for r in rows) + " |",
             "|---" + "|---:" * len(rows) + "|"]
    for i, t in enumerate(targets):
        cells = [f"{e[r][i]:.2f}{' ●' if hit[r][i] > 0.5 else ''}" for r in rows]
        lines.append(f"| {t['photo']} / {t['class']} | " + " | ".join(cells) + " |")
    n = len(targets)
    wins = [f"`{r}` above `gradcam` on {int((e[r] > e['gradcam']).sum())} of {n} targets "
            f"(mean {e['gradcam'].mean():.3f} → {e[r].mean():.3f})" for r in rows[1:]]
    return ("Energy-in-box per target (● = the map's peak lies in the box); " + "; ".join(wins)
            + ".\n\n" + "\n".join(lines))


def sanity_table(img: Path | None) -> str:
    import kerasviz
    from kerasviz.data import datasets
    from kerasviz.metrics import sanity

    model = kerasviz.load_model("shapes")
    images, labels, _ = datasets.shapes(16, seed=2024)
    check = sanity.model_randomisation(model, images, SANITY_METHODS, labels)
    if img:
        check.figure().savefig(img / "sanity_shapes.png", dpi=90)
    print(check, flush=True)
    head = ["method"] + list(check.layers)
    lines = ["| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 1) + "|"]
    for m in check.methods:
        lines.append(f"| `{m}` | " + " | ".join(f"{v:.2f}" for v in check.mean(m)) + " |")
    return ("Mean Spearman rank correlation of |map| with the trained model's map, 16 `shapes` "
            "images; column *k* = every layer from the top down to that one randomised.\n\n"
            + "\n".join(lines))


def datarand_table(img: Path | None) -> str:
    import kerasviz
    from kerasviz.data import datasets, demo_models
    from kerasviz.metrics import sanity

    model, shuffled = kerasviz.load_model("shapes"), kerasviz.load_model("shapes_shuffled")
    images, labels, _ = datasets.shapes(16, seed=2024)
    check = sanity.data_randomisation(model, shuffled, images, SANITY_METHODS, labels)
    if img:
        check.figure().savefig(img / "datarand_shapes.png", dpi=90)
        kerasviz.compare([model, shuffled], images[:3], ["gradcam", "saliency", "guided_backprop",
                                                         "guided_gradcam"],
                         targets=labels[:3].tolist()).save(img / "datarand_maps.png")
    print(check, flush=True)
    facts = demo_models.demo_metrics()["shapes_shuffled"]
    lines = ["| method | " + " | ".join(sanity.SIMILARITIES) + " |",
             "|---" + "|---:" * len(sanity.SIMILARITIES) + "|"]
    for m in check.methods:
        lines.append(f"| `{m}` | " + " | ".join(f"{check.mean(m, k)[1]:.2f}"
                                                 for k in sanity.SIMILARITIES) + " |")
    return (f"`shapes_shuffled`: {facts['train_images']} training images, {facts['epochs']} "
            f"epochs, accuracy {facts['train_accuracy']:.3f} on its permuted training labels and "
            f"{facts['accuracy']:.3f} on {facts['eval_images']} held-out images' true labels "
            f"(chance 0.2; `shapes`: {demo_models.demo_metrics()['shapes']['accuracy']:.3f}). "
            f"Mean similarity of each method's maps on `shapes_shuffled` to its maps on `shapes`, "
            f"16 `shapes` images, true classes (1 = unchanged, 0 = unrelated).\n\n"
            + "\n".join(lines))


def _replace(doc: str, part: str, text: str) -> str:
    mark = (f"<!-- metrics-{part} -->", f"<!-- /metrics-{part} -->")
    pattern = re.escape(mark[0]) + ".*?" + re.escape(mark[1])
    if not re.search(pattern, doc, flags=re.S):
        raise SystemExit(f"no {mark[0]} … {mark[1]} markers")
    return re.sub(pattern, lambda _: f"{mark[0]}\n{text}\n{mark[1]}", doc, flags=re.S)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Metrics tables for docs/explaining/metrics.md")
    p.add_argument("--n", type=int, default=32, help="shapes images (default 32)")
    p.add_argument("--parts", default="shapes,photos,sanity,datarand")
    p.add_argument("--write", type=Path, help="Markdown file with the table markers")
    p.add_argument("--img", type=Path, help="folder for the figures")
    args = p.parse_args(argv)
    make = {"shapes": lambda: shapes_table(args.n, args.img), "photos": lambda: photos_table(args.img),
            "sanity": lambda: sanity_table(args.img), "datarand": lambda: datarand_table(args.img)}
    for part in args.parts.split(","):
        text = make[part]()
        if args.write:
            args.write.write_text(_replace(args.write.read_text(), part, text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
