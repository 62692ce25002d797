"""The public API surface and the backend rule."""
import os
import subprocess
import sys

import kerasviz


def test_all_names_resolve_and_are_documented():
    for name in kerasviz.__all__:
        obj = getattr(kerasviz, name)
        assert obj.__doc__, f"kerasviz.{name} has no docstring"
    assert len(set(kerasviz.__all__)) == len(kerasviz.__all__)


def test_unknown_attribute_is_an_attribute_error():
    try:
        kerasviz.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def _run(code, **env):
    full = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    full.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full,
                          timeout=120)


def test_import_is_light():
    proc = _run("import sys, kerasviz, kerasviz.imagenet; print('tensorflow' in sys.modules)")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


def test_other_backend_is_refused_not_overridden(tmp_path):
    proc = _run("import kerasviz", KERAS_BACKEND="jax")
    assert proc.returncode != 0
    assert "BackendError" in proc.stderr and "KERAS_BACKEND=tensorflow" in proc.stderr
    (tmp_path / "keras.json").write_text('{"backend": "torch"}')
    proc = _run("import kerasviz", KERAS_HOME=str(tmp_path))
    assert proc.returncode != 0 and "keras.json" in proc.stderr


def test_tensorflow_is_the_default(tmp_path):
    code = "import kerasviz, keras; print(keras.backend.backend())"
    proc = _run(code, KERAS_HOME=str(tmp_path))  # no keras.json, no KERAS_BACKEND
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("tensorflow")


def test_cli_parser_and_classes_do_not_import_tensorflow():
    code = ("import sys, kerasviz.cli; kerasviz.cli.main(['classes', '281']); "
            "print('tensorflow' in sys.modules)")
    proc = _run(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines() == ["281 n02123045 tabby  (tabby, tabby cat)", "False"]
