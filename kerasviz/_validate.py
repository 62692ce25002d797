"""One place for argument checks: each returns the clean Python value or raises
:class:`kerasviz.ArgumentError` with the message pattern of :mod:`kerasviz.errors` ("<name> must
be …. Received: <name>=<value>."). No TensorFlow here: checks run before any heavy work.
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Iterable

import numpy as np

from kerasviz.errors import ArgumentError, suggest


def integer(name: str, value: Any, lo: int | None = None, hi: int | None = None) -> int:
    """``value`` as an ``int`` in ``[lo, hi]`` (either bound optional). Booleans and floats with a
    fractional part are refused; ``3.0`` and NumPy integers are accepted."""
    ok = not isinstance(value, (bool, np.bool_)) and (
        isinstance(value, numbers.Integral)
        or (isinstance(value, numbers.Real) and math.isfinite(value) and float(value).is_integer()))
    if ok:
        value = int(value)
    if not ok or (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ArgumentError(f"{name} must be an integer{_range(lo, hi)}. Received: {name}={value!r}.")
    return value


def positive_int(name: str, value: Any) -> int:
    """``value`` as an ``int`` ≥ 1."""
    return integer(name, value, lo=1)


def number(name: str, value: Any, lo: float | None = None, hi: float | None = None,
           *, lo_open: bool = False) -> float:
    """``value`` as a finite ``float`` in ``[lo, hi]`` (``(lo, hi]`` when ``lo_open``)."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)) \
        and math.isfinite(float(value))
    if ok:
        v = float(value)
        ok = (lo is None or (v > lo if lo_open else v >= lo)) and (hi is None or v <= hi)
    if not ok:
        bounds = _range(lo, hi, lo_open)
        raise ArgumentError(f"{name} must be a finite number{bounds}. Received: {name}={value!r}.")
    return float(value)


def finite_array(name: str, value: Any) -> np.ndarray:
    """``value`` (a number or an array) as a ``float32`` array without NaN or Inf."""
    try:
        arr = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        raise ArgumentError(f"{name} must be a number or an array of numbers. "
                            f"Received: {name}={value!r}.") from None
    if not np.all(np.isfinite(arr)):
        raise ArgumentError(f"{name} must be finite (no NaN or Inf). Received: {name} with "
                            f"{int(np.sum(~np.isfinite(arr)))} non-finite value(s).")
    return arr


def one_of(name: str, value: Any, options: Iterable[str]) -> str:
    """``value`` if it is one of ``options``; otherwise the closest options are named."""
    options = list(options)
    try:
        ok = bool(value in options)
    except (TypeError, ValueError):  # e.g. an array compared with strings
        ok = False
    if not ok:
        raise ArgumentError(f"{name} must be one of {options}. Received: {name}={value!r}. "
                            f"{suggest(str(value), options)}")
    return value


def size_hw(name: str, value: Any) -> tuple[int, int]:
    """``value`` (an int for a square, or a ``(height, width)`` pair) as two ints ≥ 1."""
    if isinstance(value, (tuple, list, np.ndarray)) and len(value) == 2:
        try:
            return integer(name, value[0], lo=1), integer(name, value[1], lo=1)
        except ArgumentError:
            pass
    elif not isinstance(value, (tuple, list, np.ndarray, str, bytes)):
        try:
            v = integer(name, value, lo=1)
            return v, v
        except ArgumentError:
            pass
    raise ArgumentError(f"{name} must be a positive int or a (height, width) pair of positive "
                        f"ints. Received: {name}={value!r}.")


def rgb(name: str, value: Any) -> tuple[int, int, int]:
    """``value`` as an RGB triple of ints in [0, 255]."""
    try:
        out = tuple(integer(name, v, 0, 255) for v in value)
    except (TypeError, ArgumentError):
        out = ()
    if len(out) != 3:
        raise ArgumentError(f"{name} must be an RGB triple of ints in [0, 255], e.g. (255, 0, 0). "
                            f"Received: {name}={value!r}.")
    return out


def boolean(name: str, value: Any) -> bool:
    """``value`` if it is ``True`` or ``False`` (NumPy booleans too; not 0, 1 or strings)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ArgumentError(f"{name} must be True or False. Received: {name}={value!r}.")
    return bool(value)


def function(name: str, value: Any) -> Any:
    """``value`` if it is callable."""
    if not callable(value):
        raise ArgumentError(f"{name} must be a callable (a function). Received: {name}={value!r} "
                            f"of type {type(value).__name__}.")
    return value


def _range(lo, hi, lo_open: bool = False) -> str:
    if lo is not None and hi is not None:
        return f" in {'(' if lo_open else '['}{lo}, {hi}]"
    if lo is not None:
        return f" {'>' if lo_open else '≥'} {lo}"
    if hi is not None:
        return f" ≤ {hi}"
    return ""
