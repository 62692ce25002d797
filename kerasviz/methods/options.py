"""Method options, declared where the method is: as the defaults of its keyword parameters.

::

    def integrated_gradients(ctx, steps=Int(32, lo=1), baseline=Array(0.0)):

Each option says its default, its valid values (checked by :mod:`kerasviz._validate` before any
TensorFlow work, raising :class:`kerasviz.ArgumentError`) and how the compiled graph gets it:

* a **graph input** (the default for :class:`Int`, :class:`Float`, :class:`Array`): the method
  receives a scalar (or array) *tensor*; new values reuse the compiled graph. Use this for every
  number that does not change a tensor's shape (seeds, noise levels, loop bounds).
* ``static=True``: the method receives the Python value, which is part of the compiled graph's
  key (one graph per value). Use this for values that change shapes (``max_channels``).

A plain default (``mode="fast"``) is a static option without a check.

No TensorFlow here.
"""
from __future__ import annotations

import copy
from typing import Any

import numpy as np

from kerasviz import _validate
from kerasviz.errors import ArgumentError


class Option:
    """A method option. Subclasses check values; this base accepts any hashable value.

    Attributes:
        default: the value used when the caller gives none.
        static: True when the value is part of the compiled graph's key (given to the method as
            a Python value); False when it is a graph input (given as a tensor).
        dtype: NumPy dtype of the graph input (None for static options).
    """
    dtype: str | None = None

    def __init__(self, default: Any, *, static: bool = True):
        self.static = static
        self.default = default if default is None else self.check("default", default)

    def check(self, name: str, value: Any) -> Any:
        """``value`` cleaned, or :class:`kerasviz.ArgumentError` naming ``name``."""
        return value

    def with_default(self, value: Any) -> "Option":
        """A copy with another (checked) default."""
        new = copy.copy(self)
        new.default = value
        return new

    def as_input(self, value: Any) -> np.ndarray:
        """The graph input for ``value`` (graph options only)."""
        return np.asarray(value, self.dtype)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.default!r})"


class Int(Option):
    """An integer in ``[lo, hi]`` (bounds optional); None is accepted when the default is None."""
    dtype = "int32"

    def __init__(self, default: int | None, *, lo: int | None = None, hi: int | None = None,
                 static: bool = False):
        if default is None and not static:
            raise TypeError("An Int option that may be None must be static=True.")
        self.lo, self.hi = lo, hi
        super().__init__(default, static=static)

    def check(self, name, value):
        if value is None and self.default is None:
            return None
        return _validate.integer(name, value, self.lo, self.hi)


class Float(Option):
    """A finite number in ``[lo, hi]`` (``(lo, hi]`` when ``lo_open``)."""
    dtype = "float32"

    def __init__(self, default: float, *, lo: float | None = None, hi: float | None = None,
                 lo_open: bool = False, static: bool = False):
        self.lo, self.hi, self.lo_open = lo, hi, lo_open
        super().__init__(default, static=static)

    def check(self, name, value):
        return _validate.number(name, value, self.lo, self.hi, lo_open=self.lo_open)


class Array(Option):
    """A finite number or array (``float32``) broadcastable to one input ``(H, W, C)``; a graph
    input of the value's shape (one compiled graph per shape, not per value)."""
    dtype = "float32"

    def __init__(self, default, *, static: bool = False):
        super().__init__(default, static=static)

    def check(self, name, value):
        return _validate.finite_array(name, value)

    def check_shape(self, name: str, value: np.ndarray, input_shape: tuple) -> None:
        """Raise :class:`kerasviz.ArgumentError` unless ``value`` broadcasts to ``input_shape``."""
        try:
            ok = np.broadcast_shapes(np.shape(value), tuple(input_shape)) == tuple(input_shape)
        except ValueError:
            ok = False
        if not ok:
            raise ArgumentError(f"{name} must be a number or an array broadcastable to one input "
                                f"of shape {tuple(input_shape)}. Received: {name} of shape "
                                f"{np.shape(value)}.")


class Choice(Option):
    """One of the strings ``values`` (static: one compiled graph per value)."""

    def __init__(self, default: str, values):
        self.values = tuple(values)
        super().__init__(default, static=True)

    def check(self, name, value):
        return _validate.one_of(name, value, self.values)


#: The seed of a stateless random generator (an int32 graph input).
def Seed(default: int = 0) -> Int:  # noqa: N802 (reads like the other option types)
    """An integer seed in ``[0, 2**31 - 1]``, a graph input."""
    return Int(default, lo=0, hi=2 ** 31 - 1)
