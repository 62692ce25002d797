"""The main job: `kerasviz demo --out DIR` offline on the shipped models."""
import re

import pytest

from kerasviz.apps.cli import main


@pytest.fixture
def no_vgg_weights(empty_weight_caches):
    return empty_weight_caches


def test_demo_writes_a_report_with_existing_pngs(tmp_path, no_vgg_weights, capsys):
    out = tmp_path / "D"
    assert main(["demo", "--out", str(out)]) == 0
    html = (out / "index.html").read_text()
    pngs = re.findall(r"src='([^']+\.png)'", html)
    assert len(pngs) >= 4
    for name in pngs:
        assert (out / name).is_file() and (out / name).stat().st_size > 500
    assert "Grad-CAM" in html and "Sensors" in html and "Activations" in html
    assert "Skipped" in html and "weights_cache" in html  # VGG16 weights are not cached here
    printed = capsys.readouterr().out
    assert str((out / "index.html").resolve()) in printed and "Open it with" in printed
