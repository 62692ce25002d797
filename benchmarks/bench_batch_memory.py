"""Peak memory of ``kerasviz batch`` against the number of images: it should depend on
``--batch-size``, not on how many images there are.

Each row is a fresh process (``python -m kerasviz batch``) over N generated 96×96 images with the
shipped ``shapes`` model, whose peak resident memory (``ru_maxrss``) is read when it ends; all
rows run in one invocation, side by side, with the same batch size and methods.

    python benchmarks/bench_batch_memory.py                       # 64 and 4096 images
    python benchmarks/bench_batch_memory.py --counts 64,1024,4096 --methods saliency,gradcam
"""
from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _make_images(folder: Path, n: int) -> None:
    from PIL import Image

    from kerasviz import datasets

    folder.mkdir(parents=True)
    for start in range(0, n, 256):  # generated in chunks: this script's own memory stays small
        for i, image in enumerate(datasets.shapes(min(256, n - start), seed=start).images):
            Image.fromarray(image).save(folder / f"img{start + i:05d}.png")


def _run(images: Path, out: Path, methods: str, batch_size: int) -> tuple[float, float]:
    """(peak RSS in MiB, seconds) of one batch run in a fresh process."""
    code = ("import resource, sys; from kerasviz.apps.cli import main; rc = main(sys.argv[1:]); "
            "print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); sys.exit(rc)")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, "batch", "--model", "shapes", "--methods",
                           methods, "--batch-size", str(batch_size), "--quiet", "--in", str(images),
                           "--out", str(out)], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"batch failed ({done.returncode}): {done.stderr[-2000:]}")
    peak_kib = int(done.stdout.rsplit("PEAK", 1)[1].split()[0])
    return peak_kib / 1024, seconds


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--counts", default="64,4096", help="numbers of images, comma-separated")
    ap.add_argument("--methods", default="saliency,gradcam")
    ap.add_argument("--batch-size", type=int, default=16)
    args = ap.parse_args(argv)
    counts = [int(c) for c in args.counts.split(",")]
    print(f"# kerasviz batch peak memory — {time.strftime('%Y-%m-%d')}, {platform.machine()}, "
          f"Python {platform.python_version()}, methods {args.methods}, batch size {args.batch_size}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in counts:
            images = Path(tmp) / f"in{n}"
            _make_images(images, n)
            peak, seconds = _run(images, Path(tmp) / f"out{n}", args.methods, args.batch_size)
            rows.append((n, peak, seconds))
    base = rows[0][1]
    print("| images | peak RSS (MiB) | × the first row | seconds | images/s |")
    print("|---:|---:|---:|---:|---:|")
    for n, peak, seconds in rows:
        print(f"| {n} | {peak:.0f} | {peak / base:.2f} | {seconds:.1f} | {n / seconds:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
