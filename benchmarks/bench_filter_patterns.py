"""Filters per second: batched gradient ascent against a one-filter-at-a-time loop.

Run:  python benchmarks/bench_filter_patterns.py [--filters 32] [--steps 20] [--layer conv4]

All rows are measured side by side in one run, on the shipped ``shapes`` model (96×96 input; its
architecture with random weights if the weights file is missing: speed does not depend on the
weights). Every variant is warmed up first (graph tracing excluded). The loop variants call the
same API with one filter per call, so they reuse the same compiled graphs.

If ``tf-keras-vis`` is installed (``pip install tf-keras-vis``; not a kerasviz dependency), its
``ActivationMaximization`` runs too, with the same number of steps: batched (one seed image per
filter, one call) and in a loop. Its default input modifiers and regularisers are kept.
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _model():
    import kerasviz
    from kerasviz.data import demo_models
    from kerasviz.errors import KerasvizError
    from kerasviz.core.models import register_model

    try:
        return kerasviz.load_model("shapes"), "shapes (trained weights)"
    except KerasvizError:
        model = demo_models.build_shapes_model()
        register_model(model, preprocess=demo_models.preprocess)
        return model, "shapes architecture, random weights (shipped weights not loadable)"


def _time(fn, repeats: int = 1) -> float:
    fn()  # warm-up: tracing and first-call costs
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv=None) -> None:
    import numpy as np

    from kerasviz.inside import patterns

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--filters", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--layer", default="conv4")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args(argv)

    model, what = _model()
    filters = list(range(args.filters))
    rows = []

    def kv(recipe, fs, **kw):
        return lambda: patterns.filter_patterns(model, args.layer, fs, recipe=recipe,
                                                steps=args.steps, progress=False, **kw)

    for recipe, kw in (("book", {}), ("lucid", {"octaves": 1})):
        batched = _time(kv(recipe, filters, **kw), args.repeats)
        loop = _time(lambda: [kv(recipe, [f], **kw)() for f in filters], args.repeats)
        rows.append((f"kerasviz {recipe}, batched", batched, loop))
        rows.append((f"kerasviz {recipe}, one filter per call", loop, loop))

    try:
        from tf_keras_vis.activation_maximization import ActivationMaximization
        from tf_keras_vis.utils.model_modifiers import ExtractIntermediateLayer, ReplaceToLinear
        from tf_keras_vis.utils.scores import CategoricalScore
    except ImportError as exc:
        tkv_note = f"tf-keras-vis not run: {exc}"
    else:
        import warnings

        warnings.filterwarnings("ignore", message="Skipping nested container")  # its model clone
        am = ActivationMaximization(model, model_modifier=[ExtractIntermediateLayer(args.layer),
                                                           ReplaceToLinear()], clone=True)
        size = model.inputs[0].shape[1]
        seed = np.random.default_rng(0).uniform(0.5, 0.56, (len(filters), size, size, 3))

        def tkv(fs, s):
            return am(CategoricalScore(fs), seed_input=s.astype("float32"), input_range=(0.0, 1.0),
                      steps=args.steps)

        try:
            batched = _time(lambda: tkv(filters, seed), args.repeats)
            loop = _time(lambda: [tkv([f], seed[f:f + 1]) for f in filters], args.repeats)
            rows.append(("tf-keras-vis ActivationMaximization, batched", batched, loop))
            rows.append(("tf-keras-vis ActivationMaximization, loop", loop, loop))
            import tf_keras_vis
            tkv_note = f"tf-keras-vis {tf_keras_vis.__version__} ran with Keras 3"
        except Exception as exc:  # report, do not hide, a failure of the third-party library
            tkv_note = f"tf-keras-vis failed with Keras 3: {type(exc).__name__}: {exc}"

    import keras
    import tensorflow as tf

    print(f"Model: {what}; layer {args.layer}; {args.filters} filters; {args.steps} steps; "
          f"TF {tf.__version__}, Keras {keras.__version__}, {os.cpu_count()} CPUs")
    print(tkv_note)
    print(f"\n{'variant':48s} {'seconds':>8s} {'filters/s':>10s} {'× vs its loop':>14s}")
    for name, seconds, loop in rows:
        print(f"{name:48s} {seconds:8.2f} {args.filters / seconds:10.2f} {loop / seconds:14.2f}")


if __name__ == "__main__":
    main()
