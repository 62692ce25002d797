"""Filters per second: batched gradient ascent against a one-filter-at-a-time loop.

Run:  python benchmarks/bench_filter_patterns.py [--filters 32] [--steps 20] [--layer conv4]
      python benchmarks/bench_filter_patterns.py --vgg16 [--size 64] [--steps 4] [--single 8]

All rows are measured side by side in one run, on the shipped ``shapes`` model (96×96 input; its
architecture with random weights if the weights file is missing: speed does not depend on the
weights). Every variant is warmed up first (graph tracing excluded). The loop variants call the
same API with one filter per call, so they reuse the same compiled graphs.

``--vgg16``: every filter of VGG16's ``block5_conv3`` (512; random weights, ``weights=None``,
no top, any input size) in one ``filter_patterns`` call (book recipe; it chunks the filters to
its memory budget, so memory stays flat), against ``--single`` of them one filter per call; both
warmed up on two filters first; the table gives seconds per filter side by side.

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


def vgg16_per_filter(size: int, steps: int, single: int, layer: str = "block5_conv3") -> None:
    """Print seconds per filter: all filters of ``layer`` in one call against one per call."""
    import kerasviz
    from kerasviz.inside import patterns

    model = kerasviz.load_model("vgg16", weights=None, include_top=False)
    count = model.get_layer(layer).output.shape[-1]

    def run(fs):
        return patterns.filter_patterns(model, layer, fs, steps=steps, size=size, progress=False)

    run([0, 1])  # warm-up: tracing and first-call costs (later batch sizes reuse the graphs)
    start = time.perf_counter()
    run(None)
    batched = (time.perf_counter() - start) / count
    start = time.perf_counter()
    for f in range(single):
        run([f])
    alone = (time.perf_counter() - start) / single
    print(f"VGG16 (random weights) {layer}, {size}×{size}, {steps} steps, book recipe; "
          f"{os.cpu_count()} CPUs")
    print(f"{'variant':40s} {'filters':>8s} {'s / filter':>11s} {'× vs one per call':>18s}")
    print(f"{'all filters in one call (batched)':40s} {count:8d} {batched:11.3f} {alone / batched:18.2f}")
    print(f"{'one filter per call':40s} {single:8d} {alone:11.3f} {1.0:18.2f}")


def main(argv=None) -> None:
    import numpy as np

    from kerasviz.inside import patterns

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--filters", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--layer", default="conv4")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--vgg16", action="store_true", help="VGG16 block5_conv3, per filter")
    parser.add_argument("--size", type=int, default=64, help="image side (--vgg16)")
    parser.add_argument("--single", type=int, default=8, help="filters run one per call (--vgg16)")
    args = parser.parse_args(argv)
    if args.vgg16:
        return vgg16_per_filter(args.size, args.steps, args.single)

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
