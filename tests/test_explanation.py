"""The Explanation object: overlays, boxes, crops, plots and the image-input rule of explain()."""
import numpy as np
import pytest

import kerasviz
from kerasviz.present import render
from kerasviz.present.explanation import Explanation
from conftest import gap_dense, images


def _synthetic():
    maps = np.zeros((2, 20, 30), np.float32)
    maps[0, 5:10, 4:12] = 1.0   # a box
    maps[1, 12:18, 20:29] = 0.8
    maps[1, 0:2, 0:2] = 0.3     # below threshold
    shown = np.full((2, 20, 30, 3), 200, np.uint8)
    return Explanation(maps=maps, raw=maps * 3, method="gradcam", target=np.array([1, 2]),
                       labels=("1 a", "2 b"), layer="c2", scores=np.array([0.5, 1.5], np.float32),
                       images=shown)


def test_boxes_crop_overlay_from_the_maps():
    exp = _synthetic()
    np.testing.assert_array_equal(exp.boxes(0.5), [[4, 5, 12, 10], [20, 12, 29, 18]])
    masked, regions = exp.crop(threshold=0.5)
    assert masked.shape == (2, 20, 30, 3) and masked.dtype == np.uint8
    assert (masked[0, 5:10, 4:12] == 200).all() and masked[0].sum() == 200 * 3 * 40
    assert [r.shape for r in regions] == [(5, 8, 3), (6, 9, 3)]
    over = exp.overlay(alpha=0.5, colormap="gray")
    assert over.shape == (2, 20, 30, 3) and over.dtype == np.uint8
    np.testing.assert_array_equal(over[0], render.overlay(exp.images[0], exp.maps[0], 0.5, "gray"))
    big = np.zeros((2, 40, 60, 3), np.uint8)  # other images, other size: maps are resized
    assert exp.overlay(big).shape == (2, 40, 60, 3)
    with pytest.raises(kerasviz.ImageError, match="Expected 2 images"):
        exp.overlay(big[:1])


def test_slicing_plot_and_png():
    exp = _synthetic()
    one = exp[1]
    assert len(one) == 1 and one.labels == ("2 b",) and one.target.tolist() == [2]
    fig = exp.plot()
    assert len(fig.axes) == 2 and "2 b" in fig.axes[1].get_title()
    png = exp._repr_png_()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    bare = Explanation(maps=exp.maps, raw=exp.raw, method="saliency", target=None)
    assert bare._repr_png_()[:4] == b"\x89PNG"
    with pytest.raises(kerasviz.ImageError, match="no display images"):
        bare.overlay()
    assert "gradcam" in repr(exp)


def test_raw_images_paths_and_float_batches(tmp_path):
    model = gap_dense(size=16)
    kerasviz.load_model(model, preprocess=lambda x: x / 255.0)
    raw = (images(2, 16, seed=1) * 255).astype(np.uint8)
    paths = []
    for i, im in enumerate(raw):
        render.save_png(tmp_path / f"im{i}.png", im)
        paths.append(str(tmp_path / f"im{i}.png"))
    from_u8 = kerasviz.explain(model, raw, "gradcam", target=0)
    from_paths = kerasviz.explain(model, paths, "gradcam", target=0)
    from_one_path = kerasviz.explain(model, paths[1], "gradcam", target=0)
    from_float = kerasviz.explain(model, raw / 255.0, "gradcam", target=0)
    np.testing.assert_allclose(from_paths.maps, from_u8.maps, atol=1e-6)
    np.testing.assert_allclose(from_one_path.maps[0], from_u8.maps[1], atol=1e-5)
    np.testing.assert_allclose(from_float.maps, from_u8.maps, atol=1e-5)
    np.testing.assert_array_equal(from_paths.images, raw)
    assert from_u8.overlay().shape == (2, 16, 16, 3)
    with pytest.raises(kerasviz.ImageError):
        kerasviz.explain(model, str(tmp_path / "missing.png"), "gradcam")


def test_display_images_of_a_float_batch_are_made_on_first_read_from_the_batch_as_given():
    """explain() makes the display images of a float batch only when they are read; they are
    the batch as it was at the call (deprocessed), even if the caller's array changes after."""
    model = gap_dense(size=16)
    x = images(2, 16, seed=2)
    lo, hi = x.min(), x.max()  # unknown preprocessing: display by min-max over the batch
    want = ((x - lo) / (hi - lo + 1e-12) * 255 + 0.5).astype(np.uint8)
    exp = kerasviz.explain(model, x, "gradcam", target=0)
    assert "_images_value" in vars(exp) and callable(vars(exp)["_images_value"])  # not made yet
    x[:] = 0.0  # the caller reuses its array
    np.testing.assert_array_equal(exp.images, want)
    np.testing.assert_array_equal(exp[1].images, want[1:])
    assert exp.overlay().shape == (2, 16, 16, 3)


def test_pixel_maps_are_smoothed_before_cutting_regions():
    maps = np.zeros((1, 32, 32), np.float32)
    maps[0, 10:20:3, 12:22:3] = 1.0  # a sparse, pixel-method-like blob of isolated dots
    pixel = Explanation(maps=maps, raw=maps, method="saliency", target=None, family="pixel")
    x0, y0, x1, y1 = pixel.boxes(0.3)[0]
    assert x0 <= 12 and y0 <= 10 and x1 >= 22 and y1 >= 20  # one region around all the dots
    x0, y0, x1, y1 = pixel.boxes(0.3, smooth=0)[0]
    assert (x1 - x0, y1 - y0) == (1, 1)  # without the blur, the region is one isolated dot
    cam = Explanation(maps=maps, raw=maps, method="gradcam", target=None, family="cam")
    np.testing.assert_array_equal(cam.boxes(0.3), pixel.boxes(0.3, smooth=0))


def test_bad_batch_size_is_an_argument_error():
    model = gap_dense(size=16, channels=4)
    with pytest.raises(kerasviz.errors.ArgumentError, match="batch_size"):
        kerasviz.explain(model, images(1, size=16), batch_size=0)
