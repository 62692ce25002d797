"""A method added in a test file: registering it is all it takes for the contract suite
(test_methods_contract.py; conftest.py imports this module before collection) to run it. The example of
CONTRIBUTING.md's "Adding a method"."""
import numpy as np
import tensorflow as tf

import kerasviz
from conftest import gap_dense, images, reference_layer_grads
from kerasviz.methods import Float, register


@register("gradxact_abs", uses_layer=True,
          doc="|gradient × activation| per position, to a power (an example method)")
def gradxact_abs(ctx, power=Float(1.0, lo=0.0, lo_open=True)):
    """``raw_ij = (Σ_k |g_ij^k · A_ij^k|) ** power``."""
    return ctx.cam(tf.reduce_sum(tf.abs(ctx.dA * ctx.A), axis=-1) ** power)


def test_added_method_follows_its_formula():
    model = gap_dense(softmax=False)
    x = images(2, seed=3)
    exp = kerasviz.explain(model, x, "gradxact_abs", target=[2, 0], power=2.0)
    a, g, _ = reference_layer_grads(model.inputs[0], model.get_layer("c2").output,
                                    model.get_layer("predictions").output, x, [2, 0])
    ref = np.abs(g * a).sum(-1) ** 2
    np.testing.assert_allclose(exp.raw, ref, rtol=1e-4, atol=1e-6 * ref.max())
    assert exp.layer == "c2" and kerasviz.methods.get("gradxact_abs").options == {"power": 1.0}


@register("gradxact_abs_root", uses_layer=True,
          doc="the square root of another method's raw map (an example composition)")
def gradxact_abs_root(ctx):
    """``raw = sqrt(raw of gradxact_abs)``, called with ``gradxact_abs``'s default power."""
    return ctx.cam(tf.sqrt(kerasviz.methods.get("gradxact_abs")(ctx).raw))


def test_a_method_called_by_another_gets_its_defaults():
    """Calling a :class:`Method` fills in the options left out with their defaults (its ``fn``
    alone would receive the declarations: here ``** Float(…)`` fails to trace)."""
    model = gap_dense(softmax=False)
    x = images(2, seed=4)
    root = kerasviz.explain(model, x, "gradxact_abs_root", target=[1, 2]).raw
    plain = kerasviz.explain(model, x, "gradxact_abs", target=[1, 2]).raw
    np.testing.assert_allclose(root ** 2, plain, rtol=1e-5, atol=1e-7 * plain.max())
