"""Regenerate docs/img/blackbox_shapes.png: occlusion and RISE (forward passes only) beside
Grad-CAM on four ``shapes`` images, each explaining the true class, with the object's box.

    .venv/bin/python scripts/blackbox_pictures.py
"""
from pathlib import Path

import numpy as np

import kerasviz

DOCS_IMG = Path(__file__).resolve().parents[1] / "docs" / "img"
#: Grey (0.5 in the model's [0, 1] input) fills what is hidden, as in the pointing-game test.
METHODS = {"gradcam": {}, "occlusion": {"patch": 16, "stride": 8, "baseline": 0.5},
           "rise": {"masks": 1000, "baseline": 0.5}}

if __name__ == "__main__":
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model = kerasviz.load_model("shapes")
    images, labels, boxes = kerasviz.datasets.shapes(4, seed=31)
    exps = {m: kerasviz.explain(model, images, m, target=labels, progress=False, **o)
            for m, o in METHODS.items()}
    fig, axes = plt.subplots(len(images), 1 + len(METHODS), figsize=(2 * (1 + len(METHODS)),
                                                                     2 * len(images)))
    for i, row in enumerate(axes):
        pics = [images[i]] + [exps[m].overlay()[i] for m in METHODS]
        for ax, pic, title in zip(row, pics, ["image"] + list(METHODS)):
            ax.imshow(pic)
            x0, y0, x1, y1 = boxes[i]
            ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color="white"))
            if title in exps:  # the map's peak: what the pointing game checks
                py, px = np.unravel_index(exps[title].maps[i].argmax(), exps[title].maps[i].shape)
                ax.plot(px, py, "w+", markersize=10, markeredgewidth=2)
            ax.set_title(title if i == 0 else "", fontsize=10)
            ax.axis("off")
        row[0].set_ylabel(exps["gradcam"].labels[i])
    fig.tight_layout()
    out = DOCS_IMG / "blackbox_shapes.png"
    fig.savefig(out, dpi=80)
    print("wrote", out)
