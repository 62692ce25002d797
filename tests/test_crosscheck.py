"""Cross-check against an independent implementation, tf-keras-vis (test extra; the test is
skipped only when the package is absent). xplique is not used: it pins tensorflow<=2.20 and
tensorflow-probability<=0.25, which would downgrade this project's TensorFlow.

Not cross-checked: Grad-CAM++, because published implementations disagree; tf-keras-vis divides
each channel's α by its spatial sum, which is not in the paper. Ours follows Eq. 19 + Eq. 10
(as pytorch-grad-cam does) and is tested against a from-scratch computation of that equation in
test_methods_math.py."""
import warnings

import numpy as np
import pytest

import kerasviz
from conftest import gap_dense, images

tfkv = pytest.importorskip("tf_keras_vis")
with warnings.catch_warnings():  # its SciPy imports are deprecated
    warnings.simplefilter("ignore")
    from tf_keras_vis.gradcam import Gradcam
    from tf_keras_vis.saliency import Saliency
    from tf_keras_vis.scorecam import Scorecam
    from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
    from tf_keras_vis.utils.scores import CategoricalScore

pytestmark = pytest.mark.filterwarnings("ignore")  # tf-keras-vis' own Keras warnings


def _corr(a, b):
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


@pytest.fixture(scope="module")
def model():
    import keras

    keras.utils.set_random_seed(5)
    return gap_dense(size=32, channels=8)


@pytest.mark.parametrize("ours,theirs", [("gradcam", Gradcam), ("scorecam", Scorecam)])
def test_cams_agree_with_tf_keras_vis(model, ours, theirs):
    x = images(3, 32, seed=21)
    exp = kerasviz.explain(model, x, ours, layer="c2")  # top class: positive evidence exists
    units = exp.target.tolist()
    explainer = theirs(model, model_modifier=ReplaceToLinear(), clone=True)
    signed = explainer(CategoricalScore(units), x, penultimate_layer="c2", expand_cam=False,
                       activation_modifier=None, normalize_cam=False)
    np.testing.assert_allclose(exp.raw, signed, rtol=1e-3, atol=1e-5 * np.abs(signed).max())
    maps = explainer(CategoricalScore(units), x, penultimate_layer="c2")
    for i in range(3):
        assert exp.maps[i].max() > 0  # not comparing two blank maps
        assert _corr(exp.maps[i], maps[i]) >= 0.99, (ours, i)  # upsampling differs slightly


def test_smoothgrad_agrees_with_tf_keras_vis(model):
    """Both average the signed gradient over noisy copies (the authors' PAIR ``saliency`` code;
    tf-keras-vis by default averages |gradient|, so its modifier is turned off). The two draw
    different noise (tf-keras-vis from NumPy's global generator), so they agree as two Monte-Carlo
    estimates of one expectation: many samples."""
    x = images(1, 32, seed=22)
    exp = kerasviz.explain(model, x, "smoothgrad", target=1, samples=512, noise=0.15, seed=3)
    np.random.seed(3)
    ref = Saliency(model, model_modifier=ReplaceToLinear(), clone=True)(
        CategoricalScore([1]), x, smooth_samples=512, smooth_noise=0.15, keepdims=True,
        gradient_modifier=None, normalize_map=False)
    assert _corr(exp.grads[0], ref[0]) >= 0.99
    assert _corr(exp.maps[0], np.abs(ref[0]).max(-1)) >= 0.99
    vanilla = Saliency(model, model_modifier=ReplaceToLinear(), clone=True)(CategoricalScore([1]), x)
    np.testing.assert_allclose(kerasviz.explain(model, x, "saliency", target=1).maps[0], vanilla[0],
                               rtol=1e-3, atol=1e-5)  # their min-max adds an epsilon
