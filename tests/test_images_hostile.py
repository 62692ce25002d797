"""Hostile image files: load_image gives a valid uint8 (H, W, 3) array or an ImageError, nothing
else, without hanging and without decoding a picture larger than its pixel limit.

The mutations and seeds are those of scripts/fuzz_images.py (which runs >= 10,000 cases and
measures memory); here hypothesis draws a few hundred, derandomised so that every machine runs
the same cases."""
import importlib.util
import io
import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from kerasviz import ImageError, load_image

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies

_spec = importlib.util.spec_from_file_location(
    "fuzz_images", Path(__file__).parents[1] / "scripts" / "fuzz_images.py")
fuzz = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fuzz)
SEEDS = fuzz.corpus()
NAMES = sorted(SEEDS)

steps = st.lists(st.tuples(st.sampled_from(fuzz.MUTATIONS), st.integers(0, 2 ** 32 - 1),
                           st.integers(0, 2 ** 32 - 1), st.binary(min_size=1, max_size=16)),
                 max_size=3)


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout


@pytest.mark.filterwarnings("ignore")  # Pillow warns about odd files; only exceptions count
@hypothesis.settings(max_examples=300, derandomize=True, database=None, deadline=None,
                     suppress_health_check=list(hypothesis.HealthCheck))
@hypothesis.given(name=st.sampled_from(NAMES), steps=steps)
def test_a_mutated_file_gives_an_image_or_an_image_error(name, steps):
    data = fuzz.make_case(SEEDS, name, steps)
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(20)  # a hang, not slowness: a case takes milliseconds
    try:
        outcome = fuzz.check(data)  # raises on any other exception or an invalid array
    except _Timeout:
        pytest.fail(f"load_image ran for over 20 s on {name} mutated by {steps}")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert outcome in ("ok", "ImageError")


@pytest.mark.parametrize("name", NAMES)
def test_every_seed_reads_or_is_refused_as_its_name_says(name):
    outcome = fuzz.check(SEEDS[name])
    assert outcome == ("ImageError" if "(refused)" in name else "ok")


def _radiance_bomb(side: int) -> bytes:
    """A valid run-length-encoded Radiance HDR of side × side pixels: ~0.06 % of its RGBE size."""
    runs = [127] * (side // 127) + ([side % 127] if side % 127 else [])
    channel = b"".join(bytes([128 + n, 90]) for n in runs)
    line = bytes([2, 2, side >> 8, side & 255]) + channel * 4
    header = f"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y {side} +X {side}\n".encode()
    return header + line * side


_MEASURE = """
import json, sys, time
from kerasviz import ImageError, load_image
def status(field):
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith(field + ":"))
load_image(sys.argv[2])  # imports and decoders warm
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # the peak resident size starts again from the current size
rss, cpu = status("VmRSS"), time.process_time()
try:
    load_image(sys.argv[1])
    outcome = "decoded"
except ImageError as exc:
    outcome = str(exc)
print(json.dumps({"outcome": outcome, "cpu_s": time.process_time() - cpu,
                  "peak_mib": (status("VmHWM") - rss) / 1024}))
"""


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("suffix, max_pixels", [(".hdr", None), (".png", None), (".hdr", "1e6")])
def test_a_radiance_bomb_is_refused_at_once(tmp_path, suffix, max_pixels):
    """12000 × 12000 HDR in 9 MB: OpenCV would decode 2.3 GB of floats before any size check."""
    bomb = tmp_path / f"bomb{suffix}"
    bomb.write_bytes(_radiance_bomb(12_000))
    assert bomb.stat().st_size < 10_000_000
    small = tmp_path / "small.png"
    Image.new("RGB", (8, 8)).save(small)
    env = {"MALLOC_MMAP_THRESHOLD_": "131072", "PATH": "/usr/bin:/bin"}  # freed memory returns
    if max_pixels:
        env["KERASVIZ_MAX_PIXELS"] = max_pixels
    out = subprocess.run([sys.executable, "-c", _MEASURE, str(bomb), str(small)], env=env,
                         capture_output=True, text=True, timeout=300, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert "not an image file kerasviz can read" in result["outcome"]
    assert "#?RADIANCE" in result["outcome"]  # the message shows what the file starts with
    assert result["cpu_s"] < 1.0 and result["peak_mib"] < 200, result


def test_a_tiff_declaring_too_many_pixels_is_refused_before_opencv_decodes_it():
    """Float TIFFs only OpenCV decodes: the size comes from the header, checked first."""
    seed = SEEDS["tiff RGB float32 (OpenCV)"]
    bomb = fuzz.declare_size(seed, 20_000, 20_000)
    with pytest.raises(ImageError, match=r"400000000 pixels \(20000×20000\).*max_pixels"):
        load_image(bomb)
    with pytest.raises(ImageError, match="zero size"):
        load_image(fuzz.declare_size(seed, 0, 48))
    assert load_image(seed, max_pixels=64 * 48).shape == (48, 64, 3)
    with pytest.raises(ImageError, match="max_pixels"):
        load_image(seed, max_pixels=64 * 48 - 1)


def test_formats_that_decode_while_opening_are_refused():
    """ICO decodes its largest picture when opened, before its size could be checked."""
    with pytest.raises(ImageError, match="not an image file kerasviz can read.*PNG, JPEG"):
        load_image(SEEDS["ico (refused)"])


@pytest.mark.parametrize("pad", [False, True])
def test_pillows_truncated_images_setting_is_read_never_written(pad):
    buf = io.BytesIO()
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(buf, "JPEG")
    truncated = buf.getvalue()[:len(buf.getvalue()) // 2]  # half of the scan data is missing
    before = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = pad
    try:
        if pad:  # the caller asked Pillow to pad truncated files
            assert load_image(truncated).shape == (64, 64, 3)
        else:
            with pytest.raises(ImageError, match="truncated"):
                load_image(truncated)
        assert ImageFile.LOAD_TRUNCATED_IMAGES is pad
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = before
