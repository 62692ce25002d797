"""``kerasviz serve``'s HTTP API through Starlette's TestClient: results, every limit, the CLI."""
import asyncio
import base64
import io
import struct
import subprocess
import sys
import threading
import zlib

import numpy as np
import pytest
from PIL import Image

import kerasviz
from kerasviz.apps.cli import build_parser, main
from kerasviz.apps.web import Limits, create_app
from kerasviz.apps.web.server import _BodyLimit
from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def models():
    return [kerasviz.load_model("shapes"), kerasviz.load_model("sensors")]


@pytest.fixture(scope="module")
def client(models):
    return TestClient(create_app(models))


def png(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def decoded(data_url: str) -> Image.Image:
    assert data_url.startswith("data:image/png;base64,")
    return Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1])))


def png_declaring(width: int, height: int) -> bytes:
    """A valid-looking PNG of a few dozen bytes whose header declares ``width × height``."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16))
            + chunk(b"IEND", b""))


# --- results --------------------------------------------------------------------------------

def test_listings_come_from_the_models_and_the_registry(client):
    models = {m["name"]: m for m in client.get("/api/models").json()}
    assert list(models) == ["shapes", "sensors"]
    assert models["shapes"]["default_layer"] == kerasviz.resolve_layer(kerasviz.load_model("shapes"))
    assert "conv2" in models["shapes"]["layers"] and models["shapes"]["classes"] == 5
    assert [m["name"] for m in client.get("/api/methods").json()] == kerasviz.methods.names()
    ids = [s["id"] for s in client.get("/api/samples").json()]
    assert "shapes_0" in ids and "grace_hopper" in ids
    sample = Image.open(io.BytesIO(client.get("/api/samples/shapes_0").content))
    assert sample.size == (96, 96)


def test_class_search_uses_the_model_names_and_imagenet_search(client):
    assert client.get("/api/classes", params={"model": "shapes", "q": "sq"}).json() == [
        {"id": 1, "name": "square"}]
    assert len(client.get("/api/classes", params={"model": "shapes"}).json()) == 5


def test_compare_gives_grid_top5_boxes_and_crops(client, models):
    image = kerasviz.datasets.shapes(1, seed=11)[0]
    model = models[0]
    probs = model.predict(kerasviz.preprocess(model, image), verbose=0)[0]
    r = client.post("/api/compare", files={"image": ("x.png", png(image[0]), "image/png")},
                    data={"methods": ["gradcam", "saliency"], "target": "top1"})
    assert r.status_code == 200, r.text[:300]
    body = r.json()
    grid = decoded(body["grid"]["png"])
    assert grid.size == (body["grid"]["width"], body["grid"]["height"])
    (row,) = body["rows"]
    names = kerasviz.model_info(model).class_names
    assert row["kind"] == "probability"
    assert [p["name"] for p in row["predictions"]] == [names[i] for i in np.argsort(-probs)]
    np.testing.assert_allclose([p["value"] for p in row["predictions"]], np.sort(probs)[::-1],
                               atol=1e-5)
    assert [c["method"] for c in row["cells"]] == ["input", "gradcam", "saliency"]
    for cell in row["cells"][1:]:
        assert cell["target"] == row["predictions"][0]["unit"] and cell["error"] is None
        x0, y0, x1, y1 = cell["box"]
        assert decoded(cell["crop"]).size == (x1 - x0, y1 - y0)
    as_png = client.post("/api/compare", files={"image": ("x.png", png(image[0]), "image/png")},
                         data={"methods": ["gradcam", "saliency"], "format": "png"})
    assert as_png.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(as_png.content)).size == grid.size


def test_target_by_top_k_name_and_id_across_two_models(client):
    r = client.post("/api/compare", data={"sample": "shapes_1", "target": "top2"}).json()
    (row,) = r["rows"]
    assert row["cells"][1]["target"] == row["predictions"][1]["unit"]
    by_name = client.post("/api/compare", data={"sample": "shapes_1", "target": "star"}).json()
    assert by_name["rows"][0]["cells"][1]["label"].startswith("star")
    both = client.post("/api/compare", data={"sample": "sensors_0", "models": ["shapes", "sensors"],
                                             "target": "3"}).json()
    assert [row["model"] for row in both["rows"]] == ["shapes", "sensors"]
    assert [row["cells"][1]["target"] for row in both["rows"]] == [3, 3]
    assert both["rows"][1]["kind"] == "value"


def test_activation_grid_of_a_chosen_layer(client):
    r = client.post("/api/activations", data={"sample": "shapes_0", "layer": "conv2",
                                              "channels": 8})
    body = r.json()
    assert body["layer"] == "conv2" and len(body["channels"]) == 8
    assert decoded(body["png"]).size == (body["width"], body["height"])
    bad = client.post("/api/activations", data={"sample": "shapes_0", "layer": "conv22"})
    assert bad.status_code == 400 and "conv2" in bad.json()["detail"]


# --- input checks ---------------------------------------------------------------------------

@pytest.mark.parametrize("data,status,words", [
    ({"sample": "shapes_0", "models": ["vgg19"]}, 404, "Unknown model 'vgg19'"),
    ({"sample": "shapes_0", "methods": ["gradkam"]}, 400, "Closest: ['gradcam'"),
    ({"sample": "shapes_0", "layer": "dense_9"}, 400, "layer"),
    ({"sample": "shapes_0", "target": "zebra"}, 400, "zebra"),
    ({"sample": "cat_9"}, 404, "Unknown sample 'cat_9'"),
    ({}, 400, "exactly one image"),
])
def test_bad_requests_are_refused_with_a_message(client, data, status, words):
    r = client.post("/api/compare", data=data)
    assert r.status_code == status and words in r.json()["detail"], r.text[:300]


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "shapes_0/../../x",
                                  "C:\\Windows\\win.ini", "~/.ssh/id_rsa", "shapes_0.png"])
def test_path_like_sample_names_are_refused(client, name):
    r = client.post("/api/predict", data={"sample": name})
    assert r.status_code == 400 and "not a sample id" in r.json()["detail"]
    assert "root:" not in r.text


def test_openapi_documents_the_limits_and_docs_page_is_local(client):
    spec = client.get("/openapi.json").json()
    compare = spec["paths"]["/api/compare"]["post"]
    assert {"400", "404", "413", "429", "504"} <= set(compare["responses"])
    form = spec["components"]["schemas"][
        compare["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"].split("/")[-1]]
    assert {"image", "sample", "models", "methods", "target", "layer", "format"} <= set(form["properties"])
    page = client.get("/docs").text
    assert "/openapi.json" in page and "https://" not in page and "http://" not in page


def test_static_files_are_a_fixed_set(client):
    assert client.get("/").status_code == 200 and "app.js" in client.get("/").text
    assert client.get("/static/app.js").status_code == 200
    for name in ("server.py", "..%2Fserver.py", "%2E%2E%2F__init__.py"):
        assert client.get(f"/static/{name}").status_code == 404


# --- limits ---------------------------------------------------------------------------------

def test_upload_over_10_mb_is_413_with_a_message(client):
    big = b"\0" * (10 * 1024 * 1024 + 1)
    r = client.post("/api/compare", files={"image": ("big.png", big, "image/png")})
    assert r.status_code == 413 and "limit is 10 MB" in r.json()["detail"]
    ok = client.post("/api/predict", files={"image": ("x.png", png(np.zeros((8, 8, 3), np.uint8)),
                                                      "image/png")})
    assert ok.status_code == 200


def test_413_comes_from_the_header_before_any_byte_is_read():
    """The middleware answers from Content-Length alone: ``receive`` is never called and the app
    never runs."""
    calls, sent = [], []

    async def app(scope, receive, send):  # pragma: no cover - must not run
        calls.append("app")

    async def receive():
        calls.append("receive")
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/api/compare",
             "headers": [(b"content-length", str(50 * 1024 * 1024).encode())]}
    asyncio.run(_BodyLimit(app, 10 * 1024 * 1024)(scope, receive, send))
    assert calls == [] and sent[0]["status"] == 413


def test_a_streamed_body_without_length_is_cut_at_the_limit(models):
    """No Content-Length (chunked upload): the body is counted as it arrives and the whole app
    answers 413 once it passes the limit, without reading the rest."""
    app = create_app(models, limits=Limits(max_upload=1024 * 1024))
    chunks, sent = [], []

    head = (b'--x\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n'
            b"Content-Type: image/png\r\n\r\n")

    async def receive():  # a file part of 4 MB in 64 chunks of 64 KiB
        chunks.append(1)
        body = (head if len(chunks) == 1 else b"") + b"\0" * 65536
        return {"type": "http.request", "body": body, "more_body": len(chunks) < 64}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/api/compare", "raw_path": b"/api/compare",
             "query_string": b"", "root_path": "", "server": ("127.0.0.1", 8000),
             "client": ("127.0.0.1", 5000),
             "headers": [(b"content-type", b"multipart/form-data; boundary=x"),
                         (b"transfer-encoding", b"chunked")]}
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 413, sent[1:]
    assert b"limit is 1 MB" in b"".join(m.get("body", b"") for m in sent[1:])
    assert len(chunks) == 16  # 16 chunks and the part header pass 1 MB; 48 chunks never read


def test_pixel_limit_is_checked_from_the_header_before_decoding(client, monkeypatch):
    from PIL import ImageFile

    decoded_calls = []
    original = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load",
                        lambda self: decoded_calls.append(self.size) or original(self))
    bomb = png_declaring(8000, 8000)  # 64 million pixels declared (192 MB decoded), 68 bytes sent
    assert len(bomb) < 100
    r = client.post("/api/compare", files={"image": ("bomb.png", bomb, "image/png")})
    assert r.status_code == 400, r.text[:300]
    assert "64000000 pixels (8000×8000)" in r.json()["detail"] and "max_pixels=25000000" in r.json()["detail"]
    assert decoded_calls == []  # refused before Pillow decoded anything


def test_pixel_limit_applies_to_real_images(models):
    client = TestClient(create_app(models, limits=Limits(max_pixels=64 * 64)))
    small, large = np.zeros((64, 64, 3), np.uint8), np.zeros((64, 65, 3), np.uint8)
    assert client.post("/api/predict", files={"image": ("a.png", png(small))}).status_code == 200
    r = client.post("/api/predict", files={"image": ("b.png", png(large))})
    assert r.status_code == 400 and "4160 pixels" in r.json()["detail"]


class Gate:
    """``on_job`` hook that holds each job until released; ``entered`` is set when one waits."""

    def __init__(self, wait: float = 30):
        self.entered, self.release, self.wait = threading.Event(), threading.Event(), wait

    def __call__(self):
        self.entered.set()
        self.release.wait(self.wait)


def test_jobs_beyond_max_jobs_get_429_then_run_again(models):
    gate = Gate()
    client = TestClient(create_app(models, limits=Limits(max_jobs=1), on_job=gate))
    first = {}
    holder = threading.Thread(target=lambda: first.update(
        r=TestClient(client.app).post("/api/predict", data={"sample": "shapes_0"})))
    holder.start()
    try:
        assert gate.entered.wait(30)
        busy = client.post("/api/predict", data={"sample": "shapes_1"})
        assert busy.status_code == 429 and "busy" in busy.json()["detail"]
        assert busy.headers["retry-after"] == "5"
        assert client.get("/api/models").status_code == 200  # listings are not jobs
    finally:
        gate.release.set()
        holder.join(60)
    assert first["r"].status_code == 200
    assert client.post("/api/predict", data={"sample": "shapes_1"}).status_code == 200


def test_a_job_over_the_time_limit_is_504_and_frees_its_slot_when_done(models):
    gate = Gate(wait=30)
    client = TestClient(create_app(models, limits=Limits(max_jobs=1, time_limit=0.2), on_job=gate))
    r = client.post("/api/predict", data={"sample": "shapes_0"})
    assert r.status_code == 504 and "time limit of 0.2 s" in r.json()["detail"]
    assert client.post("/api/predict", data={"sample": "shapes_0"}).status_code == 429  # still running
    gate.release.set()
    client.app.state.jobs._worker.submit(lambda: None).result(60)  # the held job has ended
    # The slot is free again: the job is taken, not refused as busy (429). On a loaded machine
    # the prediction itself may outlast the 0.2 s limit (504), so either answer shows it ran.
    assert client.post("/api/predict", data={"sample": "shapes_0"}).status_code in (200, 504)


# --- the command line -------------------------------------------------------------------------

def test_serve_binds_localhost_by_default():
    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port, args.model) == ("127.0.0.1", 8000, None)


def test_help_ends_with_an_example(capsys):
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert "examples:" in lines and lines[-1].strip().startswith("kerasviz serve")


@pytest.mark.parametrize("port", ["0", "65536", "80a", "-1"])
def test_port_out_of_range_is_a_usage_error(port, capsys):
    with pytest.raises(SystemExit) as info:
        main(["serve", "--port", port])
    assert info.value.code == 2 and "1 to 65535" in capsys.readouterr().err


def test_bad_model_is_one_line_and_exit_2(capsys, monkeypatch):
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("must not serve"))
    assert main(["serve", "--model", "shapez"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("kerasviz serve: error:") and "shapes" in err


@pytest.mark.parametrize("host,warned", [("127.0.0.1", False), ("0.0.0.0", True)])
def test_a_non_local_host_prints_a_warning(host, warned, capsys, monkeypatch):
    import uvicorn

    ran = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: ran.update(kw))
    assert main(["serve", "--host", host, "--port", "8123"]) == 0
    err = capsys.readouterr().err
    assert ran == {"host": host, "port": 8123, "log_level": "warning"}
    assert ("warning: listening on 0.0.0.0" in err) == warned
    assert "http://" in err and ":8123/" in err


def test_missing_web_extra_names_the_install_command():
    code = ("import sys; sys.modules['fastapi'] = None\n"
            "from kerasviz.apps.cli import main; sys.exit(main(['serve']))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines()[-1] == (
        'kerasviz serve: error: kerasviz serve needs the web extra (fastapi is missing). Install '
        'it with: pip install "kerasviz[web]"')
