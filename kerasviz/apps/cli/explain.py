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
from pathlib import Path

from kerasviz.apps.cli._common import (add_device_option, add_input_options, add_model_options,
                                       add_output_options,
                                       add_report_options, check, load_images, load_model,
                                       methods_type, open_output, parse_option, print_json, progress,
                                       report_bad, stems)


def register(subparsers) -> None:
    """Add the ``explain`` sub-command to ``subparsers``."""
    p = subparsers.add_parser(
        "explain", help="why did the model decide: heatmaps, crops and raw maps",
        description="Explain a model's decision on images with one or more methods "
                    "(kerasviz explain --list shows them).")
    add_input_options(p, required=False)
    p.add_argument("--list", action="store_true", help="list the methods and exit")
    p.add_argument("--method", type=methods_type, default=["gradcam"], metavar="M[,M…]",
                   help="comma-separated method names (default gradcam; --list shows them)")
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
    add_report_options(p, "predictions, targets, scores, boxes, timings and files")
    add_device_option(p)
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
    """List the methods, or explain the readable images, write their files and report the
    unreadable ones (exit code 2, the others' files kept)."""
    import json

    from kerasviz.apps.cli.predict import describe

    if args.list:
        from kerasviz import methods as registry

        for m in registry.methods():
            print(f"{m.name:22s} [{m.family}] {m.doc}")
        return 0
    if not args.model or not args.images:
        print("kerasviz explain: error: give --model and at least one IMAGE (or --list)",
              file=sys.stderr)
        return 2
    check(alpha=("fraction", args.alpha), threshold=("fraction", args.threshold),
          colormap=("colormap", args.colormap), batch_size=("positive_int", args.batch_size))
    from kerasviz import methods as registry

    options = registry.split_options(args.method, dict(args.option), "--option")  # before the model
    paths, pixels, bad = load_images(args.images)
    report = {"model": args.model, "out": None, "images": [],
              "errors": [{"image": p, "error": why} for p, why in bad]}
    if pixels:  # no readable image: no output folder
        out = open_output(args, "explain")
        report["out"] = str(out.path.resolve())
        report.update(_explain(args, out, paths, pixels, options))
        out.finish()
    if args.json:
        print_json(report)
    else:
        for item in report["images"]:
            print(f"{item['stem']}: {describe(item)}")
            for m, r in item["methods"].items():
                where = f" at {r['layer']}" if r["layer"] else ""
                print(f"{item['stem']}: {m}{where} explains {r['target']} (score "
                      f"{'NaN' if r['score'] is None else format(r['score'], '.3f')}); region "
                      f"{r['box']} -> {Path(report['out'], r['files'][0])}")
        if report["out"]:
            print(f"Wrote {report['out']}")
    return report_bad(args, bad)


def _explain(args, out, paths, pixels, options) -> dict:
    """Predict and explain ``pixels`` with every ``--method``; write each image's files.
    Returns ``{"device", "seconds", "images": [per image: stem, image, predictions, methods]}``."""
    import math
    import time

    import kerasviz
    from kerasviz import _device
    from kerasviz.apps.cli.predict import predictions
    from kerasviz.methods import registry
    from kerasviz.present import render

    model = load_model(args)
    t0 = time.perf_counter()
    x = kerasviz.preprocess(model, pixels)
    items = [{"stem": stem, "image": str(path), **pred, "methods": {}}
             for stem, path, pred in zip(stems(paths), paths, predictions(model, x))]
    seconds = {"predict": time.perf_counter() - t0}
    thr = {} if args.threshold is None else {"threshold": args.threshold}
    for method in args.method:
        t0 = time.perf_counter()
        exp = kerasviz.explain(model, pixels, method, target=_target(args),
                               layer=args.layer if registry.get(method).uses_layer else None,
                               batch_size=args.batch_size, progress=progress(args),
                               **options[method])
        # drawn on each original image at its own size and aspect; boxes in its pixels
        overlays = exp.overlay(alpha=args.alpha, colormap=args.colormap, original=True)
        masked, regions = exp.crop(**thr, original=True)
        boxes = exp.boxes(**thr, original=True)
        seconds[method] = time.perf_counter() - t0
        for i, item in enumerate(items):
            base = f"{item['stem']}_{exp.method.replace('+', 'p')}"
            files = [out.write_png(f"{base}_overlay.png", render.draw_box(overlays[i], boxes[i])),
                     out.write_png(f"{base}_masked.png", masked[i]),
                     out.write_png(f"{base}_crop.png", regions[i]),
                     out.write_npy(f"{base}_raw.npy", exp.raw[i]),
                     out.write_npy(f"{base}_map.npy", exp.maps[i])]
            score = float(exp.scores[i])
            item["methods"][method] = {
                "target": exp.labels[i], "score": score if math.isfinite(score) else None,
                "box": [int(v) for v in boxes[i]], "layer": exp.layer,
                "files": [f.name for f in files]}
    return {"device": _device.resolve(), "seconds": {k: round(v, 4) for k, v in seconds.items()},
            "images": items}
