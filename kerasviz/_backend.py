"""Make sure Keras runs on TensorFlow before anything imports it.

kerasviz's methods are TensorFlow code (``tf.GradientTape``, ``tf.function``, custom gradients).
When the user chose no backend, TensorFlow is selected. When the user chose another one
(``KERAS_BACKEND``, ``keras.json`` or an already-imported Keras), a :class:`BackendError` says
so instead of silently overriding the choice.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from kerasviz.errors import BackendError


def _configured_backend() -> tuple[str | None, str]:
    """Return (backend, where it was set) as the user configured it, or (None, "")."""
    if "keras" in sys.modules and hasattr(sys.modules["keras"], "backend"):
        return sys.modules["keras"].backend.backend(), "the already imported keras"
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"], "KERAS_BACKEND"
    home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    try:
        backend = json.loads((home / "keras.json").read_text()).get("backend")
    except (OSError, ValueError, AttributeError):
        backend = None
    return (backend, str(home / "keras.json")) if backend else (None, "")


def ensure_tensorflow_backend() -> None:
    """Select the TensorFlow backend, or raise BackendError if another one is configured."""
    backend, where = _configured_backend()
    if backend is None:
        os.environ["KERAS_BACKEND"] = "tensorflow"
    elif backend != "tensorflow":
        raise BackendError(
            f"kerasviz needs Keras on the TensorFlow backend. Received: backend={backend!r} "
            f"(set by {where}). Run with KERAS_BACKEND=tensorflow, e.g. "
            f"`KERAS_BACKEND=tensorflow python ...`, or start a fresh Python process.")
