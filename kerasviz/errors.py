"""Errors raised by kerasviz.

Every error the library raises on purpose derives from :class:`KerasvizError`, and also from
the built-in class a caller would naturally catch (``ValueError``, ``FileNotFoundError``,
``RuntimeError``)::

    KerasvizError (Exception)
    ├── BackendError (RuntimeError)       Keras runs on a backend other than TensorFlow
    ├── ImageError (ValueError)           an image (file, array, batch) that cannot be read or
    │                                     used: missing, empty, truncated, oversized, NaN/Inf, wrong
    │                                     shape / dtype / size for the model, no images at all
    ├── WeightsNotFoundError (FileNotFoundError)   weights file in no cache and not downloadable
    ├── ModelError (ValueError)           a model that cannot be loaded or used: unknown model name,
    │                                     missing / unsafe / corrupt model file, not a keras.Model,
    │                                     subclassed or unbuilt model, no conv layer, preprocessing
    │                                     unknown for raw images
    ├── LayerNotFoundError (ValueError)   unknown layer name / index / pattern
    ├── UnknownClassError (ValueError)    unknown ImageNet / model class name or id
    ├── UnknownMethodError (ValueError)   unknown explanation method
    ├── TargetError (ValueError)          target that does not fit the model's outputs
    ├── OutputError (FileExistsError)     an output folder or file kerasviz must not write: a
    │                                     file given as the folder, a symbolic link, a non-empty
    │                                     folder that is not a previous run of the same command
    ├── ArgumentError (ValueError)        any other bad option value: a count, size, index, top-k,
    │                                     threshold, alpha, seed, batch size, a name out of a fixed
    │                                     set (colormap, interpolation, preprocessing mode), extra
    │                                     inputs of the wrong number or shape
    └── ExtraNotInstalledError (ImportError)   an optional extra is not installed (``kerasviz
                                          serve`` without ``pip install "kerasviz[web]"``)

Rule of thumb: the error names the *thing* that is wrong (the image, the model, the layer, the
class, the method, the target); a plain option value that is out of its range or set is an
:class:`ArgumentError`. Every class is also a ``ValueError`` (``WeightsNotFoundError``: a
``FileNotFoundError``; ``OutputError``: a ``FileExistsError``; ``BackendError``: a
``RuntimeError``), so ``except ValueError`` keeps working.

Messages follow one pattern: what is wrong, what was expected, what was received, and the
closest valid options (see :func:`closest`).

Warnings: bad *input* is an error (above); a degenerate *answer of the model* is a warning::

    ExplanationWarning (UserWarning)      an explanation map is empty (all 0) or was NaN / Inf: a
                                          dead layer, a zero or saturated gradient, a NaN score

The result is still defined (such maps are 0); the warning names the method, the images and the
cause, and says what to try.
"""
from __future__ import annotations

import difflib
from typing import Iterable


class KerasvizError(Exception):
    """Base class of every error kerasviz raises on purpose."""


class BackendError(KerasvizError, RuntimeError):
    """Keras is configured for a backend other than TensorFlow."""


class ImageError(KerasvizError, ValueError):
    """An image (or batch) could not be read, is not a valid picture, or does not fit the model."""


class WeightsNotFoundError(KerasvizError, FileNotFoundError):
    """A weights file is in no cache folder and cannot be downloaded."""


class ModelError(KerasvizError, ValueError):
    """A model cannot be loaded, or cannot be used as asked (not a built Functional / Sequential
    ``keras.Model``, no conv layer, unknown preprocessing for raw images)."""


class LayerNotFoundError(KerasvizError, ValueError):
    """A layer name, index or pattern matches no layer of the model."""


class UnknownClassError(KerasvizError, ValueError):
    """A class name or id is not known."""


class UnknownMethodError(KerasvizError, ValueError):
    """An explanation method name is not registered."""


class TargetError(KerasvizError, ValueError):
    """A target does not fit the model's outputs."""


class OutputError(KerasvizError, FileExistsError):
    """An output folder or file that kerasviz must not write (a link, a file where a folder
    belongs, a non-empty folder that another command or the user filled)."""


class ArgumentError(KerasvizError, ValueError):
    """An option value is of the wrong type, out of its valid range or not one of its allowed
    values (a size, a count, a threshold, a name from a fixed set). Raised by
    :mod:`kerasviz._validate`."""


class ExtraNotInstalledError(KerasvizError, ImportError):
    """An optional part of kerasviz needs packages of an extra that is not installed; the message
    gives the ``pip install "kerasviz[extra]"`` line."""


class ExplanationWarning(UserWarning):
    """An explanation map is empty (all 0) for some images, or was NaN / Inf and set to 0.

    Attributes:
        method: name of the method.
        images: ``tuple[int, ...]`` indices of the images concerned, ascending.
        causes: ``{cause: (image indices…)}``: why, in words (what to try included).
    """

    def __init__(self, message: str, *, method: str = "", causes: dict | None = None):
        super().__init__(message)
        self.method = method
        self.causes = {k: tuple(v) for k, v in (causes or {}).items()}
        self.images = tuple(sorted(i for v in self.causes.values() for i in v))


def closest(name: str, options: Iterable[str], n: int = 5) -> list[str]:
    """Return up to ``n`` of ``options`` closest to ``name``, best first.

    Substring matches come first (in the given order), then fuzzy matches by
    :func:`difflib.get_close_matches`.
    """
    options = [str(o) for o in options]
    key = str(name).lower()
    subs = [o for o in options if key and key in o.lower()]
    fuzzy = difflib.get_close_matches(str(name), options, n=n, cutoff=0.4)
    out: list[str] = []
    for o in subs + fuzzy:
        if o not in out:
            out.append(o)
    return out[:n]


def suggest(name: str, options: Iterable[str], n: int = 5) -> str:
    """Format the closest options for an error message: ``"Closest: ['a', 'b']."``."""
    options = list(options)
    best = closest(name, options, n)
    if best:
        return f"Closest: {best}."
    shown = options[:20]
    more = f" (and {len(options) - 20} more)" if len(options) > 20 else ""
    return f"Available: {shown}{more}."


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (Keras' messages span several), prefixed with the
    exception's type for operating-system errors (``PermissionError: …``)."""
    text = " ".join(str(exc).split())
    if isinstance(exc, OSError) and not isinstance(exc, KerasvizError):
        text = f"{type(exc).__name__}: {text}"
    return text
