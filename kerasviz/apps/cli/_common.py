"""What several sub-commands share: model loading, the output folder, KEY=VALUE options,
method names, ``--json`` / ``--quiet`` and image inputs."""
from __future__ import annotations

import argparse
import functools


def add_model_options(p: argparse.ArgumentParser) -> None:
    """Add ``--preprocess``, ``--unsafe``, ``--class-names`` and ``--signature`` (used with
    ``--model``) to a sub-command."""
    p.add_argument("--preprocess", help="for model files: 'unit' (x/255), 'none' (0-255) or an "
                                        "application's preprocessing (vgg16, resnet50, …)")
    p.add_argument("--unsafe", action="store_true",
                   help="allow model files with Lambda layers (only for files you trust)")
    p.add_argument("--class-names", metavar="FILE",
                   help="names of the model's output units: a text file with one name a line, "
                        "or a JSON list (for model files)")
    p.add_argument("--signature", metavar="NAME",
                   help="for a SavedModel folder: the signature to explain (default "
                        "serving_default; 'logits' for a folder written by kerasviz export)")


def add_device_option(p: argparse.ArgumentParser) -> None:
    """Add ``--device auto|cpu|gpu`` (sets ``$KERASVIZ_DEVICE`` for the command's explanations)."""
    from kerasviz._device import CHOICES

    p.add_argument("--device", choices=CHOICES, default=None,
                   help="where to compute: auto (the GPU when TensorFlow sees one; default, or "
                        "$KERASVIZ_DEVICE), cpu or gpu")


def add_report_options(p: argparse.ArgumentParser, what: str = "the results") -> None:
    """Add ``--json`` (``what`` as JSON on stdout) and ``--quiet`` (no progress bars)."""
    p.add_argument("--json", action="store_true", help=f"print {what} as JSON on stdout")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars")


def print_json(value) -> None:
    """Print ``value`` as the JSON of ``--json``: indented, with lists of numbers or strings
    (predictions, boxes, shapes, files) kept on one line each."""
    import json
    import re

    text = json.dumps(value, indent=2)  # strings hold no raw newline, so the rules below are safe
    print(re.sub(r"\[\n\s*([^\[\]{}]*?)\n\s*\]",
                 lambda m: "[" + re.sub(r",\n\s*", ", ", m.group(1)) + "]", text))


def progress(args) -> bool | None:
    """The ``progress=`` of the API for ``--quiet``: False, else None (a bar on a terminal)."""
    return False if args.quiet else None


def add_input_options(p: argparse.ArgumentParser, required: bool = True) -> None:
    """Add the ``IMAGE|DIR|GLOB…`` arguments and ``--model`` to a sub-command."""
    p.add_argument("images", nargs="+" if required else "*", metavar="IMAGE|DIR|GLOB",
                   help="image files, folders (searched recursively) or glob patterns "
                        "('photos/**/*.jpg')")
    add_model_argument(p, required)


def add_model_argument(p: argparse.ArgumentParser, required: bool = True) -> None:
    """Add ``--model`` (a name or a model file) to a sub-command."""
    p.add_argument("--model", "-m", required=required,
                   help="a demo model (shapes, sensors), a keras.applications name (vgg16, "
                        "resnet50…), a .keras/.h5 file or a SavedModel folder (TF Serving)")


def load_images(specs) -> tuple[list, list, list[tuple[str, str]]]:
    """Decode the images of IMAGE / folder / glob arguments (found by
    :func:`kerasviz.apps.batch.expand_inputs`) before the model loads.

    Returns:
        ``(paths, pixels, bad)``: the readable images' paths and ``uint8 (H, W, 3)`` arrays, and
        ``(path, one-line error)`` of each unreadable one.

    Raises:
        ArgumentError: a folder or pattern with no image file.
    """
    from kerasviz.apps.batch import expand_inputs
    from kerasviz.core.images import load_image
    from kerasviz.errors import ImageError, one_line

    paths, pixels, bad = [], [], []
    for path in expand_inputs(specs):
        try:
            pixels.append(load_image(path))
            paths.append(path)
        except ImageError as exc:
            bad.append((str(path), one_line(exc)))
    return paths, pixels, bad


def report_bad(args, bad: list[tuple[str, str]]) -> int:
    """Print one stderr line per unreadable image; the exit code: 2 if any, else 0."""
    import sys

    for path, why in bad:
        print(f"kerasviz {args.command}: error: {path}: {why}", file=sys.stderr)
    return 2 if bad else 0


@functools.lru_cache(maxsize=1)
def method_names() -> tuple[tuple[str, ...], dict]:
    """``(names, aliases)`` of the explanation methods, read from the ``register("name", …)``
    calls and ``_ALIASES`` in the source of :mod:`kerasviz.methods` without importing it (it
    imports TensorFlow); a test checks them against the live registry."""
    import ast
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "methods"
    names, aliases = [], {}
    for path in [folder / f"{m}.py" for m in ("cam", "gradients", "backprop")] + sorted(
            p for p in folder.glob("*.py") if p.stem not in ("cam", "gradients", "backprop")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in (n for stmt in tree.body for n in ast.walk(stmt)):  # in source order
            if (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "register"
                    and node.args and isinstance(node.args[0], ast.Constant)):
                names.append(node.args[0].value)
            elif (isinstance(node, ast.Assign) and path.stem == "registry"
                  and getattr(node.targets[0], "id", None) == "_ALIASES"):
                aliases = ast.literal_eval(node.value)
    return tuple(dict.fromkeys(names)), aliases


def methods_type(text: str) -> list[str]:
    """argparse type of ``--method gradcam,saliency``: canonical names, checked against
    :func:`method_names` (case-insensitive, ``-`` like ``_``, aliases) without TensorFlow."""
    from kerasviz.errors import suggest

    names, aliases = method_names()
    chosen = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        key = part.lower().replace("-", "_")
        key = aliases.get(key, key)
        if key not in names:
            raise argparse.ArgumentTypeError(
                f"Unknown explanation method {part!r}. Expected one of {list(names)} "
                f"(comma-separated). {suggest(part, names)}")
        chosen.append(key)
    if not chosen:
        raise argparse.ArgumentTypeError(f"expected method names, got {text!r}")
    return chosen


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
    """The model named by ``--model`` with ``--preprocess``, ``--class-names`` and ``--unsafe``
    applied (the ``--preprocess`` name and the names file are checked before the model loads).

    Raises:
        ArgumentError: a model whose preprocessing kerasviz does not know and no
            ``--preprocess``, or ``--class-names`` with another count than the output's units.
    """
    import kerasviz
    from kerasviz.core.targets import _output_units
    from kerasviz.errors import ArgumentError

    pre = preprocess_fn(args.preprocess)
    names = read_class_names(args.class_names)
    model = kerasviz.load_model(args.model, safe_mode=not args.unsafe,
                                signature=getattr(args, "signature", None))
    if pre is None and kerasviz.model_info(model).preprocess is None:
        raise ArgumentError(
            f"kerasviz does not know how model {model.name!r} ({args.model}) expects its input. "
            f"Give --preprocess unit (x/255), none (0-255) or an application's preprocessing "
            f"(vgg16, resnet50, …).")
    if names is not None and len(names) != _output_units(model)[0]:
        raise ArgumentError(
            f"--class-names {args.class_names} has {len(names)} names but model {model.name!r} "
            f"has {_output_units(model)[0]} output units. Expected one name per unit, in order.")
    if pre is None and names is None:
        return model
    return kerasviz.load_model(model, preprocess=pre, class_names=names)


def read_class_names(path: str | None) -> list[str] | None:
    """The names of a ``--class-names`` file: a JSON list, or one name a line (blank lines
    and ``#`` comments skipped); None without the option.

    Raises:
        ArgumentError: the file is missing, empty, or a JSON value that is not a list of strings.
    """
    import json
    from pathlib import Path

    from kerasviz.errors import ArgumentError

    if path is None:
        return None
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ArgumentError(f"Cannot read --class-names {path}: {exc.strerror}. Expected a text "
                            f"file with one name a line, or a JSON list.") from None
    if text.lstrip().startswith("["):
        try:
            names = json.loads(text)
        except ValueError as exc:
            raise ArgumentError(f"--class-names {path} is not valid JSON ({exc}). Expected a "
                                f"JSON list of names, or one name a line.") from None
        if not all(isinstance(n, str) for n in names):
            raise ArgumentError(f"--class-names {path} must list strings. Expected e.g. "
                                f'["cat", "dog"]. Received: {names!r:.80}')
    else:
        names = [ln.strip() for ln in text.splitlines()
                 if ln.strip() and not ln.lstrip().startswith("#")]
    if not names:
        raise ArgumentError(f"--class-names {path} holds no names. Expected one name a line, "
                            f"or a JSON list.")
    return names


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
