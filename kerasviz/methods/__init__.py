"""Explanation methods: the registry, and the method modules that fill it.

``kerasviz.methods()`` lists the registered methods with one line each (the module itself is
callable); :func:`get` resolves a name; :func:`smooth` makes a noise-tunnel version of any
method. The CLI's ``--method`` choices come from here. Adding a method is one function in one
module, registered with :func:`register` (see ``CONTRIBUTING.md``).
"""
from __future__ import annotations

import sys
import types

from kerasviz.methods.options import Array, Float, Int, Option, Seed
from kerasviz.methods.registry import Method, POSTPROCESS, get, methods, names, register


class _CallableModule(types.ModuleType):
    """``kerasviz.methods()`` lists the methods; ``kerasviz.methods.get`` etc. still work."""

    def __call__(self) -> list[Method]:
        return methods()


sys.modules[__name__].__class__ = _CallableModule

# registration, in listing order
from kerasviz.methods.tunnel import smooth  # noqa: E402
from kerasviz.methods import cam  # noqa: E402,F401
from kerasviz.methods import gradients  # noqa: E402,F401
from kerasviz.methods import backprop  # noqa: E402,F401

__all__ = ["Method", "register", "get", "names", "methods", "smooth", "POSTPROCESS",
           "Option", "Int", "Float", "Array", "Seed"]
