"""``kerasviz fetch-weights``: download keras.applications ImageNet weights into the cache.

Examples::

    kerasviz fetch-weights vgg16
    kerasviz fetch-weights resnet50 --no-top
    kerasviz fetch-weights vgg16 resnet50 --json     # {"vgg16": "/…/vgg16_weights_….h5", …}

A file already in a cache folder is reported, not downloaded again; with ``KERASVIZ_OFFLINE=1``
a missing file is a one-line error (exit code 2).
"""
from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "fetch-weights", help="download a keras.applications model's ImageNet weights (needs internet)",
        description="Download ImageNet weights with Keras' own downloader and hash check into "
                    "kerasviz's weights cache ($KERASVIZ_WEIGHTS_DIR or the repository's weights_cache/).")
    p.add_argument("models", nargs="+", metavar="MODEL", help="e.g. vgg16 resnet50")
    p.add_argument("--no-top", action="store_true", help="the file without the classifier head")
    p.add_argument("--json", action="store_true", help="print {model: path} as JSON on stdout")
    p.set_defaults(func=run)


def run(args) -> int:
    from kerasviz.apps.cli._common import print_json
    from kerasviz.core.models import fetch_weights

    paths = {}
    for name in args.models:
        paths[name] = str(fetch_weights(name.lower(), include_top=not args.no_top))
        if not args.json:
            print(f"{name}: {paths[name]}")
    if args.json:
        print_json(paths)
    return 0
