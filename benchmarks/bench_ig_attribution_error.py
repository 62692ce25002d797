"""Are the adaptive rule's integrated gradients closer to the exact integral, pixel by pixel?

The completeness error measures the sum of the attributions only; errors of single pixels can
cancel in it. This prints, per image, the relative L2 error ``‖A − A_ref‖ / ‖A_ref‖`` of the
attributions of ``rule="uniform"`` and ``rule="adaptive"`` at ``steps`` 32 and 49, where
``A_ref`` is the uniform rule at 1024 steps (taken as the exact integral). Models and photos as
in ``bench_ig_completeness.py`` (EfficientNet-Lite0 on the seven photos, VGG16 with random
weights and biases on the first three), or ``--shapes``: the shipped ``shapes`` model on
``datasets.shapes(6, seed=7)``.

Usage::

    python benchmarks/bench_ig_attribution_error.py [--shapes]
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402


def cases(shapes: bool):
    """(title, model, preprocessed images)."""
    import kerasviz

    if shapes:
        model = kerasviz.load_model("shapes")
        yield "shapes", model, kerasviz.preprocess(model, kerasviz.datasets.shapes(6, seed=7)[0])
        return
    import bench_ig_completeness as B
    from kerasviz.core.models import register_model

    for title, model, pre in B.models():
        if pre is not None:
            model = register_model(model, preprocess=pre)
        x = kerasviz.preprocess(model, B.photos(7))
        yield title, model, (x[:3] if title.startswith("VGG") else x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", action="store_true", help="the shipped shapes model only")
    args = parser.parse_args()
    import kerasviz

    for title, model, x in cases(args.shapes):
        ref = kerasviz.explain(model, x, "integrated_gradients", steps=1024, rule="uniform",
                               progress=False, batch_size=32).grads
        for steps in (32, 49):
            out = {}
            for rule in ("uniform", "adaptive"):
                g = kerasviz.explain(model, x, "integrated_gradients", steps=steps, rule=rule,
                                     progress=False).grads
                out[rule] = np.array([np.linalg.norm(a - r) / np.linalg.norm(r) for a, r in zip(g, ref)])
            print(title[:12], steps, "uniform", out["uniform"].round(3), "adaptive",
                  out["adaptive"].round(3), "adaptive better on", (out["adaptive"] < out["uniform"]).sum(),
                  "/", len(x), flush=True)


if __name__ == "__main__":
    main()
