"""``kerasviz classes``: look up and search the 1000 ImageNet classes.

Examples::

    kerasviz classes 281                # 281 n02123045 tabby  (tabby, tabby cat)
    kerasviz classes tiger cat          # words are joined: the class "tiger cat"
    kerasviz classes n02123045
    kerasviz classes --search cat --limit 5
    kerasviz classes --json tabby       # [{"id": 281, "wnid": ..., "name": ..., "synonyms": [...]}]
    kerasviz classes                    # all 1000 classes

Imports no TensorFlow.
"""
from __future__ import annotations

import argparse

from kerasviz.apps.cli._common import print_json
from kerasviz.core import imagenet
from kerasviz.errors import UnknownClassError, suggest


def _positive_int(text: str) -> int:
    from kerasviz import _validate

    try:
        return _validate.positive_int("--limit", int(text))
    except ValueError:  # not a number, or ArgumentError (a ValueError): argparse's usage error
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None


def register(subparsers) -> None:
    """Add the ``classes`` sub-command to ``subparsers``."""
    p = subparsers.add_parser(
        "classes", help="look up or search ImageNet classes (offline)",
        description="Show ImageNet classes as 'id wnid keras_name  (synonyms)'. "
                    "With no argument, list all 1000.")
    what = p.add_mutually_exclusive_group()
    what.add_argument("query", nargs="*", default=[], metavar="CLASS",
                      help="class id, WordNet id, Keras name or synonym "
                           "(several words form one name: tiger cat)")
    what.add_argument("--search", metavar="WORD",
                      help="list classes whose names contain WORD, best matches first")
    p.add_argument("--limit", type=_positive_int, default=None, metavar="N",
                   help="show at most N classes (default 20 with --search, else all)")
    p.add_argument("--json", action="store_true",
                   help="print a JSON list of {id, wnid, name, synonyms}")
    p.set_defaults(func=run, uses_tensorflow=False)


def run(args: argparse.Namespace) -> int:
    """Print the classes asked for; unknown names raise :class:`UnknownClassError`."""
    if args.search is not None:
        ids = [i for i, _, _ in imagenet.search(args.search, limit=args.limit or 20)]
        if not ids:
            names = [imagenet.name(i).replace("_", " ") for i in range(imagenet.NUM_CLASSES)]
            raise UnknownClassError(
                f"No ImageNet class matches {args.search!r}. {suggest(args.search, names)}")
    elif args.query:
        ids = [imagenet.class_id(" ".join(args.query))]
    else:
        ids = list(range(imagenet.NUM_CLASSES))[:args.limit]
    if args.json:
        print_json([{"id": i, "wnid": imagenet.wnid(i), "name": imagenet.name(i),
                    "synonyms": imagenet.synonyms(i)} for i in ids])
    else:
        for i in ids:
            print(f"{i} {imagenet.wnid(i)} {imagenet.name(i)}  "
                  f"({', '.join(imagenet.synonyms(i))})")
    return 0
