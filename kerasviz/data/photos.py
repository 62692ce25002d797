"""Real photos that ship inside installed packages, for demos, notebooks and the browser page.

scikit-image (``pip install "kerasviz[imagenet]"``) ships ``chelsea`` (a tabby cat), ``coffee``
(an espresso), ``rocket`` (a rocket on its launch pad), ``astronaut`` (Eileen Collins with a
helmet and a space-shuttle model), ``camera`` (the grey "cameraman": a man filming from a
tripod, converted to RGB) and ``motorcycle`` (the left image of ``stereo_motorcycle``) inside its
wheel, in ``skimage.data``; Matplotlib, always installed, ships ``grace_hopper``. No download, no
file of ours.
"""
from __future__ import annotations

import importlib.util

import numpy as np

from kerasviz import _validate

#: photo name -> what it shows (the ImageNet class a good model names)
PHOTOS: dict[str, str] = {"chelsea": "a tabby cat", "coffee": "a cup of espresso",
                          "rocket": "a rocket on its launch pad",
                          "grace_hopper": "Grace Hopper in uniform (a military uniform)",
                          "astronaut": "an astronaut with her helmet and a space-shuttle model",
                          "camera": "a man filming with a camera on a tripod (grey photo)",
                          "motorcycle": "a red motorcycle in a garage"}
#: photo name -> the ``skimage.data`` function that loads it (all files inside the wheel)
_SKIMAGE = {"chelsea": "chelsea", "coffee": "coffee", "rocket": "rocket",
            "astronaut": "astronaut", "camera": "camera", "motorcycle": "stereo_motorcycle"}


def available() -> list[str]:
    """Names of the photos that the installed packages provide, in :data:`PHOTOS` order."""
    have_skimage = importlib.util.find_spec("skimage") is not None
    return [n for n in PHOTOS if n not in _SKIMAGE or have_skimage]


def photo(name: str) -> np.ndarray:
    """One bundled photo as ``uint8 (H, W, 3)`` RGB at its own size.

    Raises:
        ArgumentError: ``name`` is not one of :data:`PHOTOS`, or its package (scikit-image) is
            not installed (the message says how to install it).
    """
    from kerasviz.errors import ArgumentError

    _validate.one_of("name", name, PHOTOS)
    if name not in available():
        raise ArgumentError(f"Photo {name!r} comes with scikit-image, which is not installed. "
                            f"Install it with: pip install \"kerasviz[imagenet]\". "
                            f"Available now: {available()}.")
    if name in _SKIMAGE:
        import skimage.data

        img = getattr(skimage.data, _SKIMAGE[name])()
        if isinstance(img, tuple):  # stereo_motorcycle: (left, right, disparity)
            img = img[0]
        if img.ndim == 2:  # grey (camera): the same value in R, G and B
            img = np.repeat(img[..., None], 3, axis=-1)
        return np.ascontiguousarray(img[..., :3], np.uint8)
    from matplotlib import cbook

    from kerasviz.core.images import load_image

    return load_image(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


def boxes() -> list[dict]:
    """Hand-drawn ground-truth boxes for the photos (``photo_boxes.json`` beside this module):
    one ``{"photo", "class", "box"}`` per target, ``box`` ``[x0, y0, x1, y1]`` in the photo's own
    pixels (``x1``, ``y1`` exclusive), ``class`` an ImageNet class name. Drawn by hand by looking
    at each photo, not by a detector; only for photos :func:`available` now."""
    import json
    from pathlib import Path

    data = json.loads((Path(__file__).with_name("photo_boxes.json")).read_text(encoding="utf-8"))
    return [t for t in data["targets"] if t["photo"] in available()]


__all__ = ["PHOTOS", "available", "photo", "boxes"]
