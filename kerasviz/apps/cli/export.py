"""``kerasviz export``: a TF-Serving-ready SavedModel that can explain itself.

Examples::

    kerasviz export model.keras exported/1
    kerasviz export shapes exported/shapes/1 --layer conv4
    kerasviz export model.keras exported/1 --force

The folder serves ``serving_default`` exactly as ``model.export()`` does, plus an ``explain``
signature (the layer's activations and the gradient of a class's score with respect to them)
and a ``logits`` signature (pre-softmax outputs). ``kerasviz explain --model exported/1 --method
gradcam …`` then runs Grad-CAM on the exported folder itself; docs/deploy.md shows the TF Serving
REST request. The folder is written under a temporary name and renamed into place; a non-empty
folder is replaced only with ``--force``; a link is refused.
"""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    """Add the ``export`` sub-command to ``subparsers``."""
    p = subparsers.add_parser(
        "export", help="a TF Serving SavedModel with an 'explain' signature (Grad-CAM on it)",
        description="Export a Keras model as a SavedModel for TF Serving whose serving_default "
                    "is model.export()'s, plus 'explain' and 'logits' signatures.")
    p.add_argument("model", help="a .keras/.h5 file or a model name (shapes, sensors, …)")
    p.add_argument("out", metavar="DIR", help="the SavedModel folder to write (new or empty)")
    p.add_argument("--layer", help="the conv layer the explain signature returns (default: the "
                                   "last 4-D layer, as for Grad-CAM)")
    p.add_argument("--force", action="store_true", help="replace a non-empty DIR")
    p.add_argument("--unsafe", action="store_true",
                   help="allow model files with Lambda layers (only for files you trust)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Check the folder first, then load the model and write the SavedModel."""
    from pathlib import Path

    import kerasviz
    from kerasviz.core.savedmodel import check_folder

    check_folder(Path(args.out).expanduser(), args.force)  # a bad DIR before the model loads
    model = kerasviz.load_model(args.model, safe_mode=not args.unsafe)
    layer = kerasviz.resolve_layer(model, args.layer)
    path = kerasviz.export_model(model, args.out, layer=layer, force=args.force)
    print(f"{path}: signatures serving_default, explain (layer {layer}), logits")
    return 0
