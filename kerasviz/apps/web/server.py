"""The FastAPI app behind ``kerasviz serve``: the page, its HTTP API and the limits that keep a
local server safe.

Safe by default:

* uploads over :attr:`Limits.max_upload` bytes are answered 413 before they are read (the
  ``Content-Length`` header, then a count of the streamed body); images over
  :attr:`Limits.max_pixels` are answered 400 from their header, before decoding
  (:func:`kerasviz.load_image` reads the size first);
* at most :attr:`Limits.max_jobs` jobs are accepted at once (429 beyond), run one at a time in a
  worker thread, off the event loop; a job that takes longer than :attr:`Limits.time_limit`
  seconds is answered 504 (it finishes in the background and keeps its slot until then);
* nothing the client sends becomes a file path: samples are picked by id from a fixed table,
  models among those loaded at start (the command line's ``--model``).

Errors are JSON ``{"detail": "<what is wrong and what to do>"}``.
"""
from __future__ import annotations

import asyncio
import base64
import contextlib
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from kerasviz.errors import ExtraNotInstalledError, KerasvizError, one_line

try:
    from fastapi import FastAPI, File, Form, HTTPException, Query, Request, UploadFile
    from fastapi.responses import FileResponse, JSONResponse, Response
    try:  # python-multipart: FastAPI needs it for uploads (its module's new and old names)
        import python_multipart  # noqa: F401
    except ImportError:
        import multipart  # noqa: F401
except ImportError as _exc:  # pragma: no cover - exercised in a subprocess test
    raise ExtraNotInstalledError(
        f"kerasviz serve needs the web extra ({_exc.name} is missing). Install it with: "
        f'pip install "kerasviz[web]"') from None

STATIC = Path(__file__).resolve().parent / "static"
MB = 1024 * 1024
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
TOP = 5  # rows of the top-k table
_SAMPLE_ID = re.compile(r"[a-z][a-z0-9_]{0,40}")
_ERR = {"content": {"application/json": {"example": {"detail": "what is wrong and what to do"}}}}
#: the error answers of every job, for the OpenAPI description
JOB_ERRORS = {400: {"description": "bad input: image, method, layer, target", **_ERR},
              404: {"description": "unknown model or sample", **_ERR},
              413: {"description": "upload over the size limit", **_ERR},
              429: {"description": "max_jobs jobs already in (Retry-After: 5)", **_ERR},
              504: {"description": "the job took longer than the time limit", **_ERR}}
_PNG_OR_JSON = {200: {"content": {"application/json": {}, "image/png": {}},
                      "description": "JSON, or the PNG with format=png"}}


@dataclass(frozen=True)
class Limits:
    """What one server accepts.

    Attributes:
        max_upload: largest request body in bytes (default 10 MB); larger ones get 413.
        max_pixels: largest image in pixels, width × height (default 25 million, 75 MB decoded);
            larger ones get 400, read from the file's header before decoding.
        max_jobs: jobs accepted at once, running or waiting (default 4); more get 429.
        time_limit: seconds a request waits for its job (default 120); then 504.
    """
    max_upload: int = 10 * MB
    max_pixels: int = 25_000_000
    max_jobs: int = 4
    time_limit: float = 120.0


def _error(status: int, message: str, **headers) -> HTTPException:
    return HTTPException(status_code=status, detail=message, headers=headers or None)


class _BodyLimit:
    """ASGI middleware: 413 for a body over ``limit`` bytes, from ``Content-Length`` before any
    byte is read, else as soon as the streamed body passes the limit."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    def _too_large(self, size: str) -> HTTPException:
        return _error(413, f"The upload is {size}; the limit is {self.limit // MB} MB. Send a "
                           f"smaller file (a JPEG, or the image resized).")

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length", b"0")
        if not length.isdigit() or int(length) > self.limit:
            exc = self._too_large(f"{int(length) if length.isdigit() else length!r} bytes")
            return await JSONResponse({"detail": exc.detail}, 413)(scope, receive, send)
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise self._too_large(f"over {self.limit} bytes")
            return message

        await self.app(scope, counted, send)


class Jobs:
    """A bounded queue of jobs in one worker thread.

    Args:
        limits: ``max_jobs`` and ``time_limit`` are used.
        on_job: called in the worker thread at the start of each job (tests hold jobs with it).
    """

    def __init__(self, limits: Limits, on_job: Callable[[], Any] | None = None):
        self.limits, self.on_job = limits, on_job
        self._slots = threading.BoundedSemaphore(limits.max_jobs)
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="kerasviz-serve")

    async def run(self, fn: Callable, *args):
        """``fn(*args)`` in the worker thread; raises 429 when ``max_jobs`` are in, 504 after
        ``time_limit`` seconds."""
        if not self._slots.acquire(blocking=False):
            raise _error(429, f"The server is busy: {self.limits.max_jobs} jobs are running or "
                              f"waiting. Try again in a few seconds.", **{"Retry-After": "5"})

        def job():
            try:
                if self.on_job is not None:
                    self.on_job()
                return fn(*args)
            finally:
                self._slots.release()

        try:
            future = self._worker.submit(job)
        except BaseException:
            self._slots.release()
            raise
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.limits.time_limit)
        except asyncio.TimeoutError:
            raise _error(504, f"The job took longer than the time limit of "
                              f"{self.limits.time_limit:g} s. Try fewer methods or models, or "
                              f"start kerasviz serve with a larger --time-limit.") from None

    def close(self) -> None:
        self._worker.shutdown(wait=False, cancel_futures=True)


# --- what the page can choose from -----------------------------------------------------------

def _samples() -> dict[str, tuple[str, Callable[[], np.ndarray]]]:
    """Sample id -> (what it shows, loader of ``uint8 (H, W, 3)``): bundled photos and
    generated demo images. The only images the server reads besides uploads."""
    from kerasviz.data import datasets, photos

    table = {name: (photos.PHOTOS[name], lambda n=name: photos.photo(n))
             for name in photos.available()}
    for i in range(4):
        table[f"shapes_{i}"] = (f"generated shapes image {i}",
                                lambda i=i: datasets.shapes(4, seed=7)[0][i])
    table["sensors_0"] = ("generated sensor camera image",
                          lambda: datasets.sensors(1, seed=7)[0][0])
    return table


def _class_names(model) -> list[str]:
    import kerasviz

    names = kerasviz.model_info(model).class_names
    if names == "imagenet":
        return [kerasviz.imagenet.name(i) for i in range(kerasviz.imagenet.NUM_CLASSES)]
    if names is None:
        return [str(i) for i in range(int(model.outputs[0].shape[-1]))]
    return [str(n) for n in names]


def _describe_model(name: str, model) -> dict:
    import kerasviz
    from kerasviz.core import layers as L

    info = kerasviz.model_info(model)
    spatial = [r.path for r in L.layer_table(model) if r.is_spatial and r.index > 0]
    try:
        default = L.default_conv_layer(model)
    except KerasvizError:
        default = None
    return {"name": name, "task": info.task, "input_size": info.input_size,
            "classes": len(_class_names(model)), "imagenet": info.class_names == "imagenet",
            "layers": spatial, "default_layer": default}


def _png_url(image: np.ndarray) -> str:
    from kerasviz.present import render

    return "data:image/png;base64," + base64.b64encode(render.png_bytes(image)).decode()


def _top(model, image: np.ndarray, k: int = TOP) -> list[dict]:
    import kerasviz

    probs = np.asarray(model.predict(kerasviz.preprocess(model, image[None]), verbose=0))[0]
    names = _class_names(model)
    order = np.argsort(-probs)[:k]
    return [{"id": int(i), "name": names[i], "score": float(probs[i])} for i in order]


# --- the app ---------------------------------------------------------------------------------

def load_models(specs: list | None) -> dict[str, Any]:
    """Load ``--model`` names or paths (or take ``keras.Model`` objects) once: ``{name: keras.Model}``, named as
    :func:`kerasviz.compare` names them (the model's name, ``-2``, ``-3``… when two are alike).
    Default: ``["shapes"]``.

    Raises:
        ModelError, WeightsNotFoundError: a model that cannot be loaded (one line in the CLI).
    """
    import keras

    import kerasviz

    out: dict[str, Any] = {}
    for spec in specs or ["shapes"]:
        model = spec if isinstance(spec, keras.Model) else kerasviz.load_model(spec)
        name = kerasviz.model_info(model).name
        key, n = name, 2
        while key in out:
            key, n = f"{name}-{n}", n + 1
        out[key] = model
    return out


def create_app(models: list | None = None, *, limits: Limits | None = None,
               on_job: Callable[[], Any] | None = None) -> FastAPI:
    """The app: the page at ``/``, the API under ``/api``, OpenAPI at ``/docs``.

    Args:
        models: names, paths or ``keras.Model`` objects, or the dict :func:`load_models`
            returns (default ``["shapes"]``). Requests pick among their names only.
        limits: see :class:`Limits`.
        on_job: called in the worker thread before each job (for tests).
    """
    import kerasviz
    from kerasviz.methods import registry

    models = load_models(list(models.values()) if isinstance(models, dict) else models)
    limits = limits or Limits()
    jobs = Jobs(limits, on_job)
    samples = _samples()

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        jobs.close()

    app = FastAPI(title="kerasviz", version=kerasviz.__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None,  # FastAPI's pages load scripts from a CDN
                  description="Explain image CNNs from a browser: upload an image or pick a "
                              "sample, compare methods across models. All results are PNG or "
                              "JSON. Errors are JSON {\"detail\": message}.")
    app.add_middleware(_BodyLimit, limit=limits.max_upload)
    app.state.jobs, app.state.limits = jobs, limits

    @app.exception_handler(KerasvizError)
    async def _bad_input(request: Request, exc: KerasvizError):
        return JSONResponse({"detail": one_line(exc)}, 400)

    def model_named(name: str):
        if name not in models:
            raise _error(404, f"Unknown model {name!r}. This server has {sorted(models)}; "
                              f"others are added on the command line: kerasviz serve --model NAME.")
        return models[name]

    def sample_named(sample: str) -> Callable[[], np.ndarray]:
        if not _SAMPLE_ID.fullmatch(sample):
            raise _error(400, f"{sample!r} is not a sample id. Expected one of {sorted(samples)} "
                              f"(ids, never paths); upload a file to use your own image.")
        if sample not in samples:
            raise _error(404, f"Unknown sample {sample!r}. Available: {sorted(samples)}.")
        return samples[sample][1]

    async def read_image(image: UploadFile | None, sample: str | None) -> Callable[[], np.ndarray]:
        """A loader to call in the job: decoding happens there, bounded by ``max_jobs``."""
        if (image is None) == (not sample):
            raise _error(400, "Send exactly one image: a file in the form field 'image' or a "
                              "sample id in 'sample' (GET /api/samples lists them).")
        if sample:
            return sample_named(sample)
        data = await image.read()
        return lambda: kerasviz.load_image(data, max_pixels=limits.max_pixels)

    def check_methods(methods: list[str]) -> list[str]:
        return [registry.get(m).name for m in methods]  # UnknownMethodError -> 400

    # --- page and listings ---

    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(STATIC / "index.html")

    @app.get("/docs", include_in_schema=False)
    def api_page():
        """The API, drawn from /openapi.json by a page of ours (works offline)."""
        return FileResponse(STATIC / "api.html")

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str):
        files = {p.name: p for p in STATIC.iterdir()}  # fixed files, never a client's path
        if name not in files:
            raise _error(404, f"No static file {name!r}.")
        return FileResponse(files[name])

    @app.get("/api/models", summary="The models this server loaded")
    def list_models() -> list[dict]:
        """Per model: name, task, input size ``[H, W]``, number of classes, whether they are
        ImageNet's, its layers with a 4-D output (``layers``) and the default conv layer."""
        return [_describe_model(n, m) for n, m in models.items()]

    @app.get("/api/methods", summary="The explanation methods (the registry)")
    def list_methods() -> list[dict]:
        return [{"name": m.name, "doc": m.doc, "uses_layer": m.uses_layer}
                for m in registry.methods()]

    @app.get("/api/samples", summary="The sample images, by id")
    def list_samples() -> list[dict]:
        return [{"id": k, "description": v[0]} for k, v in samples.items()]

    @app.get("/api/samples/{sample_id}", summary="One sample image as PNG",
             response_class=Response, responses={200: {"content": {"image/png": {}}}})
    def sample_png(sample_id: str):
        from kerasviz.present import render

        return Response(render.png_bytes(sample_named(sample_id)()), media_type="image/png")

    @app.get("/api/classes", summary="Search a model's class names")
    def classes(model: str = Query(..., description="a loaded model's name"),
                q: str = Query("", description="words of the class name; empty: the first ones"),
                limit: int = Query(20, ge=1, le=100)) -> list[dict]:
        """``[{"id": class id, "name": class name}]``, best matches first (ImageNet: its synonyms
        too, :func:`kerasviz.imagenet.search`)."""
        m = model_named(model)
        names = _class_names(m)
        if not q.strip():
            return [{"id": i, "name": n} for i, n in enumerate(names[:limit])]
        if kerasviz.model_info(m).class_names == "imagenet":
            return [{"id": i, "name": names[i]} for i, _, _ in kerasviz.imagenet.search(q, limit)]
        key = q.strip().lower()
        return [{"id": i, "name": n} for i, n in enumerate(names) if key in n.lower()][:limit]

    # --- jobs ---

    @app.post("/api/predict", summary="Top-5 predictions of each model", responses=JOB_ERRORS)
    async def predict(image: UploadFile | None = File(None, description="an image file"),
                      sample: str | None = Form(None, description="or a sample id"),
                      models_: list[str] | None = Form(None, alias="models", description="loaded model names; default: the first")) -> dict:
        """``{"predictions": {model: [{"id", "name", "score"} × 5]}}``."""
        chosen = {n: model_named(n) for n in models_ or list(models)[:1]}
        load = await read_image(image, sample)

        def job():
            picture = load()
            return {"predictions": {n: _top(m, picture) for n, m in chosen.items()}}
        return await jobs.run(job)

    @app.post("/api/compare", summary="Compare methods across models on one image",
              responses={**_PNG_OR_JSON, **JOB_ERRORS})
    async def compare(image: UploadFile | None = File(None, description="an image file"),
                      sample: str | None = Form(None, description="or a sample id"),
                      models_: list[str] | None = Form(None, alias="models", description="loaded model names; default: the first"),
                      methods: list[str] = Form(["gradcam"]),
                      target: str = Form("top1", description="top1 … top5 (the k-th predicted "
                                                             "class of each model), a class "
                                                             "name or a class id"),
                      layer: str = Form("", description="a layer path every chosen model has; "
                                                        "empty: each model's last conv layer"),
                      format: str = Form("json", pattern="^(json|png)$")):
        """JSON: the grid (``grid.png`` a ``data:`` URL, its ``width`` / ``height``), per model
        its top-5 and per cell the method, target, score, box ``[x0, y0, x1, y1]`` and the crop
        (a ``data:`` URL). ``format=png``: the grid's PNG bytes."""
        chosen = {n: model_named(n) for n in models_ or list(models)[:1]}
        names = check_methods(methods)
        load = await read_image(image, sample)
        result = await jobs.run(_compare_job, chosen, load, names, target, layer or None)
        if format == "png":
            return Response(result.pop("_png"), media_type="image/png")
        result.pop("_png")
        return result

    @app.post("/api/activations", summary="Activation grid of one layer",
              responses={**_PNG_OR_JSON, **JOB_ERRORS})
    async def activations(image: UploadFile | None = File(None, description="an image file"),
                          sample: str | None = Form(None, description="or a sample id"),
                          model: str | None = Form(None, description="default: the first model"),
                          layer: str = Form("", description="empty: the last conv layer"),
                          channels: int = Form(32, ge=1, le=256,
                                               description="the most active channels shown"),
                          format: str = Form("json", pattern="^(json|png)$")):
        """The ``channels`` most active channels of ``layer``, each standardised
        (:func:`kerasviz.channel_grid`). JSON: ``{"layer", "shape", "png", "width", "height"}``."""
        m = model_named(model or next(iter(models)))
        load = await read_image(image, sample)
        out = await jobs.run(_activation_job, m, load, layer or None, channels)
        if format == "png":
            return Response(out.pop("_png"), media_type="image/png")
        out.pop("_png")
        return out

    return app


def _target(model, picture: np.ndarray, target: str):
    """``top1`` … ``top5`` → that predicted class id; a number → an int; else the class name."""
    text = target.strip()
    match = re.fullmatch(r"top([1-5])", text.lower())
    if match:
        return _top(model, picture)[int(match.group(1)) - 1]["id"]
    return int(text) if text.isdigit() else text


def _compare_job(models: dict, load, methods: list[str], target: str, layer) -> dict:
    """:func:`kerasviz.compare` of one image; the result's ``to_dict()`` with the grid and each
    cell's crop as ``data:`` URLs (and the grid's PNG bytes under ``_png``)."""
    import kerasviz

    picture = load()
    targets = {n: None if target.strip().lower() == "top1" else _target(m, picture, target)
               for n, m in models.items()}
    result = kerasviz.compare(list(models.values()), picture, methods, targets=targets,
                              layers=layer, progress=False)
    out = result.to_dict()
    for row, cells in zip(out["rows"], result.cells):
        for data, cell in zip(row["cells"], cells):
            if cell.explanation is not None:
                data["crop"] = _png_url(cell.explanation.crop()[1][0])
    png = result.png()
    grid = result.grid()
    out.update(target=target, _png=png,
               grid={"png": "data:image/png;base64," + base64.b64encode(png).decode(),
                     "width": int(grid.shape[1]), "height": int(grid.shape[0])})
    return out


def _activation_job(model, load, layer, channels: int) -> dict:
    import kerasviz
    from kerasviz.core import layers as L
    from kerasviz.present import render

    path = L.resolve_layer(model, layer)
    a = kerasviz.activations(model, load()[None], layers=[path])[path][0]
    if a.ndim != 3:
        raise kerasviz.ArgumentError(f"Layer {path!r} has no feature map (its output has shape "
                                     f"{a.shape}). Pick a layer from GET /api/models 'layers'.")
    shown = np.argsort(-a.mean(axis=(0, 1)))[:channels]
    grid = kerasviz.channel_grid(a, title=path, cols=8, channels=list(shown),
                                 scale=max(1, -(-64 // a.shape[0])))
    png = render.png_bytes(grid)
    return {"layer": path, "shape": list(a.shape), "channels": [int(c) for c in shown],
            "png": "data:image/png;base64," + base64.b64encode(png).decode(),
            "width": int(grid.shape[1]), "height": int(grid.shape[0]), "_png": png}


def serve(host: str = "127.0.0.1", port: int = 8000, models: list[str] | None = None, *,
          limits: Limits | None = None, log=print) -> None:
    """Load ``models`` and serve the page until Ctrl-C. A host other than the local machine
    gets a warning: anyone who can reach it can use the models and the CPU."""
    import uvicorn

    loaded = load_models(models)
    if host not in LOCAL_HOSTS:
        log(f"kerasviz serve: warning: listening on {host}, not only this machine: anyone who "
            f"can reach it can send images and use this CPU. Use --host 127.0.0.1 to keep it "
            f"local.")
    app = create_app(loaded, limits=limits)
    shown = f"[{host}]" if ":" in host else host
    log(f"kerasviz serve: models {list(loaded)} at http://{shown}:{port}/ (API: /docs). "
        f"Ctrl-C stops it.")
    uvicorn.run(app, host=host, port=port, log_level="warning")
