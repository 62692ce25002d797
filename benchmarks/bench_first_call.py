"""First calls and per-call overhead of ``kerasviz.explain`` (issue #12).

Two tables, from one process per model:

* *first calls*: methods run one after the other on one model and input size (batch 1), each
  method's first call (the model's clean pass is shared with the methods before it; a method on
  the split route runs its own math eagerly for its first ``EAGER_CALLS`` calls, see
  :meth:`kerasviz.methods.base.Plan._split`), its fastest later eager call, the call that then
  compiles its small graph, and its warm call (the minimum of the ``--repeat`` calls after);
* *eager kernels* (``--eager-kernels``, alone): the first and second eager run of each operation
  of the CAM family's math (:func:`eager_first_runs`);
* *explain's work besides its graph* (``--python-work``, alone): per call at batch 1, 8 and 32,
  with the graph call replaced by its outputs (:func:`python_work`);
* *per-call overhead* (``--overhead``, on ``shapes``): warm ``explain`` at batch 1 beside a
  hand-written ``tf.function`` doing the same math (Grad-CAM at ``conv4``; saliency) on the same
  replayed model and returning the map as numpy: the floor. Calls are interleaved and the minimum
  of ``--rounds`` rounds of ``--repeat`` calls is kept (after ``PROMOTE_AFTER`` calls, so a
  small model's plan runs its one graph).

Usage::

    python benchmarks/bench_first_call.py                        # shapes, both tables
    python benchmarks/bench_first_call.py --model mobilenetv2     # MobileNetV2, random weights, 224²
    python benchmarks/bench_first_call.py --methods gradcam,layercam --repeat 30
    python benchmarks/bench_first_call.py --python-work           # explain's work besides its graph
    python benchmarks/bench_first_call.py --eager-kernels         # first eager run of each operation
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

METHODS = "gradcam,layercam,gradcam++,xgradcam,hirescam,eigencam,saliency,gradxinput"


def _model(name: str):
    import keras

    import kerasviz

    if name == "shapes":
        model = kerasviz.load_model("shapes")
        return model, "conv4", 96
    keras.utils.set_random_seed(0)
    return keras.applications.MobileNetV2(weights=None, input_shape=(224, 224, 3)), "out_relu", 224


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def first_calls(model, layer: str, x, methods: list[str], repeat: int) -> list[tuple]:
    import kerasviz

    from kerasviz.methods import base

    rows = []
    for name in methods:
        uses = kerasviz.methods.get(name).uses_layer
        run = lambda: kerasviz.explain(model, x, name, target=0,  # noqa: E731
                                       layer=layer if uses else None, progress=False)
        t0 = time.perf_counter()
        run()
        first = time.perf_counter() - t0
        later = []  # the split route's eager calls, then the one that compiles its small graph
        for _ in range(base.EAGER_CALLS):
            t0 = time.perf_counter()
            run()
            later.append(time.perf_counter() - t0)
        eager, compiling = (min(later[:-1]), later[-1]) if len(later) > 1 else (first, first)
        rows.append((name, first, eager, compiling, _best(run, repeat)))
    return rows


def floors(model, layer: str):
    """Hand-written compiled Grad-CAM and saliency on the replayed (pre-softmax) model."""
    import tensorflow as tf

    from kerasviz.core.replay import replay_model

    tap, plain = replay_model(model, [layer]), replay_model(model)
    size = tuple(model.input_shape[1:])
    sig = [tf.TensorSpec((None, *size), tf.float32), tf.TensorSpec((None,), tf.int32)]

    def scale(m):
        lo = tf.reduce_min(m, axis=[1, 2], keepdims=True)
        return tf.math.divide_no_nan(m - lo, tf.reduce_max(m, axis=[1, 2], keepdims=True) - lo)

    @tf.function(input_signature=sig, autograph=False)
    def gradcam(x, units):
        with tf.GradientTape() as tape:
            a, out = tap(x, training=False)
            s = tf.gather(out, units, axis=1, batch_dims=1)
        g = tape.gradient(s, a)
        cam = tf.nn.relu(tf.einsum("nhwc,nc->nhw", a, tf.reduce_mean(g, axis=(1, 2))))
        return scale(tf.image.resize(cam[..., None], tf.shape(x)[1:3])[..., 0])

    @tf.function(input_signature=sig, autograph=False)
    def saliency(x, units):
        with tf.GradientTape() as tape:
            tape.watch(x)
            s = tf.gather(plain(x, training=False), units, axis=1, batch_dims=1)
        return scale(tf.reduce_max(tf.abs(tape.gradient(s, x)), -1))

    return {"gradcam": gradcam, "saliency": saliency}


def overhead(model, layer: str, x, repeat: int, rounds: int) -> list[tuple]:
    import tensorflow as tf

    import kerasviz

    units = np.zeros(len(x), np.int32)
    rows = []
    for name, floor in floors(model, layer).items():
        uses = kerasviz.methods.get(name).uses_layer
        ours = lambda: kerasviz.explain(model, x, name, target=0,  # noqa: E731
                                        layer=layer if uses else None, progress=False)
        hand = lambda: floor(tf.constant(x), tf.constant(units)).numpy()  # noqa: E731
        from kerasviz.methods import base

        for _ in range(getattr(base, "PROMOTE_AFTER", 0) + 1):  # past the split route's calls
            ours()
        hand()
        best_ours = best_hand = float("inf")
        for _ in range(rounds):  # interleaved
            best_hand = min(best_hand, _best(hand, repeat))
            best_ours = min(best_ours, _best(ours, repeat))
        rows.append((name, best_hand, best_ours))
    return rows


def python_work(model, layer: str, size: int, batches: list[int], rounds: int) -> list[tuple]:
    """Per call, what ``explain`` costs besides its graph: the plan's graph call is replaced by
    the outputs it returned (so the time is the argument checks, target resolution, input
    conversion and checks, the copies out of the output tensors, the map check and the
    ``Explanation``), at each batch size; the minimum over ``rounds`` rounds of 200 calls."""
    import tensorflow as tf

    import kerasviz
    from kerasviz.methods import base

    rows = []
    for name in ("gradcam", "saliency"):
        uses = kerasviz.methods.get(name).uses_layer
        for b in batches:
            kerasviz.clear_caches()
            x = np.random.default_rng(b).uniform(-1, 1, (b, size, size, 3)).astype(np.float32)
            run = lambda: kerasviz.explain(  # noqa: E731
                model, x, name, target=[0] * b, batch_size=max(16, b),
                layer=layer if uses else None, progress=False)
            for _ in range(base.PROMOTE_AFTER + 1):  # the plan's steady route
                run()
            (plan,) = [p for cache in base._PLANS.values() for p in cache.values()]
            outputs = plan._route()(tf.constant(x), tf.constant(np.zeros(b, np.int32)))
            plan._runner, plan._promote = (lambda *args: outputs), False
            rows.append((name, b, min(_mean(run, 200) for _ in range(rounds))))
    return rows


def eager_first_runs() -> list[tuple]:
    """The first and second eager run of each operation the CAM family's math uses, in a fresh
    process, on a ``(1, 7, 7, 1280)`` tensor (MobileNetV2's last conv block): TensorFlow builds
    an operation's kernel on its first eager run, once per process for every shape after."""
    import tensorflow as tf

    a = tf.constant(np.random.default_rng(0).uniform(0, 1, (1, 7, 7, 1280)).astype(np.float32))
    g = -a
    ops = {"Relu": lambda: tf.nn.relu(g), "Mul": lambda: g * a,
           "Sum (channels)": lambda: tf.reduce_sum(a, axis=-1),
           "Mean (positions)": lambda: tf.reduce_mean(g, axis=(1, 2)),
           "Square": lambda: tf.square(g), "DivNoNan": lambda: tf.math.divide_no_nan(g, a),
           "Svd": lambda: tf.linalg.svd(tf.reshape(a, [1, 49, 1280]), full_matrices=False),
           "ResizeBilinear": lambda: tf.image.resize(a[..., :1], (224, 224))}
    rows = []
    for name, op in ops.items():
        first = _best(op, 1)
        rows.append((name, first, _best(op, 1)))
    return rows


def _mean(fn, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", choices=["shapes", "mobilenetv2"], default="shapes")
    p.add_argument("--methods", default=METHODS)
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--no-overhead", action="store_true")
    p.add_argument("--eager-kernels", action="store_true",
                   help="only the first and second eager run of the CAM family's operations")
    p.add_argument("--python-work", action="store_true",
                   help="only the table of explain's work besides its graph, at batch 1, 8, 32")
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")

    import keras
    import tensorflow as tf

    import kerasviz

    if args.eager_kernels:
        print("| operation | first eager run (ms) | second (ms) |")
        print("|---|---:|---:|")
        for name, first, second in eager_first_runs():
            print(f"| {name} | {first * 1e3:.2f} | {second * 1e3:.3f} |", flush=True)
        return 0
    model, layer, size = _model(args.model)
    if args.python_work:
        print("| method | batch | explain's work besides the graph, per call (µs) |")
        print("|---|---:|---:|")
        for name, b, seconds in python_work(model, layer, size, [1, 8, 32], args.rounds):
            print(f"| {name} | {b} | {seconds * 1e6:.0f} |", flush=True)
        return 0
    x = np.random.default_rng(0).uniform(-1, 1, (1, size, size, 3)).astype(np.float32)
    print(f"kerasviz {kerasviz.__version__}, TensorFlow {tf.__version__}, Keras {keras.__version__}, "
          f"{os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f}; model {args.model}, "
          f"layer {layer}, batch 1")
    print("\n| method (in call order) | first call (ms) | eager calls (ms) | compiling call (ms) "
          "| warm (ms) | first / warm | first − warm (ms) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, first, eager, compiling, warm in first_calls(model, layer, x, args.methods.split(","),
                                                           args.repeat):
        print(f"| {name} | {first * 1e3:.1f} | {eager * 1e3:.2f} | {compiling * 1e3:.1f} | "
              f"{warm * 1e3:.2f} | {first / warm:.2f} | {(first - warm) * 1e3:.1f} |", flush=True)
    if not args.no_overhead:
        print("\n| method | hand-written floor (ms) | explain warm (ms) | explain / floor |")
        print("|---|---:|---:|---:|")
        for name, hand, ours in overhead(model, layer, x, args.repeat, args.rounds):
            print(f"| {name} | {hand * 1e3:.3f} | {ours * 1e3:.3f} | {ours / hand:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
