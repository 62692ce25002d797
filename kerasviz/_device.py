"""Where kerasviz runs its graphs: the GPU when TensorFlow sees one, else the CPU.

``explain(device=…)``, the ``KERASVIZ_DEVICE`` environment variable and the CLI's ``--device``
choose among :data:`CHOICES`; the result names the device used (``Explanation.device``, the CLI's
``--json``, ``results.jsonl``).
"""
from __future__ import annotations

import functools
import os

#: What ``device=`` / ``KERASVIZ_DEVICE`` / ``--device`` accept.
CHOICES = ("auto", "cpu", "gpu")
ENV = "KERASVIZ_DEVICE"


def resolve(device: str | None = None) -> str:
    """The TensorFlow device for ``device`` (None: ``$KERASVIZ_DEVICE``, else ``"auto"``):
    ``"GPU:0"`` for ``"gpu"``, ``"CPU:0"`` for ``"cpu"``, and for ``"auto"`` the first GPU
    TensorFlow sees, else the CPU.

    Raises:
        ArgumentError: a name not in :data:`CHOICES`, or ``"gpu"`` where TensorFlow sees no GPU
            (the message says how to get one).
    """
    from kerasviz import _validate
    from kerasviz.errors import ArgumentError

    where = "device"
    if device is None:
        device, where = os.environ.get(ENV, "auto"), ENV
    name = _validate.one_of(where, str(device).strip().lower(), CHOICES)
    if name == "cpu":
        return "CPU:0"
    if _gpu_seen():
        return "GPU:0"
    if name == "gpu":
        raise ArgumentError(f"{where}='gpu' but TensorFlow sees no GPU. Expected a machine with an "
                            f"NVIDIA GPU and TensorFlow's CUDA build (pip install \"kerasviz[gpu]\"), "
                            f"or {where}='auto' / 'cpu'. Received: {where}={device!r}.")
    return "CPU:0"


@functools.lru_cache(maxsize=None)
def _gpu_seen() -> bool:
    """Whether TensorFlow sees a GPU (asked once: its devices are fixed once it has started)."""
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU"))
