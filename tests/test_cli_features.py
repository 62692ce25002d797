"""`kerasviz activations` and `kerasviz filters` on a tiny model saved to a .keras file."""
import json

import numpy as np
import pytest
from PIL import Image

import kerasviz
from kerasviz.inside import features
from kerasviz.apps.cli import main
from kerasviz.apps.cli.activations import parse_indices, parse_layers


@pytest.fixture(scope="module")
def files(tmp_path_factory, make_tiny_cnn, make_images):
    """(model file, [two image files], the model loaded as the CLI loads it)."""
    root = tmp_path_factory.mktemp("cli_features")
    model = make_tiny_cnn(size=32)
    path = root / "tiny.keras"
    model.save(path)
    images = []
    for i, im in enumerate(make_images(2, seed=3)):
        images.append(root / f"img{i}.png")
        Image.fromarray(im).save(images[-1])
    loaded = kerasviz.load_model(str(path), preprocess=lambda x: np.asarray(x, np.float32) / 255)
    return str(path), [str(p) for p in images], loaded


def test_parsers():
    import keras

    assert parse_indices("0:64") == slice(0, 64) and parse_indices("1,5") == [1, 5]
    assert parse_indices("::2") == slice(None, None, 2) and parse_indices(None) is None
    assert parse_layers("conv1, -1,Conv2D,block*_conv*,vgg16/block5_conv3") == [
        "conv1", -1, keras.layers.Conv2D, "block*_conv*", "vgg16/block5_conv3"]


def test_activations_writes_grids_stats_and_plot(files, tmp_path, capsys):
    model_file, images, loaded = files
    out = tmp_path / "acts"
    code = main(["activations", "--model", model_file, "--preprocess", "unit", *images,
                 "--layers", "Conv2D", "--sort", "mean", "--out", str(out)])
    assert code == 0
    for stem in ("img0", "img1"):
        for layer in ("conv1", "conv2", "conv3"):
            grid = np.asarray(Image.open(out / f"{stem}_{layer}.png"))
            assert grid.dtype == np.uint8 and grid.shape[2] == 3
    assert not (out / "img0_pool1.png").exists()
    expected = features.layer_stats(loaded, images, ["conv1", "conv2", "conv3"])
    got = json.loads((out / "stats.json").read_text())
    assert [r["layer"] for r in got] == ["conv1", "conv2", "conv3"]
    np.testing.assert_allclose([r["zero_fraction"] for r in got],
                               [r.zero_fraction for r in expected], rtol=1e-6)
    assert (out / "sparsity.png").stat().st_size > 1000
    printed = capsys.readouterr().out
    assert "zeros" in printed and "conv3" in printed and "Wrote 6 grids" in printed


def test_activations_json_and_errors(files, tmp_path, capsys):
    model_file, images, _ = files
    assert main(["activations", "-m", model_file, "--preprocess", "unit", images[0], "--json",
                 "--layers", "conv2", "--out", str(tmp_path / "j")]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 1 and rows[0]["shape"] == [16, 16, 12]
    assert main(["activations", "-m", model_file, "--preprocess", "unit", images[0],
                 "--layers", "conv_2", "--out", str(tmp_path / "e")]) == 2
    err = capsys.readouterr().err
    assert "No layer 'conv_2'" in err and "conv2" in err


def test_filters_writes_patterns_weights_and_json(files, tmp_path, capsys):
    model_file, _, loaded = files
    out = tmp_path / "filters"
    code = main(["filters", "--model", model_file, "--preprocess", "unit", "--layer", "conv2",
                 "--filters", "2:7", "--steps", "3", "--option", "step_size=2", "--cols", "5",
                 "--out", str(out), "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert [f["unit"] for f in summary["filters"]] == [2, 3, 4, 5, 6]
    direct = kerasviz.inside.patterns.optimize_patterns(loaded, "conv2", slice(2, 7), steps=3,
                                                 step_size=2, progress=False)
    np.testing.assert_allclose([f["score_end"] for f in summary["filters"]], direct.score_end,
                               rtol=1e-4, atol=1e-6)
    grid = np.asarray(Image.open(out / "patterns_conv2_book.png"))
    assert grid.shape == (18 + 32, 5 * 34 - 2, 3)                   # title band + one row of 5
    np.testing.assert_array_equal(grid[18:, :32], direct.images[0])
    weights = np.asarray(Image.open(out / "weights_conv2.png"))
    assert weights.shape == (18 + 48, 5 * 50 - 2, 3)                # 3×3 kernels enlarged ×16


def test_filters_class_model_and_errors(files, tmp_path, capsys):
    model_file, _, _ = files
    out = tmp_path / "classes"
    assert main(["filters", "-m", model_file, "--preprocess", "unit", "--target", "1,3",
                 "--recipe", "lucid", "--steps", "4", "--option", "octaves=1",
                 "--out", str(out)]) == 0
    assert (out / "patterns_predictions_lucid.png").exists()
    assert not list(out.glob("weights_*"))
    capsys.readouterr()
    assert main(["filters", "-m", model_file, "--preprocess", "unit", "--layer", "conv2",
                 "--option", "octave=2", "--out", str(out)]) == 2
    assert "Unknown option 'octave'" in capsys.readouterr().err
    assert main(["filters", "-m", model_file, "--preprocess", "unit", "--layer", "conv2",
                 "--recipe", "lucide", "--out", str(out)]) == 2
    assert "recipe must be one of ['book', 'lucid']" in capsys.readouterr().err
    assert main(["filters", "-m", model_file, "--preprocess", "unit", "--layer", "conv2",
                 "--filters", "11,12", "--out", str(out)]) == 2
    assert "[0, 12)" in capsys.readouterr().err
    assert main(["filters", "-m", model_file, "--preprocess", "unit", "--layer", "conv2",
                 "--filters", "20:30", "--out", str(out)]) == 2
    assert "layer 'conv2', which has 12" in capsys.readouterr().err
    assert main(["filters", "-m", model_file, "--preprocess", "unit", "--layer", "conv2",
                 "--filters", "0:500", "--out", str(out)]) == 2       # not silently clipped to 0:12
    assert "--filters 0:500 reaches past" in capsys.readouterr().err
    assert main(["filters", "-m", model_file, "--preprocess", "unit", "--layer", "conv2",
                 "--filters", "8:", "--steps", "1", "--out", str(out), "--json"]) == 0
    assert [f["unit"] for f in json.loads(capsys.readouterr().out)["filters"]] == [8, 9, 10, 11]
