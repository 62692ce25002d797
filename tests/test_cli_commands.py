"""Every sub-command through its real entry point (``python -m kerasviz …`` in a subprocess):
results checked against the Python API, a broken input ends in one stderr line and exit code 2
with the other results written, and no TensorFlow start-up line reaches stderr."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image
import pytest

import kerasviz
from kerasviz.apps.cli import COMMANDS, build_parser, main
from kerasviz.present import render

ROOT = Path(__file__).resolve().parents[1]
CHATTER = re.compile(r"absl::InitializeLog|oneDNN custom operations|Could not find cuda drivers|"
                     r"cuInit|cuda_platform|cpu_feature_guard|^[IWE]\d{4} ")


def kv(*args, env=None, timeout=300):
    """``python -m kerasviz *args`` from the repository root, without the test session's
    ``TF_CPP_MIN_LOG_LEVEL`` (the command must quiet TensorFlow itself)."""
    full = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    full.update({"KERASVIZ_OFFLINE": "1", **(env or {})})
    proc = subprocess.run([sys.executable, "-m", "kerasviz", *map(str, args)], cwd=ROOT, env=full,
                          capture_output=True, text=True, timeout=timeout)
    noise = [ln for ln in proc.stderr.splitlines() if CHATTER.search(ln)]
    assert not noise, f"TensorFlow start-up lines on stderr: {noise}"
    return proc


def one_error_line(proc, command: str, *needles: str) -> str:
    """The single stderr line of a failed command, checked to name each of ``needles``."""
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"kerasviz {command}: error: ")
    for needle in needles:
        assert needle in lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A folder of three shapes images (96×96, seeds 7) and one broken PNG; returns
    (folder, the images as uint8 (3, 96, 96, 3))."""
    root = tmp_path_factory.mktemp("cli_in")
    data = kerasviz.datasets.shapes(3, seed=7)
    for i, im in enumerate(data.images):
        render.save_png(root / f"img{i}.png", im)
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 10)
    return root, data.images


@pytest.fixture(scope="module")
def shapes():
    return kerasviz.load_model("shapes")


# --- the parser: every command, examples, exit codes, no TensorFlow --------------------------

def test_help_lists_every_command_with_an_example_and_imports_no_tensorflow():
    code = ("import sys\nfrom kerasviz.apps.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('TF' if 'tensorflow' in sys.modules else 'no TF')")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("no TF"), proc.stdout + proc.stderr
    names = [c.replace("_", "-") for c in COMMANDS]
    assert {"predict", "fetch-weights", "classes"} <= set(names)
    for name in names:
        assert re.search(rf"^    {name}\s", proc.stdout, re.M), f"{name} missing from --help"
    assert "exit codes:" in proc.stdout and "130" in proc.stdout
    for name, sub in build_parser()._subparsers._group_actions[0].choices.items():
        assert re.search(rf"examples:\n  kerasviz {name} ", sub.format_help()), name
    version = kv("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"kerasviz {kerasviz.__version__}"


def test_method_choices_are_the_registry_without_importing_it():
    from kerasviz.apps.cli._common import method_names
    from kerasviz.methods import registry

    names, aliases = method_names()
    shipped = [m.name for m in registry.methods()  # not those the test modules register
               if m.fn.__module__.startswith("kerasviz.methods")]
    assert list(names) == shipped and aliases == registry._ALIASES
    with pytest.raises(SystemExit):
        build_parser().parse_args(["explain", "--method", "gradcam,sailency", "x.png"])
    args = build_parser().parse_args(["batch", "--in", "x", "-m", "s", "--methods", "Grad-CAM++,ig"])
    assert args.methods == ["gradcam++", "integrated_gradients"]


# --- predict -----------------------------------------------------------------------------------

def test_predict_folder_with_a_broken_image(folder, shapes):
    root, images = folder
    proc = kv("predict", "--model", "shapes", root, "--top", "2")
    err = one_error_line(proc, "predict", "broken.png", "could not be decoded")
    assert "img0" not in err
    lines = proc.stdout.strip().splitlines()
    assert [Path(ln.split(":")[0]).name for ln in lines] == ["img0.png", "img1.png", "img2.png"]
    probs = shapes.predict(kerasviz.preprocess(shapes, images), verbose=0)
    names = kerasviz.model_info(shapes).class_names
    for line, p in zip(lines, probs):
        top = np.argsort(-p)[:2]
        assert line.split(": ", 1)[1] == (f"top: {names[top[0]]} {p[top[0]]:.3f}, "
                                          f"{names[top[1]]} {p[top[1]]:.3f}")


def test_predict_json_regression_and_class_names(folder, tmp_path, make_tiny_cnn):
    root, images = folder
    proc = kv("predict", "-m", "sensors", root / "img0.png", root / "img1.png", "--json")
    assert proc.returncode == 0 and proc.stderr == ""
    got = json.loads(proc.stdout)
    sensors = kerasviz.load_model("sensors")
    expected = sensors.predict(kerasviz.preprocess(sensors, images[:2]), verbose=0)
    assert list(got[0]["outputs"]) == list(kerasviz.datasets.SENSOR_NAMES)
    np.testing.assert_allclose([list(g["outputs"].values()) for g in got], expected, rtol=1e-5)

    path = tmp_path / "tiny.keras"
    make_tiny_cnn(size=32).save(path)
    names = tmp_path / "names.json"
    names.write_text(json.dumps(["cat", "dog", "owl", "emu"]))
    proc = kv("predict", "-m", path, "--preprocess", "unit", "--class-names", names, "--json",
              "--top", "4", root / "img2.png")
    assert proc.returncode == 0, proc.stderr
    assert sorted(n for _, n, _ in json.loads(proc.stdout)[0]["predictions"]) == [
        "cat", "dog", "emu", "owl"]


def test_model_errors_name_the_cli_flags(folder, tmp_path, make_tiny_cnn, capsys):
    root, _ = folder
    path = tmp_path / "tiny.keras"
    make_tiny_cnn(size=32).save(path)
    assert main(["predict", "-m", str(path), str(root / "img0.png")]) == 2
    err = capsys.readouterr().err
    assert "--preprocess unit" in err and "preprocess=callable" not in err
    lines = tmp_path / "names.txt"
    lines.write_text("cat\n# a comment\n\ndog\nowl\n")
    assert main(["predict", "-m", str(path), "--preprocess", "unit", "--class-names", str(lines),
                 str(root / "img0.png")]) == 2
    assert "has 3 names but model 'tiny' has 4 output units" in capsys.readouterr().err
    assert main(["predict", "-m", "shapes", "--class-names", str(tmp_path / "nope.txt"),
                 str(root / "img0.png")]) == 2
    assert "Cannot read --class-names" in capsys.readouterr().err


# --- export ------------------------------------------------------------------------------------

def test_export_then_explain_the_folder(folder, shapes, tmp_path):
    root, images = folder
    out = tmp_path / "served" / "1"
    (tmp_path / "served").mkdir()
    proc = kv("export", "shapes", out)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert proc.stdout.strip() == f"{out}: signatures serving_default, explain (layer conv4), logits"
    res = tmp_path / "res"
    # --signature logits: the pre-softmax scores, as kerasviz explains the Keras model
    proc = kv("explain", "-m", out, "--signature", "logits", "--preprocess", "unit",
              "--method", "gradcam,occlusion",
              "--option", "patch=24", "--option", "stride=24", root / "img0.png", root / "img1.png",
              "--json", "--quiet", "--out", res)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    x = kerasviz.preprocess(shapes, images[:2])
    for method, opts in [("gradcam", {}), ("occlusion", {"patch": 24, "stride": 24})]:
        exp = kerasviz.explain(shapes, x, method, **opts)
        for i in range(2):
            np.testing.assert_allclose(np.load(res / f"img{i}_{method}_map.npy"), exp.maps[i],
                                       atol=1e-4)
    assert report["images"][0]["methods"]["gradcam"]["layer"] == "conv4"

    # failing inputs: one line, exit 2, the folder untouched
    one_error_line(kv("export", "shapes", out), "export", "not empty", "--force")
    assert sorted(p.name for p in (tmp_path / "served").iterdir()) == ["1"]
    one_error_line(kv("explain", "-m", out, "--signature", "nope", "--preprocess", "unit",
                      root / "img0.png", "--out", tmp_path / "r2"), "explain", "no signature 'nope'")
    plain = tmp_path / "plain"
    shapes.export(str(plain), verbose=False)
    one_error_line(kv("explain", "-m", plain, "--preprocess", "unit", root / "img0.png",
                      "--out", tmp_path / "r3"), "explain", "hides its layers", "kerasviz export")


# --- explain -----------------------------------------------------------------------------------

def test_explain_folder_with_a_broken_image_writes_the_others(folder, shapes, tmp_path):
    root, images = folder
    out = tmp_path / "exp"
    proc = kv("explain", "-m", "shapes", "--method", "gradcam,saliency", root, "--json",
              "--quiet", "--out", out)
    one_error_line(proc, "explain", "broken.png")
    report = json.loads(proc.stdout)
    assert [Path(i["image"]).name for i in report["images"]] == ["img0.png", "img1.png", "img2.png"]
    assert [Path(e["image"]).name for e in report["errors"]] == ["broken.png"]
    assert report["device"] in ("CPU:0", "GPU:0") and set(report["seconds"]) == {
        "predict", "gradcam", "saliency"}
    exp = kerasviz.explain(shapes, images, "gradcam")
    probs = shapes.predict(kerasviz.preprocess(shapes, images), verbose=0)
    for i, item in enumerate(report["images"]):
        r = item["methods"]["gradcam"]
        assert r["layer"] == exp.layer and r["target"] == exp.labels[i]
        assert r["score"] == pytest.approx(float(exp.scores[i]), rel=1e-4)
        assert r["box"] == exp.boxes()[i].tolist()
        assert item["predictions"][0][:2] == [int(np.argmax(probs[i])), exp.labels[i].split()[1]]
        for method in ("gradcam", "saliency"):
            for name in item["methods"][method]["files"]:
                assert (out / name).is_file()
    np.testing.assert_allclose(np.load(out / "img1_gradcam_map.npy"), exp.maps[1], atol=1e-5)
    assert not list(out.glob("broken*"))
    assert json.loads((out / "kerasviz-run.json").read_text())["complete"] is True


def test_explain_draws_on_the_original_image_at_its_own_size(folder, shapes, tmp_path):
    """A 64 × 64 shapes image stretched to 160 × 96: the overlay and crop files are at the
    original's size, and the box is the API's box in the original's pixels."""
    _, images = folder
    wide = np.asarray(Image.fromarray(images[0]).resize((160, 96), Image.Resampling.BILINEAR))
    Image.fromarray(wide).save(tmp_path / "wide.png")
    out = tmp_path / "exp"
    proc = kv("explain", "-m", "shapes", "--method", "gradcam", tmp_path / "wide.png", "--json",
              "--quiet", "--out", out)
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)["images"][0]["methods"]["gradcam"]
    exp = kerasviz.explain(shapes, [wide], "gradcam")
    assert r["box"] == exp.boxes(original=True)[0].tolist()
    x0, y0, x1, y1 = r["box"]
    assert 0 <= x0 < x1 <= 160 and 0 <= y0 < y1 <= 96
    assert np.asarray(Image.open(out / r["files"][0])).shape == (96, 160, 3)  # the overlay
    assert np.asarray(Image.open(out / r["files"][1])).shape == (96, 160, 3)  # the masked image


# --- activations, filters, classes, batch -----------------------------------------------------

def test_activations_glob_json(folder, shapes, tmp_path):
    root, images = folder
    out = tmp_path / "acts"
    proc = kv("activations", "-m", "shapes", root / "img[01].png", "--layers", "conv1,conv4",
              "--json", "--quiet", "--out", out)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    rows = json.loads(proc.stdout)
    expected = kerasviz.layer_stats(shapes, images[:2], ["conv1", "conv4"])
    assert [r["layer"] for r in rows] == ["conv1", "conv4"]
    np.testing.assert_allclose([r["zero_fraction"] for r in rows],
                               [r.zero_fraction for r in expected], rtol=1e-5)
    assert sorted(p.name for p in out.glob("img*.png")) == [
        "img0_conv1.png", "img0_conv4.png", "img1_conv1.png", "img1_conv4.png"]
    bad = kv("activations", "-m", "shapes", root, "--layers", "conv1", "--quiet",
             "--out", tmp_path / "acts2")
    one_error_line(bad, "activations", "broken.png")
    assert len(list((tmp_path / "acts2").glob("img*_conv1.png"))) == 3


def test_filters_json_and_a_range_past_the_layer(tmp_path):
    out = tmp_path / "filt"
    proc = kv("filters", "-m", "shapes", "--layer", "conv1", "--filters", "0:3", "--steps", "2",
              "--json", "--quiet", "--out", out)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    summary = json.loads(proc.stdout)
    assert [f["unit"] for f in summary["filters"]] == [0, 1, 2]
    assert (out / "patterns_conv1_book.png").is_file()
    bad = kv("filters", "-m", "shapes", "--layer", "conv1", "--filters", "0:500",
             "--out", tmp_path / "filt2")
    one_error_line(bad, "filters", "'conv1', which has 16")


def test_classes_json_and_unknown():
    proc = kv("classes", "--json", "tabby")
    assert proc.returncode == 0 and json.loads(proc.stdout)[0]["id"] == 281
    one_error_line(kv("classes", "tabbby"), "classes", "Closest: ['tabby'")


def test_evaluate_json_against_the_api_and_bad_boxes(folder, shapes, tmp_path):
    root, images = folder
    data = kerasviz.datasets.shapes(3, seed=7)
    boxes = {f"img{i}.png": {"box": data.boxes[i].tolist(), "class": int(data.labels[i])}
             for i in range(2)}
    (tmp_path / "boxes.json").write_text(json.dumps(boxes))
    files = [root / "img0.png", root / "img1.png"]
    proc = kv("evaluate", "-m", "shapes", "--methods", "gradcam,saliency@probability", *files,
              "--boxes", tmp_path / "boxes.json", "--steps", "4", "--samples", "1", "--json",
              "--out", tmp_path / "ev")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    got = json.loads(proc.stdout)
    want = kerasviz.evaluate(shapes, images[:2], ["gradcam", "saliency@probability"],
                             data.labels[:2], data.boxes[:2], steps=4, samples=1)
    assert list(got["rows"]) == list(want.rows) and got["metrics"]["deletion"]["better"] == "lower"
    for row in want.rows:
        for metric in want.metrics:
            w = want.mean(row, metric)
            # PNG round trip of uint8 images is exact; the two runs batch alike
            assert (got["rows"][row][metric] is None) if np.isnan(w) else \
                abs(got["rows"][row][metric] - w) < 1e-3, (row, metric)
    assert {"table.txt", "table.md", "results.json", "metrics.png"} <= {
        p.name for p in (tmp_path / "ev").iterdir()}
    # an image without a box: one line naming it, exit 2
    proc = kv("evaluate", "-m", "shapes", "--methods", "gradcam", root / "img2.png",
              "--boxes", tmp_path / "boxes.json", "--out", tmp_path / "ev2")
    one_error_line(proc, "evaluate", "no box for 'img2.png'")
    proc = kv("evaluate", "-m", "shapes", "--methods", "gradcam@logit", root / "img2.png")
    assert proc.returncode == 2 and "NAME@probability" in proc.stderr


def test_batch_json_with_a_broken_image(folder, tmp_path):
    root, _ = folder
    out = tmp_path / "batch"
    proc = kv("batch", "-m", "shapes", "--in", root, "--json", "--quiet", "--out", out)
    one_error_line(proc, "batch", "1 of 4 images failed")
    summary = json.loads(proc.stdout)
    assert (summary["images"], summary["explained"], summary["failed"]) == (4, 3, 1)
    lines = [json.loads(ln) for ln in (out / "results.jsonl").read_text().splitlines()]
    assert sorted("error" in ln for ln in lines) == [False, False, False, True]


# --- fetch-weights and demo --------------------------------------------------------------------

def test_fetch_weights_offline_error_and_cached_file(tmp_path):
    import h5py
    import keras

    from kerasviz._keras_compat import legacy_h5_format

    env = {"KERASVIZ_WEIGHTS_DIR": str(tmp_path / "cache"), "KERAS_HOME": str(tmp_path / "home")}
    one_error_line(kv("fetch-weights", "mobilenet_v2", "--no-top", env=env), "fetch-weights",
                   "KERASVIZ_OFFLINE is set")
    (tmp_path / "cache").mkdir()
    cached = tmp_path / "cache" / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"
    with h5py.File(cached, "w") as f:  # Keras' published layout, random weights
        legacy_h5_format().save_weights_to_hdf5_group(
            f, keras.applications.MobileNetV2(weights=None, include_top=False))
    proc = kv("fetch-weights", "mobilenet_v2", "--no-top", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"mobilenet_v2": str(cached)}


def test_demo_quiet_and_a_bad_out(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    one_error_line(kv("demo", "--out", tmp_path / "file"), "demo", "file")
    proc = kv("demo", "--images", "1", "--quiet", "--out", tmp_path / "site", timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str((tmp_path / "site" / "index.html").resolve())
    assert "<img" in (tmp_path / "site" / "index.html").read_text()


def test_quiet_import_drops_start_up_lines_and_keeps_the_rest(tmp_path):
    """A stand-in ``tensorflow`` that writes glog chatter and a real message to fd 2, then (second
    run) fails: the chatter goes, the message and the Python error stay."""
    fake = tmp_path / "tensorflow"
    fake.mkdir()
    (fake / "__init__.py").write_text(
        "import os\n"
        "os.write(2, b'WARNING: All log messages before absl::InitializeLog() is called are "
        "written to STDERR\\nI0000 00:00:1.5  7 port.cc:153] oneDNN custom operations are on.\\n"
        "E0000 00:00:1.6  7 cuda_platform.cc:52] failed call to cuInit: UNKNOWN ERROR (303)\\n"
        "libfoo.so: cannot open shared object file\\n')\n"
        "if os.environ.get('FAIL'):\n    raise ImportError('broken tensorflow install')\n"
        "class config:\n    list_physical_devices = staticmethod(lambda: [])\n")
    code = "from kerasviz.apps.cli._quiet import import_tensorflow; import_tensorflow(); print('ok')"
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.stdout == "ok\n" and proc.stderr == "libfoo.so: cannot open shared object file\n"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**env, "FAIL": "1"},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and proc.stderr.startswith("libfoo.so: cannot open")
    assert "ImportError: broken tensorflow install" in proc.stderr
