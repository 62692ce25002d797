"""One table: every method × batch size × model, against a floor written per method and against
tf-keras-vis, with first-call and warm times and peak memory.

For each (model, method, batch size) cell three tools compute the same explanation of the same
batch (each image's top class):

* **floor**: the minimal ``tf.function`` a careful engineer would write for exactly that method
  (:class:`Floors`: Grad-CAM = one forward pass to the layer and the logits + the gradient to the
  layer + the weighting; saliency = one batched input gradient; SmoothGrad N = N noisy copies in
  batched input gradients; integrated gradients S steps = S + 1 path points batched (its uniform
  rule); Score-CAM =
  forward to the layer + the masked forwards batched; …), followed by the same post-processing
  as kerasviz (ReLU, bilinear resize and min-max for CAMs; ``|·|`` min-max for pixel maps). It
  computes the maps only. Samples, channels and path points are batched in chunks of at most
  ``batch_size`` model evaluations, as kerasviz does (``explain(batch_size=max(16, batch))``).
  Each floor's maps are checked against kerasviz's (``np.allclose``, ``--atol``) on the cell's
  batch before any timing, so a wrong floor stops the run.
* **kerasviz**: ``kerasviz.explain(model, x, method, target=top classes, layer=…)``.
* **tf-keras-vis** (when installed), for the methods it has, with the same options.

*first* = the first call, building included (the floor's sub-model and tracing; kerasviz with
every cache emptied; tf-keras-vis' tool with its model clone). kerasviz then makes the calls that
bring its plan to its steady state (:func:`steady_calls`: past its eager calls and, on a small
model, its promotion to one graph) before the warm rounds. *warm* = median (and min) of
``--repeat`` interleaved rounds (more, up to :data:`MAX_ROUNDS`, for cells cheaper than
``--round-s`` a round): in each round each tool is called once, in a rotated order, so that
the load of the (shared) machine affects them alike. *peak MiB* = the largest rise of
TensorFlow's allocator peak (``tf.config.experimental.get_memory_info``, :func:`allocator`:
``"CPU:0"``, or ``"GPU:0"`` when TensorFlow sees a GPU; reset before each call) above its level
at the call's start, over the warm calls: the tensors a call allocates, not the process's
resident memory (which TensorFlow's and malloc's caching make monotonic within a process; the
process's ``ru_maxrss`` is recorded per model in the JSON).

Usage::

    python benchmarks/run.py                  # the full table (models × methods × batches 1, 8, 32)
    python benchmarks/run.py --quick          # shapes and EfficientNet-Lite0, 6 methods, batches 1, 8
    python benchmarks/run.py --models shapes --methods gradcam,saliency --batches 1,32
    python benchmarks/run.py --from-json benchmarks/results/run.json --write docs/performance.md
                                              # the table of a saved run, pasted between the
                                              # <!-- run-table --> markers of the page

Cells whose estimated time (``--repeat`` + 1 calls of each tool, from a measured forward +
backward pass per image) exceeds ``--max-cell-s`` are skipped, and the table says so.
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import os
import platform
import resource
import statistics
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERASVIZ_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
if "KERASVIZ_WEIGHTS_DIR" not in os.environ:  # a checkout's cache, else the main checkout's
    for cache in (ROOT / "weights_cache", ROOT.parent / "main" / "weights_cache"):
        if cache.is_dir():
            os.environ["KERASVIZ_WEIGHTS_DIR"] = str(cache)
            break

import numpy as np  # noqa: E402

#: Light options of the sampling methods (the library defaults cost 3–60× more).
#: Integrated gradients runs its uniform rule, the computation the floor writes out (the
#: adaptive rule, the default, costs 1.0–1.2× that: ``bench_ig_completeness.py --time``).
LIGHT = {"smoothgrad": {"samples": 8}, "integrated_gradients": {"steps": 8, "rule": "uniform"},
         "scorecam": {"max_channels": 16}, "occlusion": {"patch": 56, "stride": 28},
         "rise": {"masks": 64}}
CAMS = ("gradcam", "gradcam++", "xgradcam", "layercam", "hirescam")
#: Most warm rounds of a cell (each round one call of each tool). A ~1 ms cell's median over 25
#: single calls moved by ±10 % between runs on a shared 2-core machine; 200 rounds of such a
#: cell cost under a second.
MAX_ROUNDS = 200
#: Methods with a floor, the default set.
FLOORED = (*CAMS, "eigencam", "scorecam", "saliency", "gradxinput", "smoothgrad",
           "integrated_gradients")
QUICK = dict(models="shapes,efficientnet_lite0", batches="1,8", repeat=3,
             methods="gradcam,layercam,saliency,smoothgrad,integrated_gradients,scorecam")
MODELS = {
    "vgg16": ("VGG16, random weights, 224²", "block5_conv3"),
    "efficientnet_lite0": ("EfficientNet-Lite0 (MobileNetV2-sized), ImageNet weights, 224²",
                           "top_activation"),
    "shapes": ("shapes (kerasviz demo CNN), 96²", "conv4"),
}


def cost_per_image(name: str, options: dict) -> float:
    """Estimated cost per image in forward + backward passes (a forward pass ≈ 1/3), for the
    skip rule only."""
    if name == "smoothgrad":
        return options.get("samples", 25) + 1 / 3
    if name == "integrated_gradients":
        return options.get("steps", 32) + 1 + 2 / 3
    if name == "scorecam":
        return 1 + (options.get("max_channels") or 512) / 3
    if name == "occlusion":
        return 1 + ((224 - options.get("patch", 8)) // options.get("stride", 4) + 1) ** 2 / 3
    if name == "rise":
        return 1 + options.get("masks", 1000) / 3
    if name == "ablationcam":
        return 4.0
    if name in ("guided_gradcam", "gradcam_ig"):
        return 2.0 if name == "guided_gradcam" else 9.0
    return 1.0


# ---------------------------------------------------------------------------------------------
# floors
# ---------------------------------------------------------------------------------------------
class Floors:
    """Hand-written ``tf.function`` floors (no autograph: their loops are Python loops over
    static chunks, unrolled when traced) for one model and layer; ``make(method, options, n)``
    returns ``f(x, units) -> maps float32 (n, H, W)`` in [0, 1].

    The model must end in a ``Dense`` softmax layer (the three benchmark models do): the logits
    are its kernel and bias applied to its input, as kerasviz explains the pre-softmax score.
    ``evals`` = the most model evaluations per chunk (kerasviz's ``batch_size``).
    """

    def __init__(self, model, layer: str, evals: int):
        import keras
        import tensorflow as tf

        self.tf = tf
        last = model.layers[-1]
        if not isinstance(last, keras.layers.Dense):
            raise SystemExit(f"floors need a model ending in Dense; {model.name} ends in {last}")
        self.kernel, self.bias = last.kernel, last.bias
        self.tap = keras.Model(model.input, [model.get_layer(layer).output, last.input])
        self.body = keras.Model(model.input, model.get_layer(layer).output)
        self.features = keras.Model(model.input, last.input)
        self.evals = evals

    # pieces every floor uses ------------------------------------------------------------------
    def logits(self, features):
        return self.tf.matmul(features, self.kernel.value) + self.bias.value

    def score(self, features, units):
        return self.tf.gather(self.logits(features), units, axis=1, batch_dims=1)

    def normalise(self, maps):
        tf = self.tf
        lo = tf.reduce_min(maps, axis=[1, 2], keepdims=True)
        return tf.math.divide_no_nan(maps - lo, tf.reduce_max(maps, axis=[1, 2], keepdims=True) - lo)

    def cam_maps(self, raw, size):
        tf = self.tf
        up = tf.image.resize(tf.nn.relu(raw)[..., None], size, method="bilinear")[..., 0]
        return self.normalise(up)

    def input_grad(self, xs, units):
        tf = self.tf
        with tf.GradientTape() as tape:
            tape.watch(xs)
            s = self.score(self.features(xs, training=False), units)
        return tape.gradient(s, xs)

    def chunks(self, total: int, n: int):
        """(start, count) covering ``range(total)``, ``count · n ≤ evals`` (at least 1)."""
        step = max(1, self.evals // n)
        return [(s, min(step, total - s)) for s in range(0, total, step)]

    # the floors ---------------------------------------------------------------------------------
    def make(self, method: str, options: dict, n: int):
        tf = self.tf
        if method in CAMS:
            return tf.function(lambda x, u: self._cam(method, x, u), autograph=False)
        if method == "eigencam":
            return tf.function(self._eigencam, autograph=False)
        if method == "saliency":
            return tf.function(
                lambda x, u: self.normalise(tf.reduce_max(tf.abs(self.input_grad(x, u)), -1)),
                autograph=False)
        if method == "gradxinput":
            return tf.function(
                lambda x, u: self.normalise(tf.abs(tf.reduce_sum(x * self.input_grad(x, u), -1))),
                autograph=False)
        if method == "smoothgrad":
            return tf.function(lambda x, u: self._smoothgrad(x, u, options["samples"], n),
                               autograph=False)
        if method == "integrated_gradients":
            return tf.function(lambda x, u: self._ig(x, u, options["steps"], n),
                               autograph=False)
        if method == "scorecam":
            return tf.function(lambda x, u: self._scorecam(x, u, options["max_channels"], n),
                               autograph=False)
        return None

    def _cam(self, method, x, units):
        tf = self.tf
        with tf.GradientTape() as tape:
            tape.watch(x)
            a, features = self.tap(x, training=False)
            s = self.score(features, units)
        g = tape.gradient(s, a)  # the backward pass stops at the layer
        if method == "gradcam":
            raw = tf.einsum("nhwc,nc->nhw", a, tf.reduce_mean(g, axis=(1, 2)))
        elif method == "gradcam++":
            g2 = tf.square(g)
            alpha = tf.math.divide_no_nan(g2, 2.0 * g2 + tf.reduce_sum(a, (1, 2), keepdims=True) * g2 * g)
            raw = tf.einsum("nhwc,nc->nhw", a, tf.reduce_sum(alpha * tf.nn.relu(g), axis=(1, 2)))
        elif method == "xgradcam":
            share = tf.math.divide_no_nan(a, tf.reduce_sum(a, (1, 2), keepdims=True))
            raw = tf.einsum("nhwc,nc->nhw", a, tf.reduce_sum(share * g, axis=(1, 2)))
        elif method == "layercam":
            raw = tf.reduce_sum(tf.nn.relu(g) * a, -1)
        else:  # hirescam
            raw = tf.reduce_sum(g * a, -1)
        return self.cam_maps(raw, tf.shape(x)[1:3])

    def _eigencam(self, x, units):
        tf = self.tf
        a = self.body(x, training=False)  # forward to the layer only: the map ignores the score
        flat = tf.reshape(a, [tf.shape(a)[0], -1, a.shape[-1]])
        _, _, v = tf.linalg.svd(flat, full_matrices=False)
        proj = tf.einsum("npc,nc->np", flat, v[:, :, 0])
        sign = tf.sign(tf.reduce_sum(proj * tf.reduce_sum(flat, -1), axis=1, keepdims=True))
        proj = proj * tf.where(sign == 0, 1.0, sign)
        return self.cam_maps(tf.reshape(proj, tf.shape(a)[:3]), tf.shape(x)[1:3])

    def _smoothgrad(self, x, units, samples, n):
        tf = self.tf
        span = tf.reduce_max(x, axis=(1, 2, 3)) - tf.reduce_min(x, axis=(1, 2, 3))
        sigma = (0.15 * span)[None, :, None, None, None]
        shape = tf.shape(x)[1:]
        total = 0.0
        for start, count in self.chunks(samples, n):  # `count` noisy copies of each image per pass
            eps = tf.stack([tf.random.stateless_normal(shape, [0, j]) for j in range(start, start + count)])
            xs = tf.reshape(x[None] + sigma * eps[:, None], tf.concat([[-1], shape], 0))
            g = self.input_grad(xs, tf.tile(units, [count]))
            total += tf.reduce_sum(tf.reshape(g, tf.concat([[count], tf.shape(x)], 0)), 0)
        return self.normalise(tf.reduce_max(tf.abs(total / samples), -1))

    def _ig(self, x, units, steps, n):
        tf = self.tf
        total = 0.0  # baseline 0: path points alpha · x, trapezoidal weights
        for start, count in self.chunks(steps + 1, n):
            k = np.arange(start, start + count, dtype=np.float32)
            alpha = tf.constant(k / steps)[:, None, None, None, None]
            weight = tf.constant(np.where((k == 0) | (k == steps), 0.5 / steps, 1.0 / steps)
                                 .astype(np.float32))[:, None, None, None, None]
            xs = tf.reshape(alpha * x[None], tf.concat([[-1], tf.shape(x)[1:]], 0))
            g = self.input_grad(xs, tf.tile(units, [count]))
            total += tf.reduce_sum(tf.reshape(g, tf.concat([[count], tf.shape(x)], 0)) * weight, 0)
        return self.normalise(tf.abs(tf.reduce_sum(x * total, -1)))

    def _scorecam(self, x, units, max_channels, n):
        tf = self.tf
        a = self.body(x, training=False)
        c = a.shape[-1]
        k = min(max_channels or c, c)
        idx = tf.math.top_k(tf.math.reduce_variance(a, axis=(1, 2)), k=k).indices
        ak = tf.gather(a, idx, axis=3, batch_dims=1)  # (n, h, w, k)
        weights = []
        for start, count in self.chunks(k, n):  # `count` masked copies of each image per pass
            m = tf.image.resize(ak[..., start:start + count], tf.shape(x)[1:3], method="bilinear")
            m = self.normalise(m)
            xs = x[None] * tf.transpose(m, [3, 0, 1, 2])[..., None]  # (count, n, H, W, C)
            xs = tf.reshape(xs, tf.concat([[-1], tf.shape(x)[1:]], 0))
            p = tf.nn.softmax(self.logits(self.features(xs, training=False)), -1)
            p = tf.gather(p, tf.tile(units, [count]), axis=1, batch_dims=1)
            weights.append(tf.reshape(p, [count, -1]))
        w = tf.transpose(tf.concat(weights, 0))  # (n, k)
        return self.cam_maps(tf.einsum("nhwk,nk->nhw", ak, w), tf.shape(x)[1:3])


# ---------------------------------------------------------------------------------------------
# tf-keras-vis
# ---------------------------------------------------------------------------------------------
def steady_calls(estimate_s: float, budget_s: float = 5.0) -> int:
    """Calls that bring a kerasviz plan to its steady state before the warm rounds, as far as
    they fit in ``budget_s``: a split plan runs its own math eagerly for ``EAGER_CALLS`` calls,
    then compiles it; on a small model it is promoted to one graph after ``PROMOTE_AFTER``
    calls (see :meth:`kerasviz.methods.base.Plan._route`). On a large model (seconds a call)
    neither tier changes a call by more than a millisecond or two, and none are made."""
    from kerasviz.methods import base

    for calls in (base.PROMOTE_AFTER + 1, base.EAGER_CALLS + 1):
        if calls * estimate_s <= budget_s:
            return calls
    return 0


def tf_keras_vis_tool(model, name: str, options: dict, layer: str):
    """A factory ``make() -> run(x, units)`` for tf-keras-vis' version of ``name``, or None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from tf_keras_vis.gradcam import Gradcam
            from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus
            from tf_keras_vis.layercam import Layercam
            from tf_keras_vis.saliency import Saliency
            from tf_keras_vis.scorecam import Scorecam
            from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
            from tf_keras_vis.utils.scores import CategoricalScore
    except ImportError:
        return None

    def quiet(fn):
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")  # its Keras input-structure warnings, progress bars
            return fn()

    cams = {"gradcam": Gradcam, "gradcam++": GradcamPlusPlus, "layercam": Layercam,
            "scorecam": Scorecam}
    if name in cams:
        extra = {"max_N": options["max_channels"]} \
            if name == "scorecam" and options.get("max_channels") else {}

        def make():
            tool = quiet(lambda: cams[name](model, model_modifier=ReplaceToLinear(), clone=True))
            return lambda x, u: quiet(lambda: tool(CategoricalScore(list(u)), x,
                                                   penultimate_layer=layer, **extra))
        return make
    if name in ("saliency", "smoothgrad"):
        extra = {"smooth_samples": options.get("samples", 25),
                 "smooth_noise": options.get("noise", 0.15)} if name == "smoothgrad" else {}

        def make():
            tool = quiet(lambda: Saliency(model, model_modifier=ReplaceToLinear(), clone=True))
            return lambda x, u: quiet(lambda: tool(CategoricalScore(list(u)), x, **extra))
        return make
    return None


# ---------------------------------------------------------------------------------------------
# measuring
# ---------------------------------------------------------------------------------------------
def allocator(tf) -> str:
    """The device whose allocator holds a call's tensors: ``"GPU:0"`` when TensorFlow sees a GPU
    (the work goes there), else ``"CPU:0"``."""
    return "GPU:0" if tf.config.list_physical_devices("GPU") else "CPU:0"


def memory_mib(tf, device: str) -> tuple[float, float]:
    """``(current, peak)`` MiB of TensorFlow's allocator on ``device`` (``"GPU:0"`` on a GPU
    machine, where the work and its tensors go)."""
    info = tf.config.experimental.get_memory_info(device)
    return info["current"] / 2**20, info["peak"] / 2**20


def build_model(name: str):
    import keras

    import kerasviz

    keras.utils.set_random_seed(0)
    if name == "vgg16":
        return keras.applications.VGG16(weights=None)
    return kerasviz.load_model(name)


def inputs(model, name: str, n: int) -> np.ndarray:
    """``n`` shapes images at the model's input size, preprocessed for the model."""
    import keras

    import kerasviz

    size = model.input_shape[1]
    images = kerasviz.datasets.shapes(n, seed=n, size=size).images
    if name == "vgg16":  # weights=None: kerasviz does not know its preprocessing by name
        return keras.applications.vgg16.preprocess_input(images.astype(np.float32))
    return kerasviz.preprocess(model, images)


def machine() -> dict:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    mem = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    return {"cpu": cpu, "cores": cores, "memory_mib": mem, "platform": platform.platform(),
            "python": platform.python_version()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help=f"a small subset: models {QUICK['models']}, batches {QUICK['batches']}, "
                        f"methods {QUICK['methods']}")
    p.add_argument("--models", default=None, help=f"comma-separated, of {','.join(MODELS)}")
    p.add_argument("--methods", default=None,
                   help="comma-separated, or 'all' (methods without a floor are marked so); "
                        "default: the methods with a floor")
    p.add_argument("--batches", default=None, help="comma-separated batch sizes (default 1,8,32)")
    p.add_argument("--repeat", type=int, default=None, help="interleaved warm rounds (default 3)")
    p.add_argument("--max-cell-s", type=float, default=150.0,
                   help="skip a cell whose estimated time exceeds this (seconds)")
    p.add_argument("--atol", type=float, default=1e-4, help="floor vs kerasviz maps tolerance")
    p.add_argument("--round-s", type=float, default=3.0,
                   help="cheap cells get more rounds than --repeat, up to MAX_ROUNDS, to fill "
                        "this (seconds)")
    p.add_argument("--no-tf-keras-vis", action="store_true")
    p.add_argument("--tf-keras-vis-max-batch", default="",
                   help="method=batch,… : run tf-keras-vis' method only up to that batch (e.g. "
                        "scorecam=8: its Score-CAM at batch 32 on a 224² model exhausted 24 GiB)")
    p.add_argument("--target", type=float, default=1.1, help="the issue's target: warm ≤ this × floor")
    p.add_argument("--from-json", default=None,
                   help="print the table of saved runs (comma-separated JSON files; a cell of a later "
                        "file replaces the same cell of an earlier one), run nothing")
    p.add_argument("--write", default=None,
                   help="a Markdown page whose <!-- run-table --> … <!-- /run-table --> part is "
                        "replaced by the table")
    p.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "run.json"),
                   help="where to write the results ('' for nowhere)")
    args = p.parse_args(argv)
    if args.from_json:  # several runs, the first run's header; a later run's cell replaces
        parts = [json.loads(Path(f).read_text(encoding="utf-8")) for f in args.from_json.split(",")]
        cells = {}
        for part in parts:
            cells.update({(r["model"], r["method"], r["batch"]): r for r in part["rows"]})
        info = {**parts[0], "rows": list(cells.values())}
        report(info, args.target, args.write)
        return 0
    quick = QUICK if args.quick else {}
    model_names = (args.models or quick.get("models") or ",".join(MODELS)).split(",")
    batches = [int(b) for b in (args.batches or quick.get("batches") or "1,8,32").split(",")]
    repeat = args.repeat or quick.get("repeat") or 3
    bad = [m for m in model_names if m not in MODELS]
    if bad:
        p.error(f"unknown model(s) {bad}; expected some of {list(MODELS)}")

    load_before = os.getloadavg()
    started = time.time()
    import keras
    import tensorflow as tf

    import kerasviz
    from kerasviz.errors import KerasvizError

    tf.get_logger().setLevel("ERROR")  # each cell traces its own floor: no retracing warnings

    all_methods = [m.name for m in kerasviz.methods()]
    if args.methods == "all":
        method_names = all_methods
    else:
        method_names = (args.methods or quick.get("methods") or ",".join(FLOORED)).split(",")
    bad = [m for m in method_names if m not in all_methods]
    if bad:
        p.error(f"unknown method(s) {bad}; expected some of {all_methods}")
    try:
        import tf_keras_vis
        tfkv_version = tf_keras_vis.__version__
    except ImportError:
        tfkv_version = None
    if args.no_tf_keras_vis:
        tfkv_version = None

    gpus = tf.config.list_physical_devices("GPU")
    mem_device = allocator(tf)
    info = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": machine(),
            "load_average_before": load_before,
            "versions": {"kerasviz": kerasviz.__version__, "tensorflow": tf.__version__,
                         "keras": keras.__version__, "tf_keras_vis": tfkv_version,
                         "numpy": np.__version__},
            "gpu": bool(gpus),
            "gpu_names": [tf.config.experimental.get_device_details(g).get("device_name", g.name)
                          for g in gpus],
            "options": {"models": model_names, "methods": method_names, "batches": batches,
                        "repeat": repeat, "round_s": args.round_s, "max_cell_s": args.max_cell_s, "atol": args.atol,
                        "light": {k: v for k, v in LIGHT.items() if k in method_names},
                        "batch_size": "explain(batch_size=max(16, batch)); floors chunk "
                                      "samples/channels/path points the same way",
                        "target": "each image's top class", "inputs": "kerasviz.datasets.shapes "
                        "images at the model's input size, preprocessed for the model"},
            "memory": f"peak MiB = max over warm calls of (TF {mem_device} allocator peak after "
                      "the call - its current bytes before it), tf.config.experimental.get_memory_info",
            "models": {}, "rows": []}
    m = info["machine"]
    print(f"# benchmarks/run.py — {info['date']}; {m['cpu']}, {m['cores']} cores, "
          f"load average {load_before[0]:.2f}; kerasviz {kerasviz.__version__}, TensorFlow "
          f"{tf.__version__}, Keras {keras.__version__}, tf-keras-vis {tfkv_version}; "
          f"GPU: {', '.join(info['gpu_names']) or 'none'}", flush=True)
    print(f"# light options {info['options']['light']}; warm = median (min) of {repeat} "
          f"interleaved rounds; cells estimated over {args.max_cell_s:.0f} s skipped", flush=True)

    tfkv_max = {k: int(v) for k, v in (item.split("=") for item in
                                       args.tf_keras_vis_max_batch.split(",") if item)}
    rows = info["rows"]
    for model_name in model_names:
        label, layer = MODELS[model_name]
        model = build_model(model_name)
        # seconds per image of one forward + backward pass (batch 1, warm): the skip rule's unit
        unit_floor = Floors(model, layer, 16).make("saliency", {}, 1)
        x1 = tf.constant(inputs(model, model_name, 1))
        u1 = tf.constant([0], tf.int32)
        unit_floor(x1, u1).numpy()
        t0 = time.perf_counter()
        for _ in range(3):
            unit_floor(x1, u1).numpy()
        unit = (time.perf_counter() - t0) / 3
        info["models"][model_name] = {"label": label, "layer": layer,
                                      "input": list(model.input_shape[1:]),
                                      "fwd_bwd_s_per_image_batch1": unit,
                                      "load_average_start": os.getloadavg()}
        print(f"\n## {label}, layer {layer}: forward + backward at batch 1 = {unit * 1000:.0f} ms",
              flush=True)
        for b in batches:
            x = inputs(model, model_name, b)
            units = np.argmax(model.predict(x, verbose=0, batch_size=16), axis=-1).astype(np.int32)
            xt, ut = tf.constant(x), tf.constant(units)
            evals = max(16, b)
            for name in method_names:
                method = kerasviz.methods.get(name)
                opts = LIGHT.get(name, {})
                row = {"model": model_name, "method": name, "batch": b, "options": opts}
                rows.append(row)
                tfkv = None if args.no_tf_keras_vis or b > tfkv_max.get(name, b) else \
                    tf_keras_vis_tool(model, name, opts, layer)
                floors = Floors(model, layer, evals)
                has_floor = floors.make(name, opts, b) is not None
                tools = {}
                if has_floor:
                    def make_floor(name=name, opts=opts):
                        fn = Floors(model, layer, evals).make(name, opts, b)
                        return lambda: fn(xt, ut).numpy()
                    tools["floor"] = make_floor

                def make_ours(name=name, method=method, opts=opts):
                    kerasviz.clear_caches()
                    kw = dict(target=[int(u) for u in units], batch_size=evals, progress=False,
                              layer=layer if method.uses_layer else None, **opts)

                    def run():
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")  # empty-map warnings
                            return kerasviz.explain(model, x, name, **kw).maps
                    return run
                tools["kerasviz"] = make_ours
                if tfkv is not None:
                    tools["tf-keras-vis"] = lambda tfkv=tfkv: (lambda f: lambda: f(x, units))(tfkv())
                estimate = b * cost_per_image(name, opts) * unit
                cell = estimate * (repeat + 1) * len(tools)
                row["estimate_s_per_call"] = estimate
                if not has_floor:
                    row["note"] = "no floor"
                if cell > args.max_cell_s:
                    row["skipped"] = (f"skipped: est. {estimate:.0f} s/call × {(repeat + 1) * len(tools)}"
                                      f" calls ≈ {cell / 60:.0f} min > --max-cell-s {args.max_cell_s:.0f}")
                    print(f"  {name:22s} batch {b:3d}: {row['skipped']}", flush=True)
                    save(info, args.json)
                    continue
                per_round = max(estimate * len(tools), 1e-9)
                rounds = max(repeat, min(MAX_ROUNDS, int(args.round_s / per_round)))
                row["rounds"] = rounds
                runs, out = {}, {}
                try:
                    for tool, make in tools.items():
                        t0 = time.perf_counter()
                        runs[tool] = make()
                        out[tool] = runs[tool]()
                        row[f"{tool}_first_ms"] = (time.perf_counter() - t0) * 1000
                except KerasvizError as exc:  # e.g. CAM on VGG16's Flatten → FC head
                    row["skipped"] = f"not applicable: {str(exc)[:80]}…"
                    print(f"  {name:22s} batch {b:3d}: {row['skipped']}", flush=True)
                    save(info, args.json)
                    continue
                row["kerasviz_warmup_calls"] = steady_calls(estimate)
                for _ in range(row["kerasviz_warmup_calls"]):
                    runs["kerasviz"]()
                if has_floor:
                    diff = float(np.max(np.abs(out["floor"] - out["kerasviz"])))
                    row["floor_max_abs_diff"] = diff
                    if not diff <= args.atol:
                        raise SystemExit(f"floor of {name} on {model_name} batch {b} differs from "
                                         f"kerasviz by {diff:.3g} > --atol {args.atol}: a wrong floor")
                order = list(runs)
                warm = {t: [] for t in order}
                peak = {t: 0.0 for t in order}
                for r in range(rounds):
                    for tool in order[r % len(order):] + order[:r % len(order)]:
                        tf.config.experimental.reset_memory_stats(mem_device)
                        before = memory_mib(tf, mem_device)[0]
                        t0 = time.perf_counter()
                        runs[tool]()
                        warm[tool].append((time.perf_counter() - t0) * 1000)
                        peak[tool] = max(peak[tool], memory_mib(tf, mem_device)[1] - before)
                for tool in order:
                    row[f"{tool}_warm_ms"] = statistics.median(warm[tool])
                    row[f"{tool}_warm_min_ms"] = min(warm[tool])
                    row[f"{tool}_warm_all_ms"] = warm[tool]
                    row[f"{tool}_peak_mib"] = peak[tool]
                if has_floor:
                    row["ratio"] = row["kerasviz_warm_ms"] / row["floor_warm_ms"]
                    row["ratio_min"] = row["kerasviz_warm_min_ms"] / row["floor_warm_min_ms"]
                if "tf-keras-vis" in runs:
                    row["ratio_tf_keras_vis"] = row["kerasviz_warm_ms"] / row["tf-keras-vis_warm_ms"]
                row["load_average"] = os.getloadavg()[0]
                print(f"  {name:22s} batch {b:3d}: " + ", ".join(
                    f"{t} {row[f'{t}_warm_ms']:8.1f} ms" for t in order)
                    + (f", ×floor {row['ratio']:.2f}" if has_floor else ""), flush=True)
                save(info, args.json)  # after every cell: an interrupted run keeps its rows
                del runs, out
                kerasviz.clear_caches()
                gc.collect()
        info["models"][model_name]["ru_maxrss_mib"] = \
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        del model
        kerasviz.clear_caches()
        keras.backend.clear_session()
        gc.collect()

    info["load_average_after"] = os.getloadavg()
    info["seconds"] = time.time() - started
    print()
    report(info, args.target, args.write)
    print(f"\nload average before {load_before[0]:.2f}, after {info['load_average_after'][0]:.2f}; "
          f"{info['seconds'] / 60:.1f} min")
    if args.json:
        save(info, args.json)
        print(f"wrote {args.json}")
    return 0


def save(info: dict, path: str) -> None:
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")


def report(info: dict, target: float, write: str | None = None) -> None:
    """Print the table and which cells miss ``warm ≤ target × floor``; with ``write``, paste the
    table into that page between its ``<!-- run-table -->`` markers."""
    text = table(info)
    print(text)
    measured = [r for r in info["rows"] if "ratio" in r]
    missed = [r for r in measured if r["ratio"] > target]
    print(f"\nwarm ≤ {target} × floor (medians): {len(measured) - len(missed)} of {len(measured)} "
          f"measured cells; skipped: {sum('skipped' in r for r in info['rows'])}")
    for r in missed:
        mins = f"min/min ×{r['ratio_min']:.2f}; " if "ratio_min" in r else ""
        print(f"  missed: {r['model']} {r['method']} batch {r['batch']}: ×{r['ratio']:.2f} "
              f"({mins}+{r['kerasviz_warm_ms'] - r['floor_warm_ms']:.1f} ms)")
    if write:
        page = Path(write)
        old = page.read_text(encoding="utf-8")
        start, end = "<!-- run-table -->\n", "<!-- /run-table -->"
        if start not in old or end not in old:
            raise SystemExit(f"{write} has no {start.strip()} … {end} markers")
        head, rest = old.split(start, 1)
        page.write_text(head + start + text + "\n" + end + rest.split(end, 1)[1], encoding="utf-8")
        print(f"wrote the table into {write}")


def _ms(v) -> str:
    if v is None:
        return "–"
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}" if v >= 10 else f"{v:.2f}"


def table(info: dict) -> str:
    """The markdown table of ``info["rows"]``."""
    head = ("| model | method | batch | first ms: kerasviz / floor | warm ms, median (min) "
            "| floor warm ms, median (min) | ×floor | tf-keras-vis warm ms | ×tf-keras-vis "
            "| peak MiB: kerasviz / floor / tf-keras-vis |")
    lines = [head, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in info["rows"]:
        if "skipped" in r:
            lines.append(f"| {r['model']} | {r['method']} | {r['batch']} | {r['skipped']} "
                         f"| | | | | | |")
            continue
        floor = (f"{_ms(r['floor_warm_ms'])} ({_ms(r.get('floor_warm_min_ms'))})"
                 if "floor_warm_ms" in r else r.get("note", "–"))
        ratio = f"{r['ratio']:.2f}" if "ratio" in r else "–"
        tk = _ms(r.get("tf-keras-vis_warm_ms"))
        tkr = f"{r['ratio_tf_keras_vis']:.2f}" if "ratio_tf_keras_vis" in r else "–"
        peaks = " / ".join(f"{r[k]:.0f}" if k in r else "–"
                           for k in ("kerasviz_peak_mib", "floor_peak_mib", "tf-keras-vis_peak_mib"))
        first = " / ".join(_ms(r.get(k)) for k in ("kerasviz_first_ms", "floor_first_ms"))
        lines.append(f"| {r['model']} | {r['method']} | {r['batch']} | {first} "
                     f"| {_ms(r['kerasviz_warm_ms'])} ({_ms(r.get('kerasviz_warm_min_ms'))}) | {floor} "
                     f"| {ratio} | {tk} | {tkr} | {peaks} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
