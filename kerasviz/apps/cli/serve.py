"""``kerasviz serve``: a local browser page over the loaded models (``pip install "kerasviz[web]"``).

Examples::

    kerasviz serve                                  # shapes, at http://127.0.0.1:8000/
    kerasviz serve --model shapes --model efficientnet_lite0 --port 8080
    kerasviz serve --host 0.0.0.0                   # reachable from other machines (warns)

The page and the HTTP API (OpenAPI at ``/docs``) are described in ``docs/serve.md``.
"""
from __future__ import annotations

import argparse


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 1 to 65535, got {text!r}")
    return int(text)


def register(subparsers) -> None:
    """Add the ``serve`` sub-command to ``subparsers``."""
    p = subparsers.add_parser(
        "serve", help="a local browser page: upload an image, compare methods across models",
        description="Serve a page (and its HTTP API, documented at /docs) where you upload an "
                    "image or pick a sample, choose models, methods, target and layer, and see "
                    "the comparison grid, the top-5, the regions and an activation grid. Binds "
                    "127.0.0.1 (this machine only) unless --host says otherwise. Needs "
                    "pip install \"kerasviz[web]\".",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; another "
                        "host prints a warning)")
    p.add_argument("--port", type=_port, default=8000, help="port, 1-65535 (default 8000)")
    p.add_argument("--model", "-m", action="append", metavar="NAME_OR_PATH",
                   help="a model to offer (repeatable): demo name, keras.applications name or "
                        "a .keras/.h5 file; default shapes")
    p.add_argument("--max-upload-mb", type=float, default=10.0,
                   help="largest upload in MB (default 10; larger: 413)")
    p.add_argument("--max-jobs", type=int, default=4,
                   help="jobs accepted at once (default 4; more: 429)")
    p.add_argument("--time-limit", type=float, default=120.0,
                   help="seconds a request may take (default 120; longer: 504)")
    p.set_defaults(func=run)


def run(args) -> int:
    import sys

    from kerasviz.apps.cli._common import check

    check(max_jobs=("positive_int", args.max_jobs), time_limit=("non_negative", args.time_limit),
          max_upload_mb=("non_negative", args.max_upload_mb))
    from kerasviz.apps.web import Limits, serve

    limits = Limits(max_upload=int(args.max_upload_mb * 1024 * 1024), max_jobs=args.max_jobs,
                    time_limit=args.time_limit)
    serve(args.host, args.port, args.model, limits=limits,
          log=lambda line: print(line, file=sys.stderr, flush=True))
    return 0
