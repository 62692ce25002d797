"""Explanations drawn on the original images (their own size, aspect and centre crop), titles
with the model's probability, and the pictures notebooks show."""
import io

import cv2
import numpy as np
import pytest
from PIL import Image

import kerasviz
from kerasviz.core import images as I
from kerasviz.core.models import register_model
from kerasviz.present import render
from kerasviz.present.explanation import REPR_HEIGHT, REPR_LIMIT, Explanation
from conftest import gap_dense, images


@pytest.fixture(scope="module")
def stretched():
    """Five ``shapes`` images (96 × 96) stretched to 160 wide × 96 high originals."""
    data = kerasviz.datasets.shapes(5, seed=7, size=96)
    originals = [cv2.resize(im, (160, 96), interpolation=cv2.INTER_LINEAR) for im in data.images]
    model = kerasviz.load_model("shapes")
    return model, data, originals, kerasviz.explain(model, originals, "gradcam")


def test_boxes_in_original_pixels_match_the_ground_truth(stretched):
    _, data, originals, exp = stretched
    scale = np.array([160 / 96, 1, 160 / 96, 1])
    np.testing.assert_array_equal(exp.windows, [[0, 0, 160, 96]] * 5)  # a plain resize
    model_boxes, boxes = exp.boxes(), exp.boxes(original=True)
    truth = data.boxes * scale
    # The map on the original is the model-input map resized by 160/96 in x: a threshold
    # crossing moves by at most one model pixel (160/96 original pixels) plus 1 for the rounding
    # of the edge to whole pixels.
    assert np.abs(boxes - model_boxes * scale).max() <= 160 / 96 + 1
    iou, iou_model = render.box_iou(boxes, truth), render.box_iou(model_boxes, data.boxes)
    # IoU does not change when both boxes are scaled along an axis; what is left is the edge
    # rounding above: ≤ 1.7 px on boxes ≥ 19 px wide (objects are ≥ 20 % of the side), < 0.05.
    np.testing.assert_allclose(iou, iou_model, atol=0.05)
    # localisation: the PASCAL criterion IoU ≥ 0.5 on 4 of 5 (Grad-CAM on this model: 77–79 %
    # of validation boxes, see REGION_THRESHOLD; image 2, a triangle, is the one miss)
    assert (iou >= 0.5).sum() >= 4, iou


def test_overlay_and_crop_at_the_originals_size(stretched):
    _, _, originals, exp = stretched
    over = exp.overlay(alpha=0.5, colormap="gray", original=True)
    assert [o.shape for o in over] == [(96, 160, 3)] * 5 and over[0].dtype == np.uint8
    # measured: the blend of the original with the map moved onto it, the map being the model's
    # map stretched by 160/96 in x
    stretched_map = cv2.resize(exp.maps[0], (160, 96), interpolation=cv2.INTER_LINEAR)
    want = 0.5 * originals[0] + 0.5 * 255 * stretched_map[..., None]
    assert np.abs(over[0] - want).max() <= 1.0  # two roundings to uint8
    masked, regions = exp.crop(original=True)
    boxes = exp.boxes(original=True)
    assert [m.shape for m in masked] == [(96, 160, 3)] * 5
    assert [r.shape[:2] for r in regions] == [(y1 - y0, x1 - x0) for x0, y0, x1, y1 in boxes]
    x0, y0, x1, y1 = boxes[1]
    np.testing.assert_array_equal(regions[1], originals[1][y0:y1, x0:x1])
    assert exp.overlay().shape == (5, 96, 96, 3)  # the model's view stays the default


def _ramp(h, w):
    """``uint8 (h, w, 3)``: R = 4·x, G = 8·y (a linear ramp: resampling reproduces it)."""
    y, x = np.mgrid[:h, :w]
    return np.stack([4 * x, 8 * y, np.zeros_like(x)], -1).astype(np.uint8)


def test_centre_crop_window_is_where_the_model_input_lies():
    model = register_model(gap_dense(size=16), preprocess=lambda x: x / 255.0, center_crop=0.875)
    original = _ramp(24, 40)
    exp = kerasviz.explain(model, original, "gradcam", target=0)
    x0, y0, x1, y1 = exp.windows[0]
    assert exp.originals[0].shape == (24, 40, 3)
    # independent of the window's formula: each model pixel (i, j) must show the ramp at the
    # original point its centre maps to; area/bilinear resampling keeps a linear ramp, so only
    # the uint8 rounding (≤ 0.5 a level, twice) remains
    j = np.arange(16)
    xs = x0 + (j + 0.5) * (x1 - x0) / 16 - 0.5
    ys = y0 + (j + 0.5) * (y1 - y0) / 16 - 0.5
    np.testing.assert_allclose(exp.images[0, 0, :, 0], 4 * xs, atol=1.0)
    np.testing.assert_allclose(exp.images[0, :, 0, 1], 8 * ys, atol=1.0)
    # outside the crop the map is 0: gray overlay there is (1 - alpha) · image, exactly
    over = exp.overlay(alpha=0.5, colormap="gray", original=True)[0]
    cols = (np.arange(40) + 0.5 < x0) | (np.arange(40) + 0.5 >= x1)
    np.testing.assert_array_equal(over[:, cols], (0.5 * original[:, cols] + 0.5).astype(np.uint8))


def test_map_to_window_puts_a_box_where_the_window_says():
    maps = np.zeros((1, 20, 20), np.float32)
    maps[0, 5:10, 4:12] = 1.0
    window = np.array([[30.0, 10.0, 70.0, 30.0]])  # 40 × 20 pixels of a 50 × 100 image
    exp = Explanation(maps=maps, raw=maps, method="gradcam", target=np.array([0]),
                      images=np.zeros((1, 20, 20, 3), np.uint8),
                      originals=(np.full((50, 100, 3), 90, np.uint8),), windows=window)
    # model pixel edges 4, 12 (x) and 5, 10 (y) at 2 original px per model px in x, 1 in y
    want = [30 + 4 * 2, 10 + 5, 30 + 12 * 2, 10 + 10]
    assert np.abs(exp.boxes(0.5, original=True)[0] - want).max() <= 1
    moved = render.map_to_window(maps[0], window[0], (50, 100))
    assert moved[:10].max() == 0 and moved[30:].max() == 0 and moved[:, :30].max() == 0
    bare = Explanation(maps=maps, raw=maps, method="gradcam", target=None)
    with pytest.raises(kerasviz.ImageError, match="original"):
        bare.boxes(original=True)


def test_titles_show_the_models_probability(stretched):
    model, data, originals, exp = stretched
    x = kerasviz.preprocess(model, originals)
    probs = model.predict(x, verbose=0)[np.arange(5), exp.target]
    np.testing.assert_allclose(exp.probabilities, probs, atol=1e-5)  # float32 softmax
    fig = exp.plot()
    for i, ax in enumerate(fig.axes[:5]):
        title = ax.get_title()
        assert f"p={probs[i]:.1%}" in title and "logit" in title and exp.labels[i] in title


def test_regression_titles_show_the_output_value():
    model = register_model(gap_dense(size=16, softmax=False), preprocess=lambda x: x * 1.0,
                           task="regression")
    raw = (images(2, 16, seed=3) * 255).astype(np.uint8)
    exp = kerasviz.explain(model, raw, "gradcam", target=kerasviz.Output(0, 1))
    value = model.predict(raw.astype(np.float32), verbose=0)[:, 1]
    assert exp.probabilities is None
    for i in range(2):
        assert exp.title(i).endswith(f"output {value[i]:.3g}") and "logit" not in exp.title(i)


def test_notebook_picture_is_labelled_and_capped(stretched):
    _, _, originals, exp = stretched
    many = exp[[0, 1, 2, 3, 4, 0, 1, 2, 3, 4]]
    png = Image.open(io.BytesIO(many._repr_png_()))
    cell_w = 2 * round(160 * REPR_HEIGHT / 96) + 4       # original + overlay, aspect kept
    rows = REPR_LIMIT // 2
    assert png.size == (2 * cell_w + 8, rows * (REPR_HEIGHT + 22) + (rows - 1) * 8 + 24)
    note = np.asarray(png)[-24:]
    assert (note < 128).any()  # "showing 8 of 10 images" is written in the last band
    small = np.asarray(Image.open(io.BytesIO(exp[:2]._repr_png_())))
    assert small.shape == (REPR_HEIGHT + 22, 2 * cell_w + 8, 3)  # two images, one row, no note
    left = small[22:, :round(160 * REPR_HEIGHT / 96)]           # the first original, enlarged
    want = cv2.resize(originals[0], (left.shape[1], REPR_HEIGHT), interpolation=cv2.INTER_LINEAR)
    assert np.abs(left.astype(int) - want).mean() < 8  # same picture (resampling differs)
    assert (small[:22] < 128).any()  # the title band holds text
