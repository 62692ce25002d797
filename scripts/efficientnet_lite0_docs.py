"""The numbers and the picture of the EfficientNet-Lite0 page (docs/efficientnet_lite0.md).

Prints, as Markdown: the top-5 ImageNet classes of scikit-image's photos, the max logit
difference to the PyTorch reference (``tests/data/efficientnet_lite0_logits.npz``), and per method
the localisation on the hand-made boxes of ``tests/test_efficientnet_lite.py`` (peak in box,
share of the map's energy in the box). Writes ``docs/img/efficientnet_lite0_chelsea.png``.

Usage (needs ``pip install -e ".[test]"``; about two minutes on two CPU cores)::

    python scripts/efficientnet_lite0_docs.py
"""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

#: Methods in the localisation table; Score-CAM and Ablation-CAM are left out (1280 channels ×
#: one forward pass each: minutes per photo on a CPU), CAM equals Grad-CAM for this GAP → Dense head.
METHODS = ["gradcam", "gradcam++", "xgradcam", "layercam", "hirescam", "eigencam", "saliency",
           "smoothgrad", "gradxinput", "integrated_gradients", "guided_backprop", "guided_gradcam"]
PHOTOS = ["chelsea", "coffee", "rocket", "astronaut"]


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import skimage.data

    import kerasviz

    tests = _load("test_efficientnet_lite", ROOT / "tests" / "test_efficientnet_lite.py")
    reference = _load("efficientnet_lite0_reference", ROOT / "scripts" / "efficientnet_lite0_reference.py")
    model = kerasviz.load_model("efficientnet_lite0")

    names, x = reference.inputs()
    ref = np.load(ROOT / "tests" / "data" / "efficientnet_lite0_logits.npz")["logits"]
    logits = kerasviz.load_model("efficientnet_lite0", classifier_activation=None).predict(x, verbose=0)
    print(f"max |logit - PyTorch logit| = {np.abs(logits - ref).max():.2g} "
          f"(logits up to {np.abs(ref).max():.1f})\n")

    print("| photo | top-5 (probability) |\n|---|---|")
    for photo in PHOTOS:
        probs = model.predict(kerasviz.preprocess(model, getattr(skimage.data, photo)()), verbose=0)
        top = ", ".join(f"{n} ({p:.2f})" for _, n, p in kerasviz.decode_predictions(probs, top=5)[0])
        print(f"| `{photo}` | {top} |")

    print("\n| method | " + " | ".join(f"{p}: peak in box, energy in box" for p in tests.BOXES)
          + " |\n|---|" + "---|" * len(tests.BOXES))
    for method in METHODS:
        cells = []
        for photo, box in tests.BOXES.items():
            image = getattr(skimage.data, photo)()
            m = kerasviz.explain(model, image, method).maps[0]
            x0, y0, x1, y1 = tests._box_in_crop(box, image.shape)
            y, xx = np.unravel_index(m.argmax(), m.shape)
            inside = np.zeros_like(m, bool)
            inside[max(0, int(np.ceil(y0))):int(y1) + 1, max(0, int(np.ceil(x0))):int(x1) + 1] = True
            cells.append(f"{'yes' if inside[y, xx] else 'no'}, {m[inside].sum() / m.sum():.0%}")
        print(f"| `{method}` | " + " | ".join(cells) + " |")

    image = skimage.data.chelsea()
    shown = kerasviz.explain(model, image, "gradcam")
    guided = kerasviz.explain(model, image, "guided_gradcam")
    top = kerasviz.decode_predictions(model.predict(kerasviz.preprocess(model, image), verbose=0))[0][0]
    fig, axes = plt.subplots(1, 3, figsize=(10.5, 3.6), constrained_layout=True)
    x0, y0, x1, y1 = tests._box_in_crop(tests.BOXES["chelsea"], image.shape)
    axes[0].imshow(shown.images[0])
    axes[0].add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color="w", lw=1.5))
    axes[0].set_title("model input (centre crop),\nhand-made face box")
    axes[1].imshow(shown.images[0])
    axes[1].imshow(shown.maps[0], cmap="jet", alpha=0.45, vmin=0, vmax=1)
    im = matplotlib.cm.ScalarMappable(matplotlib.colors.Normalize(0, 1), "jet")
    axes[1].set_title(f"Grad-CAM, top_activation:\n{top[1]} ({top[2]:.2f})")
    axes[2].imshow(guided.maps[0], cmap="gray", vmin=0, vmax=np.percentile(guided.maps[0], 99.5))
    axes[2].set_title("Guided Grad-CAM\n(grey clipped at its 99.5th percentile)")
    for ax in axes:
        ax.axis("off")
    fig.colorbar(im, ax=axes[1], fraction=0.046, label="Grad-CAM (normalised)")
    out = ROOT / "docs" / "img" / "efficientnet_lite0_chelsea.png"
    fig.savefig(out, dpi=80)
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
