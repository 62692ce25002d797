"""Activations through one tap model, per-layer statistics, channel grids and filter weights."""
import json

import keras
import numpy as np
import pytest

import kerasviz
from kerasviz import LayerNotFoundError
from kerasviz.inside import features
from kerasviz.present import render


@pytest.fixture(scope="module")
def tiny(make_tiny_cnn):
    return make_tiny_cnn()


@pytest.fixture(scope="module")
def nested(make_nested_cnn):
    return make_nested_cnn()


@pytest.fixture(scope="module")
def images(make_images):
    return make_images(3)


@pytest.fixture
def counted(monkeypatch):
    """Count replay-model requests (calls of replay_model from features) and forward calls of
    the models they return."""
    calls = {"build": 0, "forward": 0, "models": set()}
    real = features.replay_model

    def wrapper(model, paths=(), **kw):
        calls["build"] += 1
        sub = real(model, paths, **kw)
        calls["models"].add(id(sub))

        def forward(*a, **k):
            calls["forward"] += 1
            return sub(*a, **k)

        return forward

    monkeypatch.setattr(features, "replay_model", wrapper)
    return calls


def test_activations_equal_hand_built_sub_models(tiny, images):
    acts = features.activations(tiny, images)
    x = images.astype(np.float32) / 255.0
    assert list(acts) == ["conv1", "pool1", "conv2", "pool2", "conv3"]  # 4-D layers, model order
    for name, got in acts.items():
        ref = keras.Model(tiny.input, tiny.get_layer(name).output)(x)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, np.asarray(ref), rtol=1e-5, atol=1e-6)


def test_activations_through_a_nested_model(nested, images):
    acts = features.activations(nested, images, ["base/b_bn1", "b_dw", "base/b_conv2"])
    assert list(acts) == ["base/b_bn1", "base/b_dw", "base/b_conv2"]
    base = nested.get_layer("base")
    x = images.astype(np.float32) / 255.0  # the Rescaling layer in front of the base
    for path, got in acts.items():
        inner = path.split("/")[1]
        ref = keras.Model(base.input, base.get_layer(inner).output)(x, training=False)
        np.testing.assert_allclose(got, np.asarray(ref), rtol=1e-5, atol=1e-5)


def test_one_sub_model_call_serves_all_layers(tiny, images, counted):
    acts = features.activations(tiny, images, keras.layers.Conv2D)
    assert list(acts) == ["conv1", "conv2", "conv3"]
    assert counted["forward"] == 1 and counted["build"] == 1
    again = features.activations(tiny, images, keras.layers.Conv2D, batch_size=2)
    assert counted["forward"] == 1 + 2  # two chunks of images, one call each
    assert len(counted["models"]) == 1  # the same cached tap model both times
    for k in acts:
        np.testing.assert_allclose(again[k], acts[k], rtol=1e-6, atol=1e-7)


def test_layer_selection_and_errors(tiny, images):
    assert list(features.activations(tiny, images, "conv*")) == ["conv1", "conv2", "conv3"]
    assert list(features.activations(tiny, images, [-3, "conv1"])) == ["conv1", "conv3"]
    with pytest.raises(LayerNotFoundError, match=r"conv_2.*Closest: \['conv2'"):
        features.activations(tiny, images, "conv_2")
    with pytest.raises(kerasviz.ImageError, match="expects input of shape"):
        features.activations(tiny, np.zeros((1, 20, 20, 3), np.float32))
    with pytest.raises(kerasviz.ArgumentError, match="batch_size"):
        features.activations(tiny, images, batch_size=0)


def _reference_stats(a):
    flat = a.reshape(-1, a.shape[-1]).astype(np.float64)
    return (flat.mean(), flat.std(), flat.max(), np.mean(flat == 0),
            np.mean([np.all(flat[:, c] == 0) for c in range(flat.shape[1])]))


def test_layer_stats_match_numpy_reference_and_stream(images, make_tiny_cnn):
    model = make_tiny_cnn(seed=3)
    conv2 = model.get_layer("conv2")
    k, b = conv2.get_weights()
    b[[0, 5]] = -1e3  # two channels that never fire: dead
    conv2.set_weights([k, b])
    acts = features.activations(model, images)
    table = features.layer_stats(model, images)
    streamed = features.layer_stats(model, images, batch_size=2)
    assert [r.layer for r in table] == list(acts)
    for row, srow in zip(table, streamed):
        ref = _reference_stats(acts[row.layer])
        got = (row.mean, row.std, row.max, row.zero_fraction, row.dead_fraction)
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(got, (srow.mean, srow.std, srow.max, srow.zero_fraction,
                                         srow.dead_fraction), rtol=1e-6, atol=1e-7)
        assert row.shape == acts[row.layer].shape[1:]
    conv2_row = next(r for r in table if r.layer == "conv2")
    assert not acts["conv2"][..., [0, 5]].any() and conv2_row.dead_fraction >= 2 / 12
    text = str(table)
    assert "conv2" in text and "16×16×12" in text and f"{conv2_row.dead_fraction:.1%}" in text
    assert json.loads(table.to_json())[2]["shape"] == [16, 16, 12]


def test_zero_tolerance_counts_near_zeros(tiny, images):
    exact = features.layer_stats(tiny, images, "conv1")[0]
    loose = features.layer_stats(tiny, images, "conv1", zero_tol=0.05)[0]
    a = features.activations(tiny, images, "conv1")["conv1"]
    assert loose.zero_fraction == pytest.approx(np.mean(np.abs(a) <= 0.05))
    assert loose.zero_fraction > exact.zero_fraction


@pytest.mark.parametrize("bad", [-0.1, float("nan"), "0.1", True])
def test_bad_zero_tolerance_is_an_argument_error(tiny, images, bad):
    with pytest.raises(kerasviz.ArgumentError, match=r"zero_tol must be a finite number ≥ 0"):
        features.layer_stats(tiny, images, "conv1", zero_tol=bad)


def test_sparsity_figure_plots_the_table(tiny, images):
    table = features.layer_stats(tiny, images)
    fig = features.sparsity_figure(table)
    lines = fig.axes[0].get_lines()
    np.testing.assert_allclose(lines[0].get_ydata(), [100 * r.zero_fraction for r in table])
    np.testing.assert_allclose(lines[1].get_ydata(), [100 * r.dead_fraction for r in table])


def _tile(grid, i, size, cols=16, pad=1, top=0):
    r, c = divmod(i, cols)
    y, x = top + r * (size + pad), c * (size + pad)
    return grid[y:y + size, x:x + size]


def test_channel_grid_standardises_each_channel_like_the_book():
    rng = np.random.default_rng(0)
    a = rng.normal(3.0, 2.0, (8, 8, 20)).astype(np.float32)
    a[..., 4] = 7.0  # constant channel: a blank (dark) tile
    grid = features.channel_grid(a, scale=1)
    assert grid.dtype == np.uint8 and grid.shape == (2 * 9 - 1, 16 * 9 - 1, 3)
    for ch in (0, 17):
        c = a[..., ch]
        book = np.clip((c - c.mean()) / c.std() * 64 + 128, 0, 255) / 255  # DLwP 5.4.1
        expected = render.colorize(book, "viridis")
        assert np.abs(_tile(grid, ch, 8).astype(int) - expected).max() <= 1
    np.testing.assert_array_equal(_tile(grid, 4, 8), render.colorize(np.zeros((8, 8)), "viridis"))


def test_channel_grid_subset_sort_scale_and_title():
    a = np.zeros((4, 4, 6), np.float32)
    for c in range(6):
        a[..., c] = c + np.arange(16).reshape(4, 4) * 0.1 * (c + 1)  # means rise with c
    by_mean = features.channel_grid(a, channels=[1, 4, 2], sort="mean", scale=1)
    plain = features.channel_grid(a, channels=[4, 2, 1], scale=1)
    np.testing.assert_array_equal(by_mean, plain)
    big = features.channel_grid(a)  # auto scale: 4-px maps become 32-px tiles
    assert big.shape == (32, 6 * 33 - 1, 3)
    titled = features.channel_grid(a, "conv9")
    assert titled.shape[0] == big.shape[0] + 18 and (titled[:18] < 128).any()
    with pytest.raises(kerasviz.ArgumentError, match="shape"):
        features.channel_grid(np.zeros((2, 4, 4, 3)))
    with pytest.raises(kerasviz.ArgumentError, match=r"channels indices in \[0, 6\)"):
        features.channel_grid(a, channels=[9])
    with pytest.raises(kerasviz.ArgumentError, match="sort"):
        features.channel_grid(a, sort="max")


def test_channel_grid_of_512_channels_is_one_modest_image():
    a = np.random.default_rng(1).random((14, 14, 512), dtype=np.float32)
    grid = features.channel_grid(a, "block5_conv3")
    tile = 14 * 3  # auto scale 3
    assert grid.shape == (18 + 32 * (tile + 1) - 1, 16 * (tile + 1) - 1, 3)
    assert grid.nbytes < 4e6
    fig = features.channel_figure(a, "block5_conv3")
    assert fig.axes[0].get_title() == "block5_conv3" and fig.get_figwidth() <= 16


def test_filter_weights_rgb_mean_channel_and_depthwise(tiny, nested):
    k = tiny.get_layer("conv1").get_weights()[0]          # (3, 3, 3, 8)
    tiles = features.filter_weights(tiny)                 # default: first conv layer, RGB
    assert tiles.shape == (8, 3, 3, 3) and tiles.dtype == np.uint8
    f = k[..., 5]
    np.testing.assert_array_equal(tiles[5], render.to_uint8(0.5 + 0.5 * f / np.abs(f).max()))
    k2 = tiny.get_layer("conv2").get_weights()[0]         # (3, 3, 8, 12)
    mean = features.filter_weights(tiny, "conv2", filters=slice(2, 4))
    m = k2[:, :, :, 3].mean(axis=2)
    np.testing.assert_array_equal(mean[1, ..., 0], render.to_uint8(0.5 + 0.5 * m / np.abs(m).max()))
    one = features.filter_weights(tiny, "conv2", input_channel=6, filters=[7])
    c = k2[:, :, 6, 7]
    np.testing.assert_array_equal(one[0, ..., 1], render.to_uint8(0.5 + 0.5 * c / np.abs(c).max()))
    dw = nested.get_layer("base").get_layer("b_dw").get_weights()[0]  # (3, 3, 6, 2)
    tiles = features.filter_weights(nested, "b_dw")
    assert tiles.shape == (12, 3, 3, 3)
    d = dw[:, :, 4, 1]                                    # input channel 4, multiplier 1
    np.testing.assert_array_equal(tiles[4 * 2 + 1, ..., 2],
                                  render.to_uint8(0.5 + 0.5 * d / np.abs(d).max()))
    assert features.filter_weights(nested).shape == (6, 3, 3, 3)  # first conv of the nested base
    with pytest.raises(LayerNotFoundError, match="MaxPooling2D.*Conv2D"):
        features.filter_weights(tiny, "pool1")
    with pytest.raises(kerasviz.ArgumentError, match="input_channel"):
        features.filter_weights(tiny, "conv2", input_channel=8)


def test_shapes_model_is_sparser_after_its_first_layer():
    """The book's claim (sparsity grows with depth) as far as it holds on the shipped shapes
    model: every ReLU output after conv1 has a larger fraction of zero activations than conv1.
    (It is not monotone there: conv2 is the sparsest; see README.md ("Inside the network").)"""
    from kerasviz.data import datasets

    model = kerasviz.load_model("shapes")
    images = datasets.shapes(32, seed=11).images
    relus = ["conv1", "conv2", "conv3_relu", "conv4"]
    table = features.layer_stats(model, images, relus)
    zeros = [r.zero_fraction for r in table]
    assert [r.layer for r in table] == relus
    assert all(z > zeros[0] + 0.05 for z in zeros[1:])
    assert np.polyfit(np.arange(4), zeros, 1)[0] > 0      # least-squares trend rises with depth
