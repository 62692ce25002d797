"""The registry of explanation methods: :func:`register`, :func:`get`, :func:`names`,
:func:`methods`. No TensorFlow here, and no import of the method modules (they import this).

A method is a function ``fn(ctx, **options) -> Result`` over a
:class:`kerasviz.methods.base.Context` (see ``CONTRIBUTING.md``, "Adding a method")::

    @register("gradcam", uses_layer=True,
              doc="Grad-CAM: channels weighted by their mean gradient (Selvaraju et al. 2017)")
    def gradcam(ctx):
        return ctx.cam(ctx.weighted(tf.reduce_mean(ctx.dA, axis=(1, 2))))
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from kerasviz.errors import ArgumentError, UnknownMethodError, suggest
from kerasviz.methods.options import Option

#: Built-in post-processing rules (``register(postprocess=…)``): raw result → maps in [0, 1].
POSTPROCESS = {
    "cam": "ReLU of the layer-resolution map, bilinear resize to the input, min-max per image",
    "pixel": "|raw| min-max per image",
}


@dataclass(frozen=True)
class Method:
    """A registered explanation method.

    Attributes:
        name: registry name (``"gradcam"``).
        fn: ``fn(ctx, **options) -> Result``.
        doc: one line for listings.
        uses_layer: True when the method reads a conv layer (``ctx.A`` / ``ctx.dA``), so that
            ``explain(layer=…)`` matters.
        postprocess: ``"cam"`` (``raw (n, h, w)`` at the layer's resolution: ReLU, resize,
            min-max), ``"pixel"`` (``raw (n, H, W)`` per input pixel with ``grads (n, H, W, C)``:
            ``|raw|`` min-max), or a callable ``f(ctx, result) -> maps (n, H, W)`` in [0, 1].
        specs: option name → :class:`kerasviz.methods.options.Option`.
        key: what a compiled graph is specialised on (defaults to ``(name, fn)``).
        scored: False when the map never reads the target's score (``cam``: the head's
            weights; ``eigencam``: class-agnostic), so ``explain(score="probability")`` is
            refused for it.
        relation: ``f(values) -> None`` checking options against each other (every value, defaults
            filled in), raising :class:`kerasviz.ArgumentError`; None when there is nothing to check.
        held: ``f(values, input_shape) -> bytes`` that the method keeps per image until a chunk of
            images ends, beyond the model evaluations that ``batch_size`` bounds (integrated
            gradients' adaptive rule keeps every path point's gradient); a chunk then takes at
            most as many images as fit :data:`kerasviz.methods.base.HELD_BYTES`. None: nothing.
    """
    name: str
    fn: Callable
    doc: str
    uses_layer: bool
    postprocess: Any = "cam"
    specs: dict = field(default_factory=dict)
    key: Any = None
    scored: bool = True
    relation: Callable | None = None
    held: Callable | None = None

    def __post_init__(self):
        if self.key is None:
            object.__setattr__(self, "key", (self.name, self.fn))

    @property
    def options(self) -> dict:
        """Option name → default value."""
        return {k: s.default for k, s in self.specs.items()}

    @property
    def family(self) -> str:
        """The kind of result: ``"cam"`` (a map at a layer's resolution) or ``"pixel"`` (per input
        pixel and channel); ``"custom"`` for a callable ``postprocess``."""
        return self.postprocess if isinstance(self.postprocess, str) else "custom"

    def check(self, options: dict) -> dict:
        """Every option's value: ``options`` validated, defaults filled in.

        Raises:
            ArgumentError: an unknown option name (closest names listed) or a value out of its
                range (the option, the valid range and the value are named).
        """
        bad = [k for k in options if k not in self.specs]
        if bad:
            known = sorted(self.specs)
            raise ArgumentError(
                f"Unknown option {bad[0]!r} for method {self.name!r}. Expected one of "
                f"{known or 'no options'}. Received: {bad[0]}={options[bad[0]]!r}. "
                f"{suggest(bad[0], known) if known else ''}".rstrip())
        values = {k: s.check(k, options[k]) if k in options else s.default
                  for k, s in self.specs.items()}
        if self.relation is not None:
            self.relation(values)
        return values

    def __call__(self, ctx, **options):
        """The method's result on ``ctx`` (inside a compiled graph), an option left out taking its
        default: how one method calls another (``fn`` itself needs every option)."""
        return self.fn(ctx, **{**self.options, **options})

    def __str__(self) -> str:
        return f"{self.name:22s} {self.doc}"

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return f"<Method {self.name} [{self.family}]({opts}): {self.doc}>"


_REGISTRY: dict[str, Method] = {}
_ALIASES = {"grad_cam": "gradcam", "gradcampp": "gradcam++", "grad_cam++": "gradcam++",
            "ig": "integrated_gradients", "vanilla": "saliency", "guided": "guided_backprop"}


def specs_of(fn: Callable) -> dict:
    """Option name → :class:`Option`, from the keyword parameters of ``fn(ctx, …)`` (a plain
    default becomes a static option without a check)."""
    specs = {}
    for p in list(inspect.signature(fn).parameters.values())[1:]:
        if p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
            continue
        if p.default is p.empty:
            raise TypeError(f"Option {p.name!r} of {fn.__qualname__} has no default.")
        specs[p.name] = p.default if isinstance(p.default, Option) else Option(p.default)
    return specs


def register(name: str, *, uses_layer: bool, doc: str, postprocess: Any = None,
             scored: bool | None = None, relation: Callable | None = None,
             held: Callable | None = None):
    """Decorator registering ``fn(ctx, **options)`` (or a :class:`Method`, e.g. one made by
    :func:`kerasviz.methods.smooth`) as method ``name``.

    Args:
        name: registry name, lower case.
        uses_layer: True when the method reads the conv layer's ``ctx.A`` / ``ctx.dA``.
        doc: one line (what it computes and the paper).
        postprocess: ``"cam"``, ``"pixel"`` or ``f(ctx, result) -> maps``; default ``"cam"``
            when ``uses_layer`` else ``"pixel"`` (see :class:`Method`).
        scored: False when the map does not read the target's score (see :class:`Method`);
            default True (a :class:`Method`'s own value).
        relation: a check of the options against each other (see :class:`Method`).
        held: the memory kept per image until a chunk ends (see :class:`Method`).
    """
    if not isinstance(uses_layer, bool) or not isinstance(scored, (bool, type(None))) or not (postprocess is None or callable(postprocess)
                                                or postprocess in POSTPROCESS):
        raise TypeError(f"Bad registration of {name!r}: uses_layer must be a bool and "
                        f"postprocess one of {list(POSTPROCESS)} or a callable, scored a bool.")

    def deco(fn):
        if isinstance(fn, Method):
            rule = postprocess or fn.postprocess
            _REGISTRY[name] = replace(fn, name=name, doc=doc, uses_layer=uses_layer,
                                      postprocess=rule, key=(name, fn.key),
                                      scored=fn.scored if scored is None else scored,
                                      relation=relation or fn.relation, held=held or fn.held)
        else:
            rule = postprocess or ("cam" if uses_layer else "pixel")
            _REGISTRY[name] = Method(name, fn, doc, uses_layer, rule, specs_of(fn),
                                     scored=True if scored is None else scored, relation=relation,
                                     held=held)
        return fn

    return deco


def get(name) -> Method:
    """The :class:`Method` called ``name`` (case-insensitive; ``-`` and ``_`` alike); a
    :class:`Method` is returned as is.

    Raises:
        UnknownMethodError: no such method; the message lists the closest names.
    """
    if isinstance(name, Method):
        return name
    key = str(name).strip().lower().replace("-", "_")
    key = _ALIASES.get(key, key)
    if key not in _REGISTRY:
        raise UnknownMethodError(f"Unknown explanation method. Expected one of {names()}. "
                                 f"Received: method={name!r}. {suggest(str(name), names())}")
    return _REGISTRY[key]


def split_options(methods: list[str], options: dict, label: str = "option") -> dict[str, dict]:
    """Each method's share of ``options`` (the names it declares), every value checked
    (:meth:`Method.check`), for a run of several ``methods`` with one set of options.

    Raises:
        ArgumentError: an option that none of the methods declares (named as ``label``, e.g.
            ``"--option"`` on the command line; the closest names listed), or a bad value.
    """
    known = {k for name in methods for k in get(name).options}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ArgumentError(f"Unknown {label} {unknown[0]!r} for methods {list(methods)}. "
                            f"Expected one of {sorted(known) or 'no options'}. "
                            f"{suggest(unknown[0], known) if known else ''}".rstrip())
    shares = {name: {k: v for k, v in options.items() if k in get(name).options} for name in methods}
    for name, share in shares.items():
        get(name).check(share)
    return shares


def names() -> list[str]:
    """Registered method names, in registration order."""
    return list(_REGISTRY)


def methods() -> list[Method]:
    """Every registered :class:`Method` (``str(m)`` is its one-line description)."""
    return list(_REGISTRY.values())
