"""``kerasviz demo``: the main job, offline, on the shipped models."""
from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "demo", help="write an HTML report on the shipped models (offline, < 1 minute on CPU)",
        description="Predictions, Grad-CAM overlays and crops, an activation grid and a sensor "
                    "saliency map on the shipped demo models (plus VGG16 when its weights are "
                    "cached), written as DIR/index.html with PNGs beside it.")
    p.add_argument("--out", default="demo_out", metavar="DIR", help="output folder (default: demo_out)")
    p.add_argument("--images", type=int, default=4, help="number of generated test images")
    p.add_argument("--seed", type=int, default=2024, help="seed of the generated images")
    p.set_defaults(func=run)


def run(args) -> int:
    from kerasviz.apps.cli._common import check
    from kerasviz.apps.demo import run_demo

    check(images=("positive_int", args.images), seed=("non_negative_int", args.seed))
    run_demo(args.out, n_images=args.images, seed=args.seed)
    return 0
