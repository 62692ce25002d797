"""The ``kerasviz`` command line.

Each sub-command lives in its own module of this package with a ``register(subparsers)``
function that adds its parser and sets ``func`` (called with the parsed args, returns an exit
code); the ``Examples::`` block of the module's docstring becomes the end of its ``--help``.
Library errors (:class:`kerasviz.KerasvizError`) and file-system errors (an unwritable
``--out``, a folder given as a file) end in one clear line on stderr and exit code 2, never a
traceback; so do argparse's usage errors. Ctrl-C ends in one line and exit code 130. Option
values and the output folder are checked before a model is loaded. Building the parser and
``--help`` import no TensorFlow; commands that need it import it through
:func:`kerasviz.apps.cli._quiet.import_tensorflow` (no C++ start-up lines on stderr).
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys

#: Sub-command modules, in the order ``kerasviz --help`` lists them.
COMMANDS = ["demo", "explain", "compare", "evaluate", "batch", "predict", "activations", "filters",
            "classes", "fetch_weights", "serve", "export"]

#: Exit codes, as ``kerasviz --help`` and docs/cli.md list them.
EXIT_CODES = """\
exit codes:
  0    done
  1    internal error (a bug: please report the traceback)
  2    bad input or arguments, in one line on stderr; the finished results are kept
       (e.g. explain over a folder with one broken image writes the others' outputs)
  130  interrupted (Ctrl-C); the finished outputs are kept"""


def examples(doc: str | None) -> str:
    """The ``Examples::`` block of a sub-command module's docstring, as an ``--help`` epilog."""
    lines = []
    for line in (doc or "").partition("Examples::")[2].splitlines()[1:]:
        if line.strip() and not line.startswith("    "):
            break
        lines.append(line[4:].rstrip())
    body = "\n".join("  " + ln for ln in lines if ln)
    return f"examples:\n{body}" if body else ""


def build_parser() -> argparse.ArgumentParser:
    """The ``kerasviz`` parser with every sub-command of :data:`COMMANDS` (imports no TensorFlow)."""
    from kerasviz import __version__

    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="kerasviz", formatter_class=raw, epilog=EXIT_CODES,
        description="See what a Keras CNN has learned and why it decided.\n"
                    "`kerasviz COMMAND --help` shows a command's options and examples.")
    parser.add_argument("--version", action="version", version=f"kerasviz {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"kerasviz.apps.cli.{name}")
        module.register(sub)
        p = sub.choices[name.replace("_", "-")]
        p.formatter_class, p.epilog = raw, examples(module.__doc__)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``kerasviz`` with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    args = build_parser().parse_args(argv)
    if getattr(args, "uses_tensorflow", True):
        from kerasviz.apps.cli._quiet import import_tensorflow

        import_tensorflow()
    from kerasviz.errors import KerasvizError, one_line
    try:
        with _device_for(args):
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


@contextlib.contextmanager
def _device_for(args):
    """``--device``: ``$KERASVIZ_DEVICE`` for the command (so every ``explain`` it makes uses
    it), checked first (``gpu`` without one is an error before any work), restored after."""
    from kerasviz import _device

    if getattr(args, "device", None) is None:
        yield
        return
    before = os.environ.get(_device.ENV)
    os.environ[_device.ENV] = args.device
    try:
        _device.resolve(args.device)
        yield
    finally:
        if before is None:
            os.environ.pop(_device.ENV, None)
        else:
            os.environ[_device.ENV] = before


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
