"""The public API surface and the backend rule."""
import os
import subprocess
import sys

import kerasviz


def test_all_names_exist_and_are_documented():
    for name in kerasviz.__all__:
        obj = getattr(kerasviz, name)
        assert obj.__doc__, f"kerasviz.{name} has no docstring"
    assert len(set(kerasviz.__all__)) == len(kerasviz.__all__)


def test_public_callables_are_in_all():
    public = {n for n, v in vars(kerasviz).items() if not n.startswith("_") and callable(v)}
    assert public <= set(kerasviz.__all__), public - set(kerasviz.__all__)


def _import_with_env(**env):
    full = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    full.update(env)
    return subprocess.run([sys.executable, "-c", "import kerasviz, keras; print(keras.backend.backend())"],
                          capture_output=True, text=True, env=full, timeout=120)


def test_other_backend_is_refused_not_overridden(tmp_path):
    proc = _import_with_env(KERAS_BACKEND="jax")
    assert proc.returncode != 0
    assert "BackendError" in proc.stderr and "KERAS_BACKEND=tensorflow" in proc.stderr
    (tmp_path / "keras.json").write_text('{"backend": "torch"}')
    proc = _import_with_env(KERAS_HOME=str(tmp_path))
    assert proc.returncode != 0 and "keras.json" in proc.stderr


def test_tensorflow_is_the_default(tmp_path):
    proc = _import_with_env(KERAS_HOME=str(tmp_path))  # no keras.json, no KERAS_BACKEND
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("tensorflow")
