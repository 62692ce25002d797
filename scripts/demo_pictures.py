"""Regenerate the demo pictures used by the README and docs (docs/img/demo_*.png) from a fresh
``kerasviz demo`` run. The page screenshots (docs/img/demo_page_*.png) are taken by the browser
test: ``KERASVIZ_UPDATE_SCREENSHOTS=1 .venv/bin/python -m pytest tests/test_demo.py``."""
import shutil
import tempfile
from pathlib import Path

from kerasviz.apps.demo import run_demo

DOCS_IMG = Path(__file__).resolve().parents[1] / "docs" / "img"
PICTURES = ["photo_chelsea", "photo_coffee", "photo_rocket",
            "activations_block2a_expand_activation", "activations_block6a_expand_activation",
            "patterns_block2a_expand_activation", "patterns_block6a_expand_activation",
            "shapes_gradcam_0", "shapes_gradcam_1", "shapes_activations", "sensors_attribution_0"]

if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        run_demo(Path(tmp) / "demo")
        for name in PICTURES:
            shutil.copy(Path(tmp) / "demo" / f"{name}.png", DOCS_IMG / f"demo_{name}.png")
            print("wrote", DOCS_IMG / f"demo_{name}.png")
