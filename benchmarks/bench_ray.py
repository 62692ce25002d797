"""Throughput of a batch run: the local engine against Ray Data with 1 and 2 workers, in one run.

Each row is one complete run into a new folder (images written to disk first, PNG): wall
seconds from the call to its return (Ray's start-up, actors loading the model and compiling
included) and images/s over that wall time, plus what the Ray run reports in ``summary.json``: its start-up (until the first results: Ray's
actors importing TensorFlow, loading the model, compiling) and how many images each worker did.
Enough images that the start-up is a small part of the run: it is paid once per run. The Ray rows
start a fresh local Ray instance each, as ``kerasviz batch --engine ray`` does.

Usage::

    python benchmarks/bench_ray.py                      # shapes, 1024 images, gradcam + saliency
    python benchmarks/bench_ray.py --model efficientnet_lite0 --images 64 --methods gradcam

Prints a Markdown table and writes ``benchmarks/results/ray_throughput.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402


def write_images(folder: Path, count: int, size: int) -> None:
    """``count`` PNGs: generated shapes scenes, resized to ``size``² (random-looking content at
    the model's input size is all throughput needs)."""
    from PIL import Image

    from kerasviz import datasets

    for i, image in enumerate(datasets.shapes(count, seed=5).images):
        Image.fromarray(image).resize((size, size)).save(folder / f"img{i:04d}.png")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", default="shapes")
    p.add_argument("--images", type=int, default=1024)
    p.add_argument("--methods", default="gradcam,saliency")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--workers", default="1,2", help="Ray worker counts to run (comma list)")
    p.add_argument("--json", default=str(Path(__file__).parent / "results" / "ray_throughput.json"))
    args = p.parse_args(argv)

    import kerasviz
    from kerasviz.apps.batch import batch_explain
    from kerasviz.apps.dataset import explain_dataset

    methods = args.methods.split(",")
    size = (kerasviz.model_info(kerasviz.load_model(args.model)).input_size or (224, 224))[0]
    rows = []
    with tempfile.TemporaryDirectory(prefix="kerasviz-bench-ray-") as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        write_images(folder, args.images, size)
        load_before = os.getloadavg()
        runs = [("local", None)] + [("ray", int(w)) for w in args.workers.split(",")]
        for engine, workers in runs:
            out = Path(tmp) / f"out-{engine}-{workers}"
            t0 = time.perf_counter()
            if engine == "local":
                summary = batch_explain(args.model, folder, methods, out,
                                        batch_size=args.batch_size, progress=False)
            else:
                summary = explain_dataset(args.model, folder, methods, out, workers=workers,
                                          batch_size=args.batch_size, progress=False)
            wall = time.perf_counter() - t0
            report = json.loads((out / "summary.json").read_text())
            per_worker = report.get("per_worker", {})
            startup = report.get("startup_seconds")
            rows.append({"engine": engine, "workers": workers or 1, "images": summary.explained,
                         "wall_s": round(wall, 2), "startup_s": startup,
                         "images_per_s": round(summary.explained / wall, 2),
                         "per_worker_images_per_s": round(summary.explained / wall
                                                          / (workers or 1), 2),
                         "images_by_worker": sorted(per_worker.values())})
            print(rows[-1], flush=True)
        load_after = os.getloadavg()
    import ray
    import tensorflow as tf

    machine = {"date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count(),
               "processor": platform.processor() or platform.machine(),
               "python": platform.python_version(), "tensorflow": tf.__version__,
               "ray": ray.__version__, "load_before": [round(v, 2) for v in load_before],
               "load_after": [round(v, 2) for v in load_after]}
    setting = {"model": args.model, "images": args.images, "methods": methods,
               "batch_size": args.batch_size, "size": size}
    print(f"\nMeasured {machine['date']} on {machine['cpus']} CPU cores ({machine['processor']}, "
          f"TensorFlow {machine['tensorflow']}, Ray {machine['ray']}; load average "
          f"{machine['load_before'][0]} before, {machine['load_after'][0]} after), model "
          f"{args.model} at {size}², {args.images} images, {', '.join(methods)}, batch size "
          f"{args.batch_size}:\n")
    print("| engine | workers | wall s | images/s | per worker | start-up s | images by worker |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for r in rows:
        startup = "" if r["startup_s"] is None else f"{r['startup_s']:.1f}"
        print(f"| {r['engine']} | {r['workers']} | {r['wall_s']:.1f} | {r['images_per_s']:.1f} | "
              f"{r['per_worker_images_per_s']:.1f} | {startup} | "
              f"{', '.join(map(str, r['images_by_worker'])) or '—'} |")
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(path.read_text()) if path.is_file() else {}
    data[args.model] = {"machine": machine, "setting": setting, "rows": rows}
    path.write_text(json.dumps(data, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
