"""kerasviz.core.targets: every accepted target form, and the errors for bad ones."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasviz.core import models
from kerasviz.errors import TargetError, UnknownClassError
from kerasviz.core.targets import Output, as_target, output_names


def _two_output():
    i = keras.Input((8, 8, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3, name="c")(i))
    return keras.Model(i, [keras.layers.Dense(3, name="cls")(x),
                           keras.layers.Dense(5, activation="sigmoid", name="sensors")(x)])


def _imagenet_head():
    i = keras.Input((4,))
    return keras.Model(i, keras.layers.Dense(1000, activation="softmax", name="predictions")(i))


def test_int_and_list_targets():
    m = _two_output()
    t = as_target(m, 2, n=3)
    assert t.output == 0 and t.units.tolist() == [2, 2, 2]
    t = as_target(m, [0, 1, 2])
    assert t.units.tolist() == [0, 1, 2] and len(t.labels) == 3
    t = as_target(m, np.array([2, 1]), n=2)
    assert t.units.tolist() == [2, 1]
    with pytest.raises(TargetError, match="one entry per image"):
        as_target(m, [0, 1], n=3)
    with pytest.raises(TargetError, match="out of range.*3 units"):
        as_target(m, 3)


def test_none_is_top_unit_per_image_from_given_outputs():
    m = _two_output()
    outs = [np.array([[0, 5, 1], [9, 0, 0]], np.float32), np.zeros((2, 5), np.float32)]
    t = as_target(m, None, n=2, outputs=outs)
    assert t.units.tolist() == [1, 0] and t.output == 0
    lazy = as_target(m, None, n=2)  # resolved on the outputs the score sees
    assert lazy.units.tolist() == [-1, -1]
    a = tf.constant(outs[0])
    np.testing.assert_array_equal(lazy.resolve([a, outs[1]]).numpy(), [1, 0])
    np.testing.assert_allclose(lazy.score([a, outs[1]]).numpy(), [5, 9])
    np.testing.assert_allclose(lazy.score([a, outs[1]], units=tf.constant([2, -1])).numpy(), [1, 9])
    done = lazy.with_units([1, 0])
    assert done.units.tolist() == [1, 0] and done.labels == ("cls[1]", "cls[0]")


def test_output_by_name_and_index_with_unit():
    m = _two_output()
    assert output_names(m) == ["cls", "sensors"]
    t = as_target(m, Output("sensors", 4), n=2)
    assert t.output == 1 and t.units.tolist() == [4, 4]
    assert as_target(m, Output(1, 0)).output == 1
    assert as_target(m, Output(-1, 0)).output == 1
    outs = [np.zeros((1, 3)), np.array([[0.1, 0.9, 0.2, 0.0, 0.3]])]
    assert as_target(m, "sensors", outputs=outs).units.tolist() == [1]  # output name, top unit
    with pytest.raises(TargetError, match="No output named 'sensor'.*Closest: \\['sensors'\\]"):
        as_target(m, Output("sensor", 0))
    with pytest.raises(TargetError, match="out of range"):
        as_target(m, Output(2, 0))
    with pytest.raises(TargetError, match="out of range.*5 units"):
        as_target(m, Output("sensors", 5))


def test_imagenet_names_and_synonyms():
    m = _imagenet_head()
    assert as_target(m, "tabby").units.tolist() == [281]
    assert as_target(m, "tiger cat").units.tolist() == [282]
    assert as_target(m, "tabby cat").units.tolist() == [281]
    assert as_target(m, ["tabby", 5]).units.tolist() == [281, 5]
    assert as_target(m, "tabby").labels == ("281 tabby",)
    with pytest.raises(UnknownClassError, match="tabby"):
        as_target(m, "tabbby")


def test_model_class_names_win():
    m = _two_output()
    models.register_model(m, class_names=("circle", "square", "triangle"))
    assert as_target(m, "Square").units.tolist() == [1]
    assert as_target(m, ["triangle", "circle"]).units.tolist() == [2, 0]
    assert as_target(m, "circle").labels == ("0 circle",)
    with pytest.raises(UnknownClassError, match="Closest: \\['circle'\\]"):
        as_target(m, "circel")


def test_unknown_name_on_unnamed_output():
    with pytest.raises(UnknownClassError, match="no class names"):
        as_target(_two_output(), Output("sensors", "left"))


def test_score_selects_units_and_callable_sees_outputs():
    m = _two_output()
    a = tf.constant([[1., 2., 3.], [4., 5., 6.]])
    b = tf.constant(np.arange(10, dtype=np.float32).reshape(2, 5))
    t = as_target(m, [2, 0])
    np.testing.assert_allclose(t.score([a, b]).numpy(), [3, 4])
    t = as_target(m, Output("sensors", 3), n=2)
    np.testing.assert_allclose(t.score([a, b]).numpy(), [3, 8])
    np.testing.assert_allclose(t.score([a, b], units=tf.constant([0, 1])).numpy(), [0, 6])
    t = as_target(m, lambda outs: outs[1][:, 0] - outs[0][:, 0])
    assert t.units is None
    np.testing.assert_allclose(t.score([a, b]).numpy(), [-1, 1])


def test_callable_on_single_output_gets_the_tensor():
    m = _imagenet_head()
    t = as_target(m, lambda out: tf.reduce_sum(out, axis=1))
    x = tf.ones((2, 1000))
    np.testing.assert_allclose(t.score([x]).numpy(), [1000, 1000])
