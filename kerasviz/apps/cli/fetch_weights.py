"""``kerasviz fetch-weights``: download keras.applications ImageNet weights into the cache."""
from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "fetch-weights", help="download a keras.applications model's ImageNet weights (needs internet)",
        description="Download ImageNet weights with Keras' own downloader and hash check into "
                    "kerasviz's weights cache ($KERASVIZ_WEIGHTS_DIR or the repository's weights_cache/).")
    p.add_argument("models", nargs="+", metavar="MODEL", help="e.g. vgg16 resnet50")
    p.add_argument("--no-top", action="store_true", help="the file without the classifier head")
    p.set_defaults(func=run)


def run(args) -> int:
    from kerasviz.core.models import fetch_weights

    for name in args.models:
        path = fetch_weights(name.lower(), include_top=not args.no_top)
        print(f"{name}: {path}")
    return 0
