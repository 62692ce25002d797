"""How exact are integrated gradients? Completeness error of kerasviz's rules against the
Riemann sums at the same number of model evaluations.

Completeness: the attributions of integrated gradients add up to ``S(x) − S(x₀)``. A quadrature
rule misses it by its error in ``∫₀¹ dS/dα dα``. For each model and photo this prints the
relative error ``|Σ attributions − (S(x) − S(x₀))| / |S(x) − S(x₀)|`` of

* kerasviz's two rules (``explain(..., "integrated_gradients", steps=E − 1, rule=…)``: E
  gradient evaluations): ``"adaptive"`` (the default) and ``"uniform"`` (the plain trapezoidal
  rule),
* the right Riemann sum of the IG paper, ``(1/E) Σ_{k=1..E} ∂S/∂x(x₀ + k/E · (x − x₀))``, and the
  left one (``k = 0 … E − 1``), written here from the paper's definition (E evaluations each),

for E = 33 (kerasviz's default, 32 intervals) and E = 50 (the paper's 50-step sum), the
intervals ``tolerance=0.01`` needs from ``steps=8``, and the warm time of one call of each rule
(``--time``: median of 3 calls after one, E = 33). Models: EfficientNet-Lite0 with its ImageNet weights (a
MobileNetV2-sized network of inverted residual blocks with ReLU6, shipped offline) and VGG16 from
``keras.applications`` with random weights and biases (``weights=None``: no download), at 224²;
the baseline 0 in model-input space, the target each image's top class (logits: the final
softmax removed, as kerasviz does). A MobileNetV2 with random weights is not used: without
trained batch-norm statistics its ReLU6 units saturate and its output is the same for every
input (S(x) = S(x₀), nothing to integrate).

Usage::

    python benchmarks/bench_ig_completeness.py [--images 7] [--time] [--model all|efficientnet|vgg16] [--json out.json]
    python benchmarks/bench_ig_completeness.py --markdown results/ig_completeness.json

``--markdown`` prints the documentation's table from a saved run (the lowest error of each E in
bold).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402


def photos(n: int) -> list[np.ndarray]:
    from kerasviz.data import photos as P

    return [P.photo(name) for name in P.available()[:n]]


def models():
    """(title, model ending in logits, its preprocessing). The random networks get random biases
    too: with Keras' zero-initialised biases a ReLU network is positively homogeneous, so the
    score is linear along the path from x₀ = 0 and the path integral degenerate (its gradient
    is constant for α > 0 and 0 at α = 0, which only a rule that skips α = 0 gets right)."""
    import keras
    from keras.applications import vgg16

    import kerasviz

    def with_biases(model):
        rng = np.random.default_rng(0)
        for layer in model.layers:
            if getattr(layer, "bias", None) is not None:
                layer.bias.assign(rng.normal(0, 0.05, layer.bias.shape).astype("float32"))
        return model

    keras.utils.set_random_seed(0)
    lite = kerasviz.load_model("efficientnet_lite0")
    yield ("EfficientNet-Lite0 (ImageNet weights, ReLU6)", lite, None)
    yield ("VGG16 (random weights and biases)",
           with_biases(vgg16.VGG16(weights=None, classifier_activation=None)), vgg16.preprocess_input)


def riemann(logits, x, unit, evaluations: int, side: str) -> float:
    """Σ attributions of the ``side`` ("left"/"right") Riemann sum with ``evaluations`` points."""
    import tensorflow as tf

    m = evaluations
    ks = np.arange(1, m + 1) if side == "right" else np.arange(0, m)
    total = np.zeros(x.shape, np.float64)
    for chunk in np.array_split(ks, max(1, m // 8)):
        xs = tf.constant((chunk / m)[:, None, None, None] * x[None], tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(xs)
            s = tf.reduce_sum(_out(logits(xs))[:, unit])
        total += tape.gradient(s, xs).numpy().sum(axis=0)
    return float((x * total / m).sum())


def warm_ms(call) -> float:
    """Median ms of 3 calls of ``call`` after a first one."""
    call()
    times = []
    for _ in range(3):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return float(np.median(times))


def _out(outputs):
    return outputs[0] if isinstance(outputs, (list, tuple)) else outputs


def number(v: float) -> str:
    """An error as the docs print it: 3 decimals, or one significant digit below 0.001."""
    return f"{v:.3f}" if v >= 0.001 else f"{v:.0e}".replace("e-0", "e-")


def markdown(saved: dict) -> str:
    """The documentation's table of a saved run."""
    from kerasviz.data import photos as P

    names = P.available()
    kinds = ("adaptive", "uniform", "riemann_right", "riemann_left")
    head = ["model", "photo"] + [f"{k.replace('riemann_', '')}{' Riemann' if 'riemann' in k else ''}, "
                                 f"{'E = ' if k == 'adaptive' else ''}{e}" for e in (33, 50) for k in kinds]
    head += ["`tolerance=0.01`: intervals (error)", "ms a call, E = 33: adaptive / uniform"]
    lines = ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * (len(head) - 2)]
    last = None
    for r in saved["rows"]:
        cells = [r["model"] if r["model"] != last else "", names[r["image"]]]
        last = r["model"]
        for e in (33, 50):
            best = min(r[f"{k}_{e}"] for k in kinds)
            cells += [f"**{number(r[f'{k}_{e}'])}**" if r[f"{k}_{e}"] == best else number(r[f"{k}_{e}"])
                      for k in kinds]
        cells.append(f"{r['tolerance_0.01_steps']} ({number(r['tolerance_0.01_error'])})")
        cells.append(f"{r['adaptive_33_ms']:,.0f} / {r['uniform_33_ms']:,.0f}" if "adaptive_33_ms" in r else "")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=7, help="photos per model (at most 7)")
    parser.add_argument("--time", action="store_true", help="also time one warm call of each rule")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--markdown", type=Path, default=None, help="print the table of a saved run")
    parser.add_argument("--model", choices=("all", "efficientnet", "vgg16"), default="all",
                        help="one of the two models only")
    args = parser.parse_args()
    if args.markdown:
        print(markdown(json.loads(args.markdown.read_text())))
        return

    import tensorflow as tf

    import kerasviz
    from kerasviz.core import models as M

    rows = []
    from kerasviz.core.models import register_model
    from kerasviz.core.replay import replay_model

    for title, model, pre in models():
        if args.model != "all" and args.model not in title.lower().replace("-", ""):
            continue
        if pre is not None:
            model = register_model(model, preprocess=pre)
        # the scores kerasviz explains: the model replayed with its final softmax removed
        logits = replay_model(model, [], logits=True)
        x = kerasviz.preprocess(model, photos(args.images))
        for i, xi in enumerate(x):
            unit = int(np.argmax(model.predict(xi[None], verbose=0)))
            change = float(_out(logits(xi[None]))[0, unit] - _out(logits(tf.zeros_like(xi[None])))[0, unit])
            row = {"model": title, "image": i, "score_change": change}
            if abs(change) < 1e-6:  # a relative error is undefined: say so, measure the others
                print(json.dumps({**row, "skipped": "S(x) = S(x0)"}), flush=True)
                continue
            for e in (33, 50):
                for rule in ("adaptive", "uniform"):
                    exp = kerasviz.explain(model, xi[None], "integrated_gradients", target=unit,
                                           steps=e - 1, rule=rule, progress=False)
                    row[f"{rule}_{e}"] = float(exp.info["completeness_error"][0]) / abs(change)
                for side in ("right", "left"):
                    row[f"riemann_{side}_{e}"] = abs(riemann(logits, xi, unit, e, side) - change) / abs(change)
            tol = kerasviz.explain(model, xi[None], "integrated_gradients", target=unit, steps=8,
                                   tolerance=0.01, max_steps=1024, progress=False)
            row["tolerance_0.01_steps"] = int(tol.info["steps"][0])
            row["tolerance_0.01_error"] = float(tol.info["completeness_error"][0]) / abs(change)
            if args.time:
                for rule in ("adaptive", "uniform"):
                    row[f"{rule}_33_ms"] = warm_ms(lambda: kerasviz.explain(
                        model, xi[None], "integrated_gradients", target=unit, steps=32, rule=rule,
                        progress=False))
            rows.append(row)
            print(json.dumps(row), flush=True)

    keys = [f"{k}_{e}" for e in (33, 50) for k in ("adaptive", "uniform", "riemann_right", "riemann_left")]
    print("\nmedian relative completeness error (lower is better); images where the adaptive rule "
          "is below the right / left Riemann sum at the same E")
    print(f"{'model':30s} " + " ".join(f"{k:>17s}" for k in keys) + "  below R/L, E=33  below R/L, E=50")
    for title in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == title]
        wins = [f"{sum(r[f'adaptive_{e}'] < r[f'riemann_{side}_{e}'] for r in mine)}"
                for e in (33, 50) for side in ("right", "left")]
        print(f"{title:30s} " + " ".join(f"{np.median([r[k] for r in mine]):17.4f}" for k in keys)
              + f"  {wins[0]}/{wins[1]} of {len(mine)}  {wins[2]}/{wins[3]} of {len(mine)}")
    if args.json:
        args.json.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"),
                                         "machine": platform.processor() or platform.machine(),
                                         "cores": os.cpu_count(), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
