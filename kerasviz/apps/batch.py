"""Batch runs over many images that never lose finished work: :func:`batch_explain`.

Per image, for each method: ``<stem>-<key>_<method>_overlay.png`` (heatmap over the image, region
boxed), ``_map.png`` (the heatmap alone) and ``_map.npy`` (``float32 (H, W)`` in [0, 1] at the
model's input size), then one line in ``results.jsonl`` — the line is written last and is the
proof the image is finished. A broken image gets an error line (``{"image", "key", "error",
"kind"}``) and the run goes on. ``summary.json`` is written when the run ends.

Re-running the same command in the same folder resumes: an image whose *key* (a hash of its
bytes and of the run's settings) already has a line is skipped; failed images are retried only
with ``retry_failed=True``. Images are read and decoded in a background thread while the model
works on the previous chunk, and every chunk's results go to disk before the next one, so memory
depends on ``batch_size``, not on the number of images.
"""
from __future__ import annotations

import glob
import hashlib
import json
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from kerasviz import _device, _progress, _validate
from kerasviz.errors import ArgumentError, ExplanationWarning, one_line
from kerasviz.present.outputs import MANIFEST, OutputFolder, npy_bytes

RESULTS = "results.jsonl"
SUMMARY = "summary.json"
#: File suffixes taken from folders and globs (a file named explicitly is always tried).
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm",
                  ".pgm", ".pbm", ".pnm"}
#: List files: one image path per line (relative paths are relative to the list file).
LIST_SUFFIXES = {".txt", ".lst"}


@dataclass
class BatchSummary:
    """What a batch run did. ``explained``: images explained by this run; ``skipped``: finished
    by an earlier run (or the same content seen twice); ``failed``: error lines now in
    ``results.jsonl`` (this run's and, without ``retry_failed``, earlier ones)."""
    out: Path
    images: int
    explained: int
    skipped: int
    failed: int
    seconds: float
    #: what an engine adds (the Ray engine: ``engine``, ``workers``, ``per_worker``, …)
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"out": str(self.out), "images": self.images, "explained": self.explained,
                "skipped": self.skipped, "failed": self.failed,
                "seconds": round(self.seconds, 3)} | self.extra


def expand_inputs(specs: Any) -> list[Path]:
    """Image paths from folders (searched recursively for :data:`IMAGE_SUFFIXES`), glob patterns,
    list files (``.txt`` / ``.lst``, one path per line) and plain paths, in order, without
    duplicates. Raises ArgumentError when nothing matches."""
    if isinstance(specs, (str, Path)):
        specs = [specs]
    found: list[Path] = []
    for spec in specs:
        text = str(spec)
        path = Path(text)
        if path.is_dir():
            hits = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES
                          and p.is_file() and not any(part.startswith(".") for part in p.parts[-1:])
                          and not _in_output_folder(p, path))
            where = f"the folder {text!r} has no image files ({', '.join(sorted(IMAGE_SUFFIXES))})"
        elif any(c in text for c in "*?["):
            hits = sorted(Path(p) for p in glob.glob(text, recursive=True)
                          if Path(p).is_file() and Path(p).suffix.lower() in IMAGE_SUFFIXES)
            where = f"the pattern {text!r} matches no image file"
        elif path.suffix.lower() == ".parquet":
            raise ArgumentError(f"{text!r} is a Parquet file: Parquet inputs are read by the Ray "
                                f"engine (--engine ray, kerasviz.explain_dataset). Give image "
                                f"files, folders, globs or list files to the local engine.")
        elif path.suffix.lower() in LIST_SUFFIXES and path.is_file():
            lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
            hits = [p if p.is_absolute() else path.parent / p
                    for p in (Path(ln) for ln in lines if ln and not ln.startswith("#"))]
            where = f"the list file {text!r} names no image"
        else:
            hits, where = [path], ""
        if not hits:
            raise ArgumentError(f"No images to explain: {where}. Give a folder, a glob pattern "
                                f"('photos/**/*.jpg'), a list file or image paths.")
        found += hits
    return list(dict.fromkeys(found))


def _in_output_folder(path: Path, root: Path) -> bool:
    """Whether ``path`` lies in a kerasviz output folder (one holding a run manifest) inside
    ``root``: a batch's ``--out`` inside its ``--in`` must not become input on the next run."""
    return any((folder / MANIFEST).is_file() for folder in path.parents
               if folder == root or root in folder.parents)


def batch_explain(model, inputs: Any, methods: Sequence[str] | str = ("gradcam",),
                  out: str | Path = "kerasviz_batch", *, target: Any = None, layer: Any = None,
                  options: dict | None = None, batch_size: int = 16, force: bool = False,
                  retry_failed: bool = False, progress: bool | None = None,
                  model_id: str | None = None, preprocess: Any = None) -> BatchSummary:
    """Explain every image of ``inputs`` with every method, streaming results to ``out``.

    Args:
        model: a ``keras.Model`` or anything :func:`kerasviz.load_model` takes.
        inputs: folders, glob patterns, list files or image paths (see :func:`expand_inputs`).
        methods: registered method names.
        out: the output folder: new, empty, or a previous batch run (resumed when its settings
            match; refused otherwise unless ``force=True``).
        target, layer: as in :func:`kerasviz.explain` (``layer`` for the CAM methods).
        options: method options (each method gets the ones it declares).
        batch_size: images read, explained and written per step (memory grows with it).
        force: write into a non-empty folder that is not a matching batch run (starts over).
        retry_failed: explain again the images that have an error line.
        progress: a progress bar (images/s, ETA); default: when stderr is a terminal.
        model_id: how the settings name the model (default: its name and a hash of its weights).
        preprocess: for a model kerasviz does not know, ``uint8``-range float32 RGB
            ``(N, H, W, 3)`` → model input (as in :func:`kerasviz.explain`).

    Returns:
        :class:`BatchSummary`.
    """
    job = open_job(model, inputs, methods, out, target=target, layer=layer, options=options,
                   batch_size=batch_size, force=force, retry_failed=retry_failed,
                   model_id=model_id, preprocess=preprocess)
    start = time.perf_counter()
    explained = skipped = 0
    bar = _progress.bar(total=len(job.paths), progress=progress, desc="batch", unit="img")
    pool = ThreadPoolExecutor(1, thread_name_prefix="kerasviz-decode")
    chunks = [job.paths[i:i + job.batch_size] for i in range(0, len(job.paths), job.batch_size)]
    try:
        pending = pool.submit(_read_chunk, chunks[0], job.digest) if chunks else None
        for k in range(len(chunks)):
            chunk = pending.result()
            pending = pool.submit(_read_chunk, chunks[k + 1], job.digest) if k + 1 < len(chunks) else None
            todo = []
            for item in chunk:
                if item["key"] in job.done:
                    skipped += 1
                    continue
                job.done.add(item["key"])
                if "error" in item:
                    job.write(error_record(item), {})
                else:
                    todo.append(item)
            for record, files in job.recipe.explain(job.model, todo):
                job.write(record, files)
            explained += len(todo)
            bar.update(len(chunk))
    finally:
        bar.close()
        pool.shutdown(wait=False, cancel_futures=True)
    return job.finish(explained, skipped, time.perf_counter() - start)


@dataclass
class Recipe:
    """How each image is explained: the part of a batch run a worker process needs (picklable)."""
    methods: list[str]
    per_method: dict[str, dict]
    target: Any
    layer: Any
    preprocess: Any
    device: str

    def explain(self, model, items: list[dict]) -> list[tuple[dict, dict[str, bytes]]]:
        """Explain decoded images (``item["pixels"]``: ``uint8 (H, W, 3)``) with every method.

        Returns:
            per image ``(record, files)``: its ``results.jsonl`` line and its files' bytes by
            name (overlay and map PNGs, the map as ``.npy``: ``float32 (h, w)`` in [0, 1]).
        """
        import kerasviz
        from kerasviz.core.layers import as_list
        from kerasviz.core.targets import class_names
        from kerasviz.methods import registry
        from kerasviz.present import render

        if not items:
            return []
        pixels = [item["pixels"] for item in items]
        t0 = time.perf_counter()
        probs = as_list(model.predict(kerasviz.preprocess(model, pixels, preprocess=self.preprocess),
                                      verbose=0))[0]
        probs = probs.reshape(len(items), -1)
        names = class_names(model, 0)
        seconds = {"predict": time.perf_counter() - t0}
        results = {}
        for m in self.methods:
            t0 = time.perf_counter()
            with warnings.catch_warnings(record=True) as seen:  # an empty map: said in its line
                warnings.simplefilter("always", ExplanationWarning)
                exp = kerasviz.explain(model, pixels, m, target=self.target,
                                       preprocess=self.preprocess,
                                       layer=self.layer if registry.get(m).uses_layer else None,
                                       progress=False, **self.per_method[m])
            for w in seen:
                if not issubclass(w.category, ExplanationWarning):
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
            why = {i: cause for w in seen if issubclass(w.category, ExplanationWarning)
                   for cause, idx in w.message.causes.items() for i in idx}
            results[m] = (exp, exp.overlay(), exp.boxes(), why)
            seconds[m] = time.perf_counter() - t0
        out = []
        for i, item in enumerate(items):
            base = f"{Path(item['image']).stem}-{item['key'][:8]}"
            top = np.argsort(-probs[i])[:5]
            record = {"image": item["image"], "key": item["key"],
                      "predictions": [[int(c), names[c] if names else str(int(c)),
                                       float(probs[i, c])] for c in top],
                      "methods": {}, "device": self.device,
                      "seconds": {k: round(v / len(items), 5) for k, v in seconds.items()}}
            files = {}
            for m, (exp, overlays, boxes, why) in results.items():
                stem = f"{base}_{m.replace('+', 'p')}"
                names_m = [f"{stem}_overlay.png", f"{stem}_map.png", f"{stem}_map.npy"]
                files |= dict(zip(names_m, (render.png_bytes(render.draw_box(overlays[i], boxes[i])),
                                            render.png_bytes(render.colorize(exp.maps[i])),
                                            npy_bytes(exp.maps[i].astype(np.float32)))))
                record["target"] = exp.labels[i]
                score = float(exp.scores[i])
                record["methods"][m] = {"score": score if np.isfinite(score) else None,  # JSON
                                        "box": [int(v) for v in boxes[i]],
                                        "layer": exp.layer, "files": names_m}
                if i in why:
                    record["methods"][m]["empty_map"] = why[i]
            out.append((record, files))
        return out


@dataclass
class Job:
    """One batch run, whichever engine runs it: its model, images, recipe and output folder
    (opened, the previous run's lines read), and the keys already done."""
    model: Any
    paths: list[Path]
    recipe: Recipe
    settings: dict
    digest: bytes
    folder: OutputFolder
    done: set
    batch_size: int
    images: int = 0

    def __post_init__(self):
        self.images = self.images or len(self.paths)

    def write(self, record: dict, files: dict[str, bytes]) -> None:
        """Write one image's files, then its line (the proof it is finished)."""
        for name, data in files.items():
            self.folder.write_bytes(name, data)
        self.folder.append_line(RESULTS, record)

    def finish(self, explained: int, skipped: int, seconds: float, **extra) -> BatchSummary:
        """Write ``summary.json`` and close the folder."""
        failed = sum("error" in r for r in self.folder.read_lines(RESULTS))
        summary = BatchSummary(self.folder.path, self.images, explained, skipped, failed,
                               seconds, extra)
        self.folder.write_text(SUMMARY, json.dumps(summary.to_dict()
                                                   | {"settings": self.settings}, indent=1) + "\n")
        self.folder.finish()
        return summary


def open_job(model, inputs, methods, out, *, target=None, layer=None, options=None,
             batch_size=16, force=False, retry_failed=False, model_id=None, preprocess=None,
             settings: dict | None = None) -> Job:
    """Check every argument (before any heavy work), load the model, open the output folder and
    read what an earlier run of the same settings finished. ``settings``: more of them (an
    engine's), part of what must match for a run to resume."""
    import kerasviz
    from kerasviz.methods import registry

    methods = [methods] if isinstance(methods, str) else list(methods)
    if not methods:
        raise ArgumentError("methods must name at least one method. Received: methods=[].")
    methods = [registry.get(m).name for m in methods]
    options = dict(options or {})
    per_method = registry.split_options(methods, options)
    batch_size = _validate.positive_int("batch_size", batch_size)
    retry_failed = _validate.boolean("retry_failed", retry_failed)
    paths = expand_inputs(inputs)
    device = _device.resolve()  # $KERASVIZ_DEVICE: a bad value fails before the model loads
    if isinstance(model, (str, Path)):
        model_id, model = model_id or str(model), kerasviz.load_model(model)
    kerasviz.as_target(model, target, 1)  # a bad target, layer or preprocessing fails now
    if layer is not None and any(registry.get(m).uses_layer for m in methods):
        kerasviz.resolve_layer(model, layer)
    kerasviz.preprocess(model, np.zeros((1, 8, 8, 3), np.uint8), preprocess=preprocess)
    run = {"model": model_id or _model_id(model), "methods": methods, "target": _jsonable(target),
           "layer": _jsonable(layer), "options": _jsonable(options)}
    if preprocess is not None:
        run["preprocess"] = getattr(preprocess, "__qualname__", repr(preprocess))
    # an image's key: its bytes and what decides its results (not how the run is computed)
    digest = hashlib.sha256(json.dumps(run, sort_keys=True).encode()).digest()
    run |= settings or {}
    folder = OutputFolder(out, "batch", run, force=force, resume=True)
    if not folder.resumed:  # forced start over: nothing of an earlier run counts
        folder.remove(RESULTS)
    records = folder.read_lines(RESULTS, keep=lambda r: "error" not in r or not retry_failed)
    done = {r["key"] for r in records if r.get("key")}
    recipe = Recipe(methods, per_method, target, layer, preprocess, device)
    return Job(model, paths, recipe, run, digest, folder, done, batch_size)


def read_image(path: str | Path, digest: bytes, data: bytes | None = None) -> dict:
    """One image's record: ``image``, ``key`` (a hash of the run's settings and the bytes) and
    ``data`` (its bytes), or ``error`` / ``kind`` when it cannot be read. ``data`` given: not
    read again (bytes from a Parquet column)."""
    item = {"image": str(path)}
    if data is None:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            item["key"] = hashlib.sha256(digest + f"unreadable:{path}".encode()).hexdigest()[:20]
            return item | {"error": one_line(exc), "kind": type(exc).__name__}
    item["key"] = hashlib.sha256(digest + data).hexdigest()[:20]
    return item | {"data": data}


def decode(item: dict) -> dict:
    """``item`` with ``pixels`` (``uint8 (H, W, 3)``) decoded from ``data``, or with ``error`` /
    ``kind`` for a broken image."""
    from kerasviz.core.images import load_image

    if "error" in item:
        return item
    try:
        return item | {"pixels": load_image(item["data"])}
    except Exception as exc:  # noqa: BLE001 - any broken image becomes its error line
        return item | {"error": one_line(exc), "kind": type(exc).__name__}


def error_record(item: dict) -> dict:
    """The ``results.jsonl`` line of an image that could not be read or decoded."""
    return {k: item[k] for k in ("image", "key", "error", "kind")}


def _read_chunk(paths: list[Path], digest: bytes) -> list[dict]:
    """Read and decode images (in the background thread), see :func:`read_image`."""
    return [decode(read_image(path, digest)) for path in paths]


def _model_id(model) -> str:
    """``name:sha256-of-weights`` (16 hex digits): a retrained model is not taken for the old."""
    h = hashlib.sha256()
    for w in model.weights:
        h.update(np.ascontiguousarray(w.numpy()).tobytes())
    return f"{model.name}:{h.hexdigest()[:16]}"


def _jsonable(value):
    """``value`` as JSON-able settings (callables and arrays by their ``repr``)."""
    try:
        json.dumps(value)
        return value
    except TypeError:
        return repr(value)

