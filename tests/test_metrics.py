"""kerasviz.metrics against from-scratch references written from the papers' definitions.

quantus (the suggested independent implementation) would install opencv-python beside the
project's opencv-python-headless (two packages owning ``cv2``), so the references are written
here instead: numpy, ``model.predict`` (the Keras model itself, with its softmax, not kerasviz's
replay) and hand-built perturbations.
"""
import numpy as np
import pytest
import tensorflow as tf

import kerasviz
from kerasviz import metrics
from kerasviz.data import datasets

SEED = 2024  # not a training (100000+) or evaluation (9999) seed of the demo models


@pytest.fixture(scope="module")
def shapes():
    model = kerasviz.load_model("shapes")
    images, labels, boxes = datasets.shapes(32, seed=SEED)
    return model, images, labels, boxes


def _reference_curve(model, x, saliency, unit, steps, base, insertion):
    """Petsiuk et al. 2018, one image: rank the pixels by saliency (largest first, ties in raster
    order), move the first round(k·HW/steps) of them from the start image to the end image,
    read the class probability from model.predict. Deletion: image → baseline; insertion:
    baseline → image."""
    h, w = saliency.shape
    order = np.argsort(-saliency.reshape(-1), kind="stable")
    start, end = (base, x) if insertion else (x, base)
    batch = []
    for k in range(steps + 1):
        img = start.copy().reshape(h * w, -1)
        moved = order[:int(np.round(k * h * w / steps))]
        img[moved] = end.reshape(h * w, -1)[moved]
        batch.append(img.reshape(x.shape))
    return model.predict(np.stack(batch), verbose=0)[:, unit]


@pytest.mark.parametrize("mode,baseline", [("deletion", "zeros"), ("insertion", "mean")])
def test_curves_match_a_reference_from_the_paper(shapes, mode, baseline):
    model, images, labels, _ = shapes
    x = kerasviz.preprocess(model, images[:3])
    maps = kerasviz.explain(model, images[:3], "gradcam", target=labels[:3]).maps
    got = metrics.curves(model, images[:3], maps, labels[:3], mode=mode, baseline=baseline,
                         steps=8, batch_size=5)  # 5 evaluations a step: chunks of 1 image × 5 steps
    base = metrics.baseline_images(x, baseline)
    for i in range(3):
        want = _reference_curve(model, x[i], maps[i], labels[i], 8, base[i], mode == "insertion")
        # probabilities in [0, 1] through a float32 network, computed by Keras' own graph here and
        # by kerasviz's replay (softmax of the replayed logits) there: rounding ~1e-6
        np.testing.assert_allclose(got[i], want, atol=2e-5, err_msg=f"image {i}")
    assert got.shape == (3, 9)
    if mode == "deletion":
        np.testing.assert_allclose(got[:, 0], model.predict(x, verbose=0)[np.arange(3), labels[:3]],
                                   atol=2e-5)  # step 0 is the clean image
    # AUC is the trapezoidal rule on [0, 1]
    np.testing.assert_allclose(metrics.auc(got), np.trapezoid(got.astype(np.float64), dx=1 / 8, axis=1),
                               rtol=1e-12)


def test_blur_baseline_is_a_gaussian_blur():
    x = np.zeros((1, 224, 224, 3), np.float32)
    x[0, 112, 112] = 1.0
    b = metrics.baseline_images(x, "blur")[0, :, :, 0]
    # a unit impulse blurred by a Gaussian of sigma 5 px: peak 1/(2πσ²), total 1
    np.testing.assert_allclose(b.sum(), 1.0, rtol=1e-4)
    np.testing.assert_allclose(b[112, 112], 1 / (2 * np.pi * 25), rtol=0.02)  # discrete kernel
    m = metrics.baseline_images(np.arange(12, dtype=np.float32).reshape(1, 2, 2, 3), "mean")
    np.testing.assert_array_equal(m[0, 1, 1], [4.5, 5.5, 6.5])


def test_gradcam_deletes_faster_than_random_and_centre_maps(shapes):
    """Must-show: on the shapes model Grad-CAM's deletion AUC (blur baseline, 32 steps, 32
    images, mean over images) is lower than that of a random map and of a centre-bias map."""
    model, images, labels, _ = shapes
    grad = kerasviz.explain(model, images, "gradcam", target=labels).maps
    size = images.shape[1:3]
    aucs = {name: metrics.auc(metrics.curves(model, images, m, labels)).mean()
            for name, m in [("gradcam", grad),
                            ("random", metrics.reference_maps("random", 32, size, seed=1)),
                            ("center", metrics.reference_maps("center", 32, size))]}
    assert aucs["gradcam"] < aucs["random"] and aucs["gradcam"] < aucs["center"], aucs


def test_max_sensitivity_matches_a_reference(shapes):
    model, images, labels, _ = shapes
    x = kerasviz.preprocess(model, images[:2])
    got = metrics.max_sensitivity(model, images[:2], "saliency", labels[:2], radius=0.05,
                                  samples=3, seed=5)
    # Yeh et al. 2019, eq. (3) with the Frobenius norm, relative to the map's norm: noise
    # uniform in [-r, r], r = 0.05 · (max − min) of the image, the j-th draw from the stateless
    # seed (5, j); each noisy image explained on its own here
    for i in range(2):
        ref = kerasviz.explain(model, x[i:i + 1], "saliency", target=int(labels[i])).maps[0]
        r = 0.05 * (x[i].max() - x[i].min())
        worst = 0.0
        for j in range(3):
            eps = tf.random.stateless_uniform(x.shape[1:], (5, j), -1.0, 1.0).numpy()
            m = kerasviz.explain(model, x[i:i + 1] + r * eps, "saliency", target=int(labels[i])).maps[0]
            worst = max(worst, np.linalg.norm(m - ref) / np.linalg.norm(ref))
        # maps in [0, 1] float32, batches of 1 here and of 6 there: per-pixel differences up to
        # ~2e-4 (the contract suite's bound), over a map of norm ~10: ≤ 1e-3 relative
        np.testing.assert_allclose(got[i], worst, atol=1e-3, err_msg=f"image {i}")
    assert (got > 0.01).all()  # noise does change a saliency map
    still = metrics.max_sensitivity(model, images[:2], "gradcam", labels[:2], radius=0.0, samples=2)
    assert (still < 1e-3).all(), still  # no noise: the same maps (batch rounding only)


def test_gini_on_known_maps():
    n = 12
    flat = np.ones((1, 3, 4))
    one = np.zeros((1, 3, 4))
    one[0, 1, 2] = 5.0
    np.testing.assert_allclose(metrics.gini(flat), [0.0], atol=1e-15)
    np.testing.assert_allclose(metrics.gini(one), [(n - 1) / n], rtol=1e-12)
    a = np.random.default_rng(0).random((3, 5, 5))
    # the mean-absolute-difference definition: Σ_ij |a_i − a_j| / (2 n Σ a)
    v = a.reshape(3, -1)
    want = np.abs(v[:, :, None] - v[:, None, :]).sum(axis=(1, 2)) / (2 * 25 * v.sum(axis=1))
    np.testing.assert_allclose(metrics.gini(a), want, rtol=1e-12)
    np.testing.assert_allclose(metrics.gini(-a), want, rtol=1e-12)  # of |values|
    assert metrics.gini(np.zeros((1, 2, 2))).tolist() == [0.0]


def test_pointing_game_and_energy_on_hand_made_maps():
    maps = np.zeros((3, 6, 8))
    maps[0, 1, 2] = 1.0                      # peak inside box 0
    maps[0, 5, 7] = 0.5                      # and a third of the energy outside
    maps[1, 0, 0] = 1.0                      # peak outside box 1
    maps[1, 3, 3] = 1.0                      # a tie: the first peak (raster order) counts
    maps[2, 4, 6] = 1.0                      # all outside box 2
    boxes = np.array([[2, 1, 4, 3], [2, 2, 5, 5], [0, 0, 2, 2]])
    assert metrics.pointing_game(maps, boxes).tolist() == [True, False, False]
    energy = metrics.energy_in_box(maps, boxes)
    np.testing.assert_allclose(energy, [1 / 1.5, 0.5, 0.0])
    # x1, y1 are exclusive: a peak on the right edge column x1 is outside
    edge = np.zeros((1, 6, 8))
    edge[0, 1, 4] = 1
    assert metrics.pointing_game(edge, boxes[:1]).tolist() == [False]
    assert metrics.energy_in_box(edge, boxes[:1]).tolist() == [0.0]


def test_boxes_in_input_maps_original_pixels():
    # a 400×200 original centre-cropped to its middle 200×200 window, fed at 100×100
    got = metrics.boxes_in_input([[150, 50, 250, 150], [0, 0, 400, 200]], [[100, 0, 300, 200]] * 2,
                                 (100, 100))
    np.testing.assert_allclose(got, [[25, 25, 75, 75], [0, 0, 100, 100]])


def test_bad_inputs_are_named_before_tensorflow_work(shapes):
    model, images, labels, _ = shapes
    with pytest.raises(kerasviz.ArgumentError, match="Expected shape \\(2, 96, 96\\)"):
        metrics.curves(model, images[:2], np.zeros((2, 10, 10)), labels[:2])
    with pytest.raises(kerasviz.ArgumentError, match="mode"):
        metrics.curves(model, images[:2], np.zeros((2, 96, 96)), labels[:2], mode="erase")
    with pytest.raises(kerasviz.ArgumentError, match="baseline"):
        metrics.curves(model, images[:2], np.zeros((2, 96, 96)), labels[:2], baseline="noise")
    with pytest.raises(kerasviz.ArgumentError, match="x0 < x1"):
        metrics.energy_in_box(np.zeros((1, 4, 4)), [[3, 0, 1, 2]])
    with pytest.raises(kerasviz.TargetError, match="callable"):
        metrics.curves(model, images[:2], np.zeros((2, 96, 96)), lambda z: z[:, 0])


def test_evaluate_table(shapes):
    import json

    model, images, labels, boxes = shapes
    table = kerasviz.evaluate(model, images[:4], ["gradcam", "saliency@probability"], labels[:4],
                              boxes[:4], steps=8, samples=2)
    assert table.rows == ("gradcam", "saliency@probability", "random", "center")
    assert table.metrics == ("deletion", "insertion", "pointing_game", "energy_in_box",
                             "max_sensitivity", "gini")
    # the rows are the maps of explain() with the same settings, scored by the ground truth
    sal = kerasviz.explain(model, images[:4], "saliency", target=labels[:4], score="probability")
    inside = (np.unravel_index(sal.maps.reshape(4, -1).argmax(1), (96, 96)))
    hits = [(boxes[i, 1] <= inside[0][i] < boxes[i, 3]) and (boxes[i, 0] <= inside[1][i] < boxes[i, 2])
            for i in range(4)]
    assert table.values["saliency@probability"]["pointing_game"].tolist() == [float(h) for h in hits]
    assert np.isnan(table.values["random"]["max_sensitivity"]).all()
    d = json.loads(json.dumps(table.to_dict()))
    assert d["metrics"]["deletion"]["better"] == "lower" and d["metrics"]["gini"]["better"] == "higher"
    assert d["rows"]["random"]["max_sensitivity"] is None and d["images"] == 4
    text = str(table)
    assert "deletion ↓" in text and "lower is better" in text
    assert table.to_markdown().count("\n") == 5
    assert len(table.figure().axes) == 3
    no_boxes = kerasviz.evaluate(model, images[:2], ["gradcam"], labels[:2], steps=4, samples=1,
                                 references=False)
    assert no_boxes.rows == ("gradcam",) and "pointing_game" not in no_boxes.metrics


def test_evaluate_bad_arguments(shapes):
    model, images, labels, boxes = shapes
    with pytest.raises(kerasviz.UnknownMethodError):
        kerasviz.evaluate(model, images[:2], ["gradcamm"])
    with pytest.raises(kerasviz.ArgumentError, match="name@probability"):
        kerasviz.evaluate(model, images[:2], ["gradcam@logits"])
    with pytest.raises(kerasviz.ArgumentError, match="Expected shape \\(2, 4\\)"):
        kerasviz.evaluate(model, images[:2], ["gradcam"], boxes=boxes[:3])


def test_the_curve_cache_does_not_keep_the_model_alive():
    """The compiled curve graph is cached per model in a cache keyed weakly by the model; the
    scorer inside it holds the model weakly too, so a dropped model is collected."""
    import gc
    import weakref

    from conftest import gap_dense, images

    model = gap_dense(name="curve_gc")
    x = images(2)
    metrics.curves(model, x, np.random.default_rng(0).random((2, 16, 16)), steps=4)
    alive = weakref.ref(model)
    del model
    gc.collect()
    assert alive() is None
