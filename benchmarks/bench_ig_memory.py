"""Peak memory of integrated gradients' rules against ``steps``: the adaptive rule keeps every path
point's gradient until its chunk of images ends, so a chunk takes at most as many images as fit
``kerasviz.methods.base.HELD_BYTES`` of them; the uniform rule keeps none.

One process, one model, the same images, rows side by side: the uniform rule, the adaptive rule
as shipped, and the adaptive rule with chunks of ``batch_size`` images whatever they keep (the
code before the cap: ``HELD_BYTES`` set to 2⁶²). *peak MiB* is the most TensorFlow's allocator
(the CPU's, or the GPU's when TensorFlow sees one: ``run.allocator``) held above its level at
the start of the call (reset before it): the tensors a call allocates, not the process's
resident memory. Each variant is traced first on one image.

    python benchmarks/bench_ig_memory.py                          # EfficientNet-Lite0, 16 images
    python benchmarks/bench_ig_memory.py --model shapes --steps 32,512 --json out.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=("efficientnet_lite0", "shapes"), default="efficientnet_lite0")
    ap.add_argument("--images", type=int, default=16)
    ap.add_argument("--steps", default="32,256", help="comma-separated")
    ap.add_argument("--json", help="write the rows here")
    args = ap.parse_args(argv)

    import numpy as np
    import tensorflow as tf

    import kerasviz
    from kerasviz.methods import base
    from kerasviz.methods.gradients import path_gradients_kept
    from run import allocator, memory_mib  # benchmarks/run.py, beside this script

    model = kerasviz.load_model(args.model)
    size = model.input_shape[1:3]
    rng = np.random.default_rng(0)
    x = kerasviz.preprocess(model, rng.integers(0, 256, (args.images, *size, 3), dtype=np.uint8))
    shipped, device = base.HELD_BYTES, allocator(tf)
    variants = [("uniform", "uniform", shipped), ("adaptive", "adaptive", shipped),
                ("adaptive, no cap", "adaptive", 2 ** 62)]
    for _, rule, _ in variants:  # trace each rule once (steps is a graph input: no retrace)
        kerasviz.explain(model, x[:1], "integrated_gradients", steps=2, rule=rule, progress=False)
    print(f"# integrated gradients, peak memory — {time.strftime('%Y-%m-%d')}, {platform.machine()}, "
          f"{os.cpu_count()} CPUs, TensorFlow {tf.__version__}, {args.model} at {size[0]}², "
          f"{args.images} images, batch_size {base.DEFAULT_BATCH_SIZE}, HELD_BYTES {shipped / 2**20:.0f} MiB, "
          f"allocator {device}")
    print("| steps | rule | images per chunk | kept per image MiB | peak MiB | seconds |")
    print("|---:|---|---:|---:|---:|---:|")
    rows = []
    for steps in (int(s) for s in args.steps.split(",")):
        for label, rule, cap in variants:
            kept = path_gradients_kept(dict(steps=steps, rule=rule), x.shape[1:])
            base.HELD_BYTES = cap
            try:
                chunk = min(args.images, base.images_per_chunk(base.DEFAULT_BATCH_SIZE, kept))
                tf.config.experimental.reset_memory_stats(device)
                before = memory_mib(tf, device)[0]
                t0 = time.perf_counter()
                kerasviz.explain(model, x, "integrated_gradients", steps=steps, rule=rule, progress=False)
                seconds = time.perf_counter() - t0
                peak = memory_mib(tf, device)[1] - before
            finally:
                base.HELD_BYTES = shipped
            row = dict(steps=steps, rule=label, images_per_chunk=chunk, kept_mib=kept / 2**20,
                       peak_mib=peak, seconds=seconds)
            rows.append(row)
            print(f"| {steps} | {label} | {chunk} | {row['kept_mib']:.1f} | {peak:.0f} | {seconds:.1f} |",
                  flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"date": time.strftime("%Y-%m-%d"), "machine": platform.machine(),
                       "cpus": os.cpu_count(), "tensorflow": tf.__version__, "model": args.model,
                       "images": args.images, "held_bytes": shipped, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
