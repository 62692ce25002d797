"""The per-call fast paths (issue #12) decide exactly as the work they skip: the map check, and
the conversion of numpy inputs to graph tensors."""
import types
import warnings

import numpy as np
import pytest
import tensorflow as tf

import kerasviz
from conftest import gap_dense, images
from kerasviz.errors import ExplanationWarning
from kerasviz.methods import base


@pytest.fixture(scope="module")
def model():
    return gap_dense(size=16, channels=4)


# --- the map check: a positive, finite row sum means a finite, non-empty map --------------------

def _plan():
    method = types.SimpleNamespace(name="m", postprocess="pixel")
    return types.SimpleNamespace(method=method, layer=None)


def _check(maps, scores=None):
    out = {"maps": maps.copy(), "raw": maps.copy(),
           "scores": np.ones(len(maps), np.float32) if scores is None else scores,
           "units": np.zeros(len(maps), np.int32)}
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        base.check_maps(_plan(), out, np.zeros((len(maps), 1), np.float32), [])
    assert all(isinstance(w.message, ExplanationWarning) for w in seen)  # no numpy warnings
    return out["maps"], [w.message for w in seen]


def test_ordinary_maps_pass_unchanged_without_a_warning():
    maps = np.random.default_rng(0).uniform(0, 1, (3, 8, 8)).astype(np.float32)
    checked, warned = _check(maps)
    assert np.array_equal(checked, maps) and not warned


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_map_with_one_bad_value_becomes_zero_and_is_named(bad):
    maps = np.random.default_rng(1).uniform(0.1, 1, (3, 8, 8)).astype(np.float32)
    maps[1, 3, 4] = bad
    checked, warned = _check(maps)
    assert not checked[1].any()
    assert np.array_equal(checked[[0, 2]], maps[[0, 2]])
    assert len(warned) == 1 and [list(v) for v in warned[0].causes.values()] == [[1]]
    assert "computed NaN or Inf" in str(warned[0])


def test_a_map_whose_sum_is_not_positive_is_judged_by_its_values():
    """Row sums ≤ 0 leave the fast path; the exact check finds the positive value."""
    maps = np.zeros((2, 2, 2), np.float32)
    maps[0] = [[-2.0, 1.0], [0.0, 0.0]]  # sum -1, yet a positive value: not empty
    maps[1] = [[0.5, 0.0], [0.0, 0.0]]
    checked, warned = _check(maps)
    assert np.array_equal(checked, maps) and not warned


@pytest.mark.parametrize("dtype, big", [(np.float32, 1e38), (np.float16, 6e4)])
def test_finite_maps_whose_sum_overflows_are_kept_without_a_numpy_warning(dtype, big):
    """A custom post-processing may give large values: their sum overflows to Inf, the exact
    check finds every value finite, and numpy's overflow warning does not reach the user."""
    maps = np.full((2, 4, 4), big, dtype)
    maps[1, 0, 0] = np.inf
    maps[1, 0, 1] = -np.inf  # +Inf + -Inf: an invalid sum, a bad map
    checked, warned = _check(maps)
    assert np.array_equal(checked[0], maps[0]) and not checked[1].any()
    assert [list(v) for v in warned[0].causes.values()] == [[1]]


def test_a_nan_score_still_empties_its_map():
    maps = np.full((2, 4, 4), 0.5, np.float32)
    checked, warned = _check(maps, scores=np.array([1.0, np.nan], np.float32))
    assert not checked[1].any() and checked[0].all()
    assert "score is NaN or Inf" in str(warned[0])


# --- graph inputs: the fast conversion gives tf.constant's values ------------------------------

@pytest.mark.parametrize("array, dtype", [
    (np.random.default_rng(2).normal(size=(2, 6, 6, 3)), tf.float32),  # float64 → float32
    (np.random.default_rng(3).normal(size=(2, 6, 12, 3)).astype(np.float32)[:, :, ::2], tf.float32),
    (np.array([3, -1, 7], np.int64), tf.int32),
])
def test_as_tensor_gives_tf_constants_values(array, dtype):
    got = base.as_tensor(array, dtype)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got.numpy(), tf.constant(array, dtype).numpy())


def test_the_public_conversion_gives_the_same_explanation(model, monkeypatch):
    x = images(2, 16, seed=4)
    fast = kerasviz.explain(model, x, "saliency", target=[0, 1])
    monkeypatch.setattr(base, "_eager_tensor", lambda: None)  # a TensorFlow without the fast path
    public = kerasviz.explain(model, x, "saliency", target=[0, 1])
    np.testing.assert_array_equal(fast.grads, public.grads)
    np.testing.assert_array_equal(fast.maps, public.maps)
    np.testing.assert_array_equal(fast.scores, public.scores)


def test_changing_the_callers_array_afterwards_changes_nothing_in_the_explanation(model):
    x = images(2, 16, seed=5)
    exp = kerasviz.explain(model, x, "saliency", target=0)
    maps, grads = exp.maps.copy(), exp.grads.copy()
    x[:] = 0.0
    assert np.array_equal(exp.maps, maps) and np.array_equal(exp.grads, grads)
    assert exp.images.any()  # the display images come from the input as it was
