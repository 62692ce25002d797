"""Train the two demo models that ship in kerasviz/data/ (CPU, a few minutes).

Usage::

    python scripts/train_demo_models.py                 # every demo model
    python scripts/train_demo_models.py --only shapes --epochs 10
    python scripts/train_demo_models.py --shuffled-labels   # only shapes_shuffled
    python scripts/train_demo_models.py --samples docs/img   # only the sample grids of the docs

Each model trains on one pool of generated images (seed ``TRAIN_SEED[name]``), augmented every
epoch with symmetries that keep the labels true: for ``shapes`` random 90° rotations and flips, for
``sensors`` left-right flips (which reverse the order of the 5 readings). The held-out metrics use
``EVAL_SEED``. Tests and the demo use small seeds (< 10 000) that never overlap the training seeds
(>= 100 000). Writes ``kerasviz/data/<name>.weights.h5`` and updates ``kerasviz/data/demo_models.json``.

``shapes_shuffled`` is the ``shapes`` architecture trained on the same kind of images with their
labels randomly permuted (seed ``SHUFFLE_SEED``), for the data-randomisation sanity check
(Adebayo et al. 2018, :func:`kerasviz.metrics.data_randomisation`): a smaller pool, no
augmentation (a rotated image would need its own random label) and many epochs, so that it
memorises labels that carry no information about the image. Its metrics add
``train_accuracy`` (on the permuted labels it was trained on) next to the held-out ``accuracy``
(on the true labels, where chance is 1 / 5).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from kerasviz.data import datasets

from kerasviz.data import demo_models  # noqa: E402

SEED = 0                 # weight initialisation and shuffling
TRAIN_SEED = {"shapes": 100_000, "sensors": 200_000,
              "shapes_shuffled": 100_000}  # the shapes pool's seed (a smaller pool of it)
SHUFFLE_SEED = 1         # the permutation of the shapes_shuffled labels
EVAL_SEED = 9_999
EVAL_N = 1000

#: per model: generated training images, default epochs, batch size, peak learning rate
CONFIG = {
    "shapes": dict(n_train=12000, epochs=7, batch=32, lr=2e-3),
    "sensors": dict(n_train=9000, epochs=10, batch=32, lr=2e-3),
    "shapes_shuffled": dict(n_train=2000, epochs=100, batch=32, lr=2e-3),
}


def _data(name: str, n: int, seed: int):
    """uint8 images and their targets (labels, permuted for ``shapes_shuffled``, or readings)."""
    if name == "shapes_shuffled":
        images, labels = _data("shapes", n, seed)
        return images, np.random.default_rng(SHUFFLE_SEED).permutation(labels)
    if name == "shapes":
        images, labels, _ = datasets.shapes(n, seed=seed)
        return images, labels
    images, readings, _ = datasets.sensors(n, seed=seed)
    return images, readings


def _augment(name: str, x: np.ndarray, y: np.ndarray, rng: np.random.Generator):
    """A label-preserving random symmetry per image; returns model input (float32) and targets."""
    if name == "shapes_shuffled":    # memorised as they are: no symmetry keeps a random label
        return demo_models.preprocess(x), y
    x, y = x.copy(), y.copy()
    flip = rng.random(len(x)) < 0.5
    x[flip] = x[flip, :, ::-1]
    if name == "sensors":            # mirror image: the left sensor becomes the right one
        y[flip] = y[flip, ::-1]
        return demo_models.preprocess(x), y
    k = rng.integers(0, 4, len(x))
    for j in (1, 2, 3):
        x[k == j] = np.rot90(x[k == j], j, axes=(1, 2))
    return demo_models.preprocess(x), y


def _evaluate(name: str, model, x, y) -> dict:
    pred = model.predict(x, batch_size=128, verbose=0)
    if name != "sensors":
        acc = float(np.mean(pred.argmax(1) == y))
        return {"accuracy": round(acc, 4)}
    err = np.abs(pred - y)
    return {"mae": round(float(err.mean()), 4),
            "mae_per_sensor": [round(float(v), 4) for v in err.mean(0)],
            "max_abs_error_p99": round(float(np.percentile(err, 99)), 4)}


def train(name: str, epochs: int | None = None, log=print) -> dict:
    """Train one demo model, save its weights, return its held-out metrics."""
    import keras

    cfg = CONFIG[name]
    epochs = epochs or cfg["epochs"]
    keras.utils.set_random_seed(SEED)
    start = time.perf_counter()
    model = demo_models.DEMO_MODELS[name].builder()
    steps = epochs * (cfg["n_train"] // cfg["batch"])
    lr = keras.optimizers.schedules.CosineDecay(cfg["lr"] / 10, steps, warmup_target=cfg["lr"],
                                                warmup_steps=steps // 20)
    if name != "sensors":
        model.compile(keras.optimizers.Adam(lr), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
    else:
        model.compile(keras.optimizers.Adam(lr), loss="mse", metrics=["mae"])
    metric = "mae" if name == "sensors" else "accuracy"
    log(f"[{name}] {model.count_params():,} parameters; generating {cfg['n_train']} training and "
        f"{EVAL_N} held-out images")
    x_train, y_train = _data(name, cfg["n_train"], TRAIN_SEED[name])
    x_val, y_val = _data("shapes" if name == "shapes_shuffled" else name, EVAL_N, EVAL_SEED)
    x_val = demo_models.preprocess(x_val)
    log(f"[{name}] data ready in {time.perf_counter() - start:.0f} s; {epochs} epochs")
    rng = np.random.default_rng(SEED)
    for epoch in range(epochs):
        t = time.perf_counter()
        x, y = _augment(name, x_train, y_train, rng)
        hist = model.fit(x, y, batch_size=cfg["batch"], epochs=1, verbose=0, shuffle=True)
        val = _evaluate(name, model, x_val[:300], y_val[:300])
        log(f"[{name}] epoch {epoch + 1:2d}/{epochs}: loss {hist.history['loss'][-1]:.4f} · train "
            f"{metric} {hist.history[metric][-1]:.4f} · held-out {metric} {val[metric]:.4f} · "
            f"{time.perf_counter() - t:.0f} s")
    metrics = _evaluate(name, model, x_val, y_val)
    if name == "shapes_shuffled":    # how well it memorised the permuted labels it was fit to
        x, y = _augment(name, x_train, y_train, rng)
        metrics["train_accuracy"] = _evaluate(name, model, x, y)["accuracy"]
        metrics["shuffle_seed"] = SHUFFLE_SEED
    seconds = time.perf_counter() - start
    path = demo_models.weights_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save_weights(path)
    metrics.update(train_images=cfg["n_train"], epochs=epochs, seconds=round(seconds, 1),
                   seed=SEED, train_seed=TRAIN_SEED[name],
                   eval_seed=EVAL_SEED, eval_images=EVAL_N, parameters=model.count_params(),
                   weights_bytes=path.stat().st_size)
    log(f"[{name}] held-out ({EVAL_N} images, seed {EVAL_SEED}): "
        + ", ".join(f"{k} {v}" for k, v in metrics.items()
                    if k in ("accuracy", "mae", "train_accuracy"))
        + f"; {seconds:.0f} s; wrote {path}")
    return metrics


def write_samples(out_dir: str | Path, seed: int = 2024) -> list[Path]:
    """Write ``shapes_samples.png`` (boxes and class names) and ``sensors_samples.png`` (rays to
    the first obstacle in red, free rays in white) into ``out_dir``, images shown at 2x."""
    import cv2
    from PIL import Image

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    def grid(tiles, cols):
        h, w = tiles[0].shape[:2]
        canvas = np.full((-(-len(tiles) // cols) * (h + 4) - 4, cols * (w + 4) - 4, 3), 255, np.uint8)
        for i, t in enumerate(tiles):
            r, c = divmod(i, cols)
            canvas[r * (h + 4):r * (h + 4) + h, c * (w + 4):c * (w + 4) + w] = t
        return canvas

    images, labels, boxes = datasets.shapes(16, seed=seed)
    tiles = []
    for img, label, (x0, y0, x1, y1) in zip(images, labels, boxes):
        big = np.ascontiguousarray(img.repeat(2, 0).repeat(2, 1))
        cv2.rectangle(big, (2 * x0 - 1, 2 * y0 - 1), (2 * x1, 2 * y1), (0, 255, 0), 1)
        cv2.putText(big, datasets.SHAPE_CLASSES[label], (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                    (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(big, datasets.SHAPE_CLASSES[label], (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                    (255, 255, 255), 1, cv2.LINE_AA)
        tiles.append(big)
    paths = [out_dir / "shapes_samples.png", out_dir / "sensors_samples.png"]
    Image.fromarray(grid(tiles, 8)).save(paths[0])

    images, readings, scenes = datasets.sensors(16, seed=seed)
    tiles = []
    for img, reading, scene in zip(images, readings, scenes):
        big = np.ascontiguousarray(img.repeat(2, 0).repeat(2, 1))
        ox, oy = scene["origin"]
        for angle, value in zip(scene["angles_deg"], reading):
            a = np.radians(angle)
            length = scene["max_range"] * (1 - value if value > 0 else 1)
            end = (ox + length * np.sin(a), oy - length * np.cos(a))
            color = (255, 40, 40) if value > 0 else (255, 255, 255)
            p0 = (round(2 * ox + 0.5), round(2 * oy + 0.5))
            p1 = (round(2 * end[0] + 0.5), round(2 * end[1] + 0.5))
            cv2.line(big, p0, p1, color, 1, cv2.LINE_AA)
            if value > 0:
                cv2.circle(big, p1, 2, color, -1, cv2.LINE_AA)
        tiles.append(big)
    Image.fromarray(grid(tiles, 8)).save(paths[1])
    return paths


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=sorted(demo_models.DEMO_MODELS), help="train one model")
    parser.add_argument("--shuffled-labels", action="store_true",
                        help="train only shapes_shuffled: the shapes architecture on randomly "
                             "permuted labels (same as --only shapes_shuffled)")
    parser.add_argument("--epochs", type=int, help="epochs (default: per model, see CONFIG)")
    parser.add_argument("--samples", metavar="DIR", help="only write the sample grids into DIR")
    args = parser.parse_args(argv)
    if args.samples:
        for path in write_samples(args.samples):
            print(f"wrote {path}")
        return 0
    if args.epochs is not None and args.epochs < 1:
        parser.error("--epochs must be >= 1")
    import keras

    if args.shuffled_labels and args.only not in (None, "shapes_shuffled"):
        parser.error("--shuffled-labels trains shapes_shuffled; it cannot go with --only "
                     f"{args.only}")
    only = "shapes_shuffled" if args.shuffled_labels else args.only
    names = [only] if only else list(demo_models.DEMO_MODELS)
    results = demo_models.demo_metrics()
    total = time.perf_counter()
    for name in names:
        results[name] = train(name, args.epochs)
        results["versions"] = {"keras": keras.__version__, "numpy": np.__version__}
        demo_models.METRICS_FILE.write_text(json.dumps(results, indent=2) + "\n")
    print(f"done in {time.perf_counter() - total:.0f} s; metrics in {demo_models.METRICS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
