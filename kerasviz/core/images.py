"""Reading and validating images. Every bad-image error of kerasviz is raised here.

The one image format inside kerasviz is ``uint8 (H, W, 3)`` RGB (batches: ``(N, H, W, 3)``).
"""
from __future__ import annotations

import io
import os
import struct
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from kerasviz import _validate
from kerasviz.errors import ArgumentError, ImageError

#: Largest image accepted by default, in pixels (width × height). Larger ones are refused
#: before decoding as likely decompression bombs. Override per call (``max_pixels=``) or with
#: the environment variable ``KERASVIZ_MAX_PIXELS`` (e.g. ``1e6``), read at each call.
MAX_PIXELS = 100_000_000


def default_max_pixels() -> int:
    """``KERASVIZ_MAX_PIXELS`` (a positive whole number, ``1e6`` allowed) or :data:`MAX_PIXELS`."""
    text = os.environ.get("KERASVIZ_MAX_PIXELS", "").strip()
    if not text:
        return MAX_PIXELS
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not (1 <= value < 2 ** 63 and value == int(value)):
        raise ArgumentError(f"KERASVIZ_MAX_PIXELS={text!r} is not a number of pixels. Expected "
                            f"a positive whole number such as 100000000 or 1e8; unset it for "
                            f"the default ({MAX_PIXELS}).")
    return int(value)

_INTERPOLATIONS = ("area", "bilinear", "bicubic", "nearest")
_BAND_PIXELS = 1 << 16  # pixels converted at a time by _array_to_rgb

#: The formats Pillow may open (its names; JPEG includes MPO). The others Pillow knows are refused:
#: some (ICO) decode the whole picture while being opened, before kerasviz can check its size.
_PIL_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP", "PPM")
_FORMATS_TEXT = "PNG, JPEG, GIF, BMP, TIFF, WebP or PNM (PBM / PGM / PPM)"
_TIFF_INTS = {3: "H", 4: "I", 16: "Q"}  # TIFF field type → struct code (SHORT, LONG, LONG8)


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
    limit = default_max_pixels() if max_pixels is None else _validate.positive_int("max_pixels", max_pixels)
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
    images = [load_image(s, size, **kwargs) for s in sources(srcs)]
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        raise ImageError(f"Images have different sizes {sorted(shapes)}. Pass size=(H, W) to "
                         f"resize them to one size.")
    return np.stack(images)


def sources(srcs: Any) -> list:
    """One image source or many (see :func:`load_images`) as a non-empty list of sources.

    Raises:
        ImageError: no images (an empty sequence).
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
    return srcs


def load_fitted(srcs: Any, size: int | tuple[int, int] | None,
                crop: float | None = None) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """Read images at their own sizes and fit them to a model's input (:func:`fit`).

    Returns:
        ``(fitted, originals, windows)``: ``uint8 (N, H, W, 3)`` model-sized images, the N
        originals ``uint8 (H_i, W_i, 3)`` and ``float64 (N, 4)`` :func:`fit_window` of each.

    Raises:
        ImageError, ArgumentError: as :func:`load_images`.
    """
    if isinstance(srcs, np.ndarray) and srcs.ndim == 4 and srcs.dtype == np.uint8 \
            and srcs.shape[-1] == 3 and (size is None or srcs.shape[1:3] == _hw(size)):
        originals = sources(srcs)  # already the model's size: views, no copies (none: an error)
    else:
        originals = [load_image(s) for s in sources(srcs)]
    fitted = [fit(o, size, crop) for o in originals]
    shapes = {im.shape for im in fitted}
    if len(shapes) > 1:
        raise ImageError(f"Images have different sizes {sorted(shapes)}. Pass size=(H, W) to "
                         f"resize them to one size.")
    windows = np.stack([fit_window(o.shape, size, crop) for o in originals])
    return np.stack(fitted), originals, windows


def resize(image: np.ndarray, size: int | tuple[int, int], interpolation: str = "area") -> np.ndarray:
    """Resize ``(H, W, C)`` or ``(H, W)`` to ``size`` = ``(height, width)`` (or an int for a square).

    ``"area"`` (default) averages pixels when shrinking (no aliasing) and is bilinear when
    enlarging; ``"bilinear"``, ``"bicubic"`` and ``"nearest"`` are OpenCV's. Note that
    ``keras.utils.load_img(target_size=...)`` uses nearest-neighbour by default, so its pixels
    differ slightly from kerasviz's.
    """
    import cv2

    h, w = _check_size(size, default_max_pixels())
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
    h, w = _hw(size)
    if image.shape[:2] == (h, w):
        return image
    rh, rw, top, left = _crop_geometry(image.shape[:2], (h, w), fraction)
    out = resize(image, (rh, rw), interpolation)
    return np.ascontiguousarray(out[top:top + h, left:left + w])


def _hw(size) -> tuple[int, int]:
    h, w = (size, size) if isinstance(size, (int, np.integer)) else tuple(int(s) for s in size)
    if h <= 0 or w <= 0:
        raise ImageError(f"Expected a positive size. Received: size={size!r}")
    return h, w


def _crop_geometry(shape, size, fraction) -> tuple[int, int, int, int]:
    """``(rh, rw, top, left)`` of :func:`resize_crop`: the resized image's size and the corner
    of the ``size`` crop in it."""
    (h, w), (ih, iw) = size, shape[:2]
    fraction = _validate.number("crop", fraction, 0.0, 1.0, lo_open=True)
    scale = max(h / fraction / ih, w / fraction / iw)
    rh, rw = max(h, round(ih * scale)), max(w, round(iw * scale))
    return rh, rw, (rh - h) // 2, (rw - w) // 2


def fit(image: np.ndarray, size: int | tuple[int, int] | None,
        crop: float | None = None) -> np.ndarray:
    """``image`` made into model input of ``size``: :func:`resize` (``crop=None``) or
    :func:`resize_crop` (``crop``: its ``fraction``); ``size=None`` keeps it."""
    if size is None:
        return image
    return resize(image, size) if crop is None else resize_crop(image, size, crop)


def fit_window(shape: tuple, size: int | tuple[int, int] | None,
               crop: float | None = None) -> np.ndarray:
    """Where the model input made by :func:`fit` lies in the original image.

    Args:
        shape: the original's ``(H, W, …)``.
        size, crop: as :func:`fit`.

    Returns:
        ``float64 (4,)`` ``[x0, y0, x1, y1]`` in original pixels (edges, not centres): the whole
        image ``[0, 0, W, H]`` for a resize, the centre crop's rectangle for ``crop``.
    """
    ih, iw = shape[:2]
    if size is None or crop is None or tuple(shape[:2]) == _hw(size):
        return np.array([0.0, 0.0, iw, ih])
    h, w = _hw(size)
    rh, rw, top, left = _crop_geometry(shape, (h, w), crop)
    sx, sy = iw / rw, ih / rh
    return np.array([left * sx, top * sy, (left + w) * sx, (top + h) * sy])


def _read_file(src, limit: int, background) -> np.ndarray:
    name = _describe(src) if isinstance(src, (str, Path)) else f"bytes of length {len(src)}"
    if isinstance(src, (str, Path)):
        path = Path(src)
        if not path.exists():
            raise ImageError(f"Image file {name} does not exist. Expected the path of an existing "
                             f"image file ({_FORMATS_TEXT}).")
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
            pil = Image.open(io.BytesIO(data), formats=_PIL_FORMATS)
    except Image.DecompressionBombError as exc:
        raise ImageError(f"Image {name} is too large: {exc} Refused as a possible decompression "
                         f"bomb (PIL.Image.MAX_IMAGE_PIXELS also applies).") from None
    except UnidentifiedImageError:
        rgb = _read_with_opencv(data, name, limit)
        if rgb is None:
            raise ImageError(f"{name} is not an image file kerasviz can read. Expected "
                             f"{_FORMATS_TEXT}. Received: bytes starting {data[:12]!r}. Convert "
                             f"it to PNG (16-bit PNG or TIFF keeps more than 8 bits per "
                             f"channel).") from None
        return _array_to_rgb(rgb, background)
    except (OSError, SyntaxError, ValueError) as exc:  # a recognised format with a broken header
        raise ImageError(f"Image {name} could not be decoded ({exc}). It may be truncated or "
                         f"corrupt; re-export or re-download it.") from None
    return _pil_to_rgb(pil, name, limit, background, data)


def _check_pixels(name: str, w: int, h: int, limit: int) -> None:
    """Refuse a declared size of ``w × h`` pixels that is zero or over ``limit``."""
    if w * h == 0:
        raise ImageError(f"Image {name} has zero size ({w}×{h}). Expected at least 1×1 pixels.")
    if w * h > limit:
        raise ImageError(f"Image {name} has {w * h} pixels ({w}×{h}), more than max_pixels="
                         f"{limit}: refused as a possible decompression bomb. Pass a larger "
                         f"max_pixels (or set KERASVIZ_MAX_PIXELS) if you trust the file.")


def _tiff_size(data: bytes, name: str) -> tuple[int, int] | None:
    """``(width, height)`` of the first image of a TIFF (classic or BigTIFF), read from its
    header; None if ``data`` is not a TIFF. Duplicated tags count with their largest value."""
    order = {b"II": "<", b"MM": ">"}.get(data[:2])
    try:
        magic = struct.unpack_from(order + "H", data, 2)[0] if order else None
        if magic not in (42, 43):
            return None
        big = magic == 43
        offset = struct.unpack_from(order + ("Q" if big else "I"), data, 8 if big else 4)[0]
        count = struct.unpack_from(order + ("Q" if big else "H"), data, offset)[0]
        entry, start = (20, offset + 8) if big else (12, offset + 2)
        count = min(count, (len(data) - start) // entry)  # a lying count ends with the data
        size = {}
        for i in range(count):
            tag, kind, n, value = struct.unpack_from(order + ("HHQ8s" if big else "HHI4s"),
                                                     data, start + entry * i)
            if tag in (256, 257):  # ImageWidth, ImageLength: SHORT, LONG or LONG8, one value
                if n != 1 or kind not in _TIFF_INTS:
                    raise struct.error(f"tag {tag} has type {kind} and {n} values")
                size[tag] = max(size.get(tag, 0),
                                struct.unpack_from(order + _TIFF_INTS[kind], value)[0])
        if len(size) < 2:
            raise struct.error("no ImageWidth or no ImageLength tag")
        return size[256], size[257]
    except struct.error as exc:
        raise ImageError(f"Image {name} is a TIFF file whose size cannot be read: its header is "
                         f"corrupt ({exc}). Re-export or re-download it.") from None


def _read_with_opencv(data: bytes, name: str, limit: int) -> np.ndarray | None:
    """Decode a TIFF that Pillow cannot (float, signed or 32-bit colour samples) with OpenCV,
    after checking its header's size against ``limit``. Returns RGB(A) or grey in the file's
    dtype, or None. Only TIFF: OpenCV's other decoders (Radiance HDR, EXR, JPEG 2000, …) would
    allocate and decode the whole image before kerasviz could check its size."""
    size = _tiff_size(data, name)
    if size is None:
        return None
    _check_pixels(name, *size, limit)
    import cv2

    try:
        arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error:
        return None
    if arr is None or arr.size == 0:
        return None
    if arr.ndim == 3 and arr.shape[2] == 3:
        arr = arr[..., ::-1]
    elif arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[..., [2, 1, 0, 3]]
    return arr


def _pil_to_rgb(pil: Image.Image, name: str, limit: int, background, data: bytes | None = None):
    _check_pixels(name, *pil.size, limit)
    try:
        # Pillow's ImageFile.LOAD_TRUNCATED_IMAGES is read, never written: it is process-wide,
        # and setting it here (even saved and restored under a lock) would change it under
        # other threads decoding at the same moment. At Pillow's default (False) a truncated
        # file raises below; a caller who set it True asked Pillow to pad truncated images.
        pil.load()
        ImageOps.exif_transpose(pil, in_place=True)  # no copy when there is nothing to turn
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        if data is not None and "mode" in str(exc).lower():
            rgb = _read_with_opencv(data, name, limit)  # a TIFF whose samples Pillow cannot read
            if rgb is not None:
                return _array_to_rgb(rgb, background)
        raise ImageError(f"Image {name} could not be decoded ({exc}). It may be truncated or "
                         f"corrupt; re-export or re-download it.") from None
    if pil.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return _array_to_rgb(_high_depth(np.asarray(pil), pil.mode, name), background)
    if pil.mode == "P":
        pil = pil.convert("RGBA")
    if pil.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        return _array_to_rgb(np.asarray(pil if pil.mode == "RGBA" else pil.convert("RGBA")),
                             background)
    rgb = np.asarray(pil if pil.mode == "RGB" else pil.convert("RGB"))
    return rgb if rgb.flags.writeable else rgb.copy()


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
    if np.issubdtype(arr.dtype, np.floating):
        lo, hi = float(arr.min()), float(arr.max())  # NaN or Inf in the array shows in these
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise ImageError(f"Image {name} contains NaN or Inf values. Expected finite values "
                             f"in [0, 1] or [0, 255].")
        if lo < 0 or hi > 255:
            raise ImageError(f"Image {name} has values in [{lo:.4g}, {hi:.4g}]. Expected [0, 1] "
                             f"or [0, 255]. If these are preprocessed model inputs, pass them to "
                             f"explain()/activations() directly instead of load_image().")
        scale = 255.0 if hi <= 1.0 else 1.0
    elif arr.dtype not in (np.bool_, np.uint8, np.uint16) and not (
            np.issubdtype(arr.dtype, np.integer) and arr.min() >= 0 and arr.max() <= 255):
        raise ImageError(f"Unsupported image dtype in {name}. Expected uint8, uint16, bool, "
                         f"float, or integers in [0, 255].")

    def to_uint8(block: np.ndarray) -> np.ndarray:
        if arr.dtype == np.bool_:
            return block.astype(np.uint8) * 255
        if arr.dtype == np.uint16:
            return _uint16_to_uint8(block)
        if np.issubdtype(arr.dtype, np.floating):
            return np.clip(block * scale + 0.5, 0, 255).astype(np.uint8)
        return block.astype(np.uint8, copy=False)

    # Converted a band of rows at a time, so that the working copies stay small: the peak is
    # the input plus the uint8 RGB result (and a band), whatever the input's dtype.
    h, w = arr.shape[:2]
    out = np.empty((h, w, 3), np.uint8)
    bg = np.asarray(background, np.uint16).reshape(1, 1, 3)
    step = max(1, _BAND_PIXELS // w)
    for top in range(0, h, step):
        block = to_uint8(arr[top:top + step])
        if block.ndim == 2:
            out[top:top + step] = block[..., None]
        elif block.shape[2] == 4:  # over the background, rounded: (rgb·a + bg·(255 − a) + 127) // 255
            alpha = block[..., 3:4].astype(np.uint16)
            out[top:top + step] = (block[..., :3] * alpha + bg * (255 - alpha) + 127) // 255
        else:
            out[top:top + step] = block
    return out


def _uint16_to_uint8(arr: np.ndarray) -> np.ndarray:
    """0..65535 → 0..255, rounded: round(x / 257) = (x + 128) // 257."""
    return ((arr.astype(np.uint32) + 128) // 257).astype(np.uint8)


def as_uint8_batch(images: Any, size: int | tuple[int, int] | None = None,
                   crop: float | None = None) -> np.ndarray:
    """Any accepted image input (one or many) → ``uint8 (N, H, W, 3)``; see :func:`load_images`
    (``crop``: see :func:`load_image`)."""
    if isinstance(images, np.ndarray) and images.ndim == 4 and images.dtype == np.uint8 \
            and images.shape[-1] == 3 and size is None:
        return images
    return load_images(images, size, crop=crop) if crop is not None else load_images(images, size)
