"""``kerasviz activations``: channel grids and per-layer statistics for images.

Examples::

    kerasviz activations --model shapes img.png --out out/
    kerasviz activations --model shapes photos/ 'more/*.png' --layers conv1,conv4 --out out/
    kerasviz activations --model vgg16 cat.jpg --layers 'block*_conv1' --out out/
    kerasviz activations --model shapes img.png --layers Conv2D --sort mean --channels 0:32 --out out/
    kerasviz activations --model shapes a.png b.png --json --out out/   # statistics as JSON on stdout

Writes ``<image>_<layer>.png`` (one grid per image and layer; ``/`` in nested paths becomes
``__``), ``stats.txt`` and ``stats.json`` (statistics over all the images) and
``sparsity.png`` (zero and dead-channel fractions against depth), and prints the statistics table.
"""
from __future__ import annotations

import argparse
import io
import json

from kerasviz.apps.cli._common import (add_input_options, add_model_options, add_output_options,
                                       add_report_options, check, load_images, load_model,
                                       open_output, print_json, progress, report_bad, stems)


def parse_layers(text: str | None):
    """``"conv1,2,block*_conv*,Conv2D"`` → a list of layer specs for :func:`select_layers`:
    integers become indices and names of ``keras.layers`` classes become classes."""
    if text is None:
        return None
    specs: list = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if part.lstrip("-").isdigit():
            specs.append(int(part))
        elif part[0].isupper() and "/" not in part and not any(c in part for c in "*?["):
            import keras

            cls = getattr(keras.layers, part, None)
            specs.append(cls if isinstance(cls, type) else part)
        else:
            specs.append(part)
    return specs


def parse_indices(text: str | None):
    """``"0:64"`` → ``slice(0, 64)``; ``"1,5,9"`` → ``[1, 5, 9]``; ``"3"`` → ``[3]``;
    None → None."""
    if text is None:
        return None
    try:
        if ":" in text:
            parts = [int(p) if p.strip() else None for p in text.split(":")]
            if len(parts) > 3:
                raise ValueError
            return slice(*parts)
        return [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected START:STOP[:STEP] or I,J,K, got {text!r}") from None


def register(subparsers) -> None:
    """Add the ``activations`` sub-command to ``subparsers``."""
    p = subparsers.add_parser(
        "activations", help="what each layer computes: channel grids and sparsity statistics",
        description="Run images through a model and save every chosen layer's channels as a grid "
                    "(the Keras book's layout), with per-layer statistics.")
    add_input_options(p)
    p.add_argument("--layers", "-l", help="comma-separated names, paths (vgg16/block5_conv3), "
                                          "indices, globs ('block*_conv*') or layer classes "
                                          "(Conv2D); default: every layer with a 4-D output")
    p.add_argument("--channels", type=parse_indices, metavar="START:STOP | I,J,…",
                   help="channels to show in the grids (default all)")
    p.add_argument("--sort", choices=["mean", "-mean"],
                   help="order tiles by mean activation (largest first; -mean: smallest first)")
    p.add_argument("--cols", type=int, default=16, help="tiles per row (default 16, as the book)")
    p.add_argument("--colormap", default="viridis", help="viridis (default), jet, gray, …")
    p.add_argument("--zero-tol", type=float, default=0.0,
                   help="|a| <= this counts as zero in the statistics (default 0)")
    add_report_options(p, "the per-layer statistics")
    add_model_options(p)
    add_output_options(p, "kerasviz_activations")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Compute activations and statistics, write grids, tables and the sparsity plot; exit
    code 2 when an image was unreadable (the others' results are written)."""
    from kerasviz import _progress
    from kerasviz.errors import ImageError
    from kerasviz.inside import features

    check(cols=("positive_int", args.cols), colormap=("colormap", args.colormap),
          zero_tol=("non_negative", args.zero_tol))
    layers = parse_layers(args.layers)
    paths, pixels, bad = load_images(args.images)
    if not pixels:
        raise ImageError(f"None of the {len(bad)} images could be read; the first: "
                         f"{bad[0][0]}: {bad[0][1]}")
    out = open_output(args, "activations")
    model = load_model(args)
    stats = features.layer_stats(model, pixels, layers, zero_tol=args.zero_tol)
    acts = features.activations(model, pixels, [r.layer for r in stats])
    written = []
    grids = [(path, i, stem) for path, a in acts.items() if a.ndim == 4
             for i, stem in enumerate(stems(paths))]
    for path, i, stem in _progress.bar(grids, progress=progress(args), desc="grids"):
        grid = features.channel_grid(acts[path][i], path, cols=args.cols, channels=args.channels,
                                     sort=args.sort, colormap=args.colormap)
        written.append(out.write_png(f"{stem}_{path.replace('/', '__')}.png", grid))
    figure = io.BytesIO()
    features.sparsity_figure(stats, f"{model.name}: sparsity vs depth").savefig(
        figure, format="png", dpi=100)
    out.write_bytes("sparsity.png", figure.getvalue())
    out.write_text("stats.txt", str(stats) + "\n")
    out.write_text("stats.json", stats.to_json(indent=2) + "\n")  # the index: last
    out.finish()
    if args.json:
        print_json(json.loads(stats.to_json()))
    else:
        print(stats)
        print(f"\nWrote {len(written)} grids, stats.txt, stats.json and sparsity.png to "
              f"{out.path.resolve()}")
    return report_bad(args, bad)
