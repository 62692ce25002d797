"""``kerasviz batch``: explain a folder (or glob, or list) of images, resumable, never losing
finished work.

Examples::

    kerasviz batch --model shapes --methods gradcam,saliency --in photos/ --out runs/shapes
    kerasviz batch --model efficientnet_lite0 --methods gradcam --target tabby --in 'cats/**/*.jpg' --out runs/cats
    kerasviz batch --model my.keras --preprocess unit --in list.txt --out runs/mine --retry-failed
    kerasviz batch --model shapes --engine ray --workers 4 --in images.parquet --out runs/ray

Per image and method: ``<stem>-<key>_<method>_overlay.png``, ``_map.png`` and ``_map.npy``, then
one line in ``results.jsonl`` (predictions with names, target, score, box, timings, device), or an
error line for a broken image. Re-running the same command resumes; exit code 2 when any image
failed (every good result is kept), 130 on Ctrl-C (finished images are kept).

``--engine ray`` spreads the work over a pool of Ray actors (``pip install "kerasviz[ray]"``; a
local Ray instance, or the cluster at ``$RAY_ADDRESS``) and also writes ``results-*.parquet``;
see :mod:`kerasviz.apps.dataset`.
"""
from __future__ import annotations

import argparse
import sys

from kerasviz.apps.cli._common import (add_device_option, add_model_argument, add_model_options,
                                       add_output_options,
                                       add_report_options, check, load_model,
                                       methods_type, parse_option, print_json, progress)
from kerasviz.apps.cli.explain import _target


def register(subparsers) -> None:
    """Add the ``batch`` sub-command to ``subparsers``."""
    p = subparsers.add_parser(
        "batch", help="explain many images; resumable, finished work is never lost",
        description="Explain every image of folders, globs or list files with one or more "
                    "methods, streaming results to --out (results.jsonl, maps, overlays). "
                    "Re-running the same command resumes.")
    add_model_argument(p)
    p.add_argument("--in", dest="inputs", action="append", required=True, metavar="DIR|GLOB|LIST",
                   help="a folder (searched recursively), a glob pattern, a list file (.txt, one "
                        "path per line) or an image; repeatable")
    p.add_argument("--methods", type=methods_type, default=["gradcam"], metavar="M[,M…]",
                   help="comma-separated method names (default gradcam)")
    p.add_argument("--target", help="class id or name; default: each image's top class")
    p.add_argument("--output", help="output name or index of a multi-output / regression model")
    p.add_argument("--layer", help="conv layer for CAM methods (default: the last 4-D layer)")
    p.add_argument("--option", type=parse_option, action="append", default=[], metavar="KEY=VALUE",
                   help="a method option, e.g. samples=50 (repeatable)")
    p.add_argument("--batch-size", type=int, default=16, help="images per step (default 16)")
    p.add_argument("--retry-failed", action="store_true",
                   help="explain again the images that failed in an earlier run")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local: this process (default); ray: a pool of Ray actors, results also "
                        "as Parquet (pip install \"kerasviz[ray]\"; $RAY_ADDRESS for a cluster)")
    p.add_argument("--workers", type=int, default=None,
                   help="with --engine ray: actors, each holding the model (default 2)")
    p.add_argument("--gpus-per-worker", type=float, default=None, metavar="G",
                   help="with --engine ray: GPUs per actor (default 1 when the cluster has GPUs)")
    p.add_argument("--cpus-per-worker", type=int, default=None, metavar="C",
                   help="with --engine ray: CPU cores per actor (default: on a local Ray, the "
                        "machine's cores shared among the workers; on a cluster 1)")
    add_report_options(p, "the summary")
    add_device_option(p)
    add_model_options(p)
    add_output_options(p, "kerasviz_batch")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the batch; exit code 2 when any image failed."""
    from kerasviz.apps.batch import RESULTS, _model_id, batch_explain, expand_inputs
    from kerasviz.present.outputs import check_folder

    check(batch_size=("positive_int", args.batch_size), workers=("positive_int", args.workers),
          gpus_per_worker=("non_negative", args.gpus_per_worker),
          cpus_per_worker=("positive_int", args.cpus_per_worker))
    ray_only = (args.workers, args.gpus_per_worker, args.cpus_per_worker)
    if args.engine != "ray" and any(v is not None for v in ray_only):
        from kerasviz.errors import ArgumentError

        raise ArgumentError("--workers, --gpus-per-worker and --cpus-per-worker are for the Ray "
                            "engine. Add --engine ray, or leave them out.")
    if args.engine == "ray":  # Ray installed, inputs and folder before the model loads
        from kerasviz.apps.dataset import explain_dataset, import_ray, split_inputs

        import_ray()
        inputs = args.inputs
        files, _, _ = split_inputs(inputs)
        if files:
            expand_inputs(files)
    else:
        inputs = expand_inputs(args.inputs)
    check_folder(args.out, "batch", force=args.force)
    model = load_model(args)
    common = dict(target=_target(args), layer=args.layer, options=dict(args.option),
                  batch_size=args.batch_size, force=args.force, retry_failed=args.retry_failed,
                  progress=progress(args),
                  model_id=f"{_model_id(model)}|preprocess={args.preprocess}")
    if args.engine == "ray":
        source = {"name_or_path": args.model, "safe_mode": not args.unsafe,
                  "signature": args.signature}
        summary = explain_dataset(model, inputs, args.methods, args.out, workers=args.workers or 2,
                                  gpus_per_worker=args.gpus_per_worker,
                                  cpus_per_worker=args.cpus_per_worker, model_source=source,
                                  **common)
    else:
        summary = batch_explain(model, inputs, args.methods, args.out, **common)
    if args.json:
        print_json(summary.to_dict())
    else:
        print(f"{summary.images} images: {summary.explained} explained now, {summary.skipped} "
              f"done by an earlier run, {summary.failed} failed ({summary.seconds:.1f} s). "
              f"Results: {summary.out / RESULTS}")
    if summary.failed:
        print(f"kerasviz batch: error: {summary.failed} of {summary.images} images failed "
              f"(their error lines are in "
              f"{summary.out / RESULTS}; --retry-failed tries them again)", file=sys.stderr)
        return 2
    return 0
