"""What several sub-commands share: model loading options and KEY=VALUE options."""
from __future__ import annotations

import argparse


def add_model_options(p: argparse.ArgumentParser) -> None:
    """Add ``--preprocess`` and ``--unsafe`` (used with ``--model``) to a sub-command."""
    p.add_argument("--preprocess", help="for model files: 'unit' (x/255), 'none' (0-255) or an "
                                        "application's preprocessing (vgg16, resnet50, …)")
    p.add_argument("--unsafe", action="store_true",
                   help="allow model files with Lambda layers (only for files you trust)")


def load_model(args):
    """The model named by ``--model`` with ``--preprocess`` / ``--unsafe`` applied."""
    import kerasviz

    model = kerasviz.load_model(args.model, safe_mode=not args.unsafe)
    pre = preprocess_fn(args.preprocess)
    return kerasviz.load_model(model, preprocess=pre) if pre is not None else model


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

    from kerasviz.errors import ModelError, suggest
    from kerasviz.core.models import APPLICATIONS

    if name == "unit":
        return lambda x: np.asarray(x, np.float32) / 255.0
    if name == "none":
        return lambda x: np.asarray(x, np.float32)
    if name in APPLICATIONS:
        module = importlib.import_module(f"keras.applications.{APPLICATIONS[name].module}")
        return lambda x: np.asarray(module.preprocess_input(np.array(x, np.float32)))
    raise ModelError(f"Unknown preprocessing. Expected 'unit', 'none' or one of "
                     f"{sorted(APPLICATIONS)}. Received: --preprocess {name!r}. "
                     f"{suggest(name, ['unit', 'none', *APPLICATIONS])}")
