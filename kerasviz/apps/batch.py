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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from kerasviz import _device, _progress, _validate
from kerasviz.errors import ArgumentError, ExplanationWarning, one_line
from kerasviz.present.outputs import OutputFolder

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

    def to_dict(self) -> dict:
        return {"out": str(self.out), "images": self.images, "explained": self.explained,
                "skipped": self.skipped, "failed": self.failed, "seconds": round(self.seconds, 3)}


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
                          and p.is_file() and not any(part.startswith(".") for part in p.parts[-1:]))
            where = f"the folder {text!r} has no image files ({', '.join(sorted(IMAGE_SUFFIXES))})"
        elif any(c in text for c in "*?["):
            hits = sorted(Path(p) for p in glob.glob(text, recursive=True)
                          if Path(p).is_file() and Path(p).suffix.lower() in IMAGE_SUFFIXES)
            where = f"the pattern {text!r} matches no image file"
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
    kerasviz.as_target(model, target, 1)  # a bad target or preprocessing fails now, not later
    kerasviz.preprocess(model, np.zeros((1, 8, 8, 3), np.uint8), preprocess=preprocess)
    settings = {"model": model_id or _model_id(model), "methods": methods, "target": _jsonable(target),
                "layer": _jsonable(layer), "options": _jsonable(options)}
    if preprocess is not None:
        settings["preprocess"] = getattr(preprocess, "__qualname__", repr(preprocess))
    folder = OutputFolder(out, "batch", settings, force=force, resume=True)
    if not folder.resumed:  # forced start over: nothing of an earlier run counts
        folder.remove(RESULTS)
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).digest()

    failed_before = lambda r: "error" in r and not retry_failed  # noqa: E731
    records = folder.read_lines(RESULTS, keep=lambda r: "error" not in r or failed_before(r))
    done = {r["key"] for r in records if r.get("key")}
    start = time.perf_counter()
    explained = skipped = 0
    bar = _progress.bar(total=len(paths), progress=progress, desc="batch", unit="img")
    pool = ThreadPoolExecutor(1, thread_name_prefix="kerasviz-decode")
    chunks = [paths[i:i + batch_size] for i in range(0, len(paths), batch_size)]
    try:
        pending = pool.submit(_read_chunk, chunks[0], digest) if chunks else None
        for k in range(len(chunks)):
            chunk = pending.result()
            pending = pool.submit(_read_chunk, chunks[k + 1], digest) if k + 1 < len(chunks) else None
            todo = []
            for item in chunk:
                if item["key"] in done:
                    skipped += 1
                elif "error" in item:
                    folder.append_line(RESULTS, item)
                    done.add(item["key"])
                else:
                    todo.append(item)
                    done.add(item["key"])
            if todo:
                _explain_chunk(model, todo, methods, per_method, target, layer, folder, device,
                               preprocess)
                explained += len(todo)
            bar.update(len(chunk))
    finally:
        bar.close()
        pool.shutdown(wait=False, cancel_futures=True)
    failed = sum("error" in r for r in folder.read_lines(RESULTS))
    summary = BatchSummary(folder.path, len(paths), explained, skipped, failed,
                           time.perf_counter() - start)
    folder.write_text(SUMMARY, json.dumps(summary.to_dict() | {"settings": settings}, indent=1) + "\n")
    folder.finish()
    return summary


def _read_chunk(paths: list[Path], digest: bytes) -> list[dict]:
    """Read and decode images (in the background thread): per path a record with ``image``,
    ``key`` and either ``pixels`` (``uint8 (H, W, 3)``) or ``error`` / ``kind``."""
    from kerasviz.core.images import load_image

    items = []
    for path in paths:
        item = {"image": str(path)}
        try:
            data = path.read_bytes()
        except OSError as exc:
            data = f"unreadable:{path}".encode()
            error = exc
        else:
            error = None
        item["key"] = hashlib.sha256(digest + data).hexdigest()[:20]
        if error is None:
            try:
                item["pixels"] = load_image(data)
            except Exception as exc:  # noqa: BLE001 - any broken image becomes its error line
                error = exc
        if error is not None:
            item |= {"error": one_line(error), "kind": type(error).__name__}
        items.append(item)
    return items


def _explain_chunk(model, items, methods, per_method, target, layer, folder: OutputFolder,
                   device: str, preprocess=None) -> None:
    """Explain one chunk of decoded images with every method; write each image's files, then
    its line."""
    import kerasviz
    from kerasviz.core.layers import as_list
    from kerasviz.core.targets import class_names
    from kerasviz.methods import registry
    from kerasviz.present import render

    pixels = [item["pixels"] for item in items]
    t0 = time.perf_counter()
    probs = as_list(model.predict(kerasviz.preprocess(model, pixels, preprocess=preprocess),
                                  verbose=0))[0]
    probs = probs.reshape(len(items), -1)
    names = class_names(model, 0)
    seconds = {"predict": time.perf_counter() - t0}
    results = {}
    for m in methods:
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as seen:  # an empty map: said in its line
            warnings.simplefilter("always", ExplanationWarning)
            exp = kerasviz.explain(model, pixels, m, target=target, preprocess=preprocess,
                                   layer=layer if registry.get(m).uses_layer else None,
                                   progress=False, **per_method[m])
        for w in seen:
            if not issubclass(w.category, ExplanationWarning):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        why = {i: cause for w in seen if issubclass(w.category, ExplanationWarning)
               for cause, idx in w.message.causes.items() for i in idx}
        results[m] = (exp, exp.overlay(), exp.boxes(), why)
        seconds[m] = time.perf_counter() - t0
    for i, item in enumerate(items):
        base = f"{Path(item['image']).stem}-{item['key'][:8]}"
        top = np.argsort(-probs[i])[:5]
        record = {"image": item["image"], "key": item["key"],
                  "predictions": [[int(c), names[c] if names else str(int(c)), float(probs[i, c])]
                                  for c in top],
                  "methods": {}, "device": device,
                  "seconds": {k: round(v / len(items), 5) for k, v in seconds.items()}}
        for m, (exp, overlays, boxes, why) in results.items():
            stem = f"{base}_{m.replace('+', 'p')}"
            files = [folder.write_png(f"{stem}_overlay.png", render.draw_box(overlays[i], boxes[i])),
                     folder.write_png(f"{stem}_map.png", render.colorize(exp.maps[i])),
                     folder.write_npy(f"{stem}_map.npy", exp.maps[i].astype(np.float32))]
            record["target"] = exp.labels[i]
            score = float(exp.scores[i])
            record["methods"][m] = {"score": score if np.isfinite(score) else None,  # JSON
                                    "box": [int(v) for v in boxes[i]],
                                    "layer": exp.layer, "files": [f.name for f in files]}
            if i in why:
                record["methods"][m]["empty_map"] = why[i]
        folder.append_line(RESULTS, record)


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

