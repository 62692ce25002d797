"""``kerasviz explain``: --list from the registry, files per image and method, errors."""
import numpy as np
import pytest

import kerasviz
from kerasviz.present import render
from kerasviz.apps.cli import main
from conftest import gap_dense, images


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "tiny.keras"
    gap_dense(size=16).save(path)
    return path


@pytest.fixture
def pictures(tmp_path):
    paths = []
    for i, im in enumerate((images(2, 16, seed=3) * 255).astype(np.uint8)):
        render.save_png(tmp_path / f"pic{i}.png", im)
        paths.append(str(tmp_path / f"pic{i}.png"))
    return paths


def test_list_comes_from_the_registry(capsys):
    assert main(["explain", "--list"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [ln.split()[0] for ln in lines] == [m.name for m in kerasviz.methods()]


def test_writes_overlays_crops_and_raw_maps(model_file, pictures, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["explain", "--model", str(model_file), "--preprocess", "unit",
                 "--method", "gradcam,smoothgrad", "--option", "samples=3", "--target", "2",
                 *pictures, "--out", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "pic0: top: #" in text and "explains predictions[2]" in text
    for stem in ("pic0", "pic1"):
        for method in ("gradcam", "smoothgrad"):
            for kind in ("overlay", "masked", "crop"):
                assert (out / f"{stem}_{method}_{kind}.png").is_file()
            m = np.load(out / f"{stem}_{method}_map.npy")
            assert m.shape == (16, 16) and m.max() == pytest.approx(1.0)
    assert np.load(out / "pic0_gradcam_raw.npy").shape == (12, 12)
    # the saved raw map is the API's
    model = kerasviz.load_model(str(model_file), preprocess=lambda x: x / 255.0)
    exp = kerasviz.explain(model, pictures, "gradcam", target=2)
    np.testing.assert_allclose(np.load(out / "pic1_gradcam_raw.npy"), exp.raw[1], rtol=1e-5, atol=1e-7)


def test_errors_are_one_line(model_file, pictures, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["explain", "--method", "gradcamm", "--model", str(model_file), *pictures])
    assert "Closest: ['gradcam" in capsys.readouterr().err
    code = main(["explain", "--model", str(model_file), "--preprocess", "unit", "--option",
                 "sample=3", "--method", "smoothgrad", *pictures, "--out", str(tmp_path / "out")])
    assert code == 2 and "samples" in capsys.readouterr().err
    code = main(["explain", "--model", str(model_file), *pictures, "--out", str(tmp_path / "out")])
    assert code == 2 and "preprocess" in capsys.readouterr().err  # unknown preprocessing
    assert main(["explain", "--model", str(model_file)]) == 2
