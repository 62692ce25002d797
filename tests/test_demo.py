"""The main job: `kerasviz demo --out DIR` offline, led by real photos, looked at in Chromium."""
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kerasviz.apps.cli import main

CHROMIUM = "/usr/bin/chromium"
DOCS_IMG = Path(__file__).resolve().parents[1] / "docs" / "img"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """One demo run for the module, with the network switched on but the downloader replaced by a
    recorder: the demo must find everything it shows in the caches."""
    from kerasviz._keras_compat import file_utils_module

    out = tmp_path_factory.mktemp("demo") / "D"
    calls = []
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("KERASVIZ_OFFLINE", raising=False)
        mp.setenv("KERAS_HOME", str(tmp_path_factory.mktemp("keras_home")))
        mp.setattr(file_utils_module(), "get_file", lambda *a, **k: calls.append(a))
        printed = []
        from kerasviz.apps import demo as demo_module
        index = demo_module.run_demo(out, log=printed.append)
    return {"out": out, "html": index.read_text(), "calls": calls, "printed": printed}


def test_demo_opens_with_photos_their_top5_and_heatmaps(demo):
    html = demo["html"]
    first_section = re.search(r"<h2>(.*?)</h2>", html).group(1)
    assert "ImageNet network on photos" in first_section
    first_img = re.search(r"<img[^>]*src='([^']+)'", html).group(1)
    assert first_img.startswith("photo_")
    cells = re.findall(r"<tr><td>(\w+)</td>((?:<td>[^<]*</td>){5})</tr>", html)
    top5 = {name: re.findall(r"<td>([^<(]+) \(", row) for name, row in cells}
    assert top5["chelsea"][0] in ("tiger cat", "tabby", "Egyptian cat")
    assert top5["coffee"][0] == "espresso"
    assert top5["rocket"][0] in ("missile", "projectile", "space shuttle")
    photo = np.asarray(Image.open(demo["out"] / "photo_chelsea.png"))
    assert photo.shape[0] == 224 and photo.shape[1] > 3 * 224  # four panels side by side


def test_every_picture_exists_and_every_heatmap_has_a_colour_scale(demo):
    html, out = demo["html"], demo["out"]
    figures = re.findall(r"<figure>(.*?)</figure>", html)
    assert len(figures) >= 12
    for fig in figures:
        src = re.search(r"src='([^']+)'", fig).group(1)
        assert (out / src).is_file() and (out / src).stat().st_size > 500
        heatmap = src.startswith(("photo_", "shapes_gradcam", "sensors_"))
        assert ("class='legend'" in fig) == heatmap, src
    assert "Sensors" in html and "front_left" in html  # readings named per sensor
    assert "<meta name='viewport'" in html


def test_demo_downloads_nothing_and_says_in_one_line_how_to_add_vgg16(demo):
    assert demo["calls"] == []
    vgg = re.search(r"<h2>VGG16 on a photo</h2>(.*?)</section>", demo["html"], re.S).group(1)
    assert "vgg16_gradcam.png" in vgg or (
        vgg.count("class='note'") == 1 and "kerasviz fetch-weights vgg16" in vgg)
    assert any("Open it with" in line for line in demo["printed"])


def test_cli_prints_where_the_report_is(tmp_path, empty_weight_caches, capsys):
    out = tmp_path / "D"
    assert main(["demo", "--out", str(out), "--images", "1"]) == 0
    printed = capsys.readouterr().out
    assert str((out / "index.html").resolve()) in printed and "Open it with" in printed


@pytest.mark.parametrize("device,width,height", [("desktop", 1280, 900), ("phone", 390, 844)])
def test_demo_page_in_headless_chromium(demo, device, width, height, tmp_path):
    from playwright.sync_api import sync_playwright

    assert os.path.exists(CHROMIUM), "Debian's chromium is needed: apt-get install chromium"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto((demo["out"] / "index.html").as_uri())
            page.wait_for_load_state("load")
            state = page.evaluate("""() => ({
                scroll: document.documentElement.scrollWidth, inner: innerWidth,
                broken: [...document.images].filter(i => !i.complete || !i.naturalWidth).length,
                widths: [...document.images].map(i => i.getBoundingClientRect().width),
                first: document.images[0].getBoundingClientRect().top,
                photo: document.images[0].getBoundingClientRect().width})""")
            shot = tmp_path / f"demo_page_{device}.png"
            page.screenshot(path=str(shot))
        finally:
            browser.close()
    assert state["broken"] == 0
    assert state["scroll"] <= state["inner"]  # nothing overflows sideways, phone included
    assert max(state["widths"]) <= state["inner"]
    assert state["first"] < height  # a photo is on the first screen
    assert state["photo"] >= min(800, width - 40)  # the photo row is not squeezed
    if os.environ.get("KERASVIZ_UPDATE_SCREENSHOTS") == "1":
        shutil.copy(shot, DOCS_IMG / shot.name)
