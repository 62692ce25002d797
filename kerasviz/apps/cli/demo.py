"""``kerasviz demo``: the main job, offline, on the shipped models.

Examples::

    kerasviz demo --out demo_out
    kerasviz demo --images 8 --seed 1 --quiet --out demo_out    # prints only the report's path
"""
from __future__ import annotations


from kerasviz.apps.cli._common import add_output_options


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "demo", help="write an HTML report: photos explained by a real ImageNet network, then "
                     "the shipped models (offline, about 30 s on CPU)",
        description="Photos explained by EfficientNet-Lite0 (top-5 ImageNet classes, Grad-CAM, "
                    "Guided Grad-CAM, the region found), its activations and filter patterns, "
                    "VGG16 when its weights are already cached (nothing is downloaded), then the "
                    "shipped shapes and sensors models; written as DIR/index.html with PNGs "
                    "beside it.")
    add_output_options(p, "demo_out")
    p.add_argument("--images", type=int, default=4, help="number of generated test images")
    p.add_argument("--seed", type=int, default=2024, help="seed of the generated images")
    p.add_argument("--quiet", "-q", action="store_true",
                   help="no step lines; print only the report's path")
    p.set_defaults(func=run)


def run(args) -> int:
    from kerasviz.apps.cli._common import check
    from kerasviz.apps.demo import run_demo

    check(images=("positive_int", args.images), seed=("non_negative_int", args.seed))
    index = run_demo(args.out, n_images=args.images, seed=args.seed, force=args.force,
                     log=(lambda *a, **k: None) if args.quiet else print)
    if args.quiet:
        print(index.resolve())
    return 0
