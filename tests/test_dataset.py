"""``kerasviz batch --engine ray`` / :func:`kerasviz.explain_dataset`: on local Ray with 2 workers
the results equal the single-process batch run's, Parquet holds every image exactly once, a
killed worker loses nothing, and re-running skips finished work."""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ray = pytest.importorskip("ray", reason="the Ray engine's tests need pip install 'kerasviz[ray]'")
pq = pytest.importorskip("pyarrow.parquet")

METHODS = ["gradcam", "saliency"]
GOOD = 10


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """10 generated shapes images and 2 broken files."""
    from kerasviz import datasets

    folder = tmp_path_factory.mktemp("ray_in")
    for i, image in enumerate(datasets.shapes(GOOD, seed=21).images):
        Image.fromarray(image).save(folder / f"img{i:02d}.png")
    (folder / "text.jpg").write_bytes(b"this is not an image\n" * 20)
    good = (folder / "img00.png").read_bytes()
    (folder / "truncated.png").write_bytes(good[: len(good) // 3])
    return folder


@pytest.fixture(scope="module")
def ray_session():
    """One local Ray instance for the module (started as explain_dataset starts it)."""
    from kerasviz.apps.dataset import start_ray

    start_ray(cpus=2)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def local_run(images, tmp_path_factory):
    from kerasviz.apps.batch import batch_explain

    out = tmp_path_factory.mktemp("local") / "out"
    batch_explain("shapes", images, METHODS, out, batch_size=4, progress=False)
    return out


def _records(out: Path) -> dict[str, dict]:
    """``results.jsonl`` by image path; each image must appear once."""
    lines = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    by_image = {r["image"]: r for r in lines}
    assert len(by_image) == len(lines), "an image has two lines"
    return by_image


def test_ray_with_two_workers_equals_the_local_batch(images, local_run, ray_session, tmp_path):
    from kerasviz.apps.dataset import explain_dataset, read_results

    out = tmp_path / "ray"
    summary = explain_dataset("shapes", images, METHODS, out, batch_size=4, workers=2,
                              progress=False)
    assert (summary.images, summary.explained, summary.failed) == (GOOD + 2, GOOD, 2)
    local, remote = _records(local_run), _records(out)
    assert local.keys() == remote.keys()
    for image, a in local.items():
        b = remote[image]
        assert a["key"] == b["key"]  # the key depends on bytes and settings, not on the engine
        if "error" in a:  # the same error rows
            assert (a["error"], a["kind"]) == (b["error"], b["kind"])
            continue
        assert [p[:2] for p in a["predictions"]] == [p[:2] for p in b["predictions"]]
        np.testing.assert_allclose([p[2] for p in a["predictions"]],
                                   [p[2] for p in b["predictions"]], rtol=1e-5, atol=1e-6)
        assert a["target"] == b["target"]
        for m in METHODS:
            assert a["methods"][m]["files"] == b["methods"][m]["files"]
            ma = np.load(local_run / a["methods"][m]["files"][2])
            mb = np.load(out / b["methods"][m]["files"][2])
            # Two processes may group the images into other batches, and oneDNN's float32 sums
            # then run in another order: differences of a few float32 ulps of the raw map, which
            # normalisation to [0, 1] keeps of that order (1e-5 is ~100 ulps at 1.0).
            np.testing.assert_allclose(ma, mb, atol=1e-5)
    # Parquet: one row per image, holding what the files hold
    table = read_results(out)
    assert sorted(table["image"].to_pylist()) == sorted(remote)
    for row in table.to_pylist():
        record = remote[row["image"]]
        assert row["key"] == record["key"]
        if "error" in record:
            assert row["error"] == record["error"] and row["gradcam"] is None
            continue
        assert row["predictions"][0]["name"] == record["predictions"][0][1]
        for m in METHODS:
            files = record["methods"][m]["files"]
            np.testing.assert_array_equal(np.asarray(row[m]["map"], np.float32),
                                          np.load(out / files[2]))
            assert row[m]["overlay_png"] == (out / files[0]).read_bytes()
            assert row[m]["box"] == record["methods"][m]["box"]
    work = json.loads((out / "summary.json").read_text())
    assert work["engine"] == "ray" and sum(work["per_worker"].values()) == GOOD


def test_rerun_skips_finished_work_and_a_cut_step_is_redone_once(images, ray_session, tmp_path):
    """A run stopped between a step's Parquet part and its lines: the resumed run explains those
    images again, and the Parquet parts still hold every image exactly once."""
    from kerasviz.apps.dataset import explain_dataset, read_results

    out = tmp_path / "ray"
    explain_dataset("shapes", images, ["gradcam"], out, batch_size=4, workers=2, progress=False)
    again = explain_dataset("shapes", images, ["gradcam"], out, batch_size=4, workers=2,
                            progress=False)
    assert (again.explained, again.skipped) == (0, GOOD + 2)  # error rows too: kept, not retried
    lines = (out / "results.jsonl").read_text().splitlines()
    cut = [json.loads(line) for line in lines[-3:]]
    (out / "results.jsonl").write_text("".join(line + "\n" for line in lines[:-3]))
    resumed = explain_dataset("shapes", images, ["gradcam"], out, batch_size=4, workers=2,
                              progress=False)
    assert resumed.explained == sum("error" not in r for r in cut)
    keys = read_results(out)["key"].to_pylist()
    assert len(keys) == len(set(keys)) == GOOD + 2
    assert {r["key"] for r in _records(out).values()} == set(keys)


def test_parquet_inputs_with_paths_or_bytes(images, ray_session, tmp_path):
    import pyarrow as pa

    from kerasviz.apps.dataset import explain_dataset, read_results

    files = sorted(images.glob("img0[0-2].png"))
    pq.write_table(pa.table({"path": [str(f) for f in files]}), tmp_path / "paths.parquet")
    pq.write_table(pa.table({"bytes": [f.read_bytes() for f in files]}), tmp_path / "bytes.parquet")
    by_path = explain_dataset("shapes", tmp_path / "paths.parquet", ["gradcam"], tmp_path / "a",
                              workers=1, progress=False)
    by_bytes = explain_dataset("shapes", [tmp_path / "bytes.parquet"], ["gradcam"],
                               tmp_path / "b", workers=1, progress=False)
    assert by_path.explained == by_bytes.explained == 3
    a, b = read_results(tmp_path / "a"), read_results(tmp_path / "b")
    # same bytes, same settings: the same keys and maps, whichever way the bytes came
    assert sorted(a["key"].to_pylist()) == sorted(b["key"].to_pylist())
    maps_a = {r["key"]: r["gradcam"]["map"] for r in a.to_pylist()}
    for r in b.to_pylist():
        np.testing.assert_allclose(r["gradcam"]["map"], maps_a[r["key"]], atol=1e-5)
        assert r["image"].startswith(str(tmp_path / "bytes.parquet") + "#")


def test_bad_rows_become_error_lines_and_worker_errors_are_the_users(images, ray_session,
                                                                     tmp_path):
    """Null cells are error lines (the run goes on); unnamed bytes get distinct names; a
    kerasviz error raised in a worker reaches the caller as itself; an impossible request for a
    local Ray is refused instead of waiting for ever."""
    import pyarrow as pa

    import kerasviz
    from kerasviz.apps.dataset import explain_dataset, read_results

    good = [(images / f"img0{i}.png").read_bytes() for i in range(3)]
    pq.write_table(pa.table({"bytes": pa.array(good + [None], pa.binary())}),
                   tmp_path / "b.parquet")
    pq.write_table(pa.table({"path": [str(images / "img03.png"), None]}), tmp_path / "p.parquet")
    summary = explain_dataset("shapes", [tmp_path / "b.parquet", tmp_path / "p.parquet"],
                              ["gradcam"], tmp_path / "out", workers=1, progress=False)
    assert (summary.explained, summary.failed) == (4, 2)
    table = read_results(tmp_path / "out").to_pylist()
    assert sum(r["error"] is not None and "no image" in r["error"] for r in table) == 2
    unnamed = [r["image"] for r in table if r["image"].startswith(str(tmp_path / "b.parquet"))]
    assert len(unnamed) == len(set(unnamed)) == 4
    with pytest.raises(kerasviz.LayerNotFoundError, match="nosuchlayer"):  # before Ray works
        explain_dataset("shapes", images, ["gradcam"], tmp_path / "out2", layer="nosuchlayer",
                        workers=1, progress=False)

    def refuses(outputs):  # a target only a worker calls (the driver checks it is callable)
        raise kerasviz.TargetError("this target refuses every model")

    with pytest.raises(kerasviz.TargetError, match="refuses every model"):
        explain_dataset("shapes", images, ["gradcam"], tmp_path / "out3", target=refuses,
                        workers=1, progress=False)


def test_a_local_ray_is_not_asked_for_what_it_lacks(images, tmp_path):
    """A GPU per worker on a machine without one would wait for ever: one line, exit 2 (a
    process of its own: it starts its own local Ray)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run([sys.executable, "-m", "kerasviz", "batch", "--model", "shapes",
                           "--engine", "ray", "--workers", "2", "--gpus-per-worker", "1",
                           "--in", str(images), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 2, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert "2 workers × 1 GPU each need 2 GPUs" in last and "--gpus-per-worker" in last


def _actor_pids() -> list[int]:
    import psutil

    return [p.pid for p in psutil.process_iter(["cmdline"])
            if any("MapWorker" in part and "Explainer" in part for part in p.info["cmdline"] or [])]


def test_a_worker_killed_mid_run_loses_nothing(images, ray_session, tmp_path):
    """SIGKILL one actor's process once a few images are written: Ray restarts it and retries
    its batches; every image appears exactly once in results.jsonl and in the Parquet parts."""
    from kerasviz.apps.dataset import explain_dataset, read_results

    out = tmp_path / "ray"
    result, killed = {}, []

    def run():
        # SmoothGrad with many samples, one image per step: long enough to be cut midway
        result["summary"] = explain_dataset("shapes", images, ["smoothgrad"], out, batch_size=1,
                                            workers=2, options={"samples": 96}, progress=False)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 240
    lines = lambda: (out / "results.jsonl").read_bytes().count(b"\n") if (  # noqa: E731
        out / "results.jsonl").exists() else 0
    while thread.is_alive() and lines() < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    pids = _actor_pids()
    at_kill = lines()
    if pids and thread.is_alive():
        os.kill(pids[0], signal.SIGKILL)
        killed.append(pids[0])
    thread.join(timeout=600)
    assert killed, "no actor to kill: the run ended before 3 images were written"
    assert at_kill < GOOD + 2, "the run finished before the kill"
    summary = result["summary"]
    assert (summary.explained, summary.failed) == (GOOD, 2)
    records = _records(out)
    assert len(records) == GOOD + 2
    keys = read_results(out)["key"].to_pylist()
    assert sorted(keys) == sorted(r["key"] for r in records.values())
    assert killed[0] not in _actor_pids()


def test_without_ray_the_engine_says_how_to_install_it(monkeypatch, images, tmp_path):
    from kerasviz.apps.dataset import explain_dataset
    from kerasviz.errors import ArgumentError

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ArgumentError, match=r'pip install "kerasviz\[ray\]"'):
        explain_dataset("shapes", images, ["gradcam"], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_cli_ray_engine_errors_are_one_line_before_any_work(images, tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    base = [sys.executable, "-m", "kerasviz", "batch", "--model", "shapes", "--engine", "ray",
            "--out", str(tmp_path / "out")]
    bad_parquet = tmp_path / "cols.parquet"
    import pyarrow as pa

    pq.write_table(pa.table({"name": ["x"]}), bad_parquet)
    for extra, words in ((["--in", str(images), "--workers", "0"], "--workers"),
                         (["--in", str(bad_parquet)], "'path'"),
                         (["--in", str(images), "--gpus-per-worker", "-1"], "--gpus-per-worker")):
        proc = subprocess.run(base + extra, capture_output=True, text=True, env=env, timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert words in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not (tmp_path / "out").exists()
    local = subprocess.run(base[:6] + ["--workers", "2", "--in", str(images), "--out",
                            str(tmp_path / "out")], capture_output=True, text=True, env=env,
                           timeout=120)
    assert local.returncode == 2 and "--engine ray" in local.stderr
    local = subprocess.run([sys.executable, "-m", "kerasviz", "batch", "--model", "shapes",
                            "--in", str(bad_parquet), "--out", str(tmp_path / "out")],
                           capture_output=True, text=True, env=env, timeout=120)
    assert local.returncode == 2 and "--engine ray" in local.stderr
