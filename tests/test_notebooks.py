"""The notebooks: stripped in git, executed from a clean kernel, their prose's claims true of what
they print, and the documentation pages rendered from their current code.

Executed with nbclient, as ``scripts/render_notebooks.py`` does (one module fixture runs each
notebook once, about two minutes for the three on two CPU cores).
"""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("render_notebooks",
                                               ROOT / "scripts" / "render_notebooks.py")
render_notebooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(render_notebooks)

NAMES = ["01_book_chapter", "02_method_tour", "03_sensor_model"]


def _read(name):
    import nbformat

    return nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)


@pytest.fixture(scope="module")
def executed():
    return {name: render_notebooks.execute(ROOT / "notebooks" / f"{name}.ipynb") for name in NAMES}


def _outputs(nb, kind):
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if kind == "stdout" and out.output_type == "stream" and out.name == "stdout":
                yield out.text
            elif kind == "stderr" and out.output_type == "stream" and out.name == "stderr":
                yield out.text
            elif kind == "image" and "image/png" in out.get("data", {}):
                yield out.data["image/png"]


def _stdout(nb):
    return "".join(_outputs(nb, "stdout"))


def test_the_three_notebooks_are_there_and_listed():
    assert [p.stem for p in render_notebooks.notebooks()] == NAMES
    readme = (ROOT / "notebooks" / "README.md").read_text()
    assert all(f"{name}.ipynb" in readme for name in NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_stripped_in_git(name):
    for cell in _read(name).cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:80]


@pytest.mark.parametrize("name", NAMES)
def test_notebook_executes_clean(executed, name):
    nb = executed[name]
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    # no Python warning or traceback on stderr; only TensorFlow's C++ start-up lines
    assert [render_notebooks.noise_free(t) for t in _outputs(nb, "stderr")
            if render_notebooks.noise_free(t).strip()] == []
    assert len(list(_outputs(nb, "image"))) >= 3


def test_book_chapter_names_the_network_and_the_cat(executed):
    out = _stdout(executed["01_book_chapter"])
    network = re.search(r"Using (\w+):", out).group(1)
    assert network in ("vgg16", "efficientnet_lite0")
    top5 = re.findall(r"^n\d{8}\s+(\S+)\s+([\d.]+)$", out, re.M)
    assert len(top5) == 5
    assert {"tabby", "tiger_cat", "Egyptian_cat"} & {name for name, _ in top5[:3]}
    assert "target '281 tabby'" in out
    # sparsity climbs with depth: the last layer has more zeros than the first (the prose says so)
    first, last = (float(v) for v in re.search(r"zeros: (\d+)% in \w+, (\d+)% in", out).groups())
    assert last > first
    assert len(list(_outputs(executed["01_book_chapter"], "image"))) >= 6


def test_method_tour_runs_every_registered_method(executed):
    import kerasviz

    out = _stdout(executed["02_method_tour"])
    listed = re.findall(r"^(\S+)\s+\[(cam|pixel)\]", out, re.M)
    shipped = [m.name for m in kerasviz.methods() if m.fn.__module__.startswith("kerasviz.")]
    assert [name for name, _ in listed] == shipped  # (this process also has the tests' methods)
    assert re.search(r"^chelsea .*(tabby|tiger_cat|Egyptian_cat) \(", out, re.M)
    assert re.search(r"^coffee\s+espresso \(", out, re.M)
    # the three cat classes' maps nearly agree (prose: "nearly identical")
    corr = [float(v) for v in re.search(r"with tabby's: \[([\d. ]+)\]", out).group(1).split()]
    assert len(corr) == 2 and min(corr) > 0.8
    # a class not in the photo: its raw map is much weaker than the predicted class's
    espresso, tabby = (float(v) for v in re.search(r"espresso ([\d.]+), tabby ([\d.]+)", out).groups())
    assert tabby > 3 * espresso


def test_sensor_notebook_finds_the_best_method_and_the_failure(executed):
    out = _stdout(executed["03_sensor_model"])
    table = dict(re.findall(r"^(\w+)\s+(\d+)%\s+\d+%\s+\d+%$", out, re.M))
    assert len(table) >= 14  # every pixel and CAM method but CAM itself
    best = re.search(r"most often on the obstacle: (\w+)", out).group(1)
    assert int(table[best]) == max(int(v) for v in table.values())
    assert best == "gradcam_ig"  # the prose says so
    plain, camo = (float(v) for v in re.findall(r"obstacles: MAE ([\d.]+)", out)[-2:])
    assert camo > 2 * plain  # the camouflage failure the notebook shows
    # and its explanation: the best method's peak moves from the obstacle to the robot
    (po, pr), (co, cr) = [(int(a), int(b)) for a, b in re.findall(
        r"on (?:plain|camouflaged) images: peak on the obstacle (\d+)%, on the robot (\d+)%", out)]
    assert co < po and cr > pr


@pytest.mark.parametrize("name", NAMES)
def test_documentation_page_shows_the_current_notebook(name):
    page = ROOT / "docs" / "notebooks" / f"{name}.md"
    assert page.exists(), "run: python scripts/render_notebooks.py"
    text = page.read_text()
    stale = [c.source[:60] for c in _read(name).cells if c.source.strip()
             and (c.source if c.cell_type == "code" else render_notebooks.doc_links(c.source))
             not in text]
    assert stale == [], "notebook changed since it was rendered: python scripts/render_notebooks.py"
    for image in re.findall(r"\]\((img/[^)]+)\)", text):
        assert (page.parent / image).is_file(), image
