"""Where explanations run: ``explain(device=)``, ``$KERASVIZ_DEVICE`` and ``--device``, the
device named in the result, and float32 maps from a mixed-precision model."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import kerasviz
from conftest import gap_dense, images


def _gpus() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU"))


def test_the_device_used_is_named_and_cpu_gives_the_same_maps():
    model = gap_dense(name="dev_model")
    auto = kerasviz.explain(model, images(2), "gradcam")
    cpu = kerasviz.explain(model, images(2), "gradcam", device="cpu")
    assert auto.device == ("GPU:0" if _gpus() else "CPU:0")
    assert cpu.device == "CPU:0"
    if not _gpus():  # the same device: the same graph and kernels
        np.testing.assert_array_equal(auto.maps, cpu.maps)
    assert cpu[1].device == "CPU:0"


def test_gpu_without_one_and_unknown_names_are_refused(monkeypatch):
    model = gap_dense(name="dev_bad")
    if _gpus():
        assert kerasviz.explain(model, images(1), "saliency", device="gpu").device == "GPU:0"
    else:
        with pytest.raises(kerasviz.ArgumentError, match=r"sees no GPU.*kerasviz\[gpu\]"):
            kerasviz.explain(model, images(1), "saliency", device="gpu")
    with pytest.raises(kerasviz.ArgumentError, match="device must be one of"):
        kerasviz.explain(model, images(1), "saliency", device="tpu")
    monkeypatch.setenv("KERASVIZ_DEVICE", "cuda")
    with pytest.raises(kerasviz.ArgumentError, match="KERASVIZ_DEVICE must be one of"):
        kerasviz.explain(model, images(1), "saliency")
    monkeypatch.setenv("KERASVIZ_DEVICE", "CPU")
    assert kerasviz.explain(model, images(1), "saliency").device == "CPU:0"


def test_mixed_precision_model_gives_float32_maps():
    import keras

    i = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(6, 3, activation="relu", dtype="mixed_float16", name="c1")(i)
    x = keras.layers.Conv2D(6, 3, activation="relu", dtype="mixed_float16", name="c2")(x)
    x = keras.layers.GlobalAveragePooling2D(dtype="mixed_float16")(x)
    o = keras.layers.Dense(3, name="predictions", dtype="float32")(x)
    model = keras.Model(i, o)
    for method in ("gradcam", "saliency", "integrated_gradients"):
        exp = kerasviz.explain(model, images(2), method, steps=4) if method == \
            "integrated_gradients" else kerasviz.explain(model, images(2), method)
        assert exp.maps.dtype == np.float32 and np.isfinite(exp.maps).all()
        assert exp.maps.max() == 1.0  # a real map, min-max scaled


def _cli(*args, env=None):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **(env or {}))
    return subprocess.run([sys.executable, "-m", "kerasviz", *map(str, args)],
                          capture_output=True, text=True, timeout=300, env=env,
                          cwd=Path(__file__).resolve().parents[1])


def test_cli_device_option(tmp_path):
    import json

    picture = tmp_path / "a.png"
    kerasviz.render.save_png(picture, kerasviz.datasets.shapes(1, seed=2)[0][0])
    ok = _cli("explain", "--model", "shapes", picture, "--device", "cpu", "--json",
              "--out", tmp_path / "cpu")
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert json.loads(ok.stdout)["device"] == "CPU:0"
    bad = _cli("explain", "--model", "shapes", picture, "--device", "tpu", "--out", tmp_path / "x")
    assert bad.returncode == 2 and "invalid choice: 'tpu'" in bad.stderr
    if not _gpus():
        gpu = _cli("compare", "--models", "shapes", picture, "--device", "gpu",
                   "--out", tmp_path / "gpu")
        lines = [ln for ln in gpu.stderr.splitlines() if ln.startswith("kerasviz compare: error:")]
        assert gpu.returncode == 2 and len(lines) == 1 and "sees no GPU" in lines[0]
        assert not (tmp_path / "gpu").exists()
