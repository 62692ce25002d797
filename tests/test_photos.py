"""Bundled photos: real images from installed packages, as uint8 RGB."""
import numpy as np
import pytest

from kerasviz import ArgumentError
from kerasviz.data import photos


@pytest.mark.parametrize("name", photos.available())
def test_each_available_photo_is_an_rgb_uint8_image(name):
    img = photos.photo(name)
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    assert min(img.shape[:2]) >= 256 and img.std() > 20  # a real photo, not a blank


def test_the_demo_photos_come_with_the_test_install():
    assert {"chelsea", "coffee", "rocket", "grace_hopper"} <= set(photos.available())


def test_unknown_photo_names_the_choices():
    with pytest.raises(ArgumentError, match="chelsea"):
        photos.photo("kitten")


def test_hand_drawn_boxes_lie_in_their_photos_and_name_classes():
    from kerasviz.core import imagenet

    targets = photos.boxes()
    assert len(targets) >= 4 and {t["photo"] for t in targets} <= set(photos.available())
    for t in targets:
        h, w = photos.photo(t["photo"]).shape[:2]
        x0, y0, x1, y1 = t["box"]
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h, t
        assert imagenet.name(imagenet.class_id(t["class"])) == t["class"], t
