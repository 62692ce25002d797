"""The engine: what a method reads is computed once per graph (one forward pass for A, dA and
the scores), and one compile cache: numbers are graph inputs, inline lambdas reuse their graph,
the cache is bounded and `kerasviz.clear_caches()` empties it. Traces are counted with
`Plan.total_traces`."""
import gc
import os

import numpy as np
import pytest

import kerasviz
from conftest import gap_dense, images
from kerasviz.core.targets import as_target
from kerasviz.methods.base import MAX_PLANS, Plan, plan_for


@pytest.mark.parametrize("name,passes", [("gradcam", 1), ("gradcam++", 1), ("eigencam", 1),
                                         ("saliency", 1), ("guided_backprop", 1),
                                         ("guided_gradcam", 2)])
def test_reading_a_da_dx_and_scores_runs_the_model_once_per_relu_mode(name, passes):
    model = gap_dense(size=16, channels=4)  # two Conv2D layers
    method = kerasviz.methods.get(name)
    plan = plan_for(model, method, "c2" if method.uses_layer else None, as_target(model, 0),
                    (16, 16, 3), method.check({}))
    graph = plan.compiled.get_concrete_function().graph.as_graph_def()
    nodes = [*graph.node, *(n for f in graph.library.function for n in f.node_def)]
    convs = [n for n in nodes if n.op == "Conv2D"]  # the graph's and the shared pass's
    assert len(convs) == 2 * passes  # guided_gradcam: the clean pass and the guided one


def _rss_mib():
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads RSS from /proc")
def test_inline_lambda_and_new_numbers_keep_one_graph_and_flat_memory():
    model = gap_dense(size=16, channels=4)
    x = images(2, 16, seed=1)
    traces = Plan.total_traces
    for i in range(200):
        exp = kerasviz.explain(model, x, "smoothgrad", target=lambda z: z[:, 0] - z[:, 1],
                               samples=2 + i % 3, noise=0.05 + 0.001 * i, seed=i, progress=False)
        if i == 9:
            gc.collect()
            tenth = _rss_mib()
    gc.collect()
    assert Plan.total_traces - traces == 1  # one graph for 200 lambdas, seeds, noises, samples
    assert _rss_mib() - tenth < 50
    assert exp.maps.shape == (2, 16, 16)


def test_numbers_as_graph_inputs_still_change_the_result():
    model = gap_dense(size=16, channels=4)
    x = images(1, 16, seed=2)
    ig = [kerasviz.explain(model, x, "integrated_gradients", target=0, steps=s, baseline=b).raw
          for s, b in ((4, 0.0), (4, 0.5), (9, 0.5))]
    assert np.abs(ig[0] - ig[1]).max() > 1e-6 and np.abs(ig[1] - ig[2]).max() > 1e-6
    again = kerasviz.explain(model, x, "integrated_gradients", target=0, steps=4, baseline=0.0).raw
    np.testing.assert_allclose(again, ig[0], rtol=1e-6)


def test_lambdas_with_other_closures_do_not_share_a_stale_graph():
    model = gap_dense(size=16, channels=4)
    x = images(2, 16, seed=3)
    by_lambda = [kerasviz.explain(model, x, "saliency", target=lambda z: z[:, k]).raw
                 for k in range(3)]
    for k in range(3):
        np.testing.assert_allclose(by_lambda[k], kerasviz.explain(model, x, "saliency", target=k).raw,
                                   rtol=1e-5, atol=1e-8)


def test_cache_is_bounded_and_cleared_by_clear_caches(monkeypatch):
    from kerasviz.methods import base

    monkeypatch.setattr(base, "EAGER_CALLS", 0)  # a plan's first call compiles its graph
    model = gap_dense(size=8, channels=2)
    x = images(1, 8)
    def scaled(k):
        return lambda z: z[:, 0] * (k + 2)  # one code, one graph per closure value

    first = lambda z: z[:, 0]  # noqa: E731
    kerasviz.explain(model, x, "gradxinput", target=first)
    for k in range(MAX_PLANS):  # as many other graphs: the least recently used one is dropped
        kerasviz.explain(model, x, "gradxinput", target=scaled(k))
    traces = Plan.total_traces
    kerasviz.explain(model, x, "gradxinput", target=scaled(MAX_PLANS - 1))
    assert Plan.total_traces == traces  # recently used: kept
    kerasviz.explain(model, x, "gradxinput", target=first)
    assert Plan.total_traces == traces + 1  # dropped, compiled again
    kerasviz.clear_caches()
    kerasviz.explain(model, x, "gradxinput", target=first)
    assert Plan.total_traces == traces + 2


class _CountCalls:
    """Stands in for ``replay.replay_model``: counts the replayed models it hands out that are
    then called, i.e. the model passes traced into a graph."""

    def __init__(self, real):
        self.real, self.calls = real, 0

    def __call__(self, *args, **kwargs):
        model, counter = self.real(*args, **kwargs), self

        class Counted:
            def __call__(self, *a, **k):
                counter.calls += 1
                return model(*a, **k)

        return Counted()


def test_a_second_method_on_the_same_model_and_size_traces_less(monkeypatch):
    """The clean pass (forward and backward through the model) is traced once per model,
    layer, target kind and input size, not once per method: the second method traces no
    model pass at all."""
    from kerasviz.core import replay
    from kerasviz.methods.base import CleanPass

    model = gap_dense(size=16, channels=4, name="shared_pass")
    x = images(1, 16, seed=3)
    counter = _CountCalls(replay.replay_model)
    monkeypatch.setattr(replay, "replay_model", counter)
    traced = []
    for name in ("gradcam", "layercam", "gradcam++", "saliency", "gradxinput"):
        before, passes = counter.calls, CleanPass.total_traces
        kerasviz.explain(model, x, name, target=0, layer="c2", progress=False) \
            if kerasviz.methods.get(name).uses_layer else \
            kerasviz.explain(model, x, name, target=0, progress=False)
        traced.append((counter.calls - before, CleanPass.total_traces - passes))
    assert traced[0][0] >= 1 and traced[3][0] >= 1  # first on the layer, first on the input
    assert traced[1][0] < traced[0][0] and traced[2][0] < traced[0][0]
    assert traced[4][0] < traced[3][0]
    assert [t[1] for t in traced] == [1, 0, 0, 1, 0]


SPLIT = ["gradcam", "gradcam++", "xgradcam", "layercam", "hirescam", "eigencam", "cam",
         "saliency", "gradxinput", "guided_gradcam", "scorecam"]


@pytest.mark.parametrize("target", [1, "callable"])
def test_split_route_equals_one_graph(monkeypatch, target):
    """Methods that read only the clean pass first run as the shared pass plus a small graph
    of their own math (then, on a small model, as one graph after PROMOTE_AFTER calls): the
    same results as one graph, and a second method traces no model pass; methods that need the
    model again (guided_gradcam, scorecam) have one graph."""
    from kerasviz.methods import base

    tgt = (lambda z: z[:, 0] - z[:, 1]) if target == "callable" else target
    x = images(3, 16, seed=4)
    results = {}
    model = gap_dense(size=16, channels=4, name="split")
    for route, promote in (("one", 0), ("split", 10 ** 9)):  # promoted at once / never
        monkeypatch.setattr(base, "PROMOTE_AFTER", promote)
        kerasviz.clear_caches()
        for name in SPLIT:
            if name == "cam" and target == "callable":
                continue
            uses = kerasviz.methods.get(name).uses_layer
            before = base.CleanPass.total_traces
            exp = kerasviz.explain(model, x, name, target=tgt, layer="c2" if uses else None,
                                   progress=False, max_channels=2) if name == "scorecam" else \
                kerasviz.explain(model, x, name, target=tgt, layer="c2" if uses else None,
                                 progress=False)
            if name not in ("gradcam", "saliency"):  # first on the layer / on the input
                assert base.CleanPass.total_traces == before
            plan, = [p for p in base._PLANS[model].values() if p.method.name == name]
            split = plan._runner.__name__ == "run"
            assert split == (route == "split" and name not in ("guided_gradcam", "scorecam"))
            results.setdefault(name, []).append(exp)
    for name, (one, split) in results.items():
        for k in ("maps", "raw", "scores", "target"):
            a, b = getattr(one, k), getattr(split, k)
            if a is None:
                assert b is None
            else:
                np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6, err_msg=f"{name} {k}")


def test_a_split_plan_is_promoted_to_one_graph_after_some_calls(monkeypatch):
    from kerasviz.methods import base

    monkeypatch.setattr(base, "PROMOTE_AFTER", 2)
    monkeypatch.setattr(base, "EAGER_CALLS", 0)
    model = gap_dense(size=16, channels=4, name="promoted")
    x = images(1, 16, seed=5)
    first = kerasviz.explain(model, x, "layercam", target=0, progress=False)
    plan, = base._PLANS[model].values()
    traces = plan.traces
    assert plan._runner.__name__ == "run" and traces == 1  # the tail only
    kerasviz.explain(model, x, "layercam", target=0, progress=False)
    assert plan._runner.__name__ == "run" and plan.traces == traces
    third = kerasviz.explain(model, x, "layercam", target=0, progress=False)
    assert plan._runner.__name__ != "run" and plan.traces == traces + 1  # its one graph
    np.testing.assert_allclose(third.maps, first.maps, rtol=1e-5, atol=1e-6)


def test_a_second_method_runs_its_math_eagerly_then_compiles_it(monkeypatch):
    """The first EAGER_CALLS calls of a split method trace nothing at all (its math runs
    eagerly on the shared pass's results); the next one compiles its small graph. Every call
    gives the same maps as the method's one graph."""
    from kerasviz.methods import base

    monkeypatch.setattr(base, "EAGER_CALLS", 2)
    monkeypatch.setattr(base, "PROMOTE_AFTER", 10 ** 9)
    model = gap_dense(size=16, channels=4, name="eager")
    x = images(2, 16, seed=6)
    kerasviz.explain(model, x, "gradcam", target=0, layer="c2", progress=False)  # traces the pass
    traces, passes, maps = Plan.total_traces, base.CleanPass.total_traces, []
    for call in range(3):
        maps.append(kerasviz.explain(model, x, "layercam", target=0, layer="c2",
                                     progress=False).maps)
        assert Plan.total_traces - traces == (0 if call < 2 else 1)
    assert base.CleanPass.total_traces == passes
    plan, = [p for p in base._PLANS[model].values() if p.method.name == "layercam"]
    one = plan.compiled(x, np.zeros(2, np.int32))["maps"].numpy()  # its one graph
    for m in maps:
        np.testing.assert_allclose(m, one, rtol=1e-5, atol=1e-6)


def test_a_method_that_reads_no_gradient_leaves_the_split_route_for_its_one_graph(monkeypatch):
    """Eigen-CAM reads only the activations: after its eager calls it compiles its one graph
    (which TensorFlow optimises without the backward pass), not a tail behind the shared pass
    (which would compute ∂S/∂A for nothing on every call); LayerCAM, which reads ∂S/∂A,
    compiles its tail. Maps are the same on every route."""
    from kerasviz.methods import base

    monkeypatch.setattr(base, "EAGER_CALLS", 2)
    monkeypatch.setattr(base, "PROMOTE_AFTER", 10 ** 9)
    tails = []
    traced = base._Tail.__call__
    monkeypatch.setattr(base._Tail, "__call__",
                        lambda self, *a: tails.append(self.plan.method.name) or traced(self, *a))
    model = gap_dense(size=16, channels=4, name="no_gradient")
    x = images(2, 16, seed=7)
    kerasviz.explain(model, x, "gradcam", target=0, layer="c2", progress=False)  # the pass
    for method in ("eigencam", "layercam"):
        traces, maps = Plan.total_traces, []
        for _ in range(4):
            maps.append(kerasviz.explain(model, x, method, target=0, layer="c2",
                                         progress=False).maps)
        assert Plan.total_traces - traces == 1  # eager, eager, then one compile
        assert tails.count(method) == (0 if method == "eigencam" else 1)
        plan, = [p for p in base._PLANS[model].values() if p.method.name == method]
        one = plan.compiled(x, np.zeros(2, np.int32))["maps"].numpy()
        for m in maps:
            np.testing.assert_allclose(m, one, rtol=1e-5, atol=1e-6)
