"""kerasviz.load_model: keras.applications weights through the caches, safe mode, preprocessing."""
import h5py
import keras
import numpy as np
import pytest

import kerasviz
from kerasviz import ImageError, ModelError, WeightsNotFoundError
from kerasviz.core import models

NOTOP = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"


def _write_keras_weights_file(model, path):
    """Write weights in the legacy HDF5 layout of Keras' published application files."""
    from kerasviz._keras_compat import legacy_h5_format

    with h5py.File(path, "w") as f:
        legacy_h5_format().save_weights_to_hdf5_group(f, model)


@pytest.fixture(scope="module")
def vgg_notop():
    keras.utils.set_random_seed(1)
    return keras.applications.VGG16(include_top=False, weights=None, input_shape=(64, 64, 3))


@pytest.mark.parametrize("where", ["own_cache", "keras_home"])
def test_vgg16_weights_load_from_cache_exactly(vgg_notop, empty_weight_caches, where):
    own, home = empty_weight_caches
    folder = own if where == "own_cache" else home / "models"
    folder.mkdir(exist_ok=True)
    _write_keras_weights_file(vgg_notop, folder / NOTOP)
    model = kerasviz.load_model("vgg16", include_top=False, input_shape=(64, 64, 3))
    x = np.random.default_rng(0).normal(size=(2, 64, 64, 3)).astype(np.float32) * 50
    np.testing.assert_array_equal(model(x).numpy(), vgg_notop(x).numpy())
    info = kerasviz.model_info(model)
    assert info.name == "vgg16" and info.input_size == (64, 64)


def test_explicit_weights_path(vgg_notop, tmp_path, empty_weight_caches):
    path = tmp_path / "mine.h5"
    _write_keras_weights_file(vgg_notop, path)
    model = kerasviz.load_model("vgg16", weights=str(path), include_top=False, input_shape=(64, 64, 3))
    x = np.ones((1, 64, 64, 3), np.float32)
    np.testing.assert_array_equal(model(x).numpy(), vgg_notop(x).numpy())


def test_missing_weights_offline_names_the_cache(empty_weight_caches, monkeypatch, tmp_path):
    own_default = tmp_path / "repo" / "weights_cache"
    monkeypatch.delenv("KERASVIZ_WEIGHTS_DIR")
    monkeypatch.setattr(models, "REPO_WEIGHTS_CACHE", own_default)
    with pytest.raises(WeightsNotFoundError) as info:
        kerasviz.load_model("vgg16")
    msg = str(info.value)
    assert "weights_cache" in msg and str(own_default) in msg
    assert "vgg16_weights_tf_dim_ordering_tf_kernels.h5" in msg
    assert "kerasviz fetch-weights vgg16" in msg
    assert str(empty_weight_caches[1] / "models") in msg


def test_failed_download_is_a_clear_error(empty_weight_caches, monkeypatch):
    from kerasviz._keras_compat import file_utils_module
    file_utils = file_utils_module()

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure on https://example: [Errno -2] Name or service not known")

    monkeypatch.delenv("KERASVIZ_OFFLINE")
    monkeypatch.setattr(file_utils, "get_file", offline)
    with pytest.raises(WeightsNotFoundError, match="could not be downloaded"):
        kerasviz.load_model("resnet50", include_top=False, input_shape=(32, 32, 3))
    assert file_utils.get_file is offline  # the temporary routing was undone


def test_download_false_never_calls_the_downloader(empty_weight_caches, monkeypatch):
    from kerasviz._keras_compat import file_utils_module
    file_utils = file_utils_module()
    calls = []
    monkeypatch.delenv("KERASVIZ_OFFLINE")  # only download=False stands between us and the net
    monkeypatch.setattr(file_utils, "get_file", lambda *a, **k: calls.append(a))
    with pytest.raises(WeightsNotFoundError, match="download=False"):
        kerasviz.load_model("resnet50", include_top=False, input_shape=(32, 32, 3), download=False)
    assert calls == []
    with pytest.raises(kerasviz.ArgumentError, match="download must be True or False"):
        kerasviz.load_model("resnet50", download="no")


def test_missing_explicit_weights_file(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="does not exist"):
        kerasviz.load_model("vgg16", weights=str(tmp_path / "nope.h5"))


def test_unknown_model_name_suggests():
    with pytest.raises(ModelError, match="vgg16"):
        kerasviz.load_model("vgg61")


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_lambda_model_refused_in_safe_mode(tmp_path, suffix):
    inp = keras.Input((4,))
    model = keras.Model(inp, keras.layers.Lambda(lambda x: x * 2)(inp))
    path = tmp_path / f"lam{suffix}"
    model.save(path)
    with pytest.raises(ModelError, match="safe_mode=False"):
        kerasviz.load_model(path)
    loaded = kerasviz.load_model(path, safe_mode=False)
    np.testing.assert_allclose(loaded(np.ones((1, 4), np.float32)).numpy(), 2.0)


def test_user_model_file_round_trip_and_preprocess(tmp_path):
    inp = keras.Input((8, 8, 3))
    out = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(3, 3)(inp)))
    keras.Model(inp, out).save(tmp_path / "m.keras")
    model = kerasviz.load_model(tmp_path / "m.keras")
    raw = np.full((8, 8, 3), 255, np.uint8)
    with pytest.raises(ModelError, match="preprocess="):
        kerasviz.preprocess(model, raw)
    x = kerasviz.preprocess(model, raw, preprocess=lambda a: a / 255.0)
    assert x.shape == (1, 8, 8, 3) and x.dtype == np.float32 and np.allclose(x, 1.0)
    model = kerasviz.load_model(model, preprocess=lambda a: a / 255.0)
    np.testing.assert_allclose(kerasviz.preprocess(model, np.zeros((16, 16, 3), np.uint8)), 0.0)


def test_preprocess_rules(vgg_notop, empty_weight_caches):
    own, _ = empty_weight_caches
    _write_keras_weights_file(vgg_notop, own / NOTOP)
    model = kerasviz.load_model("vgg16", include_top=False, input_shape=(64, 64, 3))
    img = np.random.default_rng(0).integers(0, 256, (100, 80, 3), dtype=np.uint8)
    x = kerasviz.preprocess(model, img)
    ref = keras.applications.vgg16.preprocess_input(
        kerasviz.core.images.resize(img, 64).astype(np.float32)[None])
    np.testing.assert_allclose(x, ref, atol=1e-4)
    np.testing.assert_array_equal(kerasviz.preprocess(model, x), x)  # floats pass through
    back = kerasviz.deprocess(model, x)
    assert np.abs(back.astype(int) - kerasviz.core.images.resize(img, 64)).max() <= 1
    with pytest.raises(ImageError, match="expects input of shape"):
        kerasviz.preprocess(model, np.zeros((1, 32, 32, 3), np.float32))
    with pytest.raises(ImageError, match="NaN"):
        kerasviz.preprocess(model, np.full((1, 64, 64, 3), np.nan, np.float32))


@pytest.mark.parametrize("mode, module", [("caffe", "vgg16"), ("tf", "mobilenet_v2"),
                                          ("torch", "densenet")])
def test_deprocess_inverts_keras_preprocess_input(mode, module):
    import importlib

    img = np.random.default_rng(1).integers(0, 256, (2, 5, 5, 3)).astype(np.float32)
    pre = importlib.import_module(f"keras.applications.{module}").preprocess_input(img.copy())
    back = models.deprocess_input(pre, mode)
    assert np.abs(back.astype(int) - img).max() <= 1


def test_every_application_name_maps_to_a_constructor():
    for spec in models.APPLICATIONS.values():
        assert callable(getattr(keras.applications, spec.constructor))


def test_fetch_weights_uses_keras_downloader_into_the_cache(empty_weight_caches, monkeypatch):
    from kerasviz._keras_compat import file_utils_module
    file_utils = file_utils_module()

    own, _ = empty_weight_caches
    monkeypatch.delenv("KERASVIZ_OFFLINE")  # the fake get_file below stands for the network
    source = keras.applications.MobileNetV2(weights=None, include_top=False)
    calls = []

    def fake_get_file(fname, origin, cache_dir=None, cache_subdir=None, **kwargs):
        calls.append((fname, origin, cache_dir, cache_subdir))
        path = f"{cache_dir}/{cache_subdir}/{fname}"
        _write_keras_weights_file(source, path)
        return path

    monkeypatch.setattr(file_utils, "get_file", fake_get_file)
    path = kerasviz.fetch_weights("mobilenet_v2", include_top=False)
    assert path.parent == own and path.is_file()
    fname, origin, cache_dir, subdir = calls[0]
    assert fname == path.name and origin.startswith("https://") and origin.endswith(fname)  # Keras' own
    monkeypatch.setattr(file_utils, "get_file", lambda *a, **k: pytest.fail("must use the cache"))
    loaded = kerasviz.load_model("mobilenet_v2", include_top=False)  # found in the cache, no download
    x = np.random.default_rng(0).uniform(-1, 1, (1, 224, 224, 3)).astype(np.float32)
    np.testing.assert_array_equal(loaded(x).numpy(), source(x).numpy())
