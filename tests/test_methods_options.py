"""Method options are checked before any TensorFlow work: each bad value maps to
ArgumentError with a message naming the option, its valid range and the value received."""
import pytest

import kerasviz
from conftest import gap_dense, images
from kerasviz.methods import base

ROWS = [  # method, options, message (regex)
    ("smoothgrad", dict(samples=0), r"samples must be an integer ≥ 1\. Received: samples=0\."),
    ("smoothgrad", dict(samples=-3), r"samples must be an integer ≥ 1\. Received: samples=-3\."),
    ("smoothgrad", dict(samples=2.5), r"samples must be an integer ≥ 1\. Received: samples=2\.5\."),
    ("integrated_gradients", dict(steps=-2), r"steps must be an integer in \[1, 1073741824\]\. Received: steps=-2\."),
    ("integrated_gradients", dict(steps=0), r"steps must be an integer in \[1, 1073741824\]\. Received: steps=0\."),
    ("integrated_gradients", dict(steps=2 ** 30 + 1), r"steps must be an integer in \[1, 1073741824\]\. Received: steps=1073741825\."),
    ("gradcam_ig", dict(steps=2 ** 31 - 1), r"steps must be an integer in \[1, 1073741824\]\. Received: steps=2147483647\."),
    ("integrated_gradients", dict(baseline=float("nan")), r"baseline must be finite .*1 non-finite"),
    ("integrated_gradients", dict(baseline="zero"), r"baseline must be a number or an array"),
    ("smoothgrad", dict(seed="abc"),
     r"seed must be an integer in \[0, 2147483647\]\. Received: seed='abc'\."),
    ("smoothgrad", dict(seed=-1), r"seed must be an integer in \[0, 2147483647\]\. Received: seed=-1"),
    ("smoothgrad", dict(noise=-1), r"noise must be a finite number ≥ 0\.0\. Received: noise=-1\."),
    ("smoothgrad", dict(noise=float("inf")), r"noise must be a finite number ≥ 0\.0\. Received: noise=inf"),
    ("scorecam", dict(max_channels=0), r"max_channels must be an integer ≥ 1\. Received: max_channels=0\."),
    ("scorecam", dict(max_channels=True), r"max_channels must be an integer ≥ 1\. Received: max_channels=True"),
    ("smoothgrad", dict(sample=3), r"Unknown option 'sample' for method 'smoothgrad'\. Expected one of "
                                   r"\['noise', 'samples', 'seed'\]\. Received: sample=3\. Closest: \['samples'"),
    ("gradcam", dict(steps=3), r"Unknown option 'steps' for method 'gradcam'\. Expected one of no options"),
    ("gradcam", dict(smooth=dict(sample=3)), r"Unknown noise-tunnel setting 'sample'\. Expected keys among "
                                             r"\['noise', 'samples', 'seed'\].*Closest: \['samples'"),
    ("gradcam", dict(smooth=dict(samples=0)), r"samples must be an integer ≥ 1\. Received: samples=0\."),
    ("gradcam", dict(smooth=dict(noise="x")), r"noise must be a finite number ≥ 0\.0\. Received: noise='x'"),
    ("gradcam", dict(smooth=[16, 0.1]), r"smooth must be a dict\. Expected .*Received: smooth=\[16, 0\.1\]"),
    ("smoothgrad", dict(smooth=dict(samples=4)), r"has its own option\(s\) \['noise', 'samples', 'seed'\]"),
    ("gradcam", dict(smooth=dict(samples=4), noise=-0.5), r"noise must be a finite number ≥ 0\.0"),
]


@pytest.fixture(scope="module")
def model():
    return gap_dense(size=16)


@pytest.mark.parametrize("method,options,message", ROWS,
                         ids=[f"{m}-{'-'.join(o)}" for m, o, _ in ROWS])
def test_bad_option_values(model, monkeypatch, method, options, message):
    def no_tensorflow_work(*args, **kwargs):
        raise AssertionError("a graph was built before the options were checked")

    monkeypatch.setattr(base, "plan_for", no_tensorflow_work)
    with pytest.raises(kerasviz.ArgumentError, match=message):
        kerasviz.explain(model, images(1, 16), method, **options)


def test_array_option_must_broadcast_to_one_input(model):
    with pytest.raises(kerasviz.ArgumentError, match=r"baseline must be a number or an array "
                       r"broadcastable to one input of shape \(16, 16, 3\)\. Received: baseline of "
                       r"shape \(5, 5, 5\)\."):
        kerasviz.explain(model, images(1, 16), "integrated_gradients", baseline=images(5, 5, 5)[0])


def test_smooth_wrapper_checks_its_settings():
    with pytest.raises(kerasviz.ArgumentError, match=r"samples must be an integer ≥ 1\. Received: samples=0"):
        kerasviz.methods.smooth("gradcam++", samples=0)
    with pytest.raises(kerasviz.UnknownMethodError, match="Closest"):
        kerasviz.methods.smooth("gradcam+++")
    m = kerasviz.methods.smooth("gradcam++", samples=16, noise=0.1)
    assert m.options == {"samples": 16, "noise": 0.1, "seed": 0} and m.family == "cam"


def test_good_values_are_accepted(model):
    x = images(1, 16)
    exp = kerasviz.explain(model, x, "integrated_gradients", steps=3.0,
                           baseline=images(1, 16, seed=1)[0])  # not x: an empty map
    assert exp.maps.shape == (1, 16, 16)
    assert kerasviz.explain(model, x, "scorecam", max_channels=100).maps.shape == (1, 16, 16)
