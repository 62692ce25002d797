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
    assert {"chelsea", "coffee", "rocket", "grace_hopper", "astronaut", "camera",
            "motorcycle"} <= set(photos.available())


def test_grey_and_stereo_photos_become_one_rgb_image():
    import skimage.data

    camera = photos.photo("camera")  # grey in scikit-image: the same value in R, G and B
    assert camera.shape == (512, 512, 3)
    np.testing.assert_array_equal(camera[..., 0], skimage.data.camera())
    assert (camera[..., 0] == camera[..., 1]).all() and (camera[..., 1] == camera[..., 2]).all()
    np.testing.assert_array_equal(photos.photo("motorcycle"), skimage.data.stereo_motorcycle()[0])


def test_unknown_photo_names_the_choices():
    with pytest.raises(ArgumentError, match="chelsea"):
        photos.photo("kitten")


def test_hand_drawn_boxes_lie_in_their_photos_and_name_classes():
    from kerasviz.core import imagenet

    targets = photos.boxes()
    assert len(targets) >= 16 and {t["photo"] for t in targets} <= set(photos.available())
    for t in targets:
        h, w = photos.photo(t["photo"]).shape[:2]
        x0, y0, x1, y1 = t["box"]
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h, t
        assert imagenet.name(imagenet.class_id(t["class"])) == t["class"], t
    assert len({(t["photo"], t["class"]) for t in targets}) == len(targets)  # no target twice
