"""Regenerate the pictures of docs/inside/index.md and docs/inside/patterns.md (and print the
numbers quoted there).

Run from the repository root:  python docs/features_images.py
Uses only the public API on the shipped ``shapes`` model and freshly generated images.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import kerasviz  # noqa: E402
from kerasviz.data import datasets
from kerasviz.inside import features
from kerasviz.inside import patterns
from kerasviz.present import render  # noqa: E402

OUT = Path(__file__).resolve().parent / "img"


def _save(name, image):
    """PNG with an adaptive 256-colour palette (keeps the doc pictures small)."""
    from PIL import Image

    Image.fromarray(image).quantize(256, method=Image.Quantize.MEDIANCUT).save(OUT / name,
                                                                                 optimize=True)


def _row(images, title, cols=8, scale=1):
    grid = render.tile(images, cols=cols, pad=2)
    return render.title_band(render.resize_nearest(grid, scale) if scale > 1 else grid, title)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    model = kerasviz.load_model("shapes")
    names = kerasviz.model_info(model).class_names
    images, labels, _ = datasets.shapes(64, seed=2024)

    # 1. activation grid of one image, two layers
    acts = kerasviz.activations(model, images[:1])
    print("layers:", {k: v.shape[1:] for k, v in acts.items()})
    relus = ["conv1", "conv2", "conv3_relu", "conv4"]  # the layers whose outputs are ReLU maps
    shallow, deep = "conv2", "conv4"
    top = render.title_band(render.resize_nearest(images[0], 2), f"input: {names[labels[0]]}")
    g1 = features.channel_grid(acts[shallow][0], shallow)
    g2 = features.channel_grid(acts[deep][0], f"{deep} (sorted by mean activation)", sort="mean")
    width = max(top.shape[1], g1.shape[1], g2.shape[1])
    def pad(im):
        return np.pad(im, ((0, 6), (0, width - im.shape[1]), (0, 0)), constant_values=255)

    _save("features_activation_grid.png", np.concatenate([pad(top), pad(g1), pad(g2)]))

    # 2. statistics and sparsity vs depth
    stats = kerasviz.layer_stats(model, images, relus)
    print(stats)
    features.sparsity_figure(stats, "shapes model: sparsity vs depth (64 images)").savefig(
        OUT / "features_sparsity.png", dpi=80)

    # 3. filter weights of the first layer
    w = kerasviz.filter_weights(model)
    tiles = np.repeat(np.repeat(w, 12, axis=1), 12, axis=2)
    render.save_png(OUT / "features_weights.png", _row(tiles, "conv1 kernels (RGB)", cols=16))

    # 4. book vs lucid patterns: a middle layer and the last conv layer
    rows = []
    for layer in ("conv2", kerasviz.core.layers.default_conv_layer(model)):
        for recipe in ("book", "lucid"):
            t = time.perf_counter()
            res = patterns.optimize_patterns(model, layer, range(7), recipe=recipe, progress=False)
            gain = res.activation_end / np.maximum(res.activation_start, 1e-12)
            print(f"{layer} {recipe}: {time.perf_counter() - t:.1f} s for 7 filters; "
                  f"activation gain median {np.median(gain):.0f}x, min {gain.min():.1f}x")
            rows.append(_row(res.images, f"{layer}, filters 0-6, recipe={recipe!r}", cols=7))
    _save("features_patterns_book_vs_lucid.png", np.concatenate(rows))

    # 5. class models
    res = patterns.optimize_patterns(model, target=list(names), recipe="lucid", progress=False)
    print("class models: probability", dict(zip(names, np.round(res.activation_end, 3))))
    _save("features_class_models.png",
                    _row(res.images, "class models (lucid): " + ", ".join(names), cols=len(names)))


if __name__ == "__main__":
    main()
