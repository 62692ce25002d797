"""Progress bars for long work: one place that decides whether to show one and which kind.

``progress=None`` shows a bar only when stderr is a terminal (never in logs or CI); ``True`` /
``False`` force it. In Jupyter the widget bar is used when ``ipywidgets`` is installed, otherwise
the plain text bar (``tqdm.auto`` would warn on every call there).
"""
from __future__ import annotations

import importlib.util
import sys


def wanted(progress: bool | None) -> bool:
    """Whether to show a bar: ``progress`` if given, else whether stderr is a terminal."""
    if progress is not None:
        return bool(progress)
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def bar(iterable=None, *, progress: bool | None, **options):
    """A ``tqdm`` bar over ``iterable`` (or with ``total=``), disabled unless :func:`wanted`."""
    if importlib.util.find_spec("ipywidgets") is not None and "ipykernel" in sys.modules:
        from tqdm.auto import tqdm
    else:
        from tqdm.std import tqdm
    return tqdm(iterable, disable=not wanted(progress), **options)
