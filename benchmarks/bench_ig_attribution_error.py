"""Are the adaptive rule's integrated gradients closer to the exact integral, pixel by pixel?

The completeness error measures the sum of the attributions only; errors of single pixels can
cancel in it. This prints, per image, the relative L2 error ``‖A − A_ref‖ / ‖A_ref‖`` of the
attributions of ``rule="uniform"`` and ``rule="adaptive"`` at ``steps`` 32 and 49, where
``A_ref`` is the uniform rule at 1024 steps (taken as the exact integral). Models and photos as
in ``bench_ig_completeness.py`` (EfficientNet-Lite0 on the seven photos, VGG16 with random
weights and biases on the first three), or ``--shapes``: the shipped ``shapes`` model on
``datasets.shapes(count, seed=seed)`` (6 and 7 by default).

Usage::

    python benchmarks/bench_ig_attribution_error.py [--shapes [--count 6] [--seed 7]] [--references DIR] [--json out.json]

``--references DIR`` keeps each model's reference attributions in ``DIR/<model>.npz`` and
reuses them (the 1024-step reference is most of the run's time). ``--markdown a.json,b.json``
prints the documentation's table from saved runs.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402


def cases(shapes: bool, count: int = 6, seed: int = 7):
    """(title, model, preprocessed images)."""
    import kerasviz

    if shapes:
        model = kerasviz.load_model("shapes")
        yield "shapes", model, kerasviz.preprocess(model, kerasviz.datasets.shapes(count, seed=seed)[0])
        return
    import bench_ig_completeness as B
    from kerasviz.core.models import register_model

    for title, model, pre in B.models():
        if pre is not None:
            model = register_model(model, preprocess=pre)
        x = kerasviz.preprocess(model, B.photos(7))
        yield title, model, (x[:3] if title.startswith("VGG") else x)


def markdown(paths: list[Path]) -> str:
    """The documentation's table of saved runs: per model and steps, each rule's median (range)
    and on how many images the adaptive rule is the closer."""
    lines = ["| model | steps | uniform: median (range) | adaptive: median (range) | adaptive closer on |",
             "|---|---:|---:|---:|---:|"]
    last = None
    for path in paths:
        for r in json.loads(path.read_text())["rows"]:
            u, a = np.array(r["uniform"]), np.array(r["adaptive"])
            name = f"{r['model'].split(' (')[0]}, {r.get('images') or f'{len(u)} images'}"
            lines.append(f"| {name if name != last else ''} | {r['steps']} | "
                         + " | ".join(f"{np.median(v):.3f} ({v.min():.3f}–{v.max():.3f})" for v in (u, a))
                         + f" | {(a < u).sum()} of {len(u)} |")
            last = name
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--markdown", default=None, help="print the table of saved runs (a,b,…)")
    parser.add_argument("--shapes", action="store_true", help="the shipped shapes model only")
    parser.add_argument("--count", type=int, default=6, help="--shapes: how many images")
    parser.add_argument("--seed", type=int, default=7, help="--shapes: the images' seed")
    parser.add_argument("--references", type=Path, default=None,
                        help="a folder to keep and reuse the reference attributions in")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.markdown:
        print(markdown([Path(p) for p in args.markdown.split(",")]))
        return
    import kerasviz

    rows = []
    for title, model, x in cases(args.shapes, args.count, args.seed):
        key = title.split()[0] + (f"_{args.count}_{args.seed}" if args.shapes else "")
        cached = args.references / f"{key}.npz" if args.references else None
        if cached is not None and cached.exists():
            ref = np.load(cached)["reference"]
        else:
            ref = kerasviz.explain(model, x, "integrated_gradients", steps=1024, rule="uniform",
                                   progress=False, batch_size=32).grads
            if cached is not None:
                cached.parent.mkdir(parents=True, exist_ok=True)
                np.savez(cached, reference=ref)
        for steps in (32, 49):
            out = {}
            for rule in ("uniform", "adaptive"):
                g = kerasviz.explain(model, x, "integrated_gradients", steps=steps, rule=rule,
                                     progress=False).grads
                out[rule] = np.array([np.linalg.norm(a - r) / np.linalg.norm(r) for a, r in zip(g, ref)])
            print(title[:12], steps, "uniform", out["uniform"].round(3), "adaptive",
                  out["adaptive"].round(3), "adaptive better on", (out["adaptive"] < out["uniform"]).sum(),
                  "/", len(x), flush=True)
            rows.append({"model": title, "steps": steps, **{r: v.tolist() for r, v in out.items()},
                         **({"images": f"datasets.shapes({args.count}, seed={args.seed})"} if args.shapes else {})})
    if args.json:
        import platform
        from datetime import date

        args.json.write_text(json.dumps({"date": date.today().isoformat(), "machine": platform.machine(),
                                         "cores": os.cpu_count(), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
