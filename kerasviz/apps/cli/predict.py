"""``kerasviz predict``: a model's top classes (or regression outputs) for images.

Examples::

    kerasviz predict --model shapes img.png
    kerasviz predict --model efficientnet_lite0 --top 3 photos/ 'more/*.jpg'
    kerasviz predict --model sensors scene.png --json
    kerasviz predict --model my.keras --preprocess unit --class-names names.txt x.png

Prints one line per image (``img.png: top: circle 0.998, star 0.001, …``); ``--json`` prints a list of
``{"image", "predictions": [[id, name, score], …]}`` (``"outputs": {name: value}`` for a
regression model; ``{"image", "error"}`` for an unreadable image). A broken image is reported in one line on stderr after the others' results,
and the exit code is then 2.
"""
from __future__ import annotations

import argparse

from kerasviz.apps.cli._common import (add_input_options, add_model_options, add_report_options,
                                       check, load_images, load_model, print_json, report_bad)


def register(subparsers) -> None:
    """Add the ``predict`` sub-command to ``subparsers``."""
    p = subparsers.add_parser(
        "predict", help="top classes (or regression outputs) of a model for images",
        description="Run images through a model and print its top classes with their names "
                    "and scores, or the outputs of a regression model.")
    add_input_options(p)
    p.add_argument("--top", "-k", type=int, default=5, help="classes per image (default 5)")
    add_report_options(p, "the predictions")
    add_model_options(p)
    p.set_defaults(func=run)


def predictions(model, x, top: int = 5) -> list[dict]:
    """Per image of the model input batch ``x``: ``{"predictions": [[id, name, score], …]}``
    (the ``top`` highest units of output 0, best first) or, for a regression model,
    ``{"outputs": {name: value}}``."""
    import numpy as np

    from kerasviz.core.layers import as_list
    from kerasviz.core.models import model_info
    from kerasviz.core.targets import class_names

    scores = as_list(model.predict(x, verbose=0))[0].reshape(len(x), -1)
    names = class_names(model, 0) or [str(i) for i in range(scores.shape[1])]
    if model_info(model).task == "regression":
        return [{"outputs": {n: float(v) for n, v in zip(names, row)}} for row in scores]
    return [{"predictions": [[int(c), names[c], float(row[c])] for c in np.argsort(-row)[:top]]}
            for row in scores]


def describe(result: dict) -> str:
    """One line of a :func:`predictions` entry: ``top: circle 0.998, star 0.001`` (``#3`` for
    a unit without a name) or ``outputs: left=0.120 front=0.870``."""
    if "outputs" in result:
        return "outputs: " + " ".join(f"{n}={v:.3f}" for n, v in result["outputs"].items())
    return "top: " + ", ".join(f"{'#' + name if name == str(c) else name} {score:.3f}"
                               for c, name, score in result["predictions"])


def run(args: argparse.Namespace) -> int:
    """Print the predictions of every readable image; exit code 2 when one was unreadable."""
    import kerasviz

    check(top=("positive_int", args.top))
    paths, pixels, bad = load_images(args.images)
    results = []
    if pixels:
        model = load_model(args)
        for path, res in zip(paths, predictions(model, kerasviz.preprocess(model, pixels),
                                                args.top)):
            results.append({"image": str(path), **res})
    if args.json:
        results += [{"image": path, "error": why} for path, why in bad]
        print_json(results)
    else:
        for res in results:
            print(f"{res['image']}: {describe(res)}")
    return report_bad(args, bad)
