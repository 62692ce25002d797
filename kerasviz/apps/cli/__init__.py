"""The ``kerasviz`` command line.

Each sub-command lives in its own module of this package with a ``register(subparsers)``
function that adds its parser and sets ``func`` (called with the parsed args, returns an exit
code). Library errors (:class:`kerasviz.KerasvizError`) and file-system errors (an unwritable
``--out``, a folder given as a file) end in one clear line on stderr and exit code 2, never a
traceback; so do argparse's usage errors. Ctrl-C ends in one line and exit code 130. Option
values and the output folder are checked before a model is loaded.
"""
from __future__ import annotations

import argparse
import importlib
import sys

#: Sub-command modules, in the order ``kerasviz --help`` lists them.
COMMANDS = ["demo", "explain", "compare", "batch", "activations", "filters", "classes", "fetch_weights",
            "serve"]


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
    from kerasviz.errors import KerasvizError, one_line
    try:
        return int(args.func(args) or 0)
    except (KerasvizError, OSError) as exc:  # user errors: one line, no traceback
        print(f"kerasviz {args.command}: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: every file written so far is complete (atomic writes)
        where = f" in {args.out}" if getattr(args, "out", None) else ""
        print(f"kerasviz {args.command}: interrupted; the finished outputs are kept{where}; run "
              f"the same command again to {'resume' if args.command == 'batch' else 'redo it'}.",
              file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
