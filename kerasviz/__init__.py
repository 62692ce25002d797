"""kerasviz: see what a Keras CNN has learned and why it decided.

The public API is listed in ``__all__``. Names load lazily (PEP 562): ``import kerasviz`` is
cheap and TensorFlow is imported on first use of a name that needs it. To add a public name,
add one line to ``_API`` (name → module that defines it).
"""
import importlib

from kerasviz._backend import ensure_tensorflow_backend as _ensure_tensorflow_backend
from kerasviz.errors import (
    ArgumentError, BackendError, ImageError, KerasvizError, LayerNotFoundError, ModelError,
    TargetError, UnknownClassError, UnknownMethodError, WeightsNotFoundError)

_ensure_tensorflow_backend()

__version__ = "0.1.0"

#: public name -> module defining it (a module name maps to itself)
_API = {
    # submodules
    "datasets": "kerasviz.datasets",
    "imagenet": "kerasviz.imagenet",
    "render": "kerasviz.render",
    "features": "kerasviz.features",
    "patterns": "kerasviz.patterns",
    # foundations
    "decode_predictions": "kerasviz.imagenet",
    "load_image": "kerasviz.images",
    "load_images": "kerasviz.images",
    "layer_paths": "kerasviz.layers",
    "resolve_layer": "kerasviz.layers",
    "deprocess": "kerasviz.models",
    "fetch_weights": "kerasviz.models",
    "load_model": "kerasviz.models",
    "model_info": "kerasviz.models",
    "preprocess": "kerasviz.models",
    # explanations
    "Explanation": "kerasviz.explanation",
    "Output": "kerasviz.targets",
    "as_target": "kerasviz.targets",
    "explain": "kerasviz.explainer",
    "methods": "kerasviz.methods",
    # inside the network
    "activations": "kerasviz.features",
    "layer_stats": "kerasviz.features",
    "channel_grid": "kerasviz.features",
    "filter_weights": "kerasviz.features",
    "filter_patterns": "kerasviz.patterns",
}

__all__ = [
    "ArgumentError", "BackendError", "ImageError", "KerasvizError", "LayerNotFoundError",
    "ModelError", "TargetError", "UnknownClassError", "UnknownMethodError", "WeightsNotFoundError",
    *_API,
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
