"""Ground truth: where the shipped demo models look, on freshly generated images."""
import numpy as np

import kerasviz
from kerasviz.data import datasets
from kerasviz.present import render

SEED = 2024  # not a training (100000+) or evaluation (9999) seed of the demo models


def test_peak_in_box_and_box_iou():
    maps = np.zeros((2, 10, 10))
    maps[0, 2, 7] = maps[1, 9, 0] = 1
    assert render.peak_in_box(maps, np.array([[6, 1, 8, 3], [1, 0, 10, 10]])).tolist() == [True, False]
    iou = render.box_iou([[0, 0, 4, 4], [0, 0, 2, 2], [0, 0, 2, 2]], [[2, 0, 6, 4], [0, 0, 2, 2], [5, 5, 6, 6]])
    np.testing.assert_allclose(iou, [8 / 24, 1, 0])


def test_gradcam_localises_the_shape():
    model = kerasviz.load_model("shapes")
    images, labels, boxes = datasets.shapes(200, seed=SEED)
    exp = kerasviz.explain(model, images, "gradcam", target=labels)
    assert exp.layer == "conv4"
    inside = render.peak_in_box(exp.maps, boxes).mean()
    iou = render.box_iou(exp.boxes(), boxes)  # default threshold, chosen on other seeds
    assert inside >= 0.90, f"peak inside the box on {inside:.1%} of 200 images"
    assert (iou >= 0.5).mean() >= 0.70, f"IoU >= 0.5 on {(iou >= 0.5).mean():.1%} of 200 images"


def test_left_sensor_saliency_falls_on_the_left():
    model = kerasviz.load_model("sensors")
    images, readings, _ = datasets.sensors(24, seed=SEED, obstacles="left")

    def left_share(sensor):
        exp = kerasviz.explain(model, images, "saliency", target=kerasviz.Output("sensors", sensor))
        half = exp.maps.shape[2] // 2
        return exp, exp.maps[:, :, :half].sum(axis=(1, 2)) / exp.maps.sum(axis=(1, 2))

    exp, left = left_share("left")
    assert exp.target.tolist() == [0] * 24 and exp.labels[0] == "0 left"
    assert np.median(left) > 0.55 and (left > 0.5).mean() >= 0.9, left.round(2)
    _, right = left_share("right")  # the rightmost sensor, same scenes: looks to the right
    assert (left > right).mean() >= 0.9, (left - right).round(2)
