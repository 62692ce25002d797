"""Test session set-up: TensorFlow backend, quiet logs, deterministic seeds, no downloads."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["KERASVIZ_OFFLINE"] = "1"  # tests never try the network
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    import keras

    keras.utils.set_random_seed(0)
    yield


@pytest.fixture
def empty_weight_caches(tmp_path, monkeypatch):
    """Point every weights cache at empty temporary folders; returns (own_cache, keras_home)."""
    own, home = tmp_path / "weights_cache", tmp_path / "keras_home"
    own.mkdir()
    home.mkdir()
    monkeypatch.setenv("KERASVIZ_WEIGHTS_DIR", str(own))
    monkeypatch.setenv("KERAS_HOME", str(home))
    return own, home
