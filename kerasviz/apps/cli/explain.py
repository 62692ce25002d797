"""``kerasviz explain``: heatmaps, crops and raw maps for images, with any registered method.

Examples::

    kerasviz explain --list
    kerasviz explain --model shapes --method gradcam,smoothgrad img1.png img2.png --out out/
    kerasviz explain --model vgg16 --method gradcam --target tabby --layer block5_conv3 cat.jpg --out out/
    kerasviz explain --model sensors --method saliency --output sensors --target 0 scene.png --out out/
    kerasviz explain --model my.keras --preprocess unit --method scorecam --option max_channels=64 x.png --out out/

Per image and method it writes ``<stem>_<method>_overlay.png`` (heatmap over the image),
``_masked.png`` (pixels outside the region set to black), ``_crop.png`` (the region's bounding box),
``_raw.npy`` (the unnormalised map) and ``_map.npy`` (the [0, 1] map at input size), and prints
each image's top class with its name.
"""
from __future__ import annotations

import argparse
import sys

from kerasviz.apps.cli._common import (add_model_options, add_output_options, check, load_model,
                                       open_output, parse_option, stems)


def _methods(text: str) -> list[str]:
    from kerasviz import methods as registry
    from kerasviz.errors import UnknownMethodError

    try:
        return [registry.get(part).name for part in text.split(",") if part.strip()]
    except UnknownMethodError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(subparsers) -> None:
    """Add the ``explain`` sub-command to ``subparsers``."""
    p = subparsers.add_parser(
        "explain", help="why did the model decide: heatmaps, crops and raw maps",
        description="Explain a model's decision on images with one or more methods "
                    "(kerasviz explain --list shows them).")
    p.add_argument("images", nargs="*", metavar="IMAGE", help="image files")
    p.add_argument("--list", action="store_true", help="list the methods and exit")
    p.add_argument("--model", "-m", help="a demo model (shapes, sensors), a keras.applications "
                                         "name (vgg16, resnet50…) or a .keras/.h5 file")
    p.add_argument("--method", type=_methods, default=["gradcam"], metavar="M[,M…]",
                   help="comma-separated method names (default gradcam)")
    p.add_argument("--target", help="class id or name (tabby, 'tiger cat', circle), or the unit "
                                    "of --output; default: the top class of each image")
    p.add_argument("--output", help="output name or index of a multi-output / regression model")
    p.add_argument("--layer", help="conv layer for CAM methods (nested: vgg16/block5_conv3); "
                                   "default: the last 4-D layer")
    p.add_argument("--option", type=parse_option, action="append", default=[], metavar="KEY=VALUE",
                   help="a method option, e.g. samples=50 (repeatable)")
    p.add_argument("--threshold", type=float, default=None,
                   help="region: map >= threshold · max (default 0.3, see Explanation.boxes)")
    p.add_argument("--alpha", type=float, default=0.4, help="heatmap opacity (default 0.4)")
    p.add_argument("--colormap", default="jet", help="jet, turbo, viridis, inferno, magma, hot, gray")
    p.add_argument("--batch-size", type=int, default=None, help="model evaluations per step")
    add_model_options(p)
    add_output_options(p, "kerasviz_explain")
    p.set_defaults(func=run)


def _target(args):
    from kerasviz.core.targets import Output

    unit = args.target
    if unit is not None and unit.strip().lstrip("-").isdigit():
        unit = int(unit)
    if args.output is None:
        return unit
    out = int(args.output) if args.output.strip().lstrip("-").isdigit() else args.output
    return Output(out, unit)


def run(args: argparse.Namespace) -> int:
    """List the methods, or explain the images and write the files."""
    from kerasviz import methods as registry

    if args.list:
        for m in registry.methods():
            print(f"{m.name:22s} [{m.family}] {m.doc}")
        return 0
    if not args.model or not args.images:
        print("kerasviz explain: error: give --model and at least one IMAGE (or --list)",
              file=sys.stderr)
        return 2
    check(alpha=("fraction", args.alpha), threshold=("fraction", args.threshold),
          colormap=("colormap", args.colormap), batch_size=("positive_int", args.batch_size))
    options = registry.split_options(args.method, dict(args.option), "--option")  # before the model
    import numpy as np

    import kerasviz
    from kerasviz.present import render
    from kerasviz.core.layers import as_list
    from kerasviz.core.targets import class_names

    out = open_output(args, "explain")
    model = load_model(args)
    names_out = stems(args.images)

    probs = as_list(model.predict(kerasviz.preprocess(model, args.images), verbose=0))[0]
    names = class_names(model, 0)
    for stem, p in zip(names_out, probs.reshape(len(names_out), -1)):
        top = int(np.argmax(p))
        name = f" {names[top]}" if names else ""
        print(f"{stem}: top class {top}{name} ({float(p[top]):.3f})")

    target = _target(args)
    for method in args.method:
        exp = kerasviz.explain(model, args.images, method, target=target,
                               layer=args.layer if registry.get(method).uses_layer else None,
                               batch_size=args.batch_size, **options[method])
        overlays = exp.overlay(alpha=args.alpha, colormap=args.colormap)
        thr = {} if args.threshold is None else {"threshold": args.threshold}
        masked, regions = exp.crop(**thr)
        boxes = exp.boxes(**thr)
        for i, stem in enumerate(names_out):
            base = f"{stem}_{exp.method.replace('+', 'p')}"
            out.write_png(f"{base}_overlay.png", render.draw_box(overlays[i], boxes[i]))
            out.write_png(f"{base}_masked.png", masked[i])
            out.write_png(f"{base}_crop.png", regions[i])
            out.write_npy(f"{base}_raw.npy", exp.raw[i])
            out.write_npy(f"{base}_map.npy", exp.maps[i])
            where = f" at {exp.layer}" if exp.layer else ""
            print(f"{stem}: {exp.method}{where} explains {exp.labels[i]} (score "
                  f"{float(exp.scores[i]):.3f}); region {boxes[i].tolist()} -> "
                  f"{out.path / base}_*.png")
    print(f"Wrote {out.finish().resolve()}")
    return 0
