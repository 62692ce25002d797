"""Explanation methods: the registry, and the method modules that fill it.

``kerasviz.methods()`` lists the registered methods with one line each (the module itself is
callable); :func:`get` resolves a name; :func:`smooth` makes a noise-tunnel version of any
method. The CLI's ``--method`` choices come from here. Adding a method is one function in one
module of this package (an existing one or a new one: every module here is imported),
registered with :func:`register` (see ``CONTRIBUTING.md``).
"""
from __future__ import annotations

import importlib
import pkgutil
import sys
import types

from kerasviz.methods.options import Array, Float, Int, Option, Seed
from kerasviz.methods.registry import Method, POSTPROCESS, get, methods, names, register, split_options


class _CallableModule(types.ModuleType):
    """``kerasviz.methods()`` lists the methods; ``kerasviz.methods.get`` etc. still work."""

    def __call__(self) -> list[Method]:
        return methods()


sys.modules[__name__].__class__ = _CallableModule

from kerasviz.methods.tunnel import smooth  # noqa: E402

# Registration: every module of this package is imported, the built-in families first (their
# order is the listing order), so a method in a new module needs no import line here.
for _module in ["cam", "gradients", "backprop"] + sorted(
        m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")):
    importlib.import_module(f"{__name__}.{_module}")

__all__ = ["Method", "register", "get", "names", "methods", "smooth", "POSTPROCESS",
           "Option", "Int", "Float", "Array", "Seed"]
