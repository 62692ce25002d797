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


#: The public API, frozen: adding or removing a name is a deliberate change of this list (and of
#: the API reference in the docs).
PUBLIC = sorted("""
    ArgumentError BackendError ImageError KerasvizError LayerNotFoundError ModelError OutputError TargetError
    UnknownClassError UnknownMethodError WeightsNotFoundError ExplanationWarning
    datasets demo_models imagenet render features patterns methods
    decode_predictions load_image load_images layer_paths resolve_layer deprocess fetch_weights
    load_model model_info preprocess ModelInfo export_model
    Explanation Output Target as_target explain clear_caches compare Comparison
    activations layer_stats channel_grid filter_weights filter_patterns Patterns StatsTable
    batch_explain BatchSummary explain_dataset read_results
    metrics evaluate MetricsTable model_randomisation data_randomisation
""".split())


def test_public_api_is_frozen():
    assert sorted(kerasviz.__all__) == PUBLIC


def test_return_types_are_public():
    import numpy as np

    from kerasviz.data import demo_models, datasets

    model = kerasviz.load_model("shapes")
    images = datasets.shapes(1, seed=3)[0]
    assert isinstance(kerasviz.model_info(model), kerasviz.ModelInfo)
    assert isinstance(kerasviz.as_target(model, None, 1), kerasviz.Target)
    assert isinstance(kerasviz.layer_stats(model, images, layers="conv1"), kerasviz.StatsTable)
    pats = kerasviz.patterns.optimize_patterns(model, "conv1", [0], steps=2)
    assert isinstance(pats, kerasviz.Patterns) and pats.images.dtype == np.uint8


def test_clear_caches_empties_every_model_cache():
    from kerasviz import _caches
    from kerasviz.data import demo_models, datasets

    model = kerasviz.load_model("shapes")
    kerasviz.explain(model, datasets.shapes(1, seed=3)[0], method="gradcam")
    assert any(model in c for c in _caches._CACHES)
    kerasviz.clear_caches()
    assert not any(len(c) for c in _caches._CACHES)


def test_clear_caches_keeps_what_a_model_was_registered_with():
    import keras
    import numpy as np

    inp = keras.Input((8, 8, 3))
    model = keras.Model(inp, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(
        keras.layers.Conv2D(2, 3)(inp))))
    kerasviz.load_model(model, preprocess=lambda x: x / 255.0, class_names=["a", "b"])
    kerasviz.clear_caches()
    assert kerasviz.model_info(model).class_names == ["a", "b"]
    x = kerasviz.preprocess(model, np.full((1, 8, 8, 3), 255, np.uint8))
    np.testing.assert_allclose(x, 1.0)


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
    proc = _run("import sys, kerasviz, kerasviz.core.imagenet; print('tensorflow' in sys.modules)")
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
    code = ("import sys, kerasviz.apps.cli; kerasviz.apps.cli.main(['classes', '281']); "
            "print('tensorflow' in sys.modules)")
    proc = _run(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines() == ["281 n02123045 tabby  (tabby, tabby cat)", "False"]
