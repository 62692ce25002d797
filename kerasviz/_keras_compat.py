"""Every use of Keras internals, in one place.

Keras 3 has no public API for four things kerasviz needs; each is wrapped here, and
``tests/test_keras_compat.py`` has one canary test per function, so a Keras release that moves an
internal fails there, with the function's name, instead of deep inside a method.

==============================  =================================================================
function                        Keras internal it relies on
==============================  =================================================================
:func:`is_graph_model`          ``Functional._run_through_graph`` / ``_nodes_by_depth`` exist
:func:`run_through_graph`       ``Functional._run_through_graph(inputs, operation_fn=)``
:func:`source_layer`            ``KerasTensor._keras_history`` / ``Operation._inbound_nodes``
:func:`routed_get_file`         ``keras.src.utils.file_utils.get_file`` (what applications call)
:func:`legacy_h5_format`        ``keras.src.legacy.saving.legacy_h5_format`` (tests: writes
                                weights files in the layout of Keras' published ones)
:func:`imagenet_utils_module`   ``keras.src.applications.imagenet_utils`` (tests: its
                                ``CLASS_INDEX`` global, to compare decode_predictions offline)
:func:`export_input_signature`  ``keras.src.export.export_utils.get_input_signature`` (what
                                ``model.export()`` serves)
==============================  =================================================================

The versions the suite passes on are the bounds in ``setup.cfg``.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Callable

import keras

_GET_FILE_LOCK = threading.Lock()


def is_graph_model(layer: Any) -> bool:
    """True for a Sequential or Functional model (a graph kerasviz can replay layer by layer);
    False for subclassed models and plain layers."""
    return isinstance(layer, keras.Sequential) or (
        isinstance(layer, keras.Model) and hasattr(layer, "_run_through_graph")
        and getattr(layer, "_nodes_by_depth", None) is not None)


def run_through_graph(model: keras.Model, inputs, call: Callable):
    """Run a Functional ``model``'s graph on ``inputs``, calling ``call(layer, *args, **kwargs)``
    in place of each layer; returns the model's outputs (same structure as ``model.outputs``)."""
    return model._run_through_graph(inputs, operation_fn=lambda op: (lambda *a, **k: call(op, *a, **k)))


def source_layer(tensor, skip: tuple = ()) -> Any:
    """The layer whose call produced the symbolic ``tensor``, walking back through layers of the
    types in ``skip`` (each followed through its first input)."""
    op = tensor._keras_history.operation
    while isinstance(op, skip):
        op = op._inbound_nodes[0].input_tensors[0]._keras_history.operation
    return op


def input_tensor(tensor, index: int = 0):
    """The ``index``-th input of the layer call that produced the symbolic ``tensor``."""
    hist = tensor._keras_history
    return hist.operation._inbound_nodes[hist.node_index].input_tensors[index]


@contextmanager
def routed_get_file(replacement: Callable):
    """Route Keras' ``get_file`` (which ``keras.applications`` call for their weights) through
    ``replacement(original, fname, origin, **kwargs)`` for the duration of the block (one block at
    a time, process-wide)."""
    from keras.src.utils import file_utils

    original = file_utils.get_file
    with _GET_FILE_LOCK:
        file_utils.get_file = lambda fname=None, origin=None, **kw: replacement(original, fname, origin, **kw)
        try:
            yield
        finally:
            file_utils.get_file = original


def file_utils_module():
    """Keras' ``file_utils`` module (its ``get_file`` is what :func:`routed_get_file` wraps)."""
    from keras.src.utils import file_utils

    return file_utils


def legacy_h5_format():
    """Keras' legacy HDF5 weights module (``save_weights_to_hdf5_group`` writes the layout of
    the published ``keras.applications`` weights files)."""
    from keras.src.legacy.saving import legacy_h5_format as module

    return module


def imagenet_utils_module():
    """The module holding ``keras.applications.imagenet_utils.decode_predictions`` and its
    ``CLASS_INDEX`` cache."""
    from keras.src.applications import imagenet_utils

    return imagenet_utils


def export_input_signature(model: keras.Model):
    """The input signature ``model.export()`` gives its ``serve`` endpoint
    (``keras.src.export.export_utils.get_input_signature``), so that :func:`kerasviz.export_model`
    serves exactly what ``model.export()`` serves."""
    from keras.src.export.export_utils import get_input_signature

    return get_input_signature(model)
