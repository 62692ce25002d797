"""The ``kerasviz`` command line.

Each sub-command lives in its own module of this package with a ``register(subparsers)``
function that adds its parser and sets ``func`` (called with the parsed args, returns an exit
code). Library errors (:class:`kerasviz.KerasvizError`) and file-system errors (an unwritable
``--out``, a folder given as a file) end in one clear line on stderr and exit code 2, never a
traceback; so do argparse's usage errors. Option values are checked before a model is loaded.
"""
from __future__ import annotations

import argparse
import importlib
import sys

#: Sub-command modules, in the order ``kerasviz --help`` lists them.
COMMANDS = ["demo", "explain", "activations", "filters", "classes", "fetch_weights"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kerasviz",
        description="See what a Keras CNN has learned and why it decided.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"kerasviz.apps.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # the CLI keeps TensorFlow's start-up chatter quiet
    args = build_parser().parse_args(argv)
    from kerasviz.errors import KerasvizError
    try:
        return int(args.func(args) or 0)
    except (KerasvizError, OSError) as exc:  # user errors: one line, no traceback
        print(f"kerasviz {args.command}: error: {one_line(exc)}", file=sys.stderr)
        return 2


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (Keras' messages span several)."""
    from kerasviz.errors import KerasvizError

    text = " ".join(str(exc).split())
    if isinstance(exc, OSError) and not isinstance(exc, KerasvizError):
        text = f"{type(exc).__name__}: {text}"
    return text


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
