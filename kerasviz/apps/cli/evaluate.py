"""``kerasviz evaluate``: which method can be trusted on this model? One table of methods ×
metrics (deletion and insertion AUC, pointing game and energy-in-box with ground-truth boxes,
max-sensitivity, Gini sparsity), each with its direction, beside a random and a centre map.

Examples::

    kerasviz evaluate --model shapes --methods gradcam,gradcam_ig,saliency imgs/
    kerasviz evaluate --model efficientnet_lite0 --methods gradcam,gradcam@probability cat.jpg --boxes boxes.json --json
    kerasviz evaluate --model shapes --methods gradcam,scorecam --steps 16 --samples 4 --out eval/ imgs/*.png

``--methods`` takes method names, and ``NAME@probability`` to explain the class's softmax
probability instead of its logit. ``--boxes`` is a JSON object mapping each image's file name
to ``[x0, y0, x1, y1]`` in that image's own pixels (``x1``, ``y1`` exclusive), or to
``{"box": [x0, y0, x1, y1], "class": "tabby"}`` to explain that class instead of the top one.
Writes into ``--out``: ``table.txt``, ``table.md``, ``results.json`` and ``metrics.png``
(deletion / insertion curves and the table coloured by rank).
"""
from __future__ import annotations

import argparse
import json

from kerasviz.apps.cli._common import (add_input_options, add_model_options, add_output_options,
                                       add_report_options, check, load_images, load_model,
                                       method_names, methods_type, open_output, print_json,
                                       report_bad)


def _method_specs(text: str) -> list[str]:
    """argparse type of ``--methods gradcam,saliency@probability`` (names checked without
    TensorFlow)."""
    specs = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        name, at, how = part.partition("@")
        if at and how != "probability":
            raise argparse.ArgumentTypeError(f"expected NAME or NAME@probability, got {part!r}")
        specs.append(methods_type(name)[0] + (f"@{how}" if at else ""))
    if not specs:
        raise argparse.ArgumentTypeError(f"expected method names, got {text!r}")
    return specs


def register(subparsers) -> None:
    """Add the ``evaluate`` sub-command to ``subparsers``."""
    p = subparsers.add_parser(
        "evaluate", help="faithfulness, localisation, stability and sparsity of methods, as a table",
        description="Score explanation methods on images: deletion / insertion AUC, pointing "
                    "game and energy-in-box (with --boxes), max-sensitivity and Gini sparsity, "
                    "beside a random and a centre map. Prints the table; writes table.txt, "
                    "table.md, results.json and metrics.png into --out.")
    add_input_options(p)
    p.add_argument("--methods", type=_method_specs, default=None, metavar="M[,M…]",
                   help="comma-separated methods, NAME@probability to score the softmax "
                        "probability (default: every method)")
    p.add_argument("--boxes", metavar="FILE", help="ground-truth boxes: JSON {file name: "
                                                   "[x0, y0, x1, y1] or {box, class}}")
    p.add_argument("--steps", type=int, default=32, help="points of the deletion / insertion "
                                                         "curves minus one (default 32)")
    p.add_argument("--baseline", choices=["blur", "zeros", "mean"], default="blur",
                   help="what deleted pixels become (default blur)")
    p.add_argument("--samples", type=int, default=8,
                   help="noise draws of max-sensitivity (default 8)")
    p.add_argument("--batch-size", type=int, default=16, help="model evaluations per step")
    add_report_options(p, "the table (results.json)")
    add_output_options(p, "kerasviz_evaluate")
    add_model_options(p)
    p.set_defaults(func=run)


def read_boxes(path: str, images: list) -> tuple[list, list | None]:
    """Boxes (and classes, or None) for ``images`` (paths) from a ``--boxes`` file.

    Raises:
        ArgumentError: an unreadable file, an image without a box, a malformed entry.
    """
    from pathlib import Path

    from kerasviz.errors import ArgumentError

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ArgumentError(f"Cannot read --boxes {path}: {exc}. Expected a JSON object "
                            f"{{file name: [x0, y0, x1, y1]}}.") from None
    if not isinstance(data, dict):
        raise ArgumentError(f"--boxes {path} must hold a JSON object {{file name: [x0, y0, x1, "
                            f"y1]}}. Received: a {type(data).__name__}.")
    boxes, classes = [], []
    for image in images:
        entry = data.get(Path(image).name, data.get(str(image)))
        if entry is None:
            raise ArgumentError(f"--boxes {path} has no box for {Path(image).name!r}. Expected "
                                f"one entry per image, keyed by file name; it has "
                                f"{sorted(data)[:5]}.")
        box, cls = (entry.get("box"), entry.get("class")) if isinstance(entry, dict) else (entry, None)
        if not (isinstance(box, list) and len(box) == 4
                and all(isinstance(v, (int, float)) for v in box)):
            raise ArgumentError(f"--boxes {path}: the box of {Path(image).name!r} must be "
                                f"[x0, y0, x1, y1]. Received: {entry!r:.80}.")
        boxes.append(box)
        classes.append(cls)
    has = [c is not None for c in classes]
    if any(has) and not all(has):
        raise ArgumentError(f"--boxes {path}: give a class for every image or for none. Received "
                            f"classes for {sum(has)} of {len(has)} images.")
    return boxes, classes if all(has) else None


def run(args: argparse.Namespace) -> int:
    """Evaluate, print the table (or --json), write the files; exit code 2 if an image was
    unreadable."""
    check(steps=("positive_int", args.steps), samples=("positive_int", args.samples),
          batch_size=("positive_int", args.batch_size))
    out = open_output(args, "evaluate")
    paths, pixels, bad = load_images(args.images)
    if not pixels:
        return report_bad(args, bad)
    boxes, classes = read_boxes(args.boxes, paths) if args.boxes else (None, None)
    model = load_model(args)
    import kerasviz

    methods = args.methods or list(method_names()[0])
    table = kerasviz.evaluate(model, pixels, methods, classes, boxes, steps=args.steps,
                              baseline=args.baseline, samples=args.samples,
                              batch_size=args.batch_size)
    result = {**table.to_dict(), "model": args.model, "files": [str(p) for p in paths]}
    out.write_text("table.txt", str(table) + "\n")
    out.write_text("table.md", table.to_markdown() + "\n")
    out.write_text("results.json", json.dumps(result, indent=1) + "\n")
    fig = table.figure()
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    out.write_bytes("metrics.png", buf.getvalue())
    folder = out.finish()
    if args.json:
        print_json(result)
    else:
        print(table)
        print(f"Wrote {folder.resolve()} (table.txt, table.md, results.json, metrics.png)")
    return report_bad(args, bad)
