"""Write ``docs/img/explain_original.png`` for docs/explaining/index.md: a ``shapes`` image
stretched to a 160 × 96 original, explained with Grad-CAM; left the model's 96 × 96 view with its
box, right ``overlay(original=True)`` with ``boxes(original=True)``, titled with ``exp.title``.

Run: ``python scripts/original_size_image.py [out.png]``.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    import cv2

    import kerasviz
    from kerasviz.present import render

    out = Path((argv or sys.argv[1:] or [ROOT / "docs/img/explain_original.png"])[0])
    model = kerasviz.load_model("shapes")
    data = kerasviz.datasets.shapes(5, seed=7)
    original = cv2.resize(data.images[1], (160, 96), interpolation=cv2.INTER_LINEAR)
    exp = kerasviz.explain(model, original, "gradcam")
    seen = render.draw_box(exp.overlay()[0], exp.boxes()[0], color=(255, 255, 255))
    drawn = render.draw_box(exp.overlay(original=True)[0], exp.boxes(original=True)[0],
                            color=(255, 255, 255))
    panels = [render.title_band(render.resize_nearest(p, 2), text, height=22)
              for p, text in [(seen, "model input 96x96: overlay(), boxes()"),
                              (drawn, "original 160x96: overlay(original=True)")]]
    picture = render.title_band(render.tile_any(panels, cols=2), f"gradcam: {exp.title(0)}",
                                height=26)
    render.save_png(out, picture)
    print(out, picture.shape)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
