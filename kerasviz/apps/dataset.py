"""A whole dataset explained on Ray Data: :func:`explain_dataset` (``kerasviz batch --engine ray``).

The same run as :func:`kerasviz.apps.batch.batch_explain` — same files, same ``results.jsonl``
lines, same resume rules — with the explaining spread over a pool of Ray actors:

* **Ray computes, this process writes.** Each actor loads the model once, keeps its compiled
  graphs, reads and decodes its images and returns each image's line and file bytes. Only the
  driver writes to the output folder, through the same :class:`~kerasviz.present.outputs.
  OutputFolder` as the local run (atomic files, no links, never half-written), so a cluster's
  workers need no shared disk.
* **Nothing finished is lost, nothing is written twice.** A broken image becomes an error line
  (never a failed job). A killed actor is restarted by Ray and its unfinished batches are retried;
  the driver writes each image key once. Re-running skips finished images (the actors drop them
  by key before decoding).
* **Parquet beside the JSON lines.** Each step also writes ``results-NNNNN.parquet``: one row per
  image (``image``, ``key``, ``error``, ``kind``, ``target``, ``device``, ``predictions``, and per
  method a struct of ``score``, ``box``, ``layer``, ``map`` — ``float32`` rows in [0, 1] — and
  ``overlay_png`` / ``map_png`` bytes); :func:`read_results` reads them as one table. A step is
  written as files, then its Parquet part, then its lines; a resumed run first trims the parts to
  the images whose lines are there, so every image is in the Parquet parts exactly once.

One machine by default (``ray.init()`` starts a local instance, no set-up); a cluster when
``RAY_ADDRESS`` is set (``ray start --head``, KubeRay). Needs ``pip install "kerasviz[ray]"``.
"""
from __future__ import annotations

import glob
import hashlib
import json
import logging
import os
import pickle
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Sequence

from kerasviz import _progress, _validate
from kerasviz.apps.batch import (RESULTS, BatchSummary, Job, Recipe, decode, error_record,
                                 open_job, read_image)
from kerasviz.errors import ArgumentError, KerasvizError, OutputError

PARQUET_PREFIX = "results-"
#: Columns of an input Parquet file: image paths, or encoded image bytes (with optional names).
PATH_COLUMN, BYTES_COLUMN = "path", "bytes"


def explain_dataset(model, inputs: Any, methods: Sequence[str] | str = ("gradcam",),
                    out: str | Path = "kerasviz_batch", *, target: Any = None, layer: Any = None,
                    options: dict | None = None, batch_size: int = 16, workers: int = 2,
                    gpus_per_worker: float | None = None, cpus_per_worker: int | None = None,
                    force: bool = False,
                    retry_failed: bool = False, progress: bool | None = None,
                    model_id: str | None = None, preprocess: Any = None,
                    model_source: dict | None = None) -> BatchSummary:
    """Explain every image of ``inputs`` with every method on a Ray actor pool; results stream to
    ``out`` exactly as :func:`kerasviz.batch_explain` writes them, plus Parquet parts.

    Args:
        model: as in :func:`kerasviz.batch_explain`, and so are ``methods``, ``out``,
            ``target``, ``layer``, ``options``, ``force``, ``retry_failed``, ``model_id`` and
            ``preprocess``.
        inputs: folders, glob patterns, list files, image paths, and ``.parquet`` files with a
            ``path`` column (image paths) or a ``bytes`` column (encoded images; a ``path``
            column beside it names them).
        batch_size: images per actor call (memory of each actor grows with it).
        workers: actors, each holding the model (default 2).
        gpus_per_worker: GPUs per actor; default 1 when the Ray cluster has GPUs, else 0.
        cpus_per_worker: CPU cores per actor (Ray sets its math threads to it); default: on the
            local Ray this run starts, the machine's cores shared among the workers, else 1.
        progress: a bar with images/s per worker; default: when stderr is a terminal.
        model_source: how a worker loads a model that cannot be pickled (a SavedModel folder):
            keyword arguments of :func:`kerasviz.load_model`; a path or name given as ``model``
            is used by default.

    Returns:
        :class:`~kerasviz.apps.batch.BatchSummary`; ``summary.json`` also holds images/s and the
        images each worker explained.

    Raises:
        ArgumentError: Ray is not installed (the message says how), or a bad argument — before
            Ray starts or the model loads.
    """
    ray = import_ray()
    workers = _validate.positive_int("workers", workers)
    if gpus_per_worker is not None:
        gpus_per_worker = _validate.number("gpus_per_worker", gpus_per_worker, lo=0.0)
    if cpus_per_worker is not None:
        cpus_per_worker = _validate.positive_int("cpus_per_worker", cpus_per_worker)
    files, tables, rows = split_inputs(inputs)
    if isinstance(model, (str, Path)) and model_source is None:
        model_source = {"name_or_path": str(model)}
    if model_source and Path(str(model_source.get("name_or_path", ""))).exists():
        # a path as every worker resolves it (their working folders differ on a cluster)
        model_source = model_source | {"name_or_path": str(Path(model_source["name_or_path"])
                                                            .resolve())}
    job = open_job(model, files, methods, out, target=target, layer=layer, options=options,
                   batch_size=batch_size, force=force, retry_failed=retry_failed,
                   model_id=model_id, preprocess=preprocess, settings={"engine": "ray"})
    job.images += rows
    payload = ModelPayload(job.model, model_source)
    part = _trim_parts(job)
    started = not ray.is_initialized()
    local = started and not os.environ.get("RAY_ADDRESS")  # a Ray of our own on this machine
    if cpus_per_worker is None:
        cpus_per_worker = max(1, (os.cpu_count() or 1) // workers) if local else 1
    if started:
        start_ray(workers * cpus_per_worker)
    try:
        have = ray.cluster_resources()
        gpus = gpus_per_worker
        if gpus is None:
            gpus = 1 if have.get("GPU", 0) >= 1 else 0
        if local:  # a local Ray never grows: a request it cannot meet would wait for ever
            _check_resources(have, workers, cpus_per_worker, gpus)
        dataset = _dataset(ray, job, tables).map_batches(
            Explainer, batch_size=job.batch_size, batch_format="numpy",
            fn_constructor_kwargs={"payload": payload, "recipe": job.recipe,
                                   "digest": job.digest, "done": frozenset(job.done)},
            compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=cpus_per_worker,
            num_gpus=gpus)
        return _drain(dataset, job, workers, progress, part)
    finally:
        if started:
            ray.shutdown()


def import_ray():
    """The ``ray`` module with Ray Data, or an ArgumentError saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise ArgumentError(f"The Ray engine needs Ray Data, which is not installed ({exc}). "
                            f"Install it with: pip install \"kerasviz[ray]\"; or run without "
                            f"--engine ray (the local engine).") from None
    return ray


def _check_resources(have: dict, workers: int, cpus: int, gpus: float) -> None:
    """Refuse what the local Ray cannot schedule (it would wait for ever, silently)."""
    for what, each, flag in (("GPU", gpus, "--gpus-per-worker"),
                             ("CPU", cpus, "--cpus-per-worker")):
        if each and workers * each > have.get(what, 0):
            raise ArgumentError(f"{workers} workers × {each:g} {what} each need "
                                f"{workers * each:g} {what}s, and this machine's Ray has "
                                f"{have.get(what, 0):g}. Lower --workers or {flag}"
                                f"{' (0: no GPU)' if what == 'GPU' else ''}.")


def read_results(out: str | Path):
    """The Parquet parts of a Ray batch run as one ``pyarrow.Table`` (one row per image, in the
    order they were written)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parts = [path for _, path in _parts(Path(out))]
    if not parts:
        raise ArgumentError(f"{str(out)!r} has no {PARQUET_PREFIX}*.parquet files: it is not the "
                            f"output folder of a batch run with engine='ray'.")
    return pa.concat_tables([pq.read_table(p) for p in parts])


@dataclass
class ModelPayload:
    """A model as it travels to the actors: pickled (Keras saves it to bytes), or, for a model
    that cannot be pickled (a SavedModel signature), how to load it; plus what kerasviz knows of
    it (preprocessing, class names). The bytes come from this process's own loaded model, so the
    user's ``safe_mode`` choice was already made when it loaded."""
    pickled: bytes | None
    source: dict | None
    info: dict

    def __init__(self, model, source: dict | None = None):
        from kerasviz.core.models import model_info

        info = model_info(model)
        self.info = {f.name: getattr(info, f.name) for f in fields(info)}
        self.source = source
        try:
            self.pickled = pickle.dumps(model)
        except Exception as exc:  # noqa: BLE001 - any failure: fall back on loading it again
            if source is None:
                raise ArgumentError(f"Model {model.name!r} cannot be sent to Ray workers "
                                    f"({type(exc).__name__}). Give it as a path or name (each "
                                    f"worker loads it), or pass model_source=.") from None
            self.pickled = None

    def load(self):
        import kerasviz
        from kerasviz.core.models import register_model

        model = (pickle.loads(self.pickled) if self.pickled is not None
                 else kerasviz.load_model(**self.source))
        return register_model(model, **self.info)


class Explainer:
    """A Ray actor: loads the model once, then explains batches of rows ``image`` (the name in
    the results, or None), ``path`` (a file to read, or None) and ``data`` (encoded bytes)."""

    def __init__(self, payload: ModelPayload, recipe: Recipe, digest: bytes, done: frozenset):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        self.model = payload.load()
        self.recipe, self.digest, self.done = recipe, digest, done
        self.worker = f"{os.uname().nodename}:{os.getpid()}"

    def __call__(self, batch: dict) -> dict:
        import numpy as np

        keys, records, files = [], [], []
        todo = []
        for name, path, data, source in zip(batch["image"], batch["path"], batch["data"],
                                            batch["source"]):
            item = _read_row(name, path, data, source, self.digest)
            keys.append(item["key"])
            if item["key"] in self.done:  # finished by an earlier run
                records.append(""), files.append(b"")
                continue
            item = decode(item)
            if "error" in item:
                records.append(json.dumps(error_record(item))), files.append(b"")
            else:
                records.append(None), files.append(None)
                todo.append((len(keys) - 1, item))
        try:
            results = self.recipe.explain(self.model, [t[1] for t in todo])
        except KerasvizError as exc:  # the user's error (Ray would wrap it): sent back as itself
            return {"key": np.array([""], dtype=object), "record": np.array([""], dtype=object),
                    "files": np.array([b""], dtype=object),
                    "worker": np.array([self.worker], dtype=object),
                    "error": np.array([pickle.dumps(exc)], dtype=object)}
        for (k, _), (record, payload) in zip(todo, results):
            records[k], files[k] = json.dumps(record), pickle.dumps(payload)
        return {"key": np.array(keys, dtype=object), "record": np.array(records, dtype=object),
                "files": np.array(files, dtype=object),
                "worker": np.array([self.worker] * len(keys), dtype=object),
                "error": np.array([b""] * len(keys), dtype=object)}


def _read_row(name, path, data, source, digest: bytes) -> dict:
    """One input row as :func:`~kerasviz.apps.batch.read_image` gives it: a file read, bytes
    taken, or an error for a row with neither (a null or empty Parquet cell). A row without a
    name is named ``<source>#<key>``."""
    if path:
        item = read_image(path, digest)
    elif data is not None and len(data):
        item = read_image(name or "", digest, bytes(data))
    else:
        # no bytes to hash: keyed by file and name (a file's unnamed empty rows are one line)
        key = hashlib.sha256(digest + f"empty:{source}:{name}".encode()).hexdigest()[:20]
        item = {"key": key, "error": "This row has no image: its path or bytes cell is empty. "
                                     "Give each row a path or the image's encoded bytes.",
                "kind": "ImageError"}
    item["image"] = name or f"{source}#{item['key'][:12]}"
    return item


def split_inputs(inputs) -> tuple[list, list[Path], int]:
    """``(image specs, Parquet files, their row count)``; Parquet columns are checked now."""
    import pyarrow.parquet as pq

    import pyarrow as pa

    specs = [inputs] if isinstance(inputs, (str, Path)) else list(inputs)
    tables: list[Path] = []
    for spec in (s for s in specs if _is_parquet(s)):
        hits = (sorted(Path(p) for p in glob.glob(str(spec), recursive=True))
                if any(c in str(spec) for c in "*?[") else [Path(spec)])
        if not hits or not all(p.is_file() for p in hits):
            raise ArgumentError(f"No Parquet file {str(spec)!r}. Give an existing file or a "
                                f"pattern that matches some.")
        tables += hits
    rows = 0
    for path in tables:
        try:
            schema, count = pq.read_schema(path), pq.read_metadata(path).num_rows
        except (pa.ArrowException, OSError) as exc:
            raise ArgumentError(f"{str(path)!r} is not a readable Parquet file "
                                f"({str(exc).splitlines()[0]}).") from None
        if PATH_COLUMN not in schema.names and BYTES_COLUMN not in schema.names:
            raise ArgumentError(f"The Parquet file {str(path)!r} has no {PATH_COLUMN!r} (image "
                                f"paths) or {BYTES_COLUMN!r} (image bytes) column. Received "
                                f"columns: {schema.names}.")
        for column, ok, want in ((PATH_COLUMN, (pa.types.is_string, pa.types.is_large_string),
                                  "strings"),
                                 (BYTES_COLUMN, (pa.types.is_binary, pa.types.is_large_binary),
                                  "binary (the encoded image files)")):
            if column in schema.names and not any(f(schema.field(column).type) for f in ok):
                raise ArgumentError(f"Column {column!r} of {str(path)!r} holds "
                                    f"{schema.field(column).type}; expected {want}.")
        rows += count
    files = [s for s in specs if not _is_parquet(s)]
    if not files and not rows:
        raise ArgumentError(f"No images to explain. Received: inputs={inputs!r}. Give folders, "
                            f"globs, list files, image paths or Parquet files.")
    return files, tables, rows


def _is_parquet(spec) -> bool:
    return str(spec).lower().endswith(".parquet")


def _dataset(ray, job: Job, tables: list[Path]):
    """A Ray dataset of rows ``image`` (name or None), ``path`` (absolute, or None), ``data``
    (bytes or None) and ``source`` (the Parquet file, or None)."""
    parts = []
    if job.paths:
        parts.append(ray.data.from_items([{"image": str(p), "path": str(Path(p).resolve()),
                                           "data": None, "source": None} for p in job.paths]))
    for path in tables:
        parts.append(ray.data.read_parquet(str(path.resolve())).map_batches(
            _parquet_rows, batch_format="pyarrow", fn_kwargs={"where": str(path.resolve())}))
    return parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]


def _parquet_rows(table, where: str):
    """An input Parquet batch as rows ``image`` / ``path`` / ``data``: paths to read (relative
    ones from the Parquet file's folder, as in list files), or bytes named by the ``path``
    column (else ``<file>#<key>``, by the worker)."""
    import pyarrow as pa

    n, has = table.num_rows, table.column_names
    names = table[PATH_COLUMN].to_pylist() if PATH_COLUMN in has else [None] * n
    if BYTES_COLUMN in has:
        data, paths = table[BYTES_COLUMN].cast(pa.binary()), [None] * n
    else:
        data = pa.array([None] * n, pa.binary())
        paths = [None if p is None else str(Path(where).parent / p) for p in names]
    return pa.table({"image": pa.array(names, pa.string()), "path": pa.array(paths, pa.string()),
                     "data": data, "source": pa.array([where] * n, pa.string())})


def start_ray(cpus: int = 2) -> None:
    """``ray.init()``: connects to ``$RAY_ADDRESS`` when set, else starts a local instance with
    ``cpus`` CPU slots for the actors plus one for reading (logical slots: never a deadlock on
    small machines). Ray's own logs and bars are kept quiet; kerasviz shows its own progress."""
    ray = import_ray()
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    logging.getLogger("ray").setLevel(logging.ERROR)
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    env = {"TF_CPP_MIN_LOG_LEVEL": "2", "KERAS_BACKEND": "tensorflow"}
    if os.environ.get("KERASVIZ_DEVICE"):
        env["KERASVIZ_DEVICE"] = os.environ["KERASVIZ_DEVICE"]
    kwargs = {"runtime_env": {"env_vars": env}, "logging_level": logging.ERROR,
              "log_to_driver": False}
    if not os.environ.get("RAY_ADDRESS"):
        kwargs |= {"num_cpus": max(os.cpu_count() or 1, cpus) + 1, "include_dashboard": False}
    ray.init(**kwargs)


def _drain(dataset, job: Job, workers: int, progress, part: int) -> BatchSummary:
    """Write the actors' results as they stream in: per step the files, the Parquet part number
    ``part`` (then the next), then the lines. A key done by an earlier run (or the same bytes
    seen twice) counts as skipped; one written by this run (a block Ray replays after a worker
    died) is dropped silently."""
    start = time.perf_counter()
    explained = skipped = 0
    written: set = set()
    first: float | None = None  # when the first results came
    per_worker: dict[str, int] = {}
    bar = _progress.bar(total=job.images, progress=progress, desc="batch (ray)", unit="img")
    try:
        for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            first = first or time.perf_counter()
            if len(batch["error"]) and batch["error"][0]:  # a kerasviz error in a worker
                raise pickle.loads(batch["error"][0])
            step, new = [], 0
            for key, record, payload, worker in zip(batch["key"], batch["record"],
                                                    batch["files"], batch["worker"]):
                if key in written:
                    continue
                new += 1
                written.add(key)
                if not record or key in job.done:
                    skipped += 1
                    continue
                job.done.add(key)
                record = json.loads(record)
                step.append((record, pickle.loads(payload) if payload else {}))
                if "error" not in record:
                    explained += 1
                    per_worker[worker] = per_worker.get(worker, 0) + 1
            for record, files in step:
                for name, data in files.items():
                    job.folder.write_bytes(name, data)
            if step:
                _write_part(job, step, part)
                part += 1
            for record, _ in step:
                job.folder.append_line(RESULTS, record)
            bar.update(new)
            rate = explained / max(time.perf_counter() - start, 1e-9)
            bar.set_postfix_str(f"{rate / max(len(per_worker), 1):.2f} img/s per worker "
                                f"({len(per_worker)} of {workers})", refresh=False)
    finally:
        bar.close()
    seconds = time.perf_counter() - start
    return job.finish(explained, skipped, seconds, engine="ray", workers=workers,
                      startup_seconds=round((first or time.perf_counter()) - start, 3),
                      images_per_second=round(explained / max(seconds, 1e-9), 3),
                      per_worker=per_worker)


def _schema(methods: list[str]):
    import pyarrow as pa

    method = pa.struct([("score", pa.float64()), ("box", pa.list_(pa.int32())),
                        ("layer", pa.string()), ("map", pa.list_(pa.list_(pa.float32()))),
                        ("map_png", pa.binary()), ("overlay_png", pa.binary())])
    prediction = pa.struct([("class", pa.int64()), ("name", pa.string()),
                            ("probability", pa.float64())])
    return pa.schema([("image", pa.string()), ("key", pa.string()), ("error", pa.string()),
                      ("kind", pa.string()), ("target", pa.string()), ("device", pa.string()),
                      ("predictions", pa.list_(prediction))] + [(m, method) for m in methods])


def _row(record: dict, files: dict[str, bytes]) -> dict:
    """One image's Parquet row from its line and its files."""
    import io

    import numpy as np

    row = {k: record.get(k) for k in ("image", "key", "error", "kind", "device")}
    row["target"] = None if record.get("target") is None else str(record["target"])
    row["predictions"] = [{"class": c, "name": n, "probability": p}
                          for c, n, p in record.get("predictions", [])]
    for m, entry in record.get("methods", {}).items():
        overlay, map_png, map_npy = (files[name] for name in entry["files"])
        row[m] = {"score": entry["score"], "box": entry["box"], "layer": entry["layer"],
                  # its rows as 1-D arrays: pyarrow copies them whole (tolist() is 400× slower)
                  "map": list(np.load(io.BytesIO(map_npy), allow_pickle=False)),
                  "map_png": map_png, "overlay_png": overlay}
    return row


def _parts(folder: Path) -> list[tuple[int, Path]]:
    """The Parquet parts in ``folder`` as ``(number, path)``, in number order."""
    found = []
    for path in folder.glob(f"{PARQUET_PREFIX}*.parquet"):
        number = path.stem[len(PARQUET_PREFIX):]
        if number.isdigit() and path.is_file() and not path.is_symlink():
            found.append((int(number), path))
    return sorted(found)


def _write_part(job: Job, step: list[tuple[dict, dict]], index: int) -> None:
    """Write one step's rows as ``results-<index>.parquet`` (atomically)."""
    import pyarrow as pa

    table = pa.Table.from_pylist([_row(r, f) for r, f in step], schema=_schema(job.recipe.methods))
    job.folder.write_bytes(f"{PARQUET_PREFIX}{index:05d}.parquet", _parquet_bytes(table))


def _trim_parts(job: Job) -> int:
    """Before a resumed run: keep in the Parquet parts exactly the images whose lines are in
    ``results.jsonl`` (once each). Rows of a step cut short by a kill, and error rows being
    retried, go; their images are explained again. Returns the next part's number."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    seen: set = set()
    parts = _parts(job.folder.path)
    for _, part in parts:
        try:
            table = pq.read_table(part)
            table["key"]
        except (pa.ArrowException, OSError, KeyError):
            raise OutputError(f"{str(part)!r} is not a Parquet part kerasviz wrote (unreadable, "
                              f"or no 'key' column). Move it away, or give another --out.") from None
        keep = []
        for key in table["key"].to_pylist():
            keep.append(key in job.done and key not in seen)
            seen.add(key)
        if all(keep):
            continue
        if any(keep):
            job.folder.write_bytes(part.name, _parquet_bytes(table.filter(pa.array(keep))))
        else:
            job.folder.remove(part.name)
    return parts[-1][0] + 1 if parts else 0


def _parquet_bytes(table) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()
