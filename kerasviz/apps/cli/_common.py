"""What several sub-commands share: model loading, the output folder, KEY=VALUE options."""
from __future__ import annotations

import argparse


def add_model_options(p: argparse.ArgumentParser) -> None:
    """Add ``--preprocess`` and ``--unsafe`` (used with ``--model``) to a sub-command."""
    p.add_argument("--preprocess", help="for model files: 'unit' (x/255), 'none' (0-255) or an "
                                        "application's preprocessing (vgg16, resnet50, …)")
    p.add_argument("--unsafe", action="store_true",
                   help="allow model files with Lambda layers (only for files you trust)")


def add_output_options(p: argparse.ArgumentParser, default: str) -> None:
    """Add ``--out`` (default ``default``) and ``--force`` to a sub-command."""
    p.add_argument("--out", "-o", default=default, metavar="DIR",
                   help=f"output folder (default {default}); a non-empty one must be a previous "
                        f"run of the same command")
    p.add_argument("--force", action="store_true",
                   help="write into a non-empty --out that is not a previous run of this command")


def open_output(args, command: str):
    """The :class:`~kerasviz.present.outputs.OutputFolder` of ``--out`` / ``--force``; call it
    before loading the model, so a bad folder is refused first."""
    from kerasviz.present.outputs import OutputFolder

    return OutputFolder(args.out, command, force=args.force)


def stems(paths) -> list[str]:
    """Output name stems of image paths: the file stems, numbered when two are the same."""
    from pathlib import Path

    names = [Path(p).stem for p in paths]
    if len(set(names)) < len(names):
        names = [f"{i:02d}_{s}" for i, s in enumerate(names)]
    return names


def load_model(args):
    """The model named by ``--model`` with ``--preprocess`` / ``--unsafe`` applied (the
    ``--preprocess`` name is checked before the model is loaded)."""
    import kerasviz

    pre = preprocess_fn(args.preprocess)
    model = kerasviz.load_model(args.model, safe_mode=not args.unsafe)
    return kerasviz.load_model(model, preprocess=pre) if pre is not None else model


def check(**values) -> None:
    """Check option values before any model is loaded, with the API's validators; keys name the
    flag (``batch_size`` → ``--batch-size``), values are ``(kind, value)`` pairs where kind is
    ``"positive_int"``, ``"non_negative_int"``, ``"fraction"`` (a number in [0, 1]),
    ``"non_negative"`` or ``"colormap"``. ``None`` values (flag not given) are skipped."""
    from kerasviz import _validate
    from kerasviz.present.render import COLORMAPS

    for key, (kind, value) in values.items():
        if value is None:
            continue
        flag = "--" + key.replace("_", "-")
        if kind == "positive_int":
            _validate.positive_int(flag, value)
        elif kind == "fraction":
            _validate.number(flag, value, 0.0, 1.0)
        elif kind == "non_negative":
            _validate.number(flag, value, lo=0.0)
        elif kind == "non_negative_int":
            _validate.integer(flag, value, lo=0)
        elif kind == "colormap":
            _validate.one_of(flag, value, COLORMAPS)
        else:  # pragma: no cover - a programming error in a sub-command
            raise ValueError(f"Unknown check kind {kind!r} for {flag}.")


def parse_option(text: str) -> tuple[str, object]:
    import ast

    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        parsed = value
    return key.strip(), parsed


def preprocess_fn(name: str | None):
    if name is None:
        return None
    import importlib

    import numpy as np

    from kerasviz.core.models import APPLICATIONS
    from kerasviz.errors import ArgumentError, suggest

    if name == "unit":
        return lambda x: np.asarray(x, np.float32) / 255.0
    if name == "none":
        return lambda x: np.asarray(x, np.float32)
    if name in APPLICATIONS:
        module = importlib.import_module(f"keras.applications.{APPLICATIONS[name].module}")
        return lambda x: np.asarray(module.preprocess_input(np.array(x, np.float32)))
    raise ArgumentError(f"Unknown preprocessing. Expected 'unit', 'none' or one of "
                        f"{sorted(APPLICATIONS)}. Received: --preprocess {name!r}. "
                        f"{suggest(name, ['unit', 'none', *APPLICATIONS])}")
