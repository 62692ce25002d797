"""Filter patterns by gradient ascent: the book recipe's arithmetic, batching = single runs,
pre-activation objectives, the Lucid parameterisation and Adam step, class models, compiled-graph
reuse and errors."""
import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasviz
from kerasviz import ArgumentError, LayerNotFoundError, TargetError, UnknownClassError
from kerasviz.inside import patterns as P
from kerasviz.core.models import register_model


@pytest.fixture(scope="module")
def tiny(make_tiny_cnn):
    return make_tiny_cnn(size=32)


def _linear_model(size=12, border_check=False):
    """1×1 conv with a known kernel, no activation, input = raw / 255: the gradient of a filter's
    mean pre-activation w.r.t. the raw image is kernel[c, f] / (255·h·w) at every pixel."""
    inp = keras.Input((size, size, 3))
    conv = keras.layers.Conv2D(2, 1, activation="relu", name="lin")
    model = keras.Model(inp, conv(inp), name="linear")
    conv.set_weights([np.array([[[[1.0, -2.0], [0.5, 0.0], [-1.0, 3.0]]]], np.float32),
                      np.zeros(2, np.float32)])
    return register_model(model, preprocess=lambda a: np.asarray(a, np.float32) / 255.0)


def _start(seed, k, size, lo=128.0, hi=148.0):
    return np.random.default_rng([seed, k]).random((size, size, 3)) * (hi - lo) + lo


@pytest.mark.parametrize("preset, step", [({}, 4.0), (P.BOOK_1ST_EDITION, 1.0)])
def test_book_step_is_the_rms_normalised_gradient(preset, step):
    model = _linear_model()
    res = P.optimize_patterns(model, "lin", [0, 1], seed=7, progress=False,
                              **dict(preset, steps=3, size=12))
    for i, k in enumerate([0, 1]):
        w = model.get_layer("lin").get_weights()[0][0, 0, :, k]        # (3,) per input channel
        g = np.broadcast_to(w / (255 * 144), (12, 12, 3))
        direction = g / (np.sqrt(np.mean(g ** 2)) + 1e-5)              # DLwP 5.4.2
        expected = _start(7, k, 12) + 3 * step * direction
        np.testing.assert_allclose(res.inputs[i], expected, rtol=0, atol=2e-3)
        # display: standardise, ×0.1, +0.5, clip, ×255
        x = res.inputs[i]
        shown = np.clip((x - x.mean()) / (x.std() + 1e-5) * 0.1 + 0.5, 0, 1) * 255
        assert np.abs(res.images[i].astype(float) - shown).max() <= 1.0
    assert res.images.shape == (2, 12, 12, 3) and res.images.dtype == np.uint8


def test_second_edition_variant_border_l2_and_crop():
    model = _linear_model(size=16)
    res = P.optimize_patterns(model, "lin", [1], seed=3, progress=False,
                              **dict(P.BOOK_2ND_EDITION, steps=2, size=16, crop=3))
    w = model.get_layer("lin").get_weights()[0][0, 0, :, 1]
    g = np.zeros((16, 16, 3))
    g[2:-2, 2:-2] = w                                  # loss over the interior only
    g /= np.linalg.norm(g)                             # tf.math.l2_normalize
    expected = _start(3, 1, 16, 178.5, 204.0) + 2 * 1275.0 * g
    np.testing.assert_allclose(res.inputs[0], expected, rtol=0, atol=2e-3)
    assert res.images.shape == (1, 10, 10, 3)          # 25-px crop in the book; 3 px here


def test_batched_equals_single_filter_runs(tiny):
    """Filter k's pattern does not depend on its batch (same seed).

    Lucid: every filter runs as a batch of one inside the graph loop, so the same kernels see the
    same numbers whether the filter is alone, in a chunk of 4 or of 3 in another order:
    identical up to 1e-3 raw-pixel units (a margin for kernels that are not deterministic run to
    run; on CPU the runs are bit-identical). Before, a batched lucid run could differ by ~10 raw
    units: other batch sizes run other kernels, rounding flips near-tied max-pool / ReLU decisions
    of the nearly flat start image and Adam's ±lr steps make the difference visible.

    Book: batched kernels, whose rounding (~1e-7 relative) the per-sample RMS-normalised step
    does not amplify: raw images within 0.05 raw-pixel units, display within 1 level, objective
    within 1e-4 relative."""
    order = [3, 1, 5, 0, 4, 2]
    for recipe, kw, atol in [("lucid", dict(steps=6, octaves=2), 1e-3),
                             ("book", dict(steps=8), 0.05)]:
        batched = P.optimize_patterns(tiny, "conv3", range(6), recipe=recipe, seed=5,
                                      batch_size=4, progress=False, **kw)
        mixed = P.optimize_patterns(tiny, "conv3", order, recipe=recipe, seed=5, batch_size=3,
                                    progress=False, **kw)
        np.testing.assert_array_equal(mixed.units, order)
        np.testing.assert_allclose(mixed.inputs, batched.inputs[order], rtol=0, atol=atol)
        for k in (0, 3, 5):
            one = P.optimize_patterns(tiny, "conv3", [k], recipe=recipe, seed=5,
                                      progress=False, **kw)
            np.testing.assert_allclose(batched.inputs[k], one.inputs[0], rtol=0, atol=atol)
            assert np.abs(batched.images[k].astype(int) - one.images[0]).max() <= 1
            np.testing.assert_allclose(batched.score_end[k], one.score_end[0], rtol=1e-4,
                                       atol=1e-5)


def test_reproducible_by_seed_and_seed_matters(tiny):
    a = P.filter_patterns(tiny, "conv2", [1, 2], steps=3, seed=11, progress=False)
    b = P.filter_patterns(tiny, "conv2", [1, 2], steps=3, seed=11, progress=False)
    c = P.filter_patterns(tiny, "conv2", [1, 2], steps=3, seed=12, progress=False)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a.astype(int) - c).max() > 5


def test_ascent_raises_the_objective_with_both_recipes(tiny):
    for recipe, kw in [("book", dict(steps=20)), ("lucid", dict(steps=24, octaves=2))]:
        res = P.optimize_patterns(tiny, "conv3", recipe=recipe, seed=0, progress=False, **kw)
        assert (res.score_end > res.score_start).all(), recipe
        assert res.images.shape == (16, 32, 32, 3)


def test_pre_activation_moves_filters_that_start_dead(make_tiny_cnn):
    """A ReLU filter that is zero everywhere on the grey start has zero gradient: the book's
    post-ReLU loss (no redirection) leaves the image where it was; the default pre-activation
    objective moves, and so does the post-ReLU loss with redirected ReLU gradients."""
    model = make_tiny_cnn(size=32, seed=4)
    conv = model.get_layer("conv2")
    k, b = conv.get_weights()
    b[3] = -2.0
    conv.set_weights([k, b])
    post = P.optimize_patterns(model, "conv2", [3], steps=10, step_size=20, pre_activation=False,
                               redirect_steps=0, progress=False)
    assert post.activation_start[0] == 0
    np.testing.assert_array_equal(post.inputs[0], _start(0, 3, 32).astype(np.float32))
    pre = P.optimize_patterns(model, "conv2", [3], steps=10, step_size=20, progress=False)
    assert np.abs(pre.inputs[0] - _start(0, 3, 32)).mean() > 5
    assert pre.score_end[0] > pre.score_start[0] + 0.02
    redirected = P.optimize_patterns(model, "conv2", [3], steps=10, step_size=20,
                                     pre_activation=False, progress=False)
    assert np.abs(redirected.inputs[0] - _start(0, 3, 32)).mean() > 5
    assert conv.activation is keras.activations.relu  # the user's layer is untouched


def test_standalone_activation_layer_and_nested_model(make_nested_cnn):
    model = make_nested_cnn()
    before = [w.numpy().copy() for w in model.weights]
    res = P.optimize_patterns(model, "base/b_relu1", [0, 4], steps=5, progress=False)
    # the objective is the ReLU's input (BatchNorm output); the activation is the ReLU of it
    np.testing.assert_allclose(res.activation_start, np.maximum(res.score_start, 0), atol=0.02)
    assert (res.score_end > res.score_start).all()
    for w, b in zip(model.weights, before):
        np.testing.assert_array_equal(w.numpy(), b)


def test_affine_preprocessing_is_recovered_and_non_affine_refused():
    caffe = keras.applications.vgg16.preprocess_input
    model = _linear_model()
    A, b = P._input_affine(model, lambda x: np.asarray(caffe(np.array(x))))
    raw = np.random.default_rng(0).uniform(0, 255, (2, 3, 3, 3)).astype(np.float32)
    np.testing.assert_allclose(raw @ A.T + b, caffe(raw.copy()), rtol=1e-5, atol=1e-3)
    with pytest.raises(kerasviz.ModelError, match="not an affine"):
        P.filter_patterns(model, "lin", preprocess=lambda x: np.sqrt(x), steps=1)
    bare = keras.Model(model.input, model.output)
    with pytest.warns(UserWarning, match="does not know how model"):
        P.filter_patterns(bare, steps=1, size=12, progress=False)


def test_lucid_parameterisation_inverts_and_transform_geometry():
    rng = np.random.default_rng(0)
    img = 0.2 + 0.6 * rng.random((2, 10, 10, 3))
    spec = P._lucid_param_from_image(img, 10, 1.0)
    back = P._spectrum_to_image(tf.constant(spec), 10, 1.0).numpy()
    np.testing.assert_allclose(back, img, atol=1e-4)
    x = tf.constant(rng.random((1, 9, 9, 1)), tf.float32)
    ident = P._transform(x, tf.constant([[0.0, 0.0, 1.0, 0.0]]))
    np.testing.assert_allclose(ident.numpy(), x.numpy(), atol=1e-6)
    shifted = P._transform(x, tf.constant([[2.0, 0.0, 1.0, 0.0]]))    # content moves 2 px right
    np.testing.assert_allclose(shifted.numpy()[0, :, 2:], x.numpy()[0, :, :-2], atol=1e-6)
    turned = P._transform(x, tf.constant([[0.0, 0.0, 1.0, np.pi / 2]]))
    quarter = [np.rot90(x.numpy()[0, :, :, 0], k) for k in (1, -1)]
    assert min(np.abs(turned.numpy()[0, :, :, 0] - q).max() for q in quarter) < 1e-4


def test_class_model_targets(tiny):
    res = P.optimize_patterns(tiny, target=["star", 1], steps=15, progress=False)
    assert res.layer == "predictions" and list(res.units) == [3, 1]
    assert (res.score_end > res.score_start).all()                    # logits rise
    dense = tiny.get_layer("predictions")
    assert dense.activation is keras.activations.softmax               # the user's layer
    # objective = the logit, activation = the probability, both from independent computations
    gap = keras.Model(tiny.input, tiny.get_layer("gap").output)(res.inputs / 255.0).numpy()
    logits = gap @ dense.kernel.numpy() + dense.bias.numpy()
    np.testing.assert_allclose(res.score_end, logits[[0, 1], [3, 1]], rtol=1e-4, atol=1e-5)
    probs = tiny.predict(res.inputs / 255.0, verbose=0)
    np.testing.assert_allclose(probs[[0, 1], [3, 1]], res.activation_end, rtol=1e-4, atol=1e-5)
    single = P.filter_patterns(tiny, target="triangle", steps=2, progress=False)
    assert single.shape == (1, 32, 32, 3)
    with pytest.raises(UnknownClassError, match="Closest"):
        P.filter_patterns(tiny, target="starr", steps=1)
    with pytest.raises(TargetError, match="not both"):
        P.filter_patterns(tiny, filters=[1], target=1)
    with pytest.raises(TargetError, match="callable"):
        P.filter_patterns(tiny, target=lambda out: out[:, 0])


def test_new_numbers_and_units_never_retrace(make_tiny_cnn, monkeypatch):
    """Traces are counted by the calls of ``_objective``, which only runs while TensorFlow traces
    a graph (twice per traced forward pass: objective and activation). Other filters, batch
    sizes, seeds, step sizes, clip bounds, penalties and preprocessing constants reuse the graphs
    of the first call; a new layer or recipe traces its own."""
    model = make_tiny_cnn(size=32, seed=5)
    traced = []
    real = P._objective
    monkeypatch.setattr(P, "_objective", lambda *a: traced.append(1) or real(*a))

    def run(*args, **kwargs):
        P.filter_patterns(model, *args, progress=False, **kwargs)
        return len(traced)

    first = run("conv1", range(5), steps=3, redirect_steps=1, batch_size=2)
    assert first == 2 * 3      # evaluate, the redirected step, the true-gradient step
    assert run("conv1", [7], steps=2, redirect_steps=1, seed=3, step_size=2.5, clip=(10.0, 200.0),
               tv=0.1, preprocess=lambda x: np.asarray(x, np.float32) / 127.5 - 1) == first
    assert run("conv2", [0], steps=1, redirect_steps=0) == first + 2 * 2
    lucid = run("conv1", [1], recipe="lucid", steps=2, octaves=1, redirect_steps=1)
    assert lucid == first + 4 + 2 * 3
    assert run("conv1", [2, 3], recipe="lucid", steps=3, octaves=1, redirect_steps=1, lr=0.1,
               seed=4, jitter=2) == lucid


def test_caches_do_not_keep_the_model_alive(make_tiny_cnn):
    import gc
    import weakref

    model = make_tiny_cnn(size=32, seed=9)
    P.filter_patterns(model, "conv2", [0, 1], steps=2, progress=False)
    P.filter_patterns(model, "conv2", [0], recipe="lucid", steps=2, octaves=1, progress=False)
    ref = weakref.ref(model)
    del model
    gc.collect()
    assert ref() is None


def test_memory_budget_chunks_give_the_same_result(tiny):
    assert P._auto_batch(tiny, "conv3", 32, memory_mb=0.1) == 1
    assert P._auto_batch(tiny, "conv3", 32, memory_mb=1024) == 256
    small = P.filter_patterns(tiny, "conv3", [2, 9, 4], steps=4, memory_mb=0.1, progress=False)
    big = P.filter_patterns(tiny, "conv3", [2, 9, 4], steps=4, progress=False)
    assert np.abs(small.astype(int) - big).max() <= 1


@pytest.mark.parametrize("kwargs, match", [
    (dict(recipe="lucide"), r"recipe must be one of \['book', 'lucid'\].*Closest: \['lucid'\]"),
    (dict(recipe="book", octave=2), r"Unknown option 'octave'.*Received: octave=2.*Closest"),
    (dict(steps=-1), r"steps must be an integer ≥ 0\. Received: steps=-1"),
    (dict(steps=2.5), "steps"),
    (dict(seed="abc"), "seed"),
    (dict(seed=-1), "seed"),
    (dict(size=4), "size"),
    (dict(batch_size=0), "batch_size"),
    (dict(memory_mb=0), "memory_mb"),
    (dict(step_size=float("nan")), "step_size"),
    (dict(grad_norm="l1"), r"grad_norm must be one of \['rms', 'l2'\]"),
    (dict(clip=(5, 1)), "clip"),
    (dict(init=3), r"init must be a pair"),
    (dict(keep_best="yes"), "keep_best must be True or False"),
    (dict(redirect_steps=-2), "redirect_steps"),
    (dict(recipe="lucid", octaves=0), "octaves"),
    (dict(recipe="lucid", lr=-0.1), "lr"),
    (dict(recipe="lucid", scale=1.5), "scale"),
    (dict(tv=-1), "tv"),
])
def test_bad_arguments_are_argument_errors_before_any_tf_work(tiny, monkeypatch, kwargs, match):
    monkeypatch.setattr(P, "_resolve_units", lambda *a: pytest.fail("checked too late"))
    with pytest.raises(ArgumentError, match=match):
        P.filter_patterns(tiny, "conv3", **kwargs)


def test_bad_layers_filters_and_sizes(tiny):
    with pytest.raises(ArgumentError, match=r"\[0, 16\)"):
        P.filter_patterns(tiny, "conv3", filters=[16])
    with pytest.raises(ArgumentError, match="takes 32×32"):
        P.filter_patterns(tiny, "conv3", size=64)
    with pytest.raises(ArgumentError, match="crop"):
        P.filter_patterns(tiny, "conv3", crop=16)
    with pytest.raises(LayerNotFoundError, match="conv3"):
        P.filter_patterns(tiny, "conv_3")
    assert kerasviz.filter_patterns is P.filter_patterns


def test_adam_step_is_kingma_and_ba():
    """Two ascent steps against Adam written out (Kingma & Ba 2015, Algorithm 1; β1 = 0.9,
    β2 = 0.999, ε = 1e-8), in float64."""
    rng = np.random.default_rng(0)
    p0 = rng.normal(size=(2, 7))
    g1, g2 = rng.normal(size=(2, 2, 7))
    m = v = np.zeros_like(p0)
    p = p0
    for t, g in enumerate((g1, g2), 1):
        m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
        p = p + 0.05 * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
    q, mq, vq = (tf.constant(a) for a in (p0, np.zeros_like(p0), np.zeros_like(p0)))
    for t, g in enumerate((g1, g2), 1):
        q, mq, vq = P._adam_step(q, tf.constant(g), mq, vq, tf.constant(float(t), tf.float64),
                                 0.05)
        if t == 1:  # the first step moves every element by lr, whatever its gradient's size
            np.testing.assert_allclose(q.numpy() - p0, 0.05 * np.sign(g1), rtol=1e-6)
    np.testing.assert_allclose(q.numpy(), p, rtol=1e-12, atol=1e-14)


def test_redirect_moves_past_a_layer_that_is_off_on_the_start_image(make_tiny_cnn):
    model = make_tiny_cnn(size=32, seed=6)
    conv1 = model.get_layer("conv1")
    k, b = conv1.get_weights()
    conv1.set_weights([np.abs(k), np.full_like(b, -2.2)])  # off on grey, on for bright pixels
    assert not features_on_grey(model).any()
    plain = P.optimize_patterns(model, "conv2", [0, 1], steps=6, redirect_steps=0, progress=False)
    np.testing.assert_array_equal(plain.inputs, np.stack([_start(0, k, 32) for k in (0, 1)])
                                  .astype(np.float32))                   # zero gradient: stuck
    moved = P.optimize_patterns(model, "conv2", [0, 1], steps=6, step_size=20, progress=False)
    assert np.abs(moved.inputs - plain.inputs).mean() > 5 and moved.score_end.max() > 0.01
    best = P.optimize_patterns(model, "conv2", range(12), steps=8, step_size=60, progress=False)
    last = P.optimize_patterns(model, "conv2", range(12), steps=8, step_size=60, keep_best=False,
                               progress=False)
    assert (best.score_end >= best.score_start).all() and (best.score_end >= last.score_end).all()


def features_on_grey(model):
    grey = (np.full((1, 32, 32, 3), 148, np.uint8))
    return kerasviz.activations(model, grey, "conv1")["conv1"]


# --- the shipped shapes model ------------------------------------------------------------------

@pytest.fixture(scope="module")
def shapes():
    return kerasviz.load_model("shapes")


def _gained(res, factor=5.0):
    return (res.activation_end >= factor * res.activation_start) & (res.activation_end > 0)


@pytest.mark.slow
def test_shapes_last_conv_filters_gain_5x_with_both_recipes(shapes):
    """Must-show: the mean (post-ReLU) activation of ≥ 90 % of the last conv layer's filters rises
    at least 5× from the start image. Book: all filters; Lucid (slower): every 4th filter."""
    layer = kerasviz.core.layers.default_conv_layer(shapes)
    assert layer == "conv4"
    book = P.optimize_patterns(shapes, layer, recipe="book", progress=False)
    assert len(book.units) == 96 and _gained(book).mean() >= 0.9
    lucid = P.optimize_patterns(shapes, layer, range(0, 96, 4), recipe="lucid", progress=False)
    assert _gained(lucid).mean() >= 0.9
    # the book's exact loop (post-ReLU loss, step 1, no redirection) is what fails off VGG16
    exact = P.optimize_patterns(shapes, layer, range(0, 96, 4), progress=False,
                                **{k: v for k, v in P.BOOK_1ST_EDITION.items() if k != "size"})
    assert _gained(exact).mean() < _gained(book).mean()


def test_shapes_batched_equals_single_filter_run(shapes):
    """Tolerance: optimised raw images within 0.05 raw-pixel units, display images within 1 level,
    objective within 1e-4 relative."""
    batched = P.optimize_patterns(shapes, "conv3_relu", range(8), steps=12, progress=False)
    for k in (0, 5):
        one = P.optimize_patterns(shapes, "conv3_relu", [k], steps=12, progress=False)
        np.testing.assert_allclose(batched.inputs[k], one.inputs[0], rtol=0, atol=0.05)
        assert np.abs(batched.images[k].astype(int) - one.images[0]).max() <= 1
        np.testing.assert_allclose(batched.score_end[k], one.score_end[0], rtol=1e-4)


def test_vgg16_block5_batched_equals_each_filter_alone():
    """The benchmark's setting in small (``bench_filter_patterns.py --vgg16``): VGG16 with random
    weights, ``block5_conv3``, filters ascended together in one call or each alone (same seed,
    so the same start). Tolerance as the book rows of ``test_batched_equals_single_filter_runs``:
    batched kernels round differently (~1e-7 relative) and the per-sample RMS-normalised step
    does not amplify it, so raw images agree within 0.05 of the 255 raw-pixel units (one fifth
    of a display level) and the objective within 1e-4 relative."""
    model = kerasviz.load_model("vgg16", weights=None, include_top=False)
    filters = [0, 7, 300, 511]
    run = dict(steps=4, size=32, keep_best=False, progress=False)  # the last iterate, moved
    together = P.optimize_patterns(model, "block5_conv3", filters, **run)
    start = np.stack([np.random.default_rng([0, f]).random((32, 32, 3)) * 20 + 128 for f in filters])
    assert (np.abs(together.inputs - start).max(axis=(1, 2, 3)) > 4).all()  # each one ascended
    for i, f in enumerate(filters):
        alone = P.optimize_patterns(model, "block5_conv3", [f], **run)
        np.testing.assert_allclose(together.inputs[i], alone.inputs[0], rtol=0, atol=0.05)
        np.testing.assert_allclose(together.score_end[i], alone.score_end[0], rtol=1e-4,
                                   atol=1e-6)
