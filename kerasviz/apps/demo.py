"""``kerasviz demo``: an offline end-to-end report on the shipped models (and VGG16 when its
ImageNet weights are in the cache). Everything goes through the public API."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from kerasviz.present import render
from kerasviz.present.report import Report


def run_demo(out_dir: str | Path, n_images: int = 4, seed: int = 2024, log=print) -> Path:
    """Write ``out_dir/index.html`` with PNGs beside it; returns the index path.

    Sections: predictions with class names, Grad-CAM overlays and the cropped regions on
    generated ``shapes`` images; an activation grid of one layer; the ``sensors`` model's readings
    and the saliency of its leftmost sensor; VGG16 on a photo when its weights are cached.
    """
    import kerasviz
    from kerasviz import _validate
    from kerasviz.data import datasets

    n_images = _validate.positive_int("n_images", n_images)
    seed = _validate.integer("seed", seed, lo=0)
    start = time.perf_counter()
    rep = Report("kerasviz demo", out_dir)

    log("[1/4] shapes model: predictions and Grad-CAM")
    shapes = kerasviz.load_model("shapes")
    names = kerasviz.model_info(shapes).class_names
    images, labels, boxes = datasets.shapes(n_images, seed=seed)
    probs = shapes.predict(kerasviz.preprocess(shapes, images), verbose=0)
    exp = kerasviz.explain(shapes, images, method="gradcam")
    overlays = exp.overlay()
    pred_boxes = exp.boxes(0.5)
    rep.section("Shapes: what the model sees and where it looks",
                "Freshly generated test images (never seen in training), the model's top class, and "
                "the Grad-CAM heatmap of that class on the last conv layer "
                f"({exp.layer}). Green box: ground truth; red box: the region the heatmap points at; "
                "right: that region cropped out.")
    rows = []
    for i in range(n_images):
        top = int(np.argmax(probs[i]))
        shown = render.draw_box(render.draw_box(overlays[i], boxes[i], (0, 200, 0)), pred_boxes[i])
        x0, y0, x1, y1 = pred_boxes[i]
        crop = images[i][y0:y1, x0:x1]
        pair = render.tile([_pad_to(images[i], 96), _pad_to(shown, 96), _pad_to(crop, 96)], cols=3, pad=2)
        rep.figure(f"shapes_gradcam_{i}", render.resize_nearest(pair, 3),
                   f"truth: {names[labels[i]]} · predicted: {names[top]} ({probs[i, top]:.0%})")
        rows.append([i, names[labels[i]], names[top], f"{probs[i, top]:.3f}"])
    rep.table(["image", "truth", "predicted", "probability"], rows)

    log("[2/4] shapes model: activations")
    layer = "conv2"
    acts = kerasviz.activations(shapes, images[:1], layers=[layer])
    grid = kerasviz.channel_grid(acts[layer][0], title=layer)
    rep.section("Activations", f"Every channel of layer {layer} for the first image "
                               "(book layout: 16 per row, each channel standardised).")
    rep.figure("shapes_activations", grid, f"{layer}: {acts[layer].shape[-1]} channels")

    log("[3/4] sensors model: readings and saliency")
    sensors = kerasviz.load_model("sensors")
    s_images, readings, _ = datasets.sensors(2, seed=seed, obstacles="left")
    pred = sensors.predict(kerasviz.preprocess(sensors, s_images), verbose=0)
    sal = kerasviz.explain(sensors, s_images, method="saliency",
                           target=kerasviz.Output(0, 0))
    rep.section("Sensors: why does the leftmost sensor read near?",
                "A camera image of the floor in front of the robot → 5 proximity readings in [0, 1] "
                "(1 = touching). Saliency of sensor 0 (leftmost): the pixels whose change moves "
                "that reading most.")
    sal_overlay = sal.overlay()
    for i in range(len(s_images)):
        pair = render.tile([s_images[i], sal_overlay[i]], cols=2, pad=2)
        rep.figure(f"sensors_saliency_{i}", render.resize_nearest(pair, 3),
                   "truth " + " ".join(f"{v:.2f}" for v in readings[i]) + " · predicted "
                   + " ".join(f"{v:.2f}" for v in pred[i]))

    log("[4/4] VGG16 (only when its ImageNet weights are cached)")
    rep.section("VGG16 on a photo")
    try:
        vgg = kerasviz.load_model("vgg16")
    except kerasviz.WeightsNotFoundError as exc:
        rep.sections[-1].text = f"Skipped: {exc}"
        log("      skipped: VGG16 weights are not in the cache (see weights_cache/README.md)")
    else:
        photo = kerasviz.load_image(_sample_photo())
        preds = vgg.predict(kerasviz.preprocess(vgg, photo), verbose=0)
        top = kerasviz.decode_predictions(preds, top=3)[0]
        cam = kerasviz.explain(vgg, photo, method="gradcam")
        rep.sections[-1].text = "Top-3: " + ", ".join(f"{n} ({s:.1%})" for _, n, s in top)
        rep.figure("vgg16_gradcam", cam.overlay()[0], f"Grad-CAM of '{top[0][1]}' on {cam.layer}")

    index = rep.write()
    log(f"Done in {time.perf_counter() - start:.1f} s. Report: {index.resolve()}")
    log(f"Open it with:  python -m webbrowser file://{index.resolve()}")
    return index


def _pad_to(image: np.ndarray, size: int) -> np.ndarray:
    """Place an image (cropped regions are small) on a white ``size × size`` canvas."""
    out = np.full((size, size, 3), 255, np.uint8)
    h, w = min(size, image.shape[0]), min(size, image.shape[1])
    out[:h, :w] = image[:h, :w]
    return out


def _sample_photo() -> str:
    """A real photo that ships with matplotlib (Grace Hopper), used for the VGG16 section."""
    from matplotlib import cbook

    return str(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
