"""Localisation of every explanation method on the shipped ``shapes`` model, and the docs gallery.

For ``--n`` freshly generated shapes images (seed ``--seed``, not a training or evaluation seed of
the model), each method explains the *true* class; two figures per method:

* **peak in box**: the map's maximum lies inside the ground-truth bounding box;
* **IoU ≥ 0.5**: the box of :meth:`Explanation.boxes` (region around the peak where
  ``map ≥ threshold · max``; the default threshold 0.3, and 0.5 for comparison) overlaps the
  truth with IoU ≥ 0.5.

Usage::

    python scripts/localisation_table.py                       # print the Markdown table
    python scripts/localisation_table.py --write docs/explaining/gallery.md --gallery docs/img

``--write`` replaces the text between ``<!-- localisation-table -->`` and
``<!-- /localisation-table -->`` in the file; ``--gallery`` writes ``explain_gallery.png`` (every
method on one image) and ``explain_crop.png`` (overlay, masked image and crop) there.
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

import numpy as np  # noqa: E402

MARK = ("<!-- localisation-table -->", "<!-- /localisation-table -->")


def table(n: int, seed: int, methods: list[str]) -> tuple[str, dict]:
    import kerasviz
    from kerasviz.data import datasets
    from kerasviz.present import render

    model = kerasviz.load_model("shapes")
    images, labels, boxes = datasets.shapes(n, seed=seed)
    probs = model.predict(kerasviz.preprocess(model, images), verbose=0)
    acc = float((probs.argmax(1) == labels).mean())
    lines = [f"{n} new `shapes` images (seed {seed}); model accuracy on them {acc:.1%}; each method "
             f"explains the true class.", "",
             "| method | peak in box | IoU ≥ 0.5 (`boxes()`) | mean IoU | IoU ≥ 0.5 (`boxes(0.5)`) "
             "| time (s) |", "|---|---:|---:|---:|---:|---:|"]
    results = {}
    for name in methods:
        t0 = time.perf_counter()
        exp = kerasviz.explain(model, images, name, target=labels, progress=False)
        sec = time.perf_counter() - t0
        iou = render.box_iou(exp.boxes(), boxes)
        half = render.box_iou(exp.boxes(0.5), boxes)
        inside = render.peak_in_box(exp.maps, boxes).mean()
        results[name] = (inside, (iou >= 0.5).mean(), iou.mean())
        lines.append(f"| `{name}` | {inside:.1%} | {(iou >= 0.5).mean():.1%} | {iou.mean():.2f} | "
                     f"{(half >= 0.5).mean():.1%} | {sec:.1f} |")
        print(lines[-1], flush=True)
    return "\n".join(lines), results


def gallery(out: Path, seed: int, methods: list[str]) -> None:
    import kerasviz
    from kerasviz.data import datasets
    from kerasviz.present import render

    model = kerasviz.load_model("shapes")
    images, labels, boxes = datasets.shapes(8, seed=seed)
    i = 3
    image, label, box = images[i:i + 1], int(labels[i]), boxes[i]
    tiles = [render.draw_box(image[0], box, (0, 200, 0), 1)]
    titles = ["image + true box"]
    for name in methods:
        exp = kerasviz.explain(model, image, name, target=label, progress=False)
        tiles.append(render.draw_box(exp.overlay(alpha=0.5)[0], exp.boxes()[0], (255, 255, 255), 1))
        titles.append(name)
    big = [render.resize_nearest(t, 2) for t in tiles]
    titled = [render.title_band(t, s) for t, s in zip(big, titles)]
    render.save_png(out / "explain_gallery.png", render.tile(titled, cols=6, pad=4))
    exp = kerasviz.explain(model, images[:4], "gradcam", target=labels[:4], progress=False)
    masked, regions = exp.crop()
    rows = []
    for k in range(4):
        crop = np.full_like(images[k], 255)
        h, w = regions[k].shape[:2]
        crop[:h, :w] = regions[k]
        rows += [exp.overlay()[k], masked[k], crop]
    render.save_png(out / "explain_crop.png",
                    render.tile([render.resize_nearest(t, 2) for t in rows], cols=6, pad=4))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Localisation table and gallery for docs/explaining/gallery.md")
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--seed", type=int, default=2024)
    p.add_argument("--methods", default=None, help="comma-separated (default: all)")
    p.add_argument("--write", type=Path, help="Markdown file with the table markers")
    p.add_argument("--gallery", type=Path, help="folder for explain_gallery.png and explain_crop.png")
    args = p.parse_args(argv)

    import kerasviz

    methods = args.methods.split(",") if args.methods else [m.name for m in kerasviz.methods()]
    if args.gallery:
        gallery(args.gallery, args.seed, methods)
    text, _ = table(args.n, args.seed, methods)
    print(text)
    if args.write:
        doc = args.write.read_text()
        pattern = re.escape(MARK[0]) + ".*?" + re.escape(MARK[1])
        if not re.search(pattern, doc, flags=re.S):
            raise SystemExit(f"{args.write} has no {MARK[0]} … {MARK[1]} markers")
        doc = re.sub(pattern, lambda _: f"{MARK[0]}\n{text}\n{MARK[1]}", doc, flags=re.S)
        args.write.write_text(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
