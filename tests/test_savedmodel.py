"""SavedModels in, an explainable SavedModel out: maps from the exported folder equal the Keras
model's, in a fresh process that never builds the model from Python; serving_default unchanged."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import keras

import kerasviz
from conftest import gap_dense, images

ROOT = Path(__file__).resolve().parents[1]
INPUT_METHODS = {"saliency": {}, "gradxinput": {}, "integrated_gradients": {"steps": 8},
                 "smoothgrad": {"samples": 4}, "occlusion": {"patch": 24, "stride": 24}}
CAM_METHODS = ["gradcam", "gradcam++", "layercam", "hirescam"]


def logits_clone(model):
    """``model`` with its final softmax Dense made linear (same weights): what the engine
    explains of a Keras classifier, as a model ``model.export()`` can write."""
    import keras

    config = model.get_config()
    config["layers"][-1]["config"]["activation"] = "linear"
    clone = keras.Model.from_config(config)
    clone.set_weights(model.get_weights())
    return clone


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The shapes model exported three ways, the images, and the Keras model's maps."""
    root = tmp_path_factory.mktemp("saved")
    model = kerasviz.load_model("shapes")
    x = kerasviz.preprocess(model, kerasviz.datasets.shapes(4, seed=11).images)
    kerasviz.export_model(model, root / "explainable")
    model.export(str(root / "plain"), verbose=False)  # Keras' own export, softmax output
    logits_clone(model).export(str(root / "logits"), verbose=False)
    np.save(root / "x.npy", x)
    ref = {}
    for name, opts in INPUT_METHODS.items():
        ref[name] = kerasviz.explain(model, x, name, target=[0, 1, 2, 3], **opts).raw
    for name in CAM_METHODS:
        exp = kerasviz.explain(model, x, name)  # top class, resolved inside the signature too
        ref[name], ref[name + "_target"] = exp.raw, exp.target
    return root, model, x, ref


FRESH = r"""
import json, sys
import numpy as np
import keras

import kerasviz
root = sys.argv[1]
x = np.load(root + "/x.npy")
opts = json.loads(sys.argv[2])
out = {}
logits = kerasviz.load_model(root + "/explainable", signature="logits")
plain = kerasviz.load_model(root + "/logits")  # model.export() of a logits head: serving_default
explainable = kerasviz.load_model(root + "/explainable")
for name, o in opts["input"].items():
    out[name] = kerasviz.explain(logits, x, name, target=[0, 1, 2, 3], **o).raw
    out["plain_" + name] = kerasviz.explain(plain, x, name, target=[0, 1, 2, 3], **o).raw
for name in opts["cam"]:
    exp = kerasviz.explain(explainable, x, name)
    out[name], out[name + "_target"], out[name + "_layer"] = exp.raw, exp.target, exp.layer
out["modules"] = sorted(m for m in sys.modules if m.startswith("kerasviz.data"))
np.save(root + "/fresh.npy", out, allow_pickle=True)
"""


def test_maps_from_the_savedmodel_equal_the_keras_models_in_a_fresh_process(exported):
    root, model, x, ref = exported
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", FRESH, str(root),
                           json.dumps({"input": INPUT_METHODS, "cam": CAM_METHODS})],
                          cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = np.load(root / "fresh.npy", allow_pickle=True).item()
    # the fresh process never imported the demo models' Python code (nor kerasviz.data at all)
    assert got["modules"] == []
    # The same float32 ops in another graph (the SavedModel's, after Grappler, oneDNN
    # reorderings): sums of ~10³ products per conv output differ by a few ulps (~1e-7
    # relative) and that error passes through four conv layers and their gradients, so the
    # maps agree to 1e-4 of their scale, far below the maps' own structure.
    for name in INPUT_METHODS:
        for key in (name, "plain_" + name):
            np.testing.assert_allclose(got[key], ref[name], rtol=1e-4,
                                       atol=1e-4 * np.abs(ref[name]).max(), err_msg=key)
    for name in CAM_METHODS:
        assert got[name + "_layer"] == "conv4"
        np.testing.assert_array_equal(got[name + "_target"], ref[name + "_target"])
        np.testing.assert_allclose(got[name], ref[name], rtol=1e-4,
                                   atol=1e-4 * np.abs(ref[name]).max(), err_msg=name)


def test_serving_default_is_model_exports(exported):
    import tensorflow as tf

    root, model, x, _ = exported
    ours = tf.saved_model.load(str(root / "explainable")).signatures["serving_default"]
    theirs = tf.saved_model.load(str(root / "plain")).signatures["serving_default"]
    assert ours.structured_input_signature == theirs.structured_input_signature
    assert {k: (v.shape, v.dtype) for k, v in ours.structured_outputs.items()} == {
        k: (v.shape, v.dtype) for k, v in theirs.structured_outputs.items()}
    (key,) = ours.structured_input_signature[1]
    a, b = ours(**{key: tf.constant(x)}), theirs(**{key: tf.constant(x)})
    for k in a:
        np.testing.assert_allclose(a[k].numpy(), b[k].numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(a[k].numpy(), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_explain_signature_by_hand(exported):
    """The raw signature, as TF Serving runs it: activations and gradients of conv4, against
    a plain GradientTape on the Keras model (the logit: the softmax's input)."""
    import tensorflow as tf

    from conftest import reference_layer_grads

    root, model, x, _ = exported
    sig = tf.saved_model.load(str(root / "explainable")).signatures["explain"]
    res = sig(images=tf.constant(x), class_index=tf.constant([2, -1, 0, -1]))
    dense = model.get_layer("predictions")
    top = np.argmax(model.predict(x, verbose=0), 1)
    units = [2, top[1], 0, top[3]]
    a, g, s = reference_layer_grads(model.inputs, model.get_layer("conv4").output, dense.input, x,
                                    units, to_logits=lambda f: f @ dense.kernel + dense.bias)
    assert res["class_index"].numpy().tolist() == [int(u) for u in units]
    np.testing.assert_allclose(res["activations"].numpy(), a, rtol=1e-5, atol=1e-5 * np.abs(a).max())
    np.testing.assert_allclose(res["gradients"].numpy(), g, rtol=1e-4, atol=1e-4 * np.abs(g).max())
    z = res["logits"].numpy()
    np.testing.assert_allclose(z[np.arange(4), units], s, rtol=1e-5, atol=1e-5)


def test_cam_on_a_plain_savedmodel_names_the_fix(exported):
    root, _, x, _ = exported
    plain = kerasviz.load_model(root / "plain")
    with pytest.raises(kerasviz.ModelError, match="hides its layers.*kerasviz export model.keras DIR"):
        kerasviz.explain(plain, x, "gradcam")
    explainable = kerasviz.load_model(root / "explainable")
    with pytest.raises(kerasviz.ModelError, match="replays the model's ReLUs"):
        kerasviz.explain(explainable, x, "guided_backprop")
    with pytest.raises(kerasviz.ModelError, match="scorecam"):
        kerasviz.explain(explainable, x, "scorecam")
    with pytest.raises(kerasviz.ModelError, match="returns layer 'conv4'"):
        kerasviz.explain(explainable, x, "gradcam", layer="conv3")
    with pytest.raises(kerasviz.TargetError, match="callable"):
        kerasviz.explain(explainable, x, "gradcam", target=lambda z: z[:, 0])
    with pytest.raises(kerasviz.ModelError, match="no signature 'nope'.*serving_default"):
        kerasviz.load_model(root / "plain", signature="nope")
    with pytest.raises(kerasviz.ArgumentError, match="signature= is for SavedModel folders"):
        kerasviz.load_model("shapes", signature="logits")
    assert kerasviz.model_info(explainable).class_names == kerasviz.model_info(
        kerasviz.load_model("shapes")).class_names
    assert explainable.name == "shapes" and plain.name == "plain"  # kerasviz.json, else the folder


def test_looking_inside_a_savedmodel_names_the_keras_file(exported):
    """A SavedModel is a graph without Keras layers: activations and filters say so, and what
    to give instead, rather than only 'no 4-D layer'."""
    root, _, x, _ = exported
    plain = kerasviz.load_model(root / "plain")
    with pytest.raises(kerasviz.ModelError, match=r"SavedModel folder .*plain.*\.keras / \.h5"):
        kerasviz.activations(plain, x)
    with pytest.raises(kerasviz.ModelError, match=r"SavedModel folder .*plain.*\.keras / \.h5"):
        kerasviz.filter_patterns(plain, None, [0], steps=1)
    with pytest.raises(kerasviz.ModelError) as keras_model:  # a Keras model without conv layers
        kerasviz.activations(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]),
                             np.zeros((1, 4), np.float32))
    assert "SavedModel" not in str(keras_model.value)


def test_the_noise_tunnel_runs_through_the_explain_signature(exported):
    root, model, x, _ = exported
    explainable = kerasviz.load_model(root / "explainable")
    smooth = dict(samples=3, noise=0.1, seed=2)
    ours = kerasviz.explain(explainable, x[:2], "gradcam++", target=[1, 3], smooth=smooth)
    keras_model = kerasviz.explain(model, x[:2], "gradcam++", target=[1, 3], smooth=smooth)
    np.testing.assert_allclose(ours.raw, keras_model.raw, rtol=1e-4,
                               atol=1e-4 * np.abs(keras_model.raw).max())


def test_export_folder_is_never_half_written_nor_overwritten(tmp_path):
    model = gap_dense(size=16)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    with pytest.raises(kerasviz.OutputError, match="not empty.*--force"):
        kerasviz.export_model(model, busy)
    assert [p.name for p in busy.iterdir()] == ["keep.txt"]
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(kerasviz.OutputError, match="symbolic link"):
        kerasviz.export_model(model, link)
    with pytest.raises(kerasviz.LayerNotFoundError):
        kerasviz.export_model(model, tmp_path / "new", layer="nope")
    assert not (tmp_path / "new").exists()
    kerasviz.export_model(model, busy, layer="c1", force=True)
    assert (busy / "saved_model.pb").is_file() and not (busy / "keep.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy", "link"]  # no temporary left
    sm = kerasviz.load_model(busy)
    exp = kerasviz.explain(sm, images(2, 16), "gradcam", target=[0, 1])
    np.testing.assert_allclose(exp.raw, kerasviz.explain(model, images(2, 16), "gradcam",
                                                         target=[0, 1], layer="c1").raw,
                               rtol=1e-4, atol=1e-6)


def test_the_rest_client_of_the_docs_gives_the_gradcam_map(exported):
    """docs/deploy.md's client arithmetic on a TF-Serving-shaped response (one JSON row per
    instance of the ``explain`` signature's outputs; TF Serving itself is not run here)."""
    import tensorflow as tf

    root, model, x, ref = exported
    sig = tf.saved_model.load(str(root / "explainable")).signatures["explain"]
    res = sig(images=tf.constant(x[:1]), class_index=tf.constant([-1]))
    out = json.loads(json.dumps({k: v.numpy()[0].tolist() for k, v in res.items()}))
    a, g = np.array(out["activations"]), np.array(out["gradients"])
    cam = np.maximum((a * g.mean(axis=(0, 1))).sum(-1), 0)
    assert out["class_index"] == ref["gradcam_target"][0]
    # float64 arithmetic on float32 values: agrees with the engine's float32 map to ~1e-6
    np.testing.assert_allclose(cam, np.maximum(ref["gradcam"][0], 0), rtol=1e-4,
                               atol=1e-5 * cam.max())
    assert kerasviz.render.colorize(cam / cam.max()).shape == (*cam.shape, 3)


def test_signatures_kerasviz_cannot_explain_are_refused_at_load(tmp_path):
    import tensorflow as tf

    module = tf.Module()
    module.bytes_in = tf.function(lambda x: {"y": tf.reduce_sum(tf.cast(x, tf.float32), [1, 2, 3])},
                                  input_signature=[tf.TensorSpec((None, 8, 8, 3), tf.uint8)])
    module.two_in = tf.function(lambda a, b: {"y": a + b}, input_signature=[
        tf.TensorSpec((None, 4), tf.float32, name="a"), tf.TensorSpec((None, 4), tf.float32, name="b")])
    tf.saved_model.save(module, str(tmp_path / "m"), signatures={
        "serving_default": module.bytes_in, "two": module.two_in})
    with pytest.raises(kerasviz.ModelError, match="uint8.*float images"):
        kerasviz.load_model(tmp_path / "m")
    with pytest.raises(kerasviz.ModelError, match="takes 2 inputs"):
        kerasviz.load_model(tmp_path / "m", signature="two")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "saved_model.pb").write_bytes(b"not a protobuf")
    with pytest.raises(kerasviz.ModelError, match="Could not load the SavedModel"):
        kerasviz.load_model(tmp_path / "broken")
