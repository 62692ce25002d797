"""``kerasviz.compare`` and ``kerasviz compare``: one grid of images × models by methods, its
layout measured in the PNG, failed cells that say why, one clean pass per model."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import kerasviz
from kerasviz.present import comparison as C
from kerasviz.present import render
from conftest import gap_dense

GREY = np.array([C.GRID_GREY] * 3, np.uint8)
MESSAGE_BG = np.array([255, 236, 236], np.uint8)  # render.message's default background


def _spans(is_separator: np.ndarray) -> list[tuple[int, int]]:
    """``[(start, stop)]`` of the runs of False in a 1-D bool array (the cells between
    separators)."""
    spans, start = [], None
    for i, sep in enumerate(list(is_separator) + [True]):
        if not sep and start is None:
            start = i
        elif sep and start is not None:
            spans.append((start, i))
            start = None
    return spans


def _cells_in_png(grid: np.ndarray):
    """Cell rectangles found from the picture alone: rows / columns of pixels that are all the
    separator grey. Returns (row spans, column spans)."""
    grey = (grid == GREY).all(axis=2)
    return _spans(grey.all(axis=1)), _spans(grey.all(axis=0))


def _content(grid, rs, cs):
    """The picture of a cell: below its two title lines."""
    return grid[rs[0] + C.TITLE_HEIGHT:rs[1], cs[0]:cs[1]]


def _is_message_cell(pic) -> bool:
    """Mostly the message background, with some darker text drawn on it."""
    bg = (pic == MESSAGE_BG).all(axis=2).mean()
    text = (pic.astype(int).sum(axis=2) < 500).mean()
    return bg > 0.8 and 0.005 < text < 0.2


# --- the command, through its real entry point ---------------------------------------------

@pytest.fixture(scope="module")
def picture_files(tmp_path_factory):
    """Two image files of different sizes: a 96 × 96 shapes image and a 150 × 120 one."""
    import cv2

    folder = tmp_path_factory.mktemp("pics")
    a = kerasviz.datasets.shapes(1, seed=5)[0][0]
    b = cv2.resize(kerasviz.datasets.shapes(1, seed=9)[0][0], (150, 120))
    render.save_png(folder / "a.png", a)
    render.save_png(folder / "b.png", b)
    return [folder / "a.png", folder / "b.png"]


def _cli(*args, timeout=600):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, "-m", "kerasviz", "compare", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=Path(__file__).resolve().parents[1])


def _error_lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.startswith("kerasviz compare: error:")]


METHODS = ["cam", "gradcam", "smoothgrad", "guided_backprop"]
MODELS = ["shapes", "sensors"]


@pytest.fixture(scope="module")
def cli_run(picture_files, tmp_path_factory):
    out = tmp_path_factory.mktemp("cmp") / "D"
    proc = _cli("--models", ",".join(MODELS), "--methods", ",".join(METHODS),
                *picture_files, "--out", out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


def test_cli_writes_grid_results_and_index(cli_run):
    names = {p.name for p in cli_run.iterdir()}
    assert {"grid.png", "results.json", "index.html", "kerasviz-run.json"} <= names
    manifest = json.loads((cli_run / "kerasviz-run.json").read_text())
    assert manifest["command"] == "compare" and manifest["complete"] is True
    page = (cli_run / "index.html").read_text()
    assert "grid.png" in page
    cell_files = sorted(n for n in names if n.startswith("cell_"))
    assert len(cell_files) == 4 * (len(METHODS) + 1)
    assert all(f"src='{n}'" in page for n in cell_files)


def test_cli_grid_layout_measured_in_the_png(cli_run, picture_files):
    from PIL import Image

    grid = np.asarray(Image.open(cli_run / "grid.png").convert("RGB"))
    rows, cols = _cells_in_png(grid)
    # rows = images × models, columns = input + methods, at the documented cell size
    assert len(rows) == len(picture_files) * len(MODELS)
    assert len(cols) == len(METHODS) + 1
    assert {b - a for a, b in rows} == {C.TITLE_HEIGHT + C.CELL_SIZE}
    assert {b - a for a, b in cols} == {C.CELL_SIZE}
    # titles: a white band with dark text above each cell
    for rs in rows:
        for cs in cols:
            band = grid[rs[0]:rs[0] + C.TITLE_HEIGHT, cs[0]:cs[1]]
            assert (band == 255).all(axis=2).mean() > 0.6
            assert (band.sum(axis=2) < 200).any()


def test_cli_cells_show_the_explanations_of_their_model_and_method(cli_run, picture_files):
    """Each cell's picture is the overlay of a separate explain() run in this process for that
    image, model and method (the 96-pixel overlays are enlarged 2× nearest-neighbour, so every
    second pixel is the overlay's), and matches it better than the other methods' overlays."""
    from PIL import Image

    grid = np.asarray(Image.open(cli_run / "grid.png").convert("RGB"))
    rows, cols = _cells_in_png(grid)
    results = json.loads((cli_run / "results.json").read_text())
    for r, rs in enumerate(rows):
        image, name = divmod(r, len(MODELS))
        model = kerasviz.load_model(MODELS[name])
        path = picture_files[image]
        row = results["rows"][r]
        assert (row["image"], row["model"], row["image_name"]) == (image, MODELS[name], path.name)
        seen = kerasviz.load_image(path, size=(96, 96))
        np.testing.assert_array_equal(_content(grid, rs, cols[0])[::2, ::2], seen)
        refs = {}
        for m in METHODS[1:]:  # cam fails on sensors; checked below
            refs[m] = kerasviz.explain(model, str(path), m).overlay()[0].astype(int)
        for c, m in enumerate(METHODS, start=1):
            pic = _content(grid, rs, cols[c])[::2, ::2].astype(int)
            if MODELS[name] == "sensors" and m == "cam":
                continue
            ref = refs.get(m, refs["gradcam"])  # cam equals Grad-CAM on a GAP → Dense head
            # two processes, the same graphs and seeds: equal up to rounding of a few pixels
            assert np.abs(pic - ref).mean() < 1.0, (r, m)
            others = [np.abs(pic - v).mean() for k, v in refs.items()
                      if k != m and not (m == "cam" and k == "gradcam")]
            assert min(others) > 5 * np.abs(pic - ref).mean() + 1.0, (r, m)


def test_cli_titles_and_predictions_come_from_the_models_outputs(cli_run, picture_files):
    """results.json: the labels show the softmax probability (shapes) or the regression value
    (sensors) of the top unit, and the top-5 predictions, all as this process's own forward
    pass gives them."""
    results = json.loads((cli_run / "results.json").read_text())
    for r, row in enumerate(results["rows"]):
        image, name = divmod(r, len(MODELS))
        model = kerasviz.load_model(MODELS[name])
        out = model.predict(kerasviz.preprocess(model, [str(picture_files[image])]), verbose=0)[0]
        names = kerasviz.model_info(model).class_names
        top = int(np.argmax(out))
        want = f"{names[top]} p={out[top]:.2f}" if name == 0 else f"{names[top]} {out[top]:.3g}"
        assert {c["label"] for c in row["cells"]} == {want}
        assert {c["target"] for c in row["cells"]} == {top}
        assert [p["unit"] for p in row["predictions"]] == list(np.argsort(-out)[:5])
        np.testing.assert_allclose([p["value"] for p in row["predictions"]],
                                   np.sort(out)[::-1][:5], rtol=1e-4, atol=1e-6)
        assert [p["name"] for p in row["predictions"]] == [names[u] for u in np.argsort(-out)[:5]]
        assert row["kind"] == ("probability" if name == 0 else "value")


def test_cli_a_cell_that_cannot_be_computed_says_why(cli_run):
    """cam on sensors (Flatten → Dense head): the reason is in results.json and drawn as a
    message cell; every other cell is computed."""
    from PIL import Image

    grid = np.asarray(Image.open(cli_run / "grid.png").convert("RGB"))
    rows, cols = _cells_in_png(grid)
    results = json.loads((cli_run / "results.json").read_text())
    for r, (rs, row) in enumerate(zip(rows, results["rows"])):
        for c, cell in enumerate(row["cells"]):
            failed = row["model"] == "sensors" and cell["method"] == "cam"
            pic = _content(grid, rs, cols[c])
            assert _is_message_cell(pic) == failed, (r, c)
            if failed:
                assert "GlobalAveragePooling2D" in cell["error"]
                assert cell["score"] is None and cell["box"] is None
            else:
                assert cell["error"] is None
                assert cell["method"] == "input" or len(cell["box"]) == 4


def test_cli_target_and_layer_per_model(picture_files, tmp_path):
    """``--target shapes=square --layer shapes=conv2``: the shapes cells explain 'square' at
    conv2 (their pictures are those of explain(target='square', layer='conv2'), not of the
    default layer), while the sensors row keeps its defaults."""
    from PIL import Image

    proc = _cli("--models", "shapes,sensors", "--methods", "gradcam", picture_files[0],
                "--target", "shapes=square", "--layer", "shapes=conv2", "--out", tmp_path / "o")
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads((tmp_path / "o" / "results.json").read_text())["rows"]
    model = kerasviz.load_model("shapes")
    square = list(kerasviz.model_info(model).class_names).index("square")
    assert rows[0]["model"] == "shapes" and rows[0]["cells"][1]["target"] == square
    assert rows[0]["cells"][1]["label"].startswith("square")
    grid = np.asarray(Image.open(tmp_path / "o" / "grid.png").convert("RGB"))
    row_spans, cols = _cells_in_png(grid)
    pic = _content(grid, row_spans[0], cols[1])[::2, ::2].astype(int)
    asked = kerasviz.explain(model, str(picture_files[0]), "gradcam", target="square",
                             layer="conv2").overlay()[0].astype(int)
    default = kerasviz.explain(model, str(picture_files[0]), "gradcam",
                               target="square").overlay()[0].astype(int)
    assert np.abs(pic - asked).mean() < 1.0
    assert np.abs(pic - default).mean() > 5 * np.abs(pic - asked).mean() + 1.0


def test_cli_target_for_every_model_and_for_one_is_refused(picture_files, tmp_path):
    proc = _cli("--models", "shapes,sensors", "--methods", "gradcam", picture_files[0],
                "--target", "shapes=square", "--target", "2", "--out", tmp_path / "o")
    assert proc.returncode == 2
    lines = _error_lines(proc.stderr)
    assert len(lines) == 1 and "MODEL=VALUE" in lines[0], proc.stderr
    assert not (tmp_path / "o").exists()


def test_cli_json_prints_the_results(picture_files, tmp_path):
    proc = _cli("--models", "shapes", "--methods", "gradcam", picture_files[0], "--json",
                "--out", tmp_path / "j")
    assert proc.returncode == 0, proc.stderr[-2000:]
    printed = json.loads(proc.stdout)
    assert printed == json.loads((tmp_path / "j" / "results.json").read_text())
    assert [c["method"] for c in printed["rows"][0]["cells"]] == ["input", "gradcam"]


def test_cli_missing_image_is_one_line_and_exit_2(picture_files, tmp_path):
    missing = tmp_path / "nope.png"
    proc = _cli("--models", "shapes,sensors", "--methods", "gradcam", picture_files[0], missing,
                "--out", tmp_path / "o")
    assert proc.returncode == 2
    lines = _error_lines(proc.stderr)
    assert len(lines) == 1 and "nope.png" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()  # nothing written


def test_cli_unknown_method_is_refused_by_the_parser(picture_files, tmp_path):
    proc = _cli("--models", "shapes", "--methods", "gradcam,smoothgrd", picture_files[0],
                "--out", tmp_path / "o")
    assert proc.returncode == 2
    lines = _error_lines(proc.stderr)
    assert len(lines) == 1 and "'smoothgrd'" in lines[0] and "smoothgrad" in lines[0]
    assert "Traceback" not in proc.stderr


def test_cli_help_ends_with_an_example():
    proc = _cli("--help")
    assert proc.returncode == 0
    lines = proc.stdout.strip().splitlines()
    assert "examples:" in lines
    shown = [ln.strip() for ln in lines[lines.index("examples:") + 1:]]
    assert shown[0].startswith("kerasviz compare --models shapes,sensors --methods")
    assert all(ln.startswith("kerasviz compare --models") for ln in shown)
    assert any("--target" in ln and "--layer" in ln for ln in shown)


# --- the API, on tiny models -----------------------------------------------------------------

@pytest.fixture
def tiny_pair(make_tiny_cnn):
    """A 32-pixel softmax classifier and a 16-pixel logits classifier, each with a
    preprocessing function that counts its calls."""
    calls = {"tiny": 0, "logits": 0}

    def counting(name):
        def pre(x):
            calls[name] += 1
            return np.asarray(x, np.float32) / 255.0
        return pre

    tiny = kerasviz.load_model(make_tiny_cnn(size=32, seed=0), preprocess=counting("tiny"))
    logits = kerasviz.load_model(gap_dense(size=16, classes=3, softmax=False, name="logits"),
                                 preprocess=counting("logits"), class_names=["a", "b", "c"])
    return tiny, logits, calls


def _pictures(n=2, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (40, 48, 3), dtype=np.uint8) for _ in range(n)]


def test_one_decode_one_preprocess_one_forward_per_model(tiny_pair, monkeypatch):
    import kerasviz.core.images as images_module

    tiny, logits, calls = tiny_pair
    decoded, forwards = [], []
    real_load = images_module.load_image
    monkeypatch.setattr(images_module, "load_image",
                        lambda src, *a, **k: decoded.append(src) or real_load(src, *a, **k))
    for model in (tiny, logits):
        real = model.predict
        monkeypatch.setattr(model, "predict",
                            lambda *a, _real=real, _m=model, **k: forwards.append(_m.name)
                            or _real(*a, **k))
    pics = _pictures(3)
    comp = kerasviz.compare([tiny, logits], pics, ["gradcam", "saliency", "gradxinput"])
    assert calls == {"tiny": 1, "logits": 1}
    assert sorted(forwards) == ["logits", "tiny"]
    # each image decoded once (then only resized per model), not once per model or method
    assert len([d for d in decoded if any(d is p for p in pics)]) == 3
    assert len(comp.explanations) == 3 * 2 * 3


def test_explanations_equal_separate_explain_runs(tiny_pair):
    tiny, logits, _ = tiny_pair
    pics = _pictures(2, seed=1)
    comp = kerasviz.compare([tiny, logits], pics, ["gradcam", "saliency"])
    assert comp.models == ("tiny", "logits") and comp.methods == ("gradcam", "saliency")
    for model, size in ((tiny, 32), (logits, 16)):
        for method in comp.methods:
            ref = kerasviz.explain(model, pics, method)
            for i in range(2):
                exp = comp.explanations[i, model.name, method]
                assert exp.maps.shape == (1, size, size)
                np.testing.assert_allclose(exp.maps[0], ref.maps[i], atol=1e-5)
                assert int(exp.target[0]) == int(ref.target[i])


def test_rows_are_images_by_models_and_labels_name_the_kind(tiny_pair):
    tiny, logits, _ = tiny_pair
    pics = _pictures(2, seed=2)
    comp = kerasviz.compare([tiny, logits], pics, "gradcam")
    assert [(r.image, r.model) for r in comp.rows] == [(0, "tiny"), (0, "logits"),
                                                       (1, "tiny"), (1, "logits")]
    assert [c.method for c in comp.cells[0]] == ["input", "gradcam"]
    for row, cells in zip(comp.rows, comp.cells):
        model = tiny if row.model == "tiny" else logits
        out = model.predict(np.asarray(kerasviz.preprocess(model, pics[row.image])), verbose=0)[0]
        top = int(np.argmax(out))
        name = kerasviz.model_info(model).class_names[top]
        want = f"{name} p={out[top]:.2f}" if row.model == "tiny" else f"{name} score {out[top]:.3g}"
        assert cells[1].label == want and cells[1].title == (f"{row.model}: {want}", "gradcam")
        assert row.kind == ("probability" if row.model == "tiny" else "score")
    # the grid's size follows from the layout constants
    s, t, p = C.CELL_SIZE, C.TITLE_HEIGHT, C.GRID_PAD
    assert comp.grid().shape == (4 * (t + s + p) + p, 2 * (s + p) + p, 3)


def test_targets_and_layers_per_model(tiny_pair):
    tiny, logits, _ = tiny_pair
    comp = kerasviz.compare([tiny, logits], _pictures(1), "gradcam", targets={"tiny": "star"},
                            layers={"logits": "c1"})
    assert comp.cell(0, "tiny", "gradcam").target == 3  # "star" in the tiny model's names
    assert comp.cell(0, "logits", "gradcam").explanation.layer == "c1"
    assert comp.cell(0, "tiny", "gradcam").explanation.layer == "conv3"  # the default
    with pytest.raises(kerasviz.ArgumentError, match=r"'tinny'.*Expected keys among \['tiny', "
                                                     r"'logits'\]"):
        kerasviz.compare([tiny, logits], _pictures(1), "gradcam", targets={"tinny": 1})
    with pytest.raises(kerasviz.UnknownClassError, match="'stra'"):
        kerasviz.compare([tiny, logits], _pictures(1), "gradcam", targets={"tiny": "stra"})


def test_failed_cells_keep_their_reason(tiny_pair, tmp_path):
    import keras

    tiny, _, _ = tiny_pair
    inp = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inp)
    flat = keras.Model(inp, keras.layers.Dense(2)(keras.layers.Flatten()(x)), name="flat")
    flat = kerasviz.load_model(flat, preprocess=lambda x: x / 255.0)
    comp = kerasviz.compare([tiny, flat], _pictures(1), ["cam", "gradcam"])
    bad = comp.cell(0, "flat", "cam")
    assert "GlobalAveragePooling2D" in bad.error and bad.explanation is None
    assert _is_message_cell(bad.picture)
    assert comp.cell(0, "tiny", "cam").error is None
    assert not _is_message_cell(comp.cell(0, "tiny", "cam").picture)
    assert (0, "flat", "cam") not in comp.explanations
    json.dumps(comp.to_dict(), allow_nan=False)  # JSON-able, strictly
    page = comp.to_html(tmp_path / "h").read_text()
    assert re.findall(r"<figcaption>([^<]*) — cannot compute: method=&#x27;cam&#x27; needs a "
                      r"GlobalAveragePooling2D", page) == [" · ".join(bad.title)]
    # a model without class names: units are named by its output layer, each its own
    out = flat.predict(np.asarray(kerasviz.preprocess(flat, _pictures(1))), verbose=0)[0]
    assert [p["name"] for p in comp.rows[1].predictions] == [
        f"{flat.output_names[0]}[{u}]" for u in np.argsort(-out)]
    assert page.count("<div class='inline'>") == len(comp.rows)


def test_bad_inputs_are_refused_before_any_model_runs(tiny_pair):
    tiny, _, calls = tiny_pair
    with pytest.raises(kerasviz.UnknownMethodError, match="smoothgrad"):
        kerasviz.compare(tiny, _pictures(1), ["smoothgrd"])
    with pytest.raises(kerasviz.ImageError, match="raw images"):
        kerasviz.compare(tiny, np.zeros((1, 32, 32, 3), np.float32), "gradcam")
    with pytest.raises(kerasviz.ImageError, match="does not exist|not found|No such"):
        kerasviz.compare(tiny, ["/nonexistent/x.png"], "gradcam")
    with pytest.raises(kerasviz.LayerNotFoundError):
        kerasviz.compare(tiny, _pictures(1), "gradcam", layers="nope")
    assert calls["tiny"] == 0


def test_pictures_png_html_and_figure(tiny_pair, tmp_path):
    import io

    from PIL import Image

    tiny, logits, _ = tiny_pair
    comp = kerasviz.compare([tiny, logits], _pictures(1), ["gradcam"], cell_size=64)
    grid = comp.grid()
    assert grid.shape == (2 * (C.TITLE_HEIGHT + 64 + C.GRID_PAD) + C.GRID_PAD,
                          2 * (64 + C.GRID_PAD) + C.GRID_PAD, 3)
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(comp.png()))), grid)
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(comp._repr_png_()))), grid)
    saved = comp.save(tmp_path / "grid.png")
    np.testing.assert_array_equal(np.asarray(Image.open(saved)), grid)
    fig = comp.figure()
    np.testing.assert_array_equal(fig.axes[0].images[0].get_array(), grid)
    assert tuple(fig.get_size_inches() * fig.dpi) == (grid.shape[1], grid.shape[0])
    index = comp.to_html(tmp_path / "html")
    assert index.name == "index.html" and (tmp_path / "html" / "results.json").is_file()
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("mine")
    with pytest.raises(kerasviz.OutputError, match="--force|force"):
        comp.to_html(tmp_path / "foreign")
    os.symlink(tmp_path / "grid.png", tmp_path / "link.png")
    with pytest.raises(kerasviz.OutputError, match="symbolic link"):
        comp.save(tmp_path / "link.png")


def test_an_unregistered_method_object_is_a_column(tiny_pair):
    tiny, _, _ = tiny_pair
    smoothed = kerasviz.methods.smooth("gradcam", samples=2, seed=1)
    pics = _pictures(1, seed=4)
    comp = kerasviz.compare(tiny, pics, smoothed)
    assert comp.methods == ("smooth(gradcam)",)
    ref = kerasviz.explain(tiny, pics, smoothed).maps[0]
    np.testing.assert_allclose(comp.explanations[0, "tiny", "smooth(gradcam)"].maps[0], ref,
                               atol=1e-5)
