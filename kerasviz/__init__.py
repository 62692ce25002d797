"""kerasviz: see what a Keras CNN has learned and why it decided.

The public API is listed in ``__all__``; see the README for a tour.
"""
from kerasviz._backend import ensure_tensorflow_backend as _ensure_tensorflow_backend

_ensure_tensorflow_backend()

from kerasviz import imagenet, render  # noqa: E402
from kerasviz.errors import (  # noqa: E402
    BackendError, ImageError, KerasvizError, LayerNotFoundError, ModelError, TargetError,
    UnknownClassError, UnknownMethodError, WeightsNotFoundError)
from kerasviz.imagenet import decode_predictions  # noqa: E402
from kerasviz.images import load_image, load_images  # noqa: E402
from kerasviz.layers import layer_paths, resolve_layer  # noqa: E402
from kerasviz.models import (  # noqa: E402
    deprocess, fetch_weights, load_model, model_info, preprocess)

__version__ = "0.1.0"

__all__ = [
    "BackendError", "ImageError", "KerasvizError", "LayerNotFoundError", "ModelError",
    "TargetError", "UnknownClassError", "UnknownMethodError", "WeightsNotFoundError",
    "imagenet", "render",
    "decode_predictions", "load_image", "load_images", "layer_paths", "resolve_layer",
    "deprocess", "fetch_weights", "load_model", "model_info", "preprocess",
]
