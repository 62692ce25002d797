"""Numeric hazards, over every registered method: where the model's answer is degenerate (a dead
layer, a constant model, a saturated output, a target whose score is 0, a score that overflows)
the maps are finite, in [0, 1] and 0, and one :class:`kerasviz.ExplanationWarning` names the
method, the images and the cause; a normal case warns nothing. Bad input (NaN / Inf in the images
or the extra inputs) is refused before any TensorFlow work (the messages are in
``test_errors.py``; the int-input case is here).

Which images each hazard empties follows from the models' construction (see each builder); the
built-in methods that still give a map there are listed with the reason. A method registered
elsewhere (``test_methods_added.py``) is held to the contract only: finite maps in [0, 1], and a
warning exactly for the images whose map is empty.
"""
import warnings

import keras
import numpy as np
import pytest

import kerasviz
from conftest import gap_dense, images
from kerasviz import ExplanationWarning
from kerasviz import methods as registry
from kerasviz.methods import base

BUILT_IN = {"cam", "gradcam", "gradcam++", "xgradcam", "layercam", "hirescam", "eigencam",
            "scorecam", "ablationcam", "saliency", "smoothgrad", "gradxinput",
            "integrated_gradients", "guided_backprop", "deconvnet", "guided_gradcam"}
METHODS = registry.names() + [registry.smooth("gradcam++", samples=3, noise=0.1)]
IDS = [m if isinstance(m, str) else m.name for m in METHODS]


def _explain(model, x, method, **kwargs):
    """``(exp, warning or None)``; fails on a second ExplanationWarning (one per call)."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        exp = kerasviz.explain(model, x, method, **kwargs)
    ours = [w for w in seen if issubclass(w.category, ExplanationWarning)]
    assert len(ours) <= 1, [str(w.message) for w in ours]
    if ours:
        assert ours[0].filename == __file__  # points at the caller's explain() line
    return exp, ours[0].message if ours else None


def _check(exp, warning, name):
    """The contract: finite maps in [0, 1]; warned images == images whose map is all 0.
    Returns the empty images and ``{cause: images}``."""
    maps = exp.maps
    assert np.isfinite(maps).all() and maps.min() >= 0 and maps.max() <= 1
    empty = [i for i in range(len(maps)) if not (maps[i] > 0).any()]
    warned = list(warning.images) if warning else []
    assert warned == empty
    if warning:
        assert warning.method == name and f"Method {name!r}" in str(warning)
        for cause, idx in warning.causes.items():
            assert f"images {list(idx)}: {cause}"[:60].lower() in str(warning).lower()
    return empty, dict(warning.causes) if warning else {}


def _cause(causes, start):
    """The images of the one cause that starts with ``start``."""
    hits = [idx for text, idx in causes.items() if text.startswith(start)]
    assert len(hits) == 1, (start, list(causes))
    return list(hits[0])


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(11)
    return gap_dense(size=16, channels=6)  # ReLU convs with zero biases, softmax head


# --- normal images, a dead layer, an overflow: one batch -----------------------------------

@pytest.mark.parametrize("method", METHODS, ids=IDS)
def test_normal_images_warn_nothing(model, method):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exp = kerasviz.explain(model, images(3, 16, seed=5), method, batch_size=2)
    assert (exp.maps.reshape(3, -1).max(axis=1) == 1).all()


@pytest.mark.parametrize("method", METHODS, ids=IDS)
def test_dead_layer_and_overflow_give_zero_maps_and_one_warning(model, method):
    """Image 1 is black: with zero biases every ReLU of the model outputs 0 (a dead layer for
    that image), so logits are 0 and so is each gradient through the forward ReLU mask.
    Image 2 is finite but 3e38: the first conv overflows, the score is NaN / Inf.
    Images 0 and 3 are ordinary. Two chunks (batch_size=2): one warning, global indices."""
    x = images(4, 16, seed=7)
    x[1], x[2] = 0.0, 3e38
    m = registry.get(method)
    exp, warning = _explain(model, x, m, batch_size=2)
    assert not np.isfinite(exp.scores[2]) and exp.scores[1] == 0  # the hazards are there
    empty, causes = _check(exp, warning, m.name)
    assert _cause(causes, "the target's score is NaN or Inf") == [2]
    if m.name not in BUILT_IN and not m.name.startswith("smooth("):
        return
    if m.name == "deconvnet":  # its ReLUs ignore the forward mask: a map even where dead
        assert empty == [2]
        return
    assert empty == [1, 2]
    if m.uses_layer:
        assert _cause(causes, "layer 'c2' outputs 0 everywhere (a dead layer") == [1]
    else:
        assert _cause(causes, "the target's score is 0 and its gradient with respect to the "
                              "input is 0") == [1]
    assert "Their maps are 0" in str(warning)


# --- a constant model, a target whose score is 0 ---------------------------------------------

@pytest.fixture(scope="module")
def constant():
    """conv features → GAP → Dense(3, relu) with a zero kernel and biases (1, 0, −5): the output
    is (1, 0, 0) whatever the input. Unit 0 is constant (score 1, gradient 0); units 1 and 2
    are switched off (score 0, gradient 0)."""
    keras.utils.set_random_seed(12)
    base_model = gap_dense(size=16, channels=6, softmax=False)
    dense = keras.layers.Dense(3, activation="relu", name="predictions")
    model = keras.Model(base_model.input, dense(base_model.get_layer("gap").output))
    dense.set_weights([np.zeros((6, 3), np.float32), np.array([1.0, 0.0, -5.0], np.float32)])
    return model


@pytest.mark.parametrize("method", METHODS, ids=IDS)
def test_constant_model_and_zero_score_targets(constant, method):
    m = registry.get(method)
    exp, warning = _explain(constant, images(3, 16, seed=7), m, target=[0, 1, 2])
    empty, causes = _check(exp, warning, m.name)
    if m.name not in BUILT_IN and not m.name.startswith("smooth("):
        return
    if m.name == "eigencam":  # ignores the target: the activations are alive
        assert empty == []
        return
    if m.name == "scorecam":  # weights are the score itself here (no softmax): 1, 0, 0
        assert empty == [1, 2]
    else:
        assert empty == [0, 1, 2]
        wrt = "layer 'c2'" if m.uses_layer else "the input"
        assert _cause(causes, f"the gradient of the target with respect to {wrt} is 0") == [0]
    assert _cause(causes, "the target's score is 0 and its gradient") == [1, 2]


# --- saturated softmax: replaced (logits explained) or not -----------------------------------

def _huge_logits(model):
    dense = model.get_layer("predictions")
    kernel, bias = dense.get_weights()
    dense.set_weights([kernel * 1e4, bias])  # softmax probabilities are exactly 0 or 1
    return model


@pytest.fixture(scope="module")
def saturated():
    keras.utils.set_random_seed(13)
    return _huge_logits(gap_dense(size=16, channels=6))


@pytest.fixture(scope="module")
def saturated_hidden():
    """The same head, but the softmax is followed by an Identity layer, so it does not make the
    model's output and kerasviz explains the probability: its gradient is exactly 0
    (``p (δ − p)`` with p in {0, 1})."""
    keras.utils.set_random_seed(13)
    model = _huge_logits(gap_dense(size=16, channels=6, softmax=False))
    out = keras.layers.Identity(name="probabilities")(keras.layers.Softmax()(model.output))
    return keras.Model(model.input, out)


@pytest.mark.parametrize("method", METHODS, ids=IDS)
def test_saturated_softmax_is_explained_on_its_logits(saturated, method):
    m = registry.get(method)
    x = images(3, 16, seed=7)
    np.testing.assert_array_equal(np.sort(saturated.predict(x, verbose=0), axis=1)[:, :2], 0)
    exp, warning = _explain(saturated, x, m, target=[0, 1, 2])
    empty, _ = _check(exp, warning, m.name)
    if m.name not in ("scorecam", "rise"):  # they weight by probabilities, which may all be 0
        assert empty == [] and warning is None


#: built-in methods that read the gradient at the input images (the others: Eigen-CAM ignores
#: the target, Score-/Ablation-CAM use forward passes only, integrated gradients walks a path
#: from the baseline through unsaturated logits)
READ_THE_GRADIENT = BUILT_IN - {"cam", "eigencam", "scorecam", "ablationcam",
                                "integrated_gradients"}


@pytest.mark.parametrize("method", [m for m in METHODS if m != "cam"],  # cam needs GAP → Dense
                         ids=[i for i in IDS if i != "cam"])               # making the output
def test_saturated_softmax_not_replaced_gives_zero_maps(saturated_hidden, method):
    m = registry.get(method)
    exp, warning = _explain(saturated_hidden, images(3, 16, seed=7), m)
    empty, causes = _check(exp, warning, m.name)
    if m.name in READ_THE_GRADIENT or m.name.startswith("smooth("):
        assert empty == [0, 1, 2]
        wrt = "layer 'c2'" if m.uses_layer else "the input"
        assert _cause(causes, f"the gradient of the target with respect to {wrt} is 0") == [0, 1, 2]
        assert "a softmax kerasviz did not replace" in str(warning)


# --- the other causes, each made on purpose ---------------------------------------------------

def test_input_equal_to_baseline_is_the_methods_own_zero(model):
    x = images(2, 16, seed=3)
    exp, warning = _explain(model, x, "integrated_gradients", baseline=x[1], steps=2)
    assert _check(exp, warning, "integrated_gradients")[0] == [1]  # x − x₀ = 0 for image 1
    assert _cause(warning.causes, "'integrated_gradients' gives 0 everywhere although the "
                                  "target's gradient is not 0") == [1]


def test_only_negative_evidence_is_named():
    """GAP → Dense: Grad-CAM's raw map is Σ_k W[k, c] A_k / (h w); with column 1 of W negative
    and A ≥ 0 (ReLU) it is ≤ 0 everywhere, and < 0 somewhere."""
    keras.utils.set_random_seed(14)
    model = gap_dense(size=16, channels=6)
    dense = model.get_layer("predictions")
    kernel, bias = dense.get_weights()
    kernel[:, 1] = -np.abs(kernel[:, 1]) - 0.1
    dense.set_weights([kernel, bias])
    exp, warning = _explain(model, images(2, 16, seed=3), "gradcam", target=[0, 1])
    assert exp.raw[1].max() <= 0 < -exp.raw[1].min()
    assert _check(exp, warning, "gradcam")[0] == [1]
    assert _cause(warning.causes, "the raw map is <= 0 everywhere: at layer 'c2'") == [1]


def test_a_uniform_map_is_named():
    """Input → GAP → Dense: ∂S/∂x = W[:, c] / (H W) at every pixel, so the saliency map is one
    value everywhere."""
    inp = keras.Input((8, 8, 3))
    model = keras.Model(inp, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(inp)))
    exp, warning = _explain(model, images(2, 8), "saliency", target=0)
    assert _check(exp, warning, "saliency")[0] == [0, 1]
    assert _cause(warning.causes, "the map has the same value everywhere") == [0, 1]


def test_many_images_are_listed_briefly(constant):
    exp, warning = _explain(constant, images(12, 16, seed=1), "gradcam", target=1)
    assert warning.images == tuple(range(12)) and "… (12 in all)]" in str(warning)


def test_the_causes_graph_is_compiled_only_for_an_empty_map(model):
    kerasviz.explain(model, images(2, 16, seed=9), "hirescam", batch_size=3)
    plan, = [p for p in base._PLANS[model].values()
             if p.method.name == "hirescam" and p.batch_size == 3]
    assert plan._facts is None  # the normal path: maps checked on the numpy side only
    black = np.zeros((2, 16, 16, 3), np.float32)
    with pytest.warns(ExplanationWarning, match=r"Images \[0, 1\]: layer 'c2' outputs 0"):
        kerasviz.explain(model, black, "hirescam", batch_size=3)
    assert plan._facts is not None


def test_nan_in_an_int_input_is_refused_before_the_cast():
    image = keras.Input((8, 8, 3), name="image")
    ids = keras.Input((2,), name="ids", dtype="int32")
    feats = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(2, 3, name="c1")(image))
    out = keras.layers.Dense(2)(keras.layers.Concatenate()([feats, keras.ops.cast(ids, "float32")]))
    model = keras.Model([image, ids], out)
    bad = np.array([[0.0, 1.0], [np.nan, 0.0]])  # astype(int32) would make the NaN a number
    with pytest.raises(kerasviz.ArgumentError, match=r"'ids' contains NaN or Inf in rows \[1\]"):
        kerasviz.explain(model, images(2, 8), "saliency", extra_inputs=[bad])
