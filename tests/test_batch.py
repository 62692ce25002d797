"""``kerasviz batch``: interrupted runs lose nothing and resume without redoing finished images;
broken images become error lines; outputs never half-written."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kerasviz.present.outputs import MANIFEST, TMP_SUFFIX

GOOD, BROKEN = 25, 5


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """A folder of 25 generated shapes images and 5 broken files of different kinds."""
    from kerasviz import datasets

    folder = tmp_path_factory.mktemp("batch_in")
    for i, image in enumerate(datasets.shapes(GOOD, seed=11).images):
        Image.fromarray(image).save(folder / f"img{i:02d}.png")
    good = (folder / "img00.png").read_bytes()
    (folder / "truncated.png").write_bytes(good[: len(good) // 3])
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "text.jpg").write_bytes(b"this is not an image\n" * 20)
    (folder / "noise.png").write_bytes(np.random.default_rng(0).bytes(3000))
    (folder / "liar.bmp").write_bytes(b"BM" + bytes(60))
    return folder


def _command(images, out):
    # smoothgrad with many samples and one image per step: slow enough to be stopped midway
    return [sys.executable, "-m", "kerasviz", "batch", "--model", "shapes", "--methods",
            "gradcam,smoothgrad", "--option", "samples=96", "--batch-size", "1", "--quiet",
            "--in", str(images), "--out", str(out)]


def _lines(out):
    path = out / "results.jsonl"
    return path.read_bytes().count(b"\n") if path.exists() else 0


def _stop_midway(images, out, sig, at_lines=8):
    """Start the batch, send ``sig`` once ``at_lines`` results are written; returns the
    process's exit code, its stderr and the number of complete lines at that moment."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(_command(images, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, text=True)
    deadline = time.monotonic() + 300
    while _lines(out) < at_lines and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    seen = _lines(out)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err, seen


def _snapshot(out):
    return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.iterdir()
            if p.name.endswith((".png", ".npy"))}


def _check_complete(out, images):
    """Every input exactly once, 25 results with their files, 5 error lines, nothing partial."""
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    names = sorted(Path(r["image"]).name for r in records)
    assert names == sorted(p.name for p in images.iterdir())  # each image exactly once
    ok = [r for r in records if "error" not in r]
    errors = [r for r in records if "error" in r]
    assert len(ok) == GOOD and len(errors) == BROKEN
    assert all(r["kind"] == "ImageError" and r["error"] for r in errors)
    listed = set()
    for r in ok:
        assert r["predictions"][0][1] in ("circle", "square", "triangle", "star", "cross")
        assert set(r["methods"]) == {"gradcam", "smoothgrad"}
        for m in r["methods"].values():
            listed |= set(m["files"])
            for f in m["files"]:
                if f.endswith(".npy"):
                    a = np.load(out / f)
                    assert a.shape == (96, 96) and np.isfinite(a).all()
                else:
                    assert Image.open(out / f).size == (96, 96)
    files = {p.name for p in out.iterdir()}
    assert not [f for f in files if f.endswith(TMP_SUFFIX)]
    assert files - listed == {"results.jsonl", "summary.json", MANIFEST}  # no orphan or partial file
    assert json.loads((out / MANIFEST).read_text())["complete"] is True


def test_sigkill_midway_then_rerun_finishes_without_redoing_anything(images, tmp_path):
    out = tmp_path / "run"
    rc, _, seen = _stop_midway(images, out, signal.SIGKILL)
    assert rc == -signal.SIGKILL
    assert 0 < seen < GOOD + BROKEN, "the run was not stopped midway"
    before = _snapshot(out)
    done_before = _lines(out)  # complete lines left by the killed run (a cut line is not counted)

    rerun = subprocess.run(_command(images, out), capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 2, rerun.stderr  # 5 images failed; every good result kept
    assert f"{done_before} done by an earlier run" in rerun.stdout
    _check_complete(out, images)
    after = _snapshot(out)
    # files of images finished before the kill were not written again
    finished = [json.loads(l) for l in (out / "results.jsonl").read_text().splitlines()[:done_before]]
    for r in finished:
        for m in r.get("methods", {}).values():
            for f in m["files"]:
                assert after[f] == before[f], f"{f} was explained twice"


def test_sigint_stops_cleanly_with_one_line_and_resumes(images, tmp_path):
    out = tmp_path / "run"
    rc, err, seen = _stop_midway(images, out, signal.SIGINT)
    assert rc == 130, err
    assert 0 < seen < GOOD + BROKEN
    assert "Traceback" not in err
    ours = [line for line in err.splitlines() if line.startswith("kerasviz")]
    assert ours == [f"kerasviz batch: interrupted; the finished outputs are kept in {out}; run "
                    f"the same command again to resume."]
    # consistent: every line complete and every listed file present
    for line in (out / "results.jsonl").read_text().splitlines():
        for m in json.loads(line).get("methods", {}).values():
            assert all((out / f).is_file() for f in m["files"])
    assert not list(out.glob(f"*{TMP_SUFFIX}"))
    rerun = subprocess.run(_command(images, out), capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 2, rerun.stderr
    _check_complete(out, images)


def test_retry_failed_and_changed_settings(images, tmp_path):
    from kerasviz.apps.batch import batch_explain
    from kerasviz.errors import OutputError

    out = tmp_path / "run"
    first = batch_explain("shapes", images, ["saliency"], out, progress=False)
    assert (first.explained, first.skipped, first.failed) == (GOOD, 0, BROKEN)
    again = batch_explain("shapes", images, ["saliency"], out, progress=False)
    assert (again.explained, again.skipped, again.failed) == (0, GOOD + BROKEN, BROKEN)
    retried = batch_explain("shapes", images, ["saliency"], out, retry_failed=True, progress=False)
    assert (retried.explained, retried.skipped, retried.failed) == (0, GOOD, BROKEN)
    assert _lines(out) == GOOD + BROKEN  # retried errors replace their old lines
    with pytest.raises(OutputError, match=r"other settings \(methods: \['saliency'\] then"):
        batch_explain("shapes", images, ["gradcam"], out, progress=False)
    fresh = batch_explain("shapes", images, ["gradcam"], out, force=True, progress=False)
    assert fresh.explained == GOOD and _lines(out) == GOOD + BROKEN


def test_inputs_folder_glob_and_list(images, tmp_path):
    from kerasviz.apps.batch import expand_inputs
    from kerasviz.errors import ArgumentError

    listing = tmp_path / "list.txt"
    listing.write_text(f"# two images\n{images / 'img01.png'}\n{images / 'img02.png'}\n\n")
    assert len(expand_inputs(images)) == GOOD + BROKEN
    assert [p.name for p in expand_inputs(str(images / "img0*.png"))] == [f"img0{i}.png" for i in range(10)]
    assert [p.name for p in expand_inputs([listing, images / "img01.png"])] == ["img01.png", "img02.png"]
    with pytest.raises(ArgumentError, match="matches no image file"):
        expand_inputs(str(images / "*.tiff"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ArgumentError, match="has no image files"):
        expand_inputs(empty)


def test_an_output_folder_inside_the_input_folder_is_not_input(images, tmp_path):
    """--out inside --in: the second run finds the same images, not the first run's maps."""
    import shutil

    from kerasviz.apps.batch import batch_explain

    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("img00.png", "img01.png"):
        shutil.copy(images / name, folder / name)
    first = batch_explain("shapes", folder, ["gradcam"], folder / "out", progress=False)
    again = batch_explain("shapes", folder, ["gradcam"], folder / "out", progress=False)
    assert (first.images, first.explained) == (2, 2)
    assert (again.images, again.explained, again.skipped) == (2, 0, 2)
    assert len(list((folder / "out").glob("*.png"))) == 4  # the run did write images there


def test_an_empty_map_is_said_in_the_results_line(tmp_path):
    """A black image through a ReLU model with zero biases: every activation is 0 (a dead
    layer), so Grad-CAM's map is empty; its line says why, the other image's line does not."""
    import keras

    from conftest import gap_dense
    from kerasviz.apps.batch import batch_explain

    keras.utils.set_random_seed(11)
    model = gap_dense(size=16, channels=6)
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(folder / "black.png")
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (16, 16, 3), np.uint8)).save(
        folder / "noise.png")
    summary = batch_explain(model, folder, ["gradcam"], tmp_path / "out", progress=False,
                            preprocess=lambda x: x / 255)
    assert summary.explained == 2
    lines = {Path(r["image"]).name: r for r in map(json.loads, (tmp_path / "out" /
                                                                  "results.jsonl").open())}
    assert "outputs 0 everywhere (a dead layer" in lines["black.png"]["methods"]["gradcam"]["empty_map"]
    assert "empty_map" not in lines["noise.png"]["methods"]["gradcam"]
    assert np.load(tmp_path / "out" / lines["black.png"]["methods"]["gradcam"]["files"][2]).max() == 0
