"""kerasviz: see what a Keras CNN has learned and why it decided.

The public API is listed in ``__all__``. Names load lazily (PEP 562): ``import kerasviz`` is
cheap and TensorFlow is imported on first use of a name that needs it. To add a public name,
add one line to ``_API`` (name → module that defines it).
"""
import importlib

from kerasviz._backend import ensure_tensorflow_backend as _ensure_tensorflow_backend
from kerasviz.errors import (
    ArgumentError, BackendError, ExplanationWarning, ImageError, KerasvizError,
    LayerNotFoundError, ModelError, OutputError, TargetError, UnknownClassError,
    UnknownMethodError, WeightsNotFoundError)

_ensure_tensorflow_backend()

__version__ = "0.1.0"

#: public name -> module defining it (a module name maps to itself)
_API = {
    # submodules
    "datasets": "kerasviz.data.datasets",
    "demo_models": "kerasviz.data.demo_models",
    "imagenet": "kerasviz.core.imagenet",
    "render": "kerasviz.present.render",
    "features": "kerasviz.inside.features",
    "patterns": "kerasviz.inside.patterns",
    "metrics": "kerasviz.metrics",
    # foundations
    "decode_predictions": "kerasviz.core.imagenet",
    "load_image": "kerasviz.core.images",
    "load_images": "kerasviz.core.images",
    "layer_paths": "kerasviz.core.layers",
    "resolve_layer": "kerasviz.core.layers",
    "deprocess": "kerasviz.core.models",
    "fetch_weights": "kerasviz.core.models",
    "load_model": "kerasviz.core.models",
    "model_info": "kerasviz.core.models",
    "preprocess": "kerasviz.core.models",
    "export_model": "kerasviz.core.savedmodel",
    # explanations
    "Explanation": "kerasviz.present.explanation",
    "Output": "kerasviz.core.targets",
    "as_target": "kerasviz.core.targets",
    "explain": "kerasviz.methods.explainer",
    "methods": "kerasviz.methods",
    "Target": "kerasviz.core.targets",
    "ModelInfo": "kerasviz.core.models",
    "clear_caches": "kerasviz._caches",
    "compare": "kerasviz.present.comparison",
    "Comparison": "kerasviz.present.comparison",
    "evaluate": "kerasviz.metrics.table",
    "MetricsTable": "kerasviz.metrics.table",
    "model_randomisation": "kerasviz.metrics.sanity",
    "data_randomisation": "kerasviz.metrics.sanity",
    # inside the network
    "activations": "kerasviz.inside.features",
    "layer_stats": "kerasviz.inside.features",
    "channel_grid": "kerasviz.inside.features",
    "filter_weights": "kerasviz.inside.features",
    "filter_patterns": "kerasviz.inside.patterns",
    "Patterns": "kerasviz.inside.patterns",
    "StatsTable": "kerasviz.inside.features",
    # many images
    "batch_explain": "kerasviz.apps.batch",
    "BatchSummary": "kerasviz.apps.batch",
    "explain_dataset": "kerasviz.apps.dataset",
    "read_results": "kerasviz.apps.dataset",
}

__all__ = [
    "ArgumentError", "BackendError", "ImageError", "KerasvizError", "LayerNotFoundError",
    "ModelError", "OutputError", "TargetError", "UnknownClassError", "UnknownMethodError",
    "WeightsNotFoundError", "ExplanationWarning", *_API,
]


def __getattr__(name):
    if name not in _API:
        raise AttributeError(f"module 'kerasviz' has no attribute {name!r}")
    module = importlib.import_module(_API[name])
    value = module if _API[name].endswith("." + name) else getattr(module, name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
