"""Canaries: one test per Keras internal that kerasviz relies on (all in ``_keras_compat``).

When a Keras release moves one of them, the failing test names the function to fix.
"""
import keras
import numpy as np

from kerasviz import _keras_compat as K


def _functional():
    inp = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, name="conv")(inp)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    x = keras.layers.Dropout(0.5, name="drop")(x)
    return keras.Model(inp, keras.layers.Dense(2, name="dense")(x))


class _Subclassed(keras.Model):
    def call(self, x):
        return x


def test_is_graph_model_tells_graphs_from_subclassed_models():
    assert K.is_graph_model(_functional())
    assert K.is_graph_model(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]))
    assert not K.is_graph_model(_Subclassed())
    assert not K.is_graph_model(keras.layers.Dense(2))


def test_run_through_graph_calls_every_layer_and_returns_the_outputs():
    model = _functional()
    seen = []

    def call(layer, *args, **kwargs):
        seen.append(layer.name)
        return layer(*args, **kwargs)

    x = np.random.default_rng(0).normal(size=(2, 8, 8, 3)).astype("float32")
    out = K.run_through_graph(model, keras.ops.convert_to_tensor(x), call)
    assert seen == ["conv", "gap", "drop", "dense"]
    np.testing.assert_allclose(np.asarray(out), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_source_layer_and_input_tensor_walk_the_graph_back():
    model = _functional()
    dense_in = K.input_tensor(model.outputs[0])
    assert K.source_layer(dense_in).name == "drop"
    assert K.source_layer(dense_in, skip=(keras.layers.Dropout,)).name == "gap"


def test_routed_get_file_intercepts_what_applications_call_and_restores_it():
    module = K.file_utils_module()
    before = module.get_file
    calls = []
    with K.routed_get_file(lambda original, fname, origin, **kw: calls.append((fname, origin)) or "x"):
        assert module.get_file("a.h5", "https://example.invalid/a.h5") == "x"
    assert calls == [("a.h5", "https://example.invalid/a.h5")]
    assert module.get_file is before


def test_legacy_h5_format_round_trips_weights(tmp_path):
    import h5py

    model, other = _functional(), _functional()
    module = K.legacy_h5_format()
    with h5py.File(tmp_path / "w.h5", "w") as f:
        module.save_weights_to_hdf5_group(f, model)
    other.load_weights(tmp_path / "w.h5")
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_imagenet_utils_module_is_what_keras_decode_predictions_uses():
    module = K.imagenet_utils_module()
    assert hasattr(module, "CLASS_INDEX")
    assert module.decode_predictions is keras.applications.imagenet_utils.decode_predictions


def test_export_input_signature_is_what_model_export_serves(tmp_path):
    import tensorflow as tf

    model = _functional()
    sig = K.export_input_signature(model)
    model.export(str(tmp_path / "m"), verbose=False)
    served = tf.saved_model.load(str(tmp_path / "m")).signatures["serving_default"]
    (spec,) = served.structured_input_signature[1].values()
    (ours,) = sig
    assert tuple(ours.shape) == tuple(spec.shape) and str(ours.dtype) == spec.dtype.name
