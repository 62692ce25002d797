"""kerasviz.data.demo_models: architecture contract, loading, and the quality of the shipped weights.

The quality bounds (shapes accuracy >= 0.95, sensors MAE <= 0.06) hold with margin: the trained
models reach about 0.99 and 0.035 on held-out data (see kerasviz/data/demo_models.json).
"""
import dataclasses

import keras
import numpy as np
import pytest

from kerasviz import ModelError

from kerasviz.data import datasets

from kerasviz.data import demo_models
from kerasviz.data.datasets import SENSOR_NAMES, SHAPE_CLASSES
from kerasviz.data.demo_models import DEMO_MODELS, DemoSpec, deprocess, load_demo_model, preprocess

TEST_SEED = 4242  # training uses seeds >= 100 000
SENSORS_MAE_BOUND = 0.06


@pytest.fixture(scope="module")
def shapes_model():
    return load_demo_model("shapes")


@pytest.fixture(scope="module")
def sensors_model():
    return load_demo_model("sensors")


def test_registry():
    assert set(DEMO_MODELS) == {"shapes", "sensors", "shapes_shuffled"}
    for name, spec in DEMO_MODELS.items():
        assert isinstance(spec, DemoSpec) and spec.name == name
        assert spec.input_size == (96, 96) and spec.weights_file == f"{name}.weights.h5"
        assert callable(spec.builder) and spec.description
        with pytest.raises(dataclasses.FrozenInstanceError):
            spec.name = "x"
    assert DEMO_MODELS["shapes"].task == "classification"
    assert tuple(DEMO_MODELS["shapes"].output_names) == SHAPE_CLASSES
    assert DEMO_MODELS["shapes_shuffled"].task == "classification"
    assert tuple(DEMO_MODELS["shapes_shuffled"].output_names) == SHAPE_CLASSES
    assert DEMO_MODELS["sensors"].task == "regression"
    assert tuple(DEMO_MODELS["sensors"].output_names) == SENSOR_NAMES


def test_preprocess_roundtrip():
    images = datasets.shapes(2, seed=1).images
    x = preprocess(images)
    assert x.dtype == np.float32 and x.shape == images.shape
    assert 0 <= x.min() and x.max() <= 1
    np.testing.assert_array_equal(deprocess(x), images)
    np.testing.assert_array_equal(preprocess(images.astype(np.float32)), x)  # [0, 255] floats too
    assert deprocess(np.array([-0.5, 2.0])).tolist() == [0, 255]


def test_shapes_architecture():
    model = demo_models.build_shapes_model()
    assert isinstance(model, keras.Model) and model.name == "shapes"
    assert tuple(model.input.shape) == (None, 96, 96, 3)
    assert tuple(model.output.shape) == (None, len(SHAPE_CLASSES))
    names = [layer.name for layer in model.layers]
    for name in ("conv1", "conv2", "conv3", "conv4", "gap", "predictions"):
        assert name in names
    conv4 = model.get_layer("conv4")
    assert conv4.output.shape[1] >= 12 and conv4.output.shape[2] >= 12
    # CAM applies: the last conv feeds GAP, which feeds the softmax Dense
    assert names[-3:] == ["conv4", "gap", "predictions"]
    assert isinstance(model.get_layer("gap"), keras.layers.GlobalAveragePooling2D)
    assert model.get_layer("predictions").activation is keras.activations.softmax
    # both kinds of ReLU: fused into a conv, and a separate layer
    assert model.get_layer("conv1").activation is keras.activations.relu
    assert any(isinstance(layer, keras.layers.ReLU) for layer in model.layers)


def test_sensors_architecture():
    model = demo_models.build_sensors_model()
    assert model.name == "sensors" and tuple(model.input.shape) == (None, 96, 96, 3)
    assert tuple(model.output.shape) == (None, 5)
    assert model.get_layer("sensors").activation is keras.activations.sigmoid
    assert any(isinstance(layer, keras.layers.Flatten) for layer in model.layers)


@pytest.mark.parametrize("name", sorted(DEMO_MODELS))
def test_weights_file_is_small_and_loads(name):
    path = demo_models.weights_path(name)
    assert path.is_file() and path.stat().st_size < 2 * 1024 * 1024
    model = load_demo_model(name)
    assert model.name == name


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ModelError) as info:
        load_demo_model("shape")
    assert "'sensors'" in str(info.value) and "'shapes'" in str(info.value)
    assert "Received: 'shape'. Closest: ['shapes', 'shapes_shuffled']" in str(info.value)


def test_missing_weights_says_how_to_train(tmp_path, monkeypatch):
    monkeypatch.setattr(demo_models, "DATA_DIR", tmp_path)
    with pytest.raises(ModelError, match="python scripts/train_demo_models.py"):
        load_demo_model("shapes")


def test_corrupt_weights_file(tmp_path, monkeypatch):
    monkeypatch.setattr(demo_models, "DATA_DIR", tmp_path)
    demo_models.build_sensors_model().save_weights(tmp_path / "shapes.weights.h5")
    with pytest.raises(ModelError, match="does not fit"):
        load_demo_model("shapes")


def test_shapes_accuracy_on_fresh_images(shapes_model):
    images, labels, _ = datasets.shapes(400, seed=TEST_SEED)
    pred = shapes_model.predict(preprocess(images), batch_size=100, verbose=0)
    assert pred.shape == (400, len(SHAPE_CLASSES))
    np.testing.assert_allclose(pred.sum(1), 1, atol=1e-4)
    accuracy = np.mean(pred.argmax(1) == labels)
    assert accuracy >= 0.95, accuracy
    per_class = [np.mean(pred.argmax(1)[labels == k] == k) for k in range(len(SHAPE_CLASSES))]
    assert min(per_class) >= 0.85, per_class


def test_shapes_cam_points_at_the_object(shapes_model):
    """Class activation map (conv4 features · Dense weights of the true class): its peak cell lies
    within the object's box (grown by one 8-px cell) for most images."""
    images, labels, boxes = datasets.shapes(100, seed=TEST_SEED + 1)
    features = keras.Model(shapes_model.input, shapes_model.get_layer("conv4").output)
    maps = features.predict(preprocess(images), verbose=0)           # (N, 12, 12, C)
    weights = shapes_model.get_layer("predictions").get_weights()[0]  # (C, K)
    cam = np.einsum("nhwc,cn->nhw", maps, weights[:, labels])
    cell = 96 / cam.shape[1]
    hits = 0
    for c, (x0, y0, x1, y1) in zip(cam, boxes):
        i, j = np.unravel_index(c.argmax(), c.shape)
        x, y = (j + 0.5) * cell, (i + 0.5) * cell
        hits += x0 - cell <= x <= x1 + cell and y0 - cell <= y <= y1 + cell
    assert hits >= 85, hits


def test_sensors_mae_on_fresh_images(sensors_model):
    images, readings, _ = datasets.sensors(300, seed=TEST_SEED)
    pred = sensors_model.predict(preprocess(images), batch_size=100, verbose=0)
    assert pred.shape == (300, 5) and pred.min() >= 0 and pred.max() <= 1
    err = np.abs(pred - readings)
    assert err.mean() <= SENSORS_MAE_BOUND, err.mean(0)
    assert err.mean(0).max() <= 1.5 * SENSORS_MAE_BOUND, err.mean(0)


def test_sensors_model_tells_left_from_right(sensors_model):
    def predict(side):
        images = datasets.sensors(30, seed=TEST_SEED, obstacles=side).images
        return sensors_model.predict(preprocess(images), verbose=0)

    left, right = predict("left"), predict("right")
    assert np.mean(left[:, 0] > left[:, 4]) >= 0.9
    assert np.mean(right[:, 4] > right[:, 0]) >= 0.9


def test_metrics_file_matches_shipped_models():
    metrics = demo_models.demo_metrics()
    assert metrics["shapes"]["accuracy"] >= 0.95
    assert metrics["sensors"]["mae"] <= SENSORS_MAE_BOUND
    for name in DEMO_MODELS:
        assert metrics[name]["weights_bytes"] == demo_models.weights_path(name).stat().st_size


def test_weights_of_a_changed_architecture_are_refused(monkeypatch):
    """Keras only warns when a layer finds no weights in the file; load_demo_model refuses."""
    def changed():
        base = demo_models.build_shapes_model()
        out = keras.layers.Dense(len(SHAPE_CLASSES), activation="softmax", name="extra")(base.output)
        return keras.Model(base.input, out, name="shapes")

    spec = dataclasses.replace(DEMO_MODELS["shapes"], builder=changed)
    monkeypatch.setitem(DEMO_MODELS, "shapes", spec)
    with pytest.raises(ModelError, match="does not fit"):
        load_demo_model("shapes")
