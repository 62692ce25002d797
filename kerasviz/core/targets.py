"""What to explain: turning a user's ``target`` into one score per image.

Stable API (used by :func:`kerasviz.explain` and by the filter-pattern / class-model code):

* :class:`Output` — ``Output(index_or_name=0, unit=None)`` picks one model output (by position
  or by the name of the layer producing it) and optionally one unit of it (an int, a class
  name, or a list with one per image).
* :func:`as_target` — ``as_target(model, target, n=None, *, outputs=None) -> Target``, validated
  before any TensorFlow work.
* :class:`Target` — ``target.score(outputs)`` maps the model's outputs (a list of tensors, one
  per model output, batch first) to a ``(N,)`` tensor; ``target.resolve(outputs)`` gives the
  units actually scored (``-1`` = top unit, resolved on these outputs); ``target.output`` (output
  index), ``target.units`` (``int32 (N,)``, ``-1`` for "top unit", or None for a callable),
  ``target.labels`` (a name per image), ``target.with_units(units)`` (the same target with
  concrete units, e.g. after a first pass) and ``target.key`` (hashable: what a compiled graph
  must be specialised on; the units themselves are a graph input).

Accepted targets (``n`` = number of images):

=========================  =========================================================================
``None``                   the top unit of the first output, per image, at the clean input: from
                           ``outputs=`` when given, else resolved inside the compiled graph on
                           the first forward pass (``units == -1`` until then)
``int``                    unit ``i`` of the first output (a class id), for every image
``str``                    a class name of the model (``model_info(model).class_names``, e.g.
                           ``"circle"``), else the name of an output layer (``"sensors"``), else an
                           ImageNet name or synonym (``"tabby"``, ``"tiger cat"``) when the first
                           output has 1000 units. Case-insensitive; ``_`` and spaces alike
list / array of length n   one int or name per image
``Output(i_or_name, u)``   unit ``u`` of output ``i_or_name``; ``u=None`` means the top unit per
                           image (the only unit of a one-unit output)
callable                   ``f(outputs) -> (N,)`` tensor; ``outputs`` is the model's output tensor
                           (a list for multi-output models), pre-softmax (see below)
=========================  =========================================================================

Scores are taken *before* a final softmax: :func:`kerasviz.explain` replays the model with the
softmax replaced by the identity (as the Grad-CAM paper does), so the callable and unit scores
see logits. Other activations (sigmoid regression heads) are kept. Outputs of rank > 2
(``(N, h, w, units)``) are averaged over their middle axes before a unit is picked.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

import numpy as np

from kerasviz.errors import TargetError, UnknownClassError, suggest

__all__ = ["Output", "Target", "as_target", "output_names", "class_names"]


@dataclass(frozen=True)
class Output:
    """Select one output of a model, and optionally one unit of it.

    Args:
        index_or_name: position of the output (``0`` for single-output models) or the name of the
            layer producing it (``"sensors"``, ``"vgg16/predictions"``'s last part works too).
        unit: unit (column) of that output: an int, a class name, a list with one per image, or
            None for the top unit per image (the only unit of a one-unit regression output).

    Example:
        ``kerasviz.explain(sensors, images, "saliency", target=Output("sensors", 0))`` — why does
        sensor 0 read near?
    """
    index_or_name: int | str = 0
    unit: Any = None

    def __post_init__(self):
        if not (_is_int(self.index_or_name) or isinstance(self.index_or_name, str)):
            raise TargetError(f"Output needs an output index (int) or an output name (str). "
                              f"Received: Output({self.index_or_name!r}) of type "
                              f"{type(self.index_or_name).__name__}.")


@dataclass(frozen=True)
class Target:
    """A resolved target. Build it with :func:`as_target`.

    Attributes:
        output: index of the chosen output in the model's flat output list.
        units: ``int32 (N,)`` one unit per image, or None for a callable target.
        fn: the user's callable, or None.
        labels: a human-readable name per image (``"281 tabby"``, ``"circle"``, ``"sensors[0]"``).
        description: one line saying what is explained.
    """
    output: int
    units: np.ndarray | None
    fn: Callable | None = None
    labels: tuple[str, ...] = ()
    description: str = ""
    _single: bool = field(default=True, repr=False)  # model has a single output (callable arg)
    _labeler: Callable | None = field(default=None, repr=False, compare=False)

    @property
    def key(self) -> tuple:
        """Hashable identity of what a compiled graph depends on (units are a graph input).
        Holds the callable itself, not its ``id``, so a new function can never reuse a stale
        graph."""
        return ("fn", self.fn) if self.fn is not None else ("unit", self.output)

    def score(self, outputs: Sequence[Any], units: Any = None):
        """One score per image.

        Args:
            outputs: list of model output tensors, batch first (pre-softmax, see module doc).
            units: ``int32 (N,)`` tensor overriding ``self.units`` (so a compiled graph can take
                the units as an input and not be re-traced per class).

        Returns:
            ``float32 (N,)`` tensor.
        """
        import tensorflow as tf

        if self.fn is not None:
            arg = outputs[0] if self._single else list(outputs)
            s = tf.convert_to_tensor(self.fn(arg))
            return tf.reshape(tf.cast(s, tf.float32), [-1])
        return select(outputs[self.output], self.resolve(outputs, units))

    def resolve(self, outputs: Sequence[Any], units: Any = None):
        """The units scored on these outputs: ``-1`` entries become the top unit per image.

        Returns:
            ``int32 (N,)`` tensor (None for a callable target).
        """
        import tensorflow as tf

        if self.fn is not None:
            return None
        units = tf.cast(self.units if units is None else units, tf.int32)
        out = _as_2d(outputs[self.output])
        top = tf.cast(tf.argmax(out, axis=-1), tf.int32)
        return tf.where(units < 0, top, units)

    def with_units(self, units: Any) -> "Target":
        """The same target with concrete units ``int (N,)`` (labels and description updated)."""
        if self.fn is not None:
            return self
        units = np.asarray(units, np.int32).reshape(-1)
        if self.units is not None and np.array_equal(units, self.units):
            return self  # given units come back as they went in: nothing to relabel
        labels = tuple(self._labeler(int(u)) for u in units) if self._labeler else self.labels
        desc = self.description.split(":")[0] + ": " + ", ".join(dict.fromkeys(labels))
        return replace(self, units=units, labels=labels, description=desc)


def _as_2d(out):
    import tensorflow as tf

    out = tf.cast(out, tf.float32)
    if out.shape.rank == 1:
        return out[:, None]
    if out.shape.rank > 2:
        return tf.reduce_mean(out, axis=list(range(1, out.shape.rank - 1)))
    return out


def select(out, units):
    """``out`` ``(N, ..., units)`` tensor, ``units`` ``(N,)`` non-negative ints → ``float32 (N,)``."""
    import tensorflow as tf

    return tf.gather(_as_2d(out), tf.cast(units, tf.int32), axis=1, batch_dims=1)


# --- model facts ------------------------------------------------------------------------------

def output_names(model) -> list[str]:
    """Name of each model output, in flat output order (the layer producing it)."""
    from kerasviz.core.layers import output_layer_paths

    paths = output_layer_paths(model)
    names = list(getattr(model, "output_names", None) or [])
    if len(names) != len(paths):
        names = [p.split("/")[-1] if p else f"output_{i}" for i, p in enumerate(paths)]
    return names


def _output_units(model) -> list[int | None]:
    units = []
    for t in model.outputs:
        shape = tuple(t.shape)
        units.append(1 if len(shape) == 1 else shape[-1])
    return units


def class_names(model, output: int = 0) -> list[str] | None:
    """Names of the units of ``output``: the model's own (``model_info(model).class_names``),
    the 1000 ImageNet names for a 1000-unit output, or None."""
    from kerasviz.core.models import model_info

    names = model_info(model).class_names
    units = _output_units(model)[output]
    if isinstance(names, (list, tuple)) and output == 0 and len(names) == units:
        return [str(n) for n in names]
    if (names == "imagenet" or names is None) and units == 1000 and output == 0:
        return list(_imagenet_names())
    return None


@functools.lru_cache(maxsize=1)
def _imagenet_names() -> tuple[str, ...]:
    from kerasviz.core import imagenet

    return tuple(imagenet.name(i) for i in range(imagenet.NUM_CLASSES))


def _norm(text: str) -> str:
    return " ".join(str(text).replace("_", " ").lower().split())


# --- resolution -------------------------------------------------------------------------------

def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _resolve_output(model, spec) -> int:
    names = output_names(model)
    if _is_int(spec):
        if -len(names) <= int(spec) < len(names):
            return int(spec) % len(names)
        raise TargetError(f"Output index out of range. Expected -{len(names)} <= index < "
                          f"{len(names)} (model {model.name!r} has outputs {names}). "
                          f"Received: Output({spec!r})")
    if isinstance(spec, str):
        for i, n in enumerate(names):
            if n == spec or _norm(n) == _norm(spec):
                return i
        raise TargetError(f"No output named {spec!r} in model {model.name!r}. Expected one of "
                          f"{names}. {suggest(spec, names)}")
    raise TargetError(f"Expected an output index or name. Received: Output({spec!r}) of type "
                      f"{type(spec).__name__}")


def _resolve_unit(model, output: int, unit, n_units: int | None) -> int:
    """One unit spec (int or name) → unit index of ``output``."""
    if _is_int(unit):
        u = int(unit)
        if n_units is not None and not -n_units <= u < n_units:
            raise TargetError(
                f"Target unit out of range. Expected 0 <= unit < {n_units} (output "
                f"{output_names(model)[output]!r} has {n_units} units). Received: target={unit!r}")
        return u % n_units if n_units else u
    if isinstance(unit, str):
        names = class_names(model, output)
        if names is not None:
            for i, name in enumerate(names):
                if _norm(name) == _norm(unit):
                    return i
        if n_units == 1000 and output == 0:
            from kerasviz.core import imagenet
            return imagenet.class_id(unit)  # UnknownClassError with the closest names
        options = names or []
        raise UnknownClassError(
            f"Unknown class name {unit!r} for output {output_names(model)[output]!r} of model "
            f"{model.name!r}. Expected a unit index 0..{(n_units or 1) - 1}"
            + (f" or a class name. {suggest(_norm(unit), options)}" if options else
               " (this output has no class names; register them with "
               "kerasviz.load_model(model, class_names=[...])).")
            + f" Received: target={unit!r}")
    raise TargetError(f"Expected a unit index or class name. Received: {unit!r} of type "
                      f"{type(unit).__name__}")


def _labeler(model, output: int):
    """``unit -> str``, a readable name of ``output``'s ``unit`` (``"281 tabby"``,
    ``"age"``, ``"boxes[3]"``); the model's names are looked up once, not per unit."""
    names = class_names(model, output)
    outs = output_names(model)
    single = len(outs) == 1 and _output_units(model)[output] == 1

    def label(unit: int) -> str:
        if names is not None:
            return f"{unit} {names[unit]}"
        return outs[output] if single else f"{outs[output]}[{unit}]"
    return label


def as_target(model, target: Any = None, n: int | None = None, *,
              outputs: Sequence[Any] | None = None) -> Target:
    """Resolve a user's ``target`` for ``model`` (see the module docstring for what is accepted).

    Args:
        model: a built ``keras.Model``.
        target: None, int, str, a list/array with one per image, :class:`Output`, or a callable.
        n: number of images; None takes the length of a list target, else 1.
        outputs: the model's outputs on the images (list of arrays, one per output, batch
            first), needed only where the top unit per image is asked for (``target=None`` or
            ``Output(..., unit=None)`` on a multi-unit output). Without them such units are
            ``-1`` and resolved on the outputs a later :meth:`Target.score` sees.

    Returns:
        :class:`Target`.

    Raises:
        TargetError: bad output index / name, unit out of range, or a list of the wrong length.
        UnknownClassError: unknown class name; the message lists the closest names.
        ModelError: ``model`` is not a built Functional / Sequential ``keras.Model``.
        ArgumentError: ``n`` is not a positive int.
    """
    from kerasviz import _validate
    from kerasviz.core.models import check_model

    check_model(model, graph=True, what="as_target")
    if n is not None:
        n = _validate.positive_int("n", n)
    units_all = _output_units(model)
    single = len(units_all) == 1
    if callable(target) and not isinstance(target, (Output, str)):
        name = getattr(target, "__name__", type(target).__name__)
        return Target(0, None, target, tuple([name] * (n or 1)), f"callable {name}", single)
    if isinstance(target, Output):
        output, unit = _resolve_output(model, target.index_or_name), target.unit
    elif isinstance(target, str) and not _names_a_class(model, target) \
            and any(_norm(o) == _norm(target) for o in output_names(model)):
        output, unit = _resolve_output(model, target), None
    else:
        output, unit = 0, target
    n_units = units_all[output]
    if isinstance(unit, (list, tuple, np.ndarray)):
        unit = list(np.asarray(unit, dtype=object).reshape(-1)) if isinstance(unit, np.ndarray) \
            else list(unit)
        if n is not None and len(unit) != n:
            raise TargetError(f"A target list needs one entry per image. Expected {n} entries. "
                              f"Received: {len(unit)} ({unit!r:.80})")
        n = len(unit)
        if n == 0:
            raise TargetError("Expected at least one target. Received: an empty list.")
    n = 1 if n is None else int(n)
    if unit is None and n_units == 1:
        unit = 0
    labeler = _labeler(model, output)
    if unit is None and outputs is None:
        units = np.full(n, -1, np.int32)
        return Target(output, units, None, ("top",) * n,
                      f"output {output_names(model)[output]!r}, top unit per image: (not yet run)",
                      single, labeler)
    if unit is None:
        out = np.asarray(outputs[output], np.float32)
        out = out.reshape(out.shape[0], -1, out.shape[-1]).mean(axis=1) if out.ndim > 2 else out
        if len(out) != n:
            raise TargetError(f"Expected outputs for {n} images. Received: {len(out)}.")
        units = np.argmax(out, axis=-1).astype(np.int32)
        how = "top unit per image"
    else:
        seq = unit if isinstance(unit, list) else [unit] * n
        units = np.array([_resolve_unit(model, output, u, n_units) for u in seq], np.int32)
        how = "given"
    labels = tuple(labeler(int(u)) for u in units)
    desc = f"output {output_names(model)[output]!r}, {how}: " + ", ".join(dict.fromkeys(labels))
    return Target(output, units, None, labels, desc, single, labeler)


def _names_a_class(model, text: str) -> bool:
    names = class_names(model, 0)
    return bool(names) and any(_norm(c) == _norm(text) for c in names)
