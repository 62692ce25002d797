"""Output folders: atomic files, no silent overwrite, never through a link, no stale files."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from kerasviz.errors import OutputError
from kerasviz.present.outputs import MANIFEST, TMP_SUFFIX, OutputFolder


def test_files_are_complete_and_the_manifest_lists_them(tmp_path):
    folder = OutputFolder(tmp_path / "o", "explain")
    assert not (tmp_path / "o").exists()  # nothing is written before the first file
    folder.write_png("a.png", np.zeros((4, 5, 3), np.uint8))
    assert json.loads((tmp_path / "o" / MANIFEST).read_text())["complete"] is False
    folder.write_npy("a.npy", np.arange(3.0))
    folder.write_text("index.html", "<p>")
    folder.finish()
    manifest = json.loads((tmp_path / "o" / MANIFEST).read_text())
    assert manifest["complete"] is True and manifest["files"] == ["a.npy", "a.png", "index.html"]
    assert np.load(tmp_path / "o" / "a.npy").tolist() == [0.0, 1.0, 2.0]
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["a.npy", "a.png", "index.html", MANIFEST]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    folder = OutputFolder(tmp_path, "explain")
    folder.write_text("stats.json", "old")

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        folder.write_text("stats.json", "new and longer")
    assert (tmp_path / "stats.json").read_text() == "old"
    assert not list(tmp_path.glob(f"*{TMP_SUFFIX}"))


def test_a_new_run_removes_what_the_previous_run_wrote(tmp_path):
    first = OutputFolder(tmp_path, "activations")
    first.write_text("img_conv1.png", "1")
    first.write_text("stats.json", "1")
    first.finish()
    (tmp_path / f".x.123{TMP_SUFFIX}").write_text("left by a killed run")
    second = OutputFolder(tmp_path, "activations")   # killed before it writes stats.json
    second.write_text("img_conv2.png", "2")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img_conv2.png", MANIFEST]


def test_non_empty_foreign_folder_is_refused_unless_forced(tmp_path):
    (tmp_path / "index.html").write_text("the user's own page")
    with pytest.raises(OutputError, match="holds files that kerasviz did not write.*--force"):
        OutputFolder(tmp_path, "demo")
    other = tmp_path / "other"
    OutputFolder(other, "explain").finish()
    with pytest.raises(OutputError, match="holds a previous 'kerasviz explain' run"):
        OutputFolder(other, "demo")
    forced = OutputFolder(tmp_path, "demo", force=True)
    forced.write_text("a.png", "x")
    forced.finish()
    assert (tmp_path / "index.html").read_text() == "the user's own page"  # other files kept


def test_never_through_a_link(tmp_path):
    outside = tmp_path / "outside.png"
    outside.write_text("precious")
    out = tmp_path / "out"
    folder = OutputFolder(out, "explain")
    folder.write_text("first.txt", "")
    (out / "a_overlay.png").symlink_to(outside)
    with pytest.raises(OutputError, match="is a symbolic link"):
        folder.write_png("a_overlay.png", np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(OutputError, match="is a symbolic link"):
        folder.append_line("a_overlay.png", {"x": 1})
    assert outside.read_text() == "precious"
    (tmp_path / "linked").symlink_to(out)
    with pytest.raises(OutputError, match="is a symbolic link"):
        OutputFolder(tmp_path / "linked", "explain")
    with pytest.raises(OutputError, match="is a file"):
        OutputFolder(outside, "explain")


def test_read_lines_drops_a_line_cut_short(tmp_path):
    folder = OutputFolder(tmp_path, "batch")
    folder.append_line("r.jsonl", {"k": 1})
    folder.append_line("r.jsonl", {"k": 2})
    with open(tmp_path / "r.jsonl", "ab") as f:
        f.write(b'{"k": 3, "cut')                     # what SIGKILL mid-write leaves
    assert folder.read_lines("r.jsonl") == [{"k": 1}, {"k": 2}]
    assert (tmp_path / "r.jsonl").read_text() == '{"k": 1}\n{"k": 2}\n'
    assert folder.read_lines("r.jsonl", keep=lambda r: r["k"] != 1) == [{"k": 2}]


def test_cli_refuses_a_bad_out_before_loading_the_model(tmp_path, capsys, monkeypatch):
    import kerasviz.core.models
    from kerasviz.apps.cli import main
    from kerasviz.present import render

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before --out was checked")

    monkeypatch.setattr(kerasviz.core.models, "load_model", refuse)
    picture = tmp_path / "pic.png"
    render.save_png(picture, np.zeros((8, 8, 3), np.uint8))
    for command in (["explain", "-m", "shapes", str(picture)], ["activations", "-m", "shapes", str(picture)],
                    ["filters", "-m", "shapes", "--layer", "conv1"], ["demo"],
                    ["batch", "-m", "shapes", "--in", str(picture)]):
        assert main([*command, "--out", str(tmp_path)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "is not empty" in err[0] and "--force" in err[0], err
