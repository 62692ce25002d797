"""Speed of every ``kerasviz.explain`` method beside a hand-written compiled floor and tf-keras-vis.

For each batch size it measures, in one run and on one model:

* the *floor*: one hand-written ``tf.function`` doing one forward and one backward pass
  (d logit / d input) on the same batch — what a gradient method cannot beat;
* each method's *first call* (tracing and building its graph included: the method's plan cache is
  emptied first) and *warm* call (median of ``--repeat`` calls);
* tf-keras-vis (when installed) for the methods it has, with the same options.

Ratios are ``warm / floor`` (``evals`` says how many forward(+backward) passes per image the
method needs by design, so ``ratio ≈ evals`` means no overhead) and ``ours / tf-keras-vis``.

Usage::

    python benchmarks/bench_explain.py            # --quick: VGG16 at 112², batches 1 and 2
    python benchmarks/bench_explain.py --full     # the issue's setting: VGG16 at 224², batches 1, 8
    python benchmarks/bench_explain.py --methods gradcam,saliency --batches 1,4 --size 224

Sampling methods run with light options (printed) so that a run stays within minutes on a laptop
CPU; pass ``--options default`` for the library defaults.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/run.py's tf-keras-vis tool

import numpy as np  # noqa: E402

LIGHT = {"smoothgrad": {"samples": 8}, "integrated_gradients": {"steps": 8},
         "scorecam": {"max_channels": 16}, "occlusion": {"patch": 56, "stride": 28},
         "rise": {"masks": 64}}
#: the library defaults of the options evals_per_image reads
DEFAULTS = {"occlusion": {"patch": 8, "stride": 4}, "rise": {"masks": 1000}}


def evals_per_image(name: str, options: dict, channels: int = 512, size: int = 224) -> str:
    """Passes per image a method needs by design (``+ k head`` = k passes of the layers after
    the explained layer only; ``k fwd`` = k forward passes without a backward one)."""
    options = {**DEFAULTS.get(name, {}), **options}
    if name == "occlusion":
        patch = min(int(options["patch"]), size)
        per_side = -(-(size - patch) // int(options["stride"])) + 1
        return f"1 + {per_side ** 2} fwd"
    if name == "rise":
        return f"1 + {int(options['masks'])} fwd"
    if name == "smoothgrad":
        return str(int(options.get("samples", 25)))
    if name == "integrated_gradients":
        return str(int(options.get("steps", 32)) + 1)
    if name == "scorecam":
        return str(1 + int(options.get("max_channels") or channels))
    if name == "ablationcam":
        return f"1 + {channels} head"
    if name == "guided_gradcam":
        return "2"
    return "1"


def timed(fn, repeat: int = 1) -> tuple[float, float]:
    """(first call seconds, median warm seconds)."""
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    warm = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        warm.append(time.perf_counter() - t0)
    return first, statistics.median(warm)


def tf_keras_vis_runner(model, name: str, options: dict, layer: str):
    """A callable running tf-keras-vis' version of ``name`` on a batch (explaining unit 0), or
    None: :func:`run.tf_keras_vis_tool`, built at once."""
    from run import tf_keras_vis_tool

    make = tf_keras_vis_tool(model, name, options, layer)
    if make is None:
        return None
    tool = make()
    return lambda x: tool(x, [0] * len(x))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--full", action="store_true", help="VGG16 at 224², batches 1 and 8")
    p.add_argument("--size", type=int, default=None)
    p.add_argument("--batches", default=None, help="comma-separated batch sizes")
    p.add_argument("--methods", default=None, help="comma-separated methods (default: all)")
    p.add_argument("--options", choices=["light", "default"], default="light")
    p.add_argument("--repeat", type=int, default=3, help="warm calls per measurement (median)")
    p.add_argument("--no-tf-keras-vis", action="store_true")
    args = p.parse_args(argv)

    import keras
    import tensorflow as tf

    import kerasviz
    from kerasviz.methods import base

    size = args.size or (224 if args.full else 112)
    batches = [int(b) for b in (args.batches or ("1,8" if args.full else "1,2")).split(",")]
    names = args.methods.split(",") if args.methods else [m.name for m in kerasviz.methods()]
    keras.utils.set_random_seed(0)
    if size == 224:
        model = keras.applications.VGG16(weights=None)
    else:  # VGG16's convolutional base at another size, with a 1000-way GAP head
        conv = keras.applications.VGG16(weights=None, include_top=False, input_shape=(size, size, 3))
        model = keras.Model(conv.input, keras.layers.Dense(1000, activation="softmax")(
            keras.layers.GlobalAveragePooling2D()(conv.output)))
    layer = "block5_conv3"
    print(f"kerasviz {kerasviz.__version__}, TensorFlow {tf.__version__}, Keras {keras.__version__}, "
          f"{os.cpu_count()} CPU(s), GPU: {bool(tf.config.list_physical_devices('GPU'))}")
    print(f"Model: VGG16 random weights, input {size}x{size}, layer {layer}; batches {batches}; "
          f"options: {args.options} ({LIGHT if args.options == 'light' else 'library defaults'}); "
          f"warm = median of {args.repeat}")
    rows = []
    for b in batches:
        x = np.random.default_rng(b).uniform(-120, 130, (b, size, size, 3)).astype(np.float32)
        xt = tf.constant(x)

        @tf.function
        def floor(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                s = model(x, training=False)[:, 0]
            return tape.gradient(s, x)

        f_first, f_warm = timed(lambda: floor(xt).numpy(), args.repeat)
        rows.append(("floor (fwd+bwd)", b, "1", f_first, f_warm, 1.0, None))
        for name in names:
            opts = LIGHT.get(name, {}) if args.options == "light" else {}
            base._PLANS.pop(model, None)  # first call = tracing included
            m = kerasviz.methods.get(name)
            run = lambda: kerasviz.explain(model, x, name, target=0,  # noqa: E731
                                           layer=layer if m.uses_layer else None,
                                           batch_size=max(16, b), progress=False, **opts)
            try:
                first, warm = timed(run, args.repeat)
            except kerasviz.KerasvizError as exc:  # e.g. CAM on VGG16's Flatten → FC head
                print(f"  {name:22s} batch {b}: not applicable: {str(exc)[:90]}…", flush=True)
                continue
            theirs = None
            if not args.no_tf_keras_vis:
                other = tf_keras_vis_runner(model, name, opts, layer)
                if other is not None:
                    theirs = timed(lambda: other(x), args.repeat)[1]
            rows.append((name, b, evals_per_image(name, opts, size=size), first, warm, warm / f_warm,
                         theirs))
            print(f"  {name:22s} batch {b}: first {first:7.2f} s, warm {warm:7.2f} s", flush=True)

    print()
    print("| method | batch | evals/image | first call (s) | warm (s) | warm / floor | "
          "tf-keras-vis warm (s) | ours / tf-keras-vis |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, b, ev, first, warm, ratio, theirs in rows:
        t = f"{theirs:.2f}" if theirs is not None else "–"
        r = f"{warm / theirs:.2f}" if theirs else "–"
        print(f"| {name} | {b} | {ev} | {first:.2f} | {warm:.2f} | {ratio:.2f} | {t} | {r} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
