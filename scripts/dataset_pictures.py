"""Regenerate docs/img/dataset_parquet.png: what a Ray batch run gives, read back from its Parquet
parts alone (``kerasviz.read_results``): each image's Grad-CAM overlay with its box, decoded from
the ``overlay_png`` bytes, under its name, top class and Grad-CAM score.

    .venv/bin/python scripts/dataset_pictures.py
"""
import io
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

import kerasviz
from kerasviz.present import render

DOCS_IMG = Path(__file__).resolve().parents[1] / "docs" / "img"

if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="kerasviz-dataset-") as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        for i, image in enumerate(kerasviz.datasets.shapes(8, seed=41).images):
            Image.fromarray(image).save(folder / f"img{i:02d}.png")
        (folder / "broken.jpg").write_bytes(b"not an image\n" * 10)
        kerasviz.explain_dataset("shapes", folder, ["gradcam"], Path(tmp) / "out", workers=2,
                                 batch_size=4, progress=False)
        rows = sorted(kerasviz.read_results(Path(tmp) / "out").to_pylist(),
                      key=lambda r: r["image"])
    pictures, labels = [], []
    for row in rows:
        name = Path(row["image"]).name
        if row["error"]:
            size = pictures[0].shape[:2] if pictures else (96, 96)
            pictures.append(np.full((*size, 3), 40, np.uint8))
            labels.append(f"{name} - error row: {row['kind']}")
            continue
        pictures.append(np.asarray(Image.open(io.BytesIO(row["gradcam"]["overlay_png"])).convert("RGB")))
        top = row["predictions"][0]
        labels.append(f"{name}: {top['name']} {top['probability']:.2f}, "
                      f"score {row['gradcam']['score']:.1f}")
    grid = render.labelled_grid(pictures, labels, cols=3, min_width=200)
    render.save_png(DOCS_IMG / "dataset_parquet.png", grid)
    print(f"wrote {DOCS_IMG / 'dataset_parquet.png'} ({len(rows)} rows)")
