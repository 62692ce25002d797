"""A real ``kerasviz serve`` (uvicorn in a subprocess on a free port): the page driven by
headless Chromium, and a bounded load test that watches the server's memory."""
import base64
import io
import os
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
DOCS_IMG = ROOT / "docs" / "img"
MAX_JOBS = 16


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for process {pid}")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "server.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kerasviz", "serve", "--port", str(port), "--model",
             "efficientnet_lite0", "--model", "shapes", "--max-jobs", str(MAX_JOBS)],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):  # up to a minute to load the models
            if proc.poll() is not None:
                pytest.fail(f"kerasviz serve ended with {proc.returncode}:\n{log.read_text()}")
            try:
                if httpx.get(url + "/api/models", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail(f"kerasviz serve did not answer within a minute:\n{log.read_text()}")
        yield {"url": url, "pid": proc.pid, "log": log}
    finally:
        proc.terminate()
        proc.wait(30)


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    from kerasviz.data import photos

    path = tmp_path_factory.mktemp("photo") / "chelsea.jpg"
    Image.fromarray(photos.photo("chelsea")).save(path, quality=92)
    return path


def test_page_uploads_a_photo_and_shows_grid_top5_crops_and_activations(server, photo, tmp_path):
    from playwright.sync_api import sync_playwright

    assert os.path.exists(CHROMIUM), "Debian's chromium is needed: apt-get install chromium"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            requested = []
            page.on("request", lambda r: requested.append(r.url))
            page.goto(server["url"] + "/")
            page.wait_for_selector("input[name=models][value=efficientnet_lite0]:checked")
            assert page.is_checked("input[name=methods][value=gradcam]")
            page.set_input_files("#file", str(photo))
            page.click("#run")
            page.wait_for_selector("#busy", state="visible")  # the progress indicator
            page.wait_for_function("document.querySelector('#acts').naturalWidth > 0",
                                   timeout=180_000)
            assert page.is_hidden("#busy") and page.inner_text("#error") == ""
            state = page.evaluate("""() => {
                const g = document.querySelector('#grid'), box = g.getBoundingClientRect();
                return {src: g.src, natural: [g.naturalWidth, g.naturalHeight],
                        shown: [box.width, box.height], inner: innerWidth,
                        cells: [...document.querySelectorAll('#top5 tr')].map(
                            r => [...r.cells].map(c => c.textContent)),
                        crops: [...document.querySelectorAll('#crops img')].map(
                            i => [i.naturalWidth, i.getBoundingClientRect().height])}}""")
            shot = tmp_path / "serve_page.png"
            page.screenshot(path=str(shot), full_page=True)
            page.set_viewport_size({"width": 360, "height": 740})  # a phone, results shown
            phone_shot = tmp_path / "serve_page_phone.png"
            page.evaluate("document.querySelector('#results').scrollIntoView()")
            page.screenshot(path=str(phone_shot))  # the screen the results start on
            phone = page.evaluate("""() => {
                const right = s => document.querySelector(s).getBoundingClientRect().right;
                return {inner: innerWidth, page: document.documentElement.scrollWidth,
                        rights: ['#grid', '#acts', '#run', '#file', '#layer', '#top5',
                                 '#crops'].map(s => [s, right(s)])}}""")
            page.goto(server["url"] + "/docs")
            page.wait_for_selector("h2:has-text('/api/compare')")
            api = page.inner_text("#api")
            api_width = page.evaluate("[document.documentElement.scrollWidth, innerWidth]")
        finally:
            browser.close()
    png = Image.open(io.BytesIO(base64.b64decode(state["src"].split(",", 1)[1])))
    assert state["natural"] == list(png.size)  # the page shows the PNG the API made, whole
    assert png.size[0] > 2 * 192  # input and Grad-CAM columns
    assert 0 < state["shown"][0] <= state["inner"] and state["shown"][1] > 0
    assert state["shown"][0] <= png.size[0]  # never enlarged (it fits the 1280 px page)
    header, row = state["cells"][0], state["cells"][1]
    assert header == ["model", "top-1", "top-2", "top-3", "top-4", "top-5"]
    assert row[0] == "efficientnet_lite0"
    assert row[1].split(" (")[0] in ("tabby", "tiger cat", "Egyptian cat")
    assert all("%" in c for c in row[1:])
    assert len(state["crops"]) == 1 and state["crops"][0][0] > 0 and state["crops"][0][1] > 0
    # at phone width nothing makes the page scroll sideways, and every control and result fits
    assert phone["page"] <= phone["inner"] == 360, phone
    assert all(right <= phone["inner"] for _, right in phone["rights"]), phone
    assert "methods" in api and "413 upload over the size limit" in api  # the API page
    assert api_width[0] <= api_width[1] == 360, api_width  # also at phone width
    outside = [u for u in requested if not u.startswith((server["url"], "data:", "blob:"))]
    assert requested and outside == []  # the page and the API page load nothing from elsewhere
    if os.environ.get("KERASVIZ_UPDATE_SCREENSHOTS") == "1":
        shutil.copy(shot, DOCS_IMG / shot.name)
        shutil.copy(phone_shot, DOCS_IMG / phone_shot.name)


def noise_png(seed: int) -> bytes:
    """A 2 MB PNG of random pixels (PNG cannot compress noise): a leak of uploads would show."""
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (820, 820, 3), np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def test_bounded_load_keeps_status_codes_and_memory(server):
    """200 requests, 16 at a time (= --max-jobs, so none is turned away), three kinds of jobs, two
    of them with a 2 MB upload. Every answer is 200, and the server's memory comes back near its
    level after a warm-up: within 100 MB (measured: +34 MB, allocator and thread caches),
    while keeping the 100 uploads would add 200 MB, and their decoded pixels 200 MB more."""
    url = server["url"]
    uploads = [noise_png(s) for s in range(4)]
    assert all(len(u) > 2_000_000 for u in uploads)

    def request(i: int) -> int:
        with httpx.Client(base_url=url, timeout=120) as client:
            kind = i % 4
            if kind == 0:
                r = client.post("/api/compare", data={"models": "shapes", "methods": "gradcam"},
                                files={"image": ("n.png", uploads[i % 4], "image/png")})
            elif kind == 1:
                r = client.post("/api/predict", data={"models": "shapes"},
                                files={"image": ("n.png", uploads[i % 4], "image/png")})
            elif kind == 2:
                r = client.post("/api/activations", data={"sample": "shapes_0", "model": "shapes",
                                                          "layer": "conv2"})
            else:
                r = client.get("/api/classes", params={"model": "efficientnet_lite0", "q": "cat"})
            assert r.headers["content-type"] == "application/json"
            return r.status_code

    for i in range(8):  # warm-up: every graph compiled, allocator and threads settled
        assert request(i) == 200
    before = rss_mb(server["pid"])
    with ThreadPoolExecutor(16) as pool:
        codes = Counter(pool.map(request, range(200)))
    after = rss_mb(server["pid"])
    assert codes == {200: 200}, codes
    print(f"server RSS: {before:.0f} MB after warm-up, {after:.0f} MB after the load")
    assert after - before < 100, (before, after)
