"""The registry of explanation methods.

``kerasviz.methods()`` lists the registered methods with one line each (the module itself is
callable); :func:`get` resolves a name. The CLI's ``--method`` choices come from here.

Adding a method is one short function plus its registry line::

    @register("gradcam", family="cam", needs="layer_grads",
              doc="Grad-CAM: channels weighted by their mean gradient (Selvaraju et al. 2017)")
    def gradcam(ctx):
        return ctx.cam(ctx.weighted(tf.reduce_mean(ctx.dA, axis=(1, 2))))

The function receives a :class:`kerasviz.methods.base.Context` (the clean forward/backward pass
already done: ``ctx.x``, ``ctx.A``, ``ctx.dA``, ``ctx.dx``, ``ctx.scores``, ``ctx.units``, and
chunked evaluation helpers) and returns ``ctx.cam(raw)`` or ``ctx.pixels(grads)``. Its keyword
arguments with defaults are the method's options (``explain(..., samples=50)``). The base does
the tape, casting, target scoring, resizing, normalisation, batching and caching.
"""
from __future__ import annotations

import inspect
import sys
import types
from dataclasses import dataclass, field
from typing import Callable

from kerasviz.errors import UnknownMethodError, suggest

FAMILIES = ("cam", "pixel")
NEEDS = ("layer", "layer_grads", "input_grads", "guided_grads", "deconvnet_grads", "scores")


@dataclass(frozen=True)
class Method:
    """A registered explanation method.

    Attributes:
        name: registry name (``"gradcam"``).
        family: ``"cam"`` (a map at a conv layer's resolution, upsampled) or ``"pixel"``
            (attributions per input pixel and channel).
        fn: ``fn(ctx, **options) -> Result``.
        doc: one line for listings.
        needs: what the clean pass computes before ``fn`` runs (see :data:`NEEDS`).
        options: option name → default, read from ``fn``'s signature.
    """
    name: str
    family: str
    fn: Callable
    doc: str
    needs: str
    options: dict = field(default_factory=dict)

    @property
    def uses_layer(self) -> bool:
        """True when the method looks at a conv layer (``layer=`` matters)."""
        return self.needs in ("layer", "layer_grads") or self.family == "cam"

    def __str__(self) -> str:
        return f"{self.name:22s} {self.doc}"

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return f"<Method {self.name} [{self.family}]({opts}): {self.doc}>"


_REGISTRY: dict[str, Method] = {}


def register(name: str, *, family: str, needs: str, doc: str):
    """Decorator registering ``fn(ctx, **options)`` as method ``name``.

    Args:
        name: registry name, lower case.
        family: ``"cam"`` or ``"pixel"``.
        needs: what the clean pass must provide, one of :data:`NEEDS`.
        doc: one line (what it computes and the paper).
    """
    if family not in FAMILIES or needs not in NEEDS:
        raise ValueError(f"Bad registration of {name!r}: family in {FAMILIES}, needs in {NEEDS}")

    def deco(fn):
        params = list(inspect.signature(fn).parameters.values())[1:]
        options = {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}
        _REGISTRY[name] = Method(name, family, fn, doc, needs, options)
        return fn

    return deco


def get(name) -> Method:
    """The :class:`Method` called ``name`` (case-insensitive; ``-`` and ``_`` alike).

    Raises:
        UnknownMethodError: no such method; the message lists the closest names.
    """
    if isinstance(name, Method):
        return name
    key = str(name).strip().lower().replace("-", "_")
    aliases = {"grad_cam": "gradcam", "gradcampp": "gradcam++", "grad_cam++": "gradcam++",
               "ig": "integrated_gradients", "vanilla": "saliency", "guided": "guided_backprop"}
    key = aliases.get(key, key)
    if key not in _REGISTRY:
        raise UnknownMethodError(f"Unknown explanation method. Expected one of {names()}. "
                                 f"Received: method={name!r}. {suggest(str(name), names())}")
    return _REGISTRY[key]


def names() -> list[str]:
    """Registered method names, in registration order."""
    return list(_REGISTRY)


def methods() -> list[Method]:
    """Every registered :class:`Method` (``str(m)`` is its one-line description)."""
    return list(_REGISTRY.values())


class _CallableModule(types.ModuleType):
    """``kerasviz.methods()`` lists the methods; ``kerasviz.methods.get`` etc. still work."""

    def __call__(self) -> list[Method]:
        return methods()


sys.modules[__name__].__class__ = _CallableModule

# registration, in listing order
from kerasviz.methods import cam  # noqa: E402,F401
from kerasviz.methods import gradients  # noqa: E402,F401
from kerasviz.methods import backprop  # noqa: E402,F401

__all__ = ["Method", "register", "get", "names", "methods", "FAMILIES", "NEEDS"]
