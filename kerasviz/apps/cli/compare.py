"""``kerasviz compare``: several models × methods on the same images, as one labelled grid.

Examples::

    kerasviz compare --models shapes,sensors --methods gradcam,smoothgrad,guided_backprop a.png b.png --out cmp/
    kerasviz compare --models efficientnet_lite0,shapes --target efficientnet_lite0=tabby --layer shapes=conv3 cat.jpg --out cmp/

Writes into ``--out``: ``grid.png`` (rows: image × model, columns: input then each method),
``results.json`` (:meth:`kerasviz.Comparison.to_dict`), ``index.html`` and one PNG per cell.
A cell that cannot be computed shows why, in the grid and in ``results.json``.
"""
from __future__ import annotations

import argparse
import json

from kerasviz.apps.cli._common import (add_device_option, add_output_options, methods_type,
                                       open_output)


def _models(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated model names, got {text!r}")
    return names


def _per_model(text: str) -> tuple[str | None, str]:
    """``MODEL=VALUE`` → ``(MODEL, VALUE)``; a plain ``VALUE`` (for every model) → ``(None, VALUE)``."""
    model, sep, value = text.partition("=")
    if not sep:
        return None, text
    if not model.strip() or not value.strip():
        raise argparse.ArgumentTypeError(f"expected VALUE or MODEL=VALUE, got {text!r}")
    return model.strip(), value.strip()


def _setting(pairs: list, what: str, convert=lambda v: v):
    """The ``targets=`` / ``layers=`` of :func:`kerasviz.compare` from repeated ``--target`` /
    ``--layer`` values: None, one value for every model, or ``{model: value}``."""
    if not pairs:
        return None
    if len(pairs) == 1 and pairs[0][0] is None:
        return convert(pairs[0][1])
    if any(model is None for model, _ in pairs):
        raise argparse.ArgumentTypeError(
            f"--{what}: give one value for every model, or MODEL=VALUE for each model; not both")
    return {model: convert(value) for model, value in pairs}


def _unit(value: str):
    return int(value) if value.strip().lstrip("-").isdigit() else value


def register(subparsers) -> None:
    """Add the ``compare`` sub-command to ``subparsers``."""
    p = subparsers.add_parser(
        "compare", help="several models and methods on the same images, as one grid",
        description="Explain the same images with several models and methods: one row per\n"
                    "image and model, one column per method (after the input as that model\n"
                    "saw it). Each model resizes and preprocesses the images its own way.\n"
                    "Writes grid.png, results.json and index.html into --out.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
    p.add_argument("--models", "-m", type=_models, required=True, metavar="M[,M…]",
                   help="comma-separated models: demo models (shapes, sensors), keras.applications "
                        "names or .keras/.h5 files")
    p.add_argument("--methods", type=methods_type, default=["gradcam"], metavar="M[,M…]",
                   help="comma-separated method names (kerasviz explain --list shows them; "
                        "default gradcam)")
    p.add_argument("--target", type=_per_model, action="append", default=[],
                   metavar="[MODEL=]T",
                   help="class id or name to explain, for every model or for MODEL "
                        "(repeatable); default: the top class of each image")
    p.add_argument("--layer", type=_per_model, action="append", default=[], metavar="[MODEL=]L",
                   help="conv layer of the CAM methods, for every model or for MODEL "
                        "(repeatable); default: each model's last 4-D layer")
    p.add_argument("--cell-size", type=int, default=None,
                   help="side of each cell's picture in pixels (default 192)")
    p.add_argument("--json", action="store_true", help="print results.json to stdout")
    add_device_option(p)
    add_output_options(p, "kerasviz_compare")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Compare, then write grid.png, results.json and index.html into --out."""
    from kerasviz.apps.cli._common import check

    check(cell_size=("positive_int", args.cell_size))
    try:
        targets, layers = _setting(args.target, "target", _unit), _setting(args.layer, "layer")
    except argparse.ArgumentTypeError as exc:
        from kerasviz.errors import ArgumentError
        raise ArgumentError(str(exc)) from None
    out = open_output(args, "compare")  # a bad --out is refused before any model is loaded
    import kerasviz
    from kerasviz.present.comparison import CELL_SIZE

    result = kerasviz.compare(args.models, args.images, args.methods, targets, layers,
                              cell_size=args.cell_size or CELL_SIZE)
    index = result.write(out)
    if args.json:
        print(json.dumps(result.to_dict(), indent=1))
    else:
        for row in result.to_dict()["rows"]:
            failed = [c["method"] for c in row["cells"] if c["error"]]
            note = f"; cannot compute {', '.join(failed)}" if failed else ""
            print(f"{row['image_name']} · {row['model']}: {row['cells'][0]['label']}{note}")
        print(f"Wrote {index.parent.resolve()} (grid.png, results.json, index.html)")
    return 0
