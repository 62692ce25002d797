"""Regenerate the comparison grid of the docs (docs/img/compare_grid.png): the two shipped models
on one ``shapes`` image and one ``sensors`` scene, with Grad-CAM, SmoothGrad, guided backprop and
CAM (which the ``sensors`` model's Flatten head cannot do: its cells say why).

    .venv/bin/python scripts/compare_pictures.py
"""
from pathlib import Path

import kerasviz

DOCS_IMG = Path(__file__).resolve().parents[1] / "docs" / "img"
METHODS = ["gradcam", "smoothgrad", "guided_backprop", "cam"]

if __name__ == "__main__":
    shape = kerasviz.datasets.shapes(1, seed=7)[0]
    scenes = kerasviz.datasets.sensors(8, seed=3)
    scene = scenes.images[scenes.readings.max(axis=1).argmax()]  # an obstacle close ahead
    comparison = kerasviz.compare(["shapes", "sensors"], [shape[0], scene], METHODS,
                                  cell_size=144)
    print(comparison)
    print("wrote", comparison.save(DOCS_IMG / "compare_grid.png"))
