"""Reading and validating images. Every bad-image error of kerasviz is raised here.

The one image format inside kerasviz is ``uint8 (H, W, 3)`` RGB (batches: ``(N, H, W, 3)``).
"""
from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from kerasviz import _validate
from kerasviz.errors import ArgumentError, ImageError

#: Largest image accepted, in pixels (width × height). Larger ones are refused before
#: decoding as likely decompression bombs. Override per call or with ``KERASVIZ_MAX_PIXELS``.
MAX_PIXELS = int(os.environ.get("KERASVIZ_MAX_PIXELS", 100_000_000))

_INTERPOLATIONS = ("area", "bilinear", "bicubic", "nearest")


def _describe(src: Any) -> str:
    if isinstance(src, (str, Path)):
        return f"'{src}'"
    if isinstance(src, np.ndarray):
        return f"array of shape {src.shape} and dtype {src.dtype}"
    if isinstance(src, Image.Image):
        return f"PIL image of mode {src.mode} and size {src.size}"
    return f"object of type {type(src).__name__}"


def load_image(src: Any, size: int | tuple[int, int] | None = None, *,
               max_pixels: int | None = None, background: tuple[int, int, int] = (255, 255, 255),
               interpolation: str = "area", crop: float | None = None) -> np.ndarray:
    """Read one image as ``uint8 (H, W, 3)`` RGB.

    Args:
        src: a file path (``str`` / ``Path``), raw encoded bytes, a ``PIL.Image.Image`` or a
            numpy array of shape ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` or ``(H, W, 4)``.
            Arrays may be ``uint8``, ``uint16`` (scaled by 1/257), ``bool``, or floating point:
            floats with maximum ≤ 1 are read as [0, 1], otherwise as [0, 255]; NaN, Inf or values
            outside those ranges are refused.
        size: resize to ``size`` (an int for a square, or ``(height, width)``); ``None`` keeps the
            original size. See :func:`resize` for the interpolation.
        max_pixels: refuse images larger than this many pixels before decoding them
            (decompression bombs). Defaults to :data:`MAX_PIXELS`.
        background: RGB colour that transparent pixels are composited onto. Alpha is not kept:
            an RGBA / LA / transparent-palette image becomes ``alpha·rgb + (1−alpha)·background``.
        interpolation: see :func:`resize`.
        crop: with ``size``: keep the aspect ratio and take the centre (see :func:`resize_crop`)
            instead of stretching the whole image to ``size``.

    Modes handled: grayscale (``L``, ``1``, ``I;16``, ``I``, ``F``: the grey channel is repeated
    three times), palette, RGBA/LA (composited, see above), CMYK (converted to RGB), 16-bit PNG
    and TIFF (scaled to 8 bit), and EXIF orientation (the image is turned upright).

    Returns:
        ``uint8`` array ``(H, W, 3)``, RGB, C-contiguous.

    Raises:
        ImageError: missing, empty, unreadable, truncated or non-image file; zero-size image;
            image over ``max_pixels``; array of the wrong shape, dtype or value range.
        ArgumentError: a bad ``size``, ``max_pixels``, ``background`` or ``interpolation``
            (checked before the file is read).
    """
    limit = MAX_PIXELS if max_pixels is None else _validate.positive_int("max_pixels", max_pixels)
    background = _validate.rgb("background", background)
    if size is not None:
        _check_size(size, limit)
    _validate.one_of("interpolation", interpolation, _INTERPOLATIONS)
    if isinstance(src, np.ndarray):
        rgb = _array_to_rgb(src, background)
    elif isinstance(src, Image.Image):
        rgb = _pil_to_rgb(src, _describe(src), limit, background)
    elif isinstance(src, (str, Path, bytes, bytearray)):
        rgb = _read_file(src, limit, background)
    else:
        raise ImageError(
            f"Cannot read an image from {_describe(src)}. Expected a file path, bytes, a PIL "
            f"image or a numpy array (H, W[, C]).")
    if rgb.shape[0] * rgb.shape[1] > limit:
        raise ImageError(f"Image {_describe(src)} has {rgb.shape[0] * rgb.shape[1]} pixels, "
                         f"more than max_pixels={limit}. Pass a larger max_pixels if you trust it.")
    if size is not None:
        rgb = resize(rgb, size, interpolation) if crop is None \
            else resize_crop(rgb, size, crop, interpolation)
    return np.ascontiguousarray(rgb)


def _check_size(size, limit: int) -> tuple[int, int]:
    h, w = _validate.size_hw("size", size)
    if h * w > limit:
        raise ArgumentError(f"size must be at most max_pixels={limit} pixels (height × width). "
                            f"Received: size={size!r} ({h * w} pixels). Pass a smaller size or "
                            f"a larger max_pixels.")
    return h, w


def load_images(srcs: Any, size: int | tuple[int, int] | None = None, **kwargs) -> np.ndarray:
    """Read images as one ``uint8 (N, H, W, 3)`` batch.

    Args:
        srcs: one source or a sequence of sources (see :func:`load_image`), or a ``uint8``
            array already shaped ``(N, H, W, 3)``.
        size: common size; required when the images differ in size.

    Raises:
        ImageError: as :func:`load_image`, naming the failing input; no images; or images of
            different sizes without ``size``.
        ArgumentError: as :func:`load_image`.
    """
    if isinstance(srcs, np.ndarray) and srcs.ndim == 4:
        srcs = list(srcs)
    elif isinstance(srcs, (list, tuple)):
        srcs = list(srcs)
    elif hasattr(srcs, "__iter__") and not isinstance(
            srcs, (str, Path, bytes, bytearray, np.ndarray, Image.Image, dict)):
        srcs = list(srcs)  # a generator, e.g. Path.glob(...)
    else:
        srcs = [srcs]      # one source; an unreadable object is named by load_image
    if len(srcs) == 0:
        raise ImageError("No images given. Expected at least one image path or array. "
                         "Received: an empty sequence.")
    images = [load_image(s, size, **kwargs) for s in srcs]
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        raise ImageError(f"Images have different sizes {sorted(shapes)}. Pass size=(H, W) to "
                         f"resize them to one size.")
    return np.stack(images)


def resize(image: np.ndarray, size: int | tuple[int, int], interpolation: str = "area") -> np.ndarray:
    """Resize ``(H, W, C)`` or ``(H, W)`` to ``size`` = ``(height, width)`` (or an int for a square).

    ``"area"`` (default) averages pixels when shrinking (no aliasing) and is bilinear when
    enlarging; ``"bilinear"``, ``"bicubic"`` and ``"nearest"`` are OpenCV's. Note that
    ``keras.utils.load_img(target_size=...)`` uses nearest-neighbour by default, so its pixels
    differ slightly from kerasviz's.
    """
    import cv2

    h, w = _check_size(size, MAX_PIXELS)
    _validate.one_of("interpolation", interpolation, _INTERPOLATIONS)
    if image.shape[:2] == (h, w):
        return image
    shrinking = h * w < image.shape[0] * image.shape[1]
    flag = {"area": cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR, "bilinear": cv2.INTER_LINEAR,
            "bicubic": cv2.INTER_CUBIC, "nearest": cv2.INTER_NEAREST}[interpolation]
    out = cv2.resize(image, (w, h), interpolation=flag)
    return out.reshape((h, w) + image.shape[2:])


def resize_crop(image: np.ndarray, size: int | tuple[int, int], fraction: float = 0.875,
                interpolation: str = "area") -> np.ndarray:
    """Resize keeping the aspect ratio, then cut out the centre: the usual ImageNet evaluation
    crop (``fraction=0.875``: shorter side resized to 256, central 224 × 224). An image that
    already has the output size is returned as it is (it is taken to be cropped already).

    Args:
        image: ``(H, W, C)`` or ``(H, W)``.
        size: output ``(height, width)`` (or an int for a square).
        fraction: in (0, 1]: the output covers this fraction of the resized image's shorter
            side (1.0: the largest centred crop of the output's aspect ratio).
        interpolation: see :func:`resize`.

    Returns:
        Array of shape ``size + image.shape[2:]`` and the input's dtype.
    """
    from kerasviz import _validate

    h, w = (size, size) if isinstance(size, (int, np.integer)) else tuple(int(s) for s in size)
    fraction = _validate.number("crop", fraction, 0.0, 1.0, lo_open=True)
    if h <= 0 or w <= 0:
        raise ImageError(f"Expected a positive size. Received: size={size!r}")
    if image.shape[:2] == (h, w):
        return image
    scale = max(h / fraction / image.shape[0], w / fraction / image.shape[1])
    rh, rw = max(h, round(image.shape[0] * scale)), max(w, round(image.shape[1] * scale))
    out = resize(image, (rh, rw), interpolation)
    top, left = (rh - h) // 2, (rw - w) // 2
    return np.ascontiguousarray(out[top:top + h, left:left + w])


def _read_file(src, limit: int, background) -> np.ndarray:
    name = _describe(src) if isinstance(src, (str, Path)) else f"bytes of length {len(src)}"
    if isinstance(src, (str, Path)):
        path = Path(src)
        if not path.exists():
            raise ImageError(f"Image file {name} does not exist. Expected the path of an existing "
                             f"image file (PNG, JPEG, TIFF, BMP, GIF or WebP).")
        if path.is_dir():
            raise ImageError(f"Image path {name} is a folder, not a file. Expected an image file; "
                             f"for the images in a folder pass sorted(Path(folder).glob('*.png')).")
        data = path.read_bytes()
    else:
        data = bytes(src)
    if not data:
        raise ImageError(f"Image file {name} is empty (0 bytes). Expected an image file; "
                         f"re-export or re-download it.")
    try:
        with warnings.catch_warnings():  # kerasviz applies its own pixel limit below
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            pil = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise ImageError(f"Image {name} is too large: {exc} Refused as a possible decompression "
                         f"bomb (PIL.Image.MAX_IMAGE_PIXELS also applies).") from None
    except UnidentifiedImageError:
        rgb = _read_with_opencv(data)
        if rgb is None:
            raise ImageError(f"{name} is not an image file kerasviz can read (PIL and OpenCV "
                             f"do not recognise its format). Expected PNG, JPEG, TIFF, BMP, "
                             f"GIF or WebP.") from None
        return _array_to_rgb(rgb, background)
    except (OSError, SyntaxError, ValueError) as exc:  # a recognised format with a broken header
        raise ImageError(f"Image {name} could not be decoded ({exc}). It may be truncated or "
                         f"corrupt; re-export or re-download it.") from None
    return _pil_to_rgb(pil, name, limit, background, data)


def _read_with_opencv(data: bytes) -> np.ndarray | None:
    """Decode with OpenCV (keeps 16-bit colour TIFF/PNG); returns RGB(A) or grey, or None."""
    import cv2

    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.size == 0:
        return None
    if arr.ndim == 3 and arr.shape[2] == 3:
        arr = arr[..., ::-1]
    elif arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[..., [2, 1, 0, 3]]
    return arr


def _pil_to_rgb(pil: Image.Image, name: str, limit: int, background, data: bytes | None = None):
    w, h = pil.size
    if w * h == 0:
        raise ImageError(f"Image {name} has zero size ({w}×{h}). Expected at least 1×1 pixels.")
    if w * h > limit:
        raise ImageError(f"Image {name} has {w * h} pixels ({w}×{h}), more than max_pixels="
                         f"{limit}: refused as a possible decompression bomb. Pass a larger "
                         f"max_pixels (or set KERASVIZ_MAX_PIXELS) if you trust the file.")
    try:
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        pil.load()
        pil = ImageOps.exif_transpose(pil)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        if data is not None and "mode" in str(exc).lower():
            rgb = _read_with_opencv(data)  # e.g. 16-bit colour TIFF that PIL cannot decode
            if rgb is not None:
                return _array_to_rgb(rgb, background)
        raise ImageError(f"Image {name} could not be decoded ({exc}). It may be truncated or "
                         f"corrupt; re-export or re-download it.") from None
    if pil.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return _array_to_rgb(_high_depth(np.asarray(pil), pil.mode, name), background)
    if pil.mode == "P":
        pil = pil.convert("RGBA")
    if pil.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        return _array_to_rgb(np.asarray(pil.convert("RGBA")), background)
    return np.asarray(pil.convert("RGB"))


def _high_depth(arr: np.ndarray, mode: str, name: str) -> np.ndarray:
    """16-bit or 32-bit single-channel pixels → uint8 (16-bit range 0..65535 scaled by 1/257)."""
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ImageError(f"Image {name} (mode {mode}) contains NaN or Inf pixels. Expected "
                         f"finite pixel values.")
    if mode == "F" and arr.max() <= 1.0 and arr.min() >= 0.0:
        return (arr * 255 + 0.5).astype(np.uint8)
    if arr.min() < 0 or arr.max() > 65535:
        raise ImageError(f"Image {name} (mode {mode}) has values in [{arr.min()}, {arr.max()}], "
                         f"outside the 16-bit range [0, 65535].")
    return (arr / 257.0 + 0.5).astype(np.uint8)


def _array_to_rgb(arr: np.ndarray, background=(255, 255, 255)) -> np.ndarray:
    name = _describe(arr)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        hint = " For a batch use load_images()." if arr.ndim == 4 else ""
        raise ImageError(f"Expected an image array of shape (H, W), (H, W, 1), (H, W, 3) or "
                         f"(H, W, 4). Received: {name}.{hint}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ImageError(f"Image {name} has zero size. Expected at least 1×1 pixels.")
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8) * 255
    elif arr.dtype == np.uint16:
        arr = (arr.astype(np.float64) / 257.0 + 0.5).astype(np.uint8)
    elif np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise ImageError(f"Image {name} contains NaN or Inf values. Expected finite values "
                             f"in [0, 1] or [0, 255].")
        lo, hi = float(arr.min()), float(arr.max())
        if lo < 0 or hi > 255:
            raise ImageError(f"Image {name} has values in [{lo:.4g}, {hi:.4g}]. Expected [0, 1] "
                             f"or [0, 255]. If these are preprocessed model inputs, pass them to "
                             f"explain()/activations() directly instead of load_image().")
        arr = np.clip(arr * (255.0 if hi <= 1.0 else 1.0) + 0.5, 0, 255).astype(np.uint8)
    elif arr.dtype != np.uint8:
        if np.issubdtype(arr.dtype, np.integer) and arr.min() >= 0 and arr.max() <= 255:
            arr = arr.astype(np.uint8)
        else:
            raise ImageError(f"Unsupported image dtype in {name}. Expected uint8, uint16, bool, "
                             f"float, or integers in [0, 255].")
    if arr.ndim == 2:
        return np.repeat(arr[..., None], 3, axis=2)
    if arr.shape[2] == 4:
        alpha = arr[..., 3:4].astype(np.float32) / 255.0
        bg = np.asarray(background, np.float32).reshape(1, 1, 3)
        return (arr[..., :3] * alpha + bg * (1 - alpha) + 0.5).astype(np.uint8)
    return arr


def as_uint8_batch(images: Any, size: int | tuple[int, int] | None = None,
                   crop: float | None = None) -> np.ndarray:
    """Any accepted image input (one or many) → ``uint8 (N, H, W, 3)``; see :func:`load_images`
    (``crop``: see :func:`load_image`)."""
    if isinstance(images, np.ndarray) and images.ndim == 4 and images.dtype == np.uint8 \
            and images.shape[-1] == 3 and size is None:
        return images
    return load_images(images, size, crop=crop) if crop is not None else load_images(images, size)
