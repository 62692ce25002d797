"""``kerasviz filters``: what input each filter of a layer responds to most, and its weights.

Examples::

    kerasviz filters --model shapes --layer conv4 --filters 0:32 --out out/
    kerasviz filters --model shapes --layer conv2 --recipe lucid --steps 128 --out out/
    kerasviz filters --model vgg16 --layer block3_conv1 --filters 0:64 --out out/      # the book's figure
    kerasviz filters --model shapes --target circle,star --recipe lucid --out out/     # class models
    kerasviz filters --model shapes --layer conv1 --option step_size=2 --out out/

Writes ``patterns_<layer>_<recipe>.png`` (a grid of the patterns, filter index order),
``weights_<layer>.png`` (the layer's kernels when it is a Conv2D / DepthwiseConv2D) and
``patterns.json`` (per filter: objective and activation before and after the ascent).
"""
from __future__ import annotations

import argparse
import json

from kerasviz.apps.cli._common import (add_model_argument, add_model_options, add_output_options,
                                       add_report_options, check, load_model, open_output, parse_option, print_json,
                                       progress)
from kerasviz.apps.cli.activations import parse_indices


def register(subparsers) -> None:
    """Add the ``filters`` sub-command to ``subparsers``."""
    p = subparsers.add_parser(
        "filters", help="filter patterns by gradient ascent, and filter weights",
        description="Find, by gradient ascent in input space, the picture each filter of a layer "
                    "responds to most (or a class model with --target); also tile the layer's "
                    "kernels.")
    add_model_argument(p)
    p.add_argument("--layer", "-l", help="layer name or path (vgg16/block3_conv1); default: the "
                                         "last layer with a 4-D output")
    p.add_argument("--filters", "-f", type=parse_indices, metavar="START:STOP | I,J,…",
                   help="filters to visualise (default all)")
    p.add_argument("--target", help="comma-separated class ids or names: class-model "
                                    "visualisation of the output instead of --layer/--filters")
    p.add_argument("--recipe", default="book",
                   help="book (default) or lucid; checked by kerasviz.inside.patterns (kept out of the "
                        "parser so that `kerasviz --help` does not import TensorFlow)")
    p.add_argument("--steps", type=int, help="ascent steps (default: 40 book, 192 lucid)")
    p.add_argument("--size", type=int, help="image side (default: the model's input size, else "
                                            "150 book / 128 lucid)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--option", type=parse_option, action="append", default=[], metavar="KEY=VALUE",
                   help="a recipe option, e.g. step_size=2, octaves=4, tv=0.5 (repeatable)")
    p.add_argument("--cols", type=int, default=8, help="patterns per row (default 8)")
    p.add_argument("--batch-size", type=int, help="filters per compiled batch (default: by memory)")
    add_report_options(p, "the per-filter results")
    add_model_options(p)
    add_output_options(p, "kerasviz_filters")
    p.set_defaults(func=run)


def _targets(text: str | None):
    if text is None:
        return None
    return [int(t) if t.strip().lstrip("-").isdigit() else t.strip()
            for t in text.split(",") if t.strip()]


def check_filters(model, layer, filters) -> None:
    """Refuse a ``--filters`` range that reaches past the layer's filters (Python slicing would
    silently clip it), naming the layer's filter count.

    Raises:
        ArgumentError: a START or STOP beyond the layer's number of filters.
    """
    from kerasviz.core import layers as L
    from kerasviz.errors import ArgumentError

    if not isinstance(filters, slice):
        return  # lists are checked by select_indices, with the valid range
    path = L.resolve_layer(model, layer)
    n = next(r for r in L.layer_table(model) if r.path == path).output_shape[-1]
    ends = [v for v in (filters.start, filters.stop) if v is not None]
    if any(v > n or v < -n for v in ends):
        text = ":".join("" if v is None else str(v) for v in (filters.start, filters.stop))
        raise ArgumentError(f"--filters {text} reaches past the filters of layer {path!r}, which "
                            f"has {n} (0..{n - 1}). Expected a range within 0:{n}, e.g. "
                            f"--filters 0:{min(n, 16)}.")


def run(args: argparse.Namespace) -> int:
    """Run the ascent, write the patterns grid, the weights grid and the JSON summary."""
    import numpy as np

    from kerasviz.inside import features

    from kerasviz.inside import patterns

    from kerasviz.present import render
    from kerasviz.errors import LayerNotFoundError

    check(cols=("positive_int", args.cols), batch_size=("positive_int", args.batch_size),
          seed=("non_negative_int", args.seed))
    out = open_output(args, "filters")
    model = load_model(args)
    if args.target is None:
        check_filters(model, args.layer, args.filters)
    res = patterns.optimize_patterns(
        model, args.layer, args.filters, recipe=args.recipe, target=_targets(args.target),
        steps=args.steps, size=args.size, seed=args.seed, batch_size=args.batch_size,
        progress=progress(args), **dict(args.option))
    safe = res.layer.replace("/", "__")
    title = f"{res.layer} ({args.recipe}): " + (
        f"classes {', '.join(map(str, res.units))}" if args.target else
        f"filters {res.units[0]}..{res.units[-1]}")
    grid = render.title_band(render.tile(res.images, cols=args.cols, pad=2), title)
    files = [out.write_png(f"patterns_{safe}_{args.recipe}.png", grid)]
    if args.target is None:
        try:
            w = features.filter_weights(model, res.layer, filters=res.units)
        except LayerNotFoundError:
            w = None  # not a convolution: no kernels to show
        if w is not None:
            scale = max(1, 48 // max(w.shape[1:3]))
            tiles = np.repeat(np.repeat(w, scale, axis=1), scale, axis=2)
            files.append(out.write_png(f"weights_{safe}.png", render.title_band(
                render.tile(tiles, cols=16, pad=2), f"{res.layer} kernels")))
    rows = [{"unit": int(u), "score_start": float(a), "score_end": float(b),
             "activation_start": float(c), "activation_end": float(d)}
            for u, a, b, c, d in zip(res.units, res.score_start, res.score_end,
                                     res.activation_start, res.activation_end)]
    summary = {"model": model.name, "layer": res.layer, "recipe": res.recipe, "seed": args.seed,
               "files": [f.name for f in files], "filters": rows}
    out.write_text("patterns.json", json.dumps(summary, indent=2) + "\n")  # the index: last
    out.finish()
    if args.json:
        print_json(summary)
    else:
        gain = res.activation_end / np.maximum(res.activation_start, 1e-12)
        print(f"{res.layer}: {len(res.units)} patterns ({args.recipe}); activation raised ≥5× "
              f"for {np.mean(gain >= 5):.0%} of them. Wrote {', '.join(f.name for f in files)} "
              f"and patterns.json to {out.path.resolve()}")
    return 0
