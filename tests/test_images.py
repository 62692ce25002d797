"""kerasviz.load_image: every image kind it accepts, and every bad input it refuses."""
import io

import numpy as np
import pytest
from PIL import Image

from kerasviz import ImageError, load_image, load_images
from kerasviz.core.images import resize


def _png_bytes(pil, fmt="PNG", **kw):
    buf = io.BytesIO()
    pil.save(buf, fmt, **kw)
    return buf.getvalue()


@pytest.fixture
def photo():
    """A real photograph shipped with scikit-image (512×512 RGB)."""
    skimage_data = pytest.importorskip("skimage.data")
    return skimage_data.astronaut()


def test_real_photo_from_file_round_trips(tmp_path, photo):
    path = tmp_path / "astronaut.png"
    Image.fromarray(photo).save(path)
    img = load_image(path)
    assert img.dtype == np.uint8 and img.shape == (512, 512, 3)
    np.testing.assert_array_equal(img, photo)


def test_grayscale_is_repeated_on_three_channels(tmp_path):
    grey = (np.arange(64 * 48) % 256).astype(np.uint8).reshape(48, 64)
    Image.fromarray(grey, "L").save(tmp_path / "g.png")
    img = load_image(tmp_path / "g.png")
    assert img.shape == (48, 64, 3)
    for c in range(3):
        np.testing.assert_array_equal(img[..., c], grey)


def test_rgba_is_composited_on_background(tmp_path):
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:5, :, 3] = 255  # top half opaque red, bottom half fully transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    img = load_image(tmp_path / "a.png", background=(0, 0, 255))
    np.testing.assert_array_equal(img[0, 0], [200, 0, 0])
    np.testing.assert_array_equal(img[9, 9], [0, 0, 255])


def test_palette_image(tmp_path):
    pil = Image.fromarray(np.tile(np.array([[10, 200, 30]], np.uint8), (8, 8, 1)).reshape(8, 8, 3))
    pil.convert("P", palette=Image.Palette.ADAPTIVE).save(tmp_path / "p.png")
    img = load_image(tmp_path / "p.png")
    assert img.shape == (8, 8, 3)
    assert np.abs(img.astype(int) - [10, 200, 30]).max() <= 8


@pytest.mark.parametrize("ext", ["png", "tiff"])
def test_16bit_grey_is_scaled_to_8bit(tmp_path, ext):
    cv2 = pytest.importorskip("cv2")
    grey16 = (np.linspace(0, 65535, 32 * 32).reshape(32, 32)).astype(np.uint16)
    cv2.imwrite(str(tmp_path / f"g16.{ext}"), grey16)
    img = load_image(tmp_path / f"g16.{ext}")
    expected = np.round(grey16 / 257.0).astype(np.uint8)
    assert np.abs(img[..., 0].astype(int) - expected).max() <= 1


@pytest.mark.parametrize("ext", ["png", "tiff"])
def test_16bit_colour_is_scaled_to_8bit(tmp_path, ext):
    cv2 = pytest.importorskip("cv2")
    rgb16 = np.zeros((16, 16, 3), np.uint16)
    rgb16[..., 0], rgb16[..., 1], rgb16[..., 2] = 65535, 32896, 0
    cv2.imwrite(str(tmp_path / f"c16.{ext}"), rgb16[..., ::-1])  # OpenCV writes BGR
    img = load_image(tmp_path / f"c16.{ext}")
    assert np.abs(img[0, 0].astype(int) - [255, 128, 0]).max() <= 1


def test_cmyk_jpeg(tmp_path):
    Image.new("CMYK", (20, 10), (0, 255, 255, 0)).save(tmp_path / "c.jpg")  # pure red in CMYK
    img = load_image(tmp_path / "c.jpg")
    assert img.shape == (10, 20, 3)
    assert img[5, 10, 0] > 200 and img[5, 10, 1] < 60 and img[5, 10, 2] < 60


def test_exif_orientation_is_applied(tmp_path):
    arr = np.zeros((10, 20, 3), np.uint8)
    arr[:, :10] = 255  # left half white
    pil = Image.fromarray(arr)
    exif = pil.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view"
    pil.save(tmp_path / "o.jpg", exif=exif, quality=100)
    img = load_image(tmp_path / "o.jpg")
    assert img.shape == (20, 10, 3)  # upright: portrait
    assert img[:10].mean() > 200 and img[10:].mean() < 50  # white half ends on top


def test_arrays_and_pil_and_bytes(photo):
    np.testing.assert_array_equal(load_image(photo), photo)
    np.testing.assert_array_equal(load_image(Image.fromarray(photo)), photo)
    np.testing.assert_array_equal(load_image(_png_bytes(Image.fromarray(photo))), photo)
    unit = photo.astype(np.float32) / 255
    np.testing.assert_array_equal(load_image(unit), photo)
    assert load_image(photo[..., 0]).shape == (512, 512, 3)


def test_resize_and_batch(photo):
    batch = load_images([photo, photo[:100, :200]], size=(64, 32))
    assert batch.shape == (2, 64, 32, 3) and batch.dtype == np.uint8
    area = resize(photo, 64)
    assert area.shape == (64, 64, 3)
    # area interpolation averages: a block mean equals the resized pixel
    assert abs(int(area[0, 0, 0]) - photo[:8, :8, 0].mean()) <= 1


# --- bad inputs: each raises ImageError naming the problem, nothing else escapes -----------------

def _bad_files(tmp_path, photo):
    good = _png_bytes(Image.fromarray(photo))
    jpeg = _png_bytes(Image.fromarray(photo), "JPEG")
    files = {
        "missing": (tmp_path / "nope.png", "does not exist"),
        "empty": (tmp_path / "empty.png", "empty"),
        "text": (tmp_path / "notes.png", "not an image"),
        "random bytes": (tmp_path / "noise.jpg", "not an image"),
        "truncated png": (tmp_path / "cut.png", "truncated|could not be decoded"),
        "truncated jpeg": (tmp_path / "cut.jpg", "truncated|could not be decoded"),
        "folder": (tmp_path, "folder"),
    }
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "notes.png").write_text("hello, I am not a picture\n" * 20)
    (tmp_path / "noise.jpg").write_bytes(np.random.default_rng(0).bytes(5000))
    (tmp_path / "cut.png").write_bytes(good[: len(good) // 2])
    (tmp_path / "cut.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    return files


@pytest.mark.parametrize("kind", ["missing", "empty", "text", "random bytes", "truncated png",
                                  "truncated jpeg", "folder"])
def test_bad_files_raise_image_error(tmp_path, photo, kind):
    path, message = _bad_files(tmp_path, photo)[kind]
    with pytest.raises(ImageError, match=message) as info:
        load_image(path)
    assert str(path.name) in str(info.value) or kind == "folder"


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    Image.new("1", (12_000, 10_000)).save(tmp_path / "bomb.png")  # 120 Mpx, tiny file
    assert (tmp_path / "bomb.png").stat().st_size < 1_000_000
    with pytest.raises(ImageError, match="max_pixels"):
        load_image(tmp_path / "bomb.png")
    with pytest.raises(ImageError, match="max_pixels"):
        load_image(np.zeros((20, 20, 3), np.uint8), max_pixels=100)


@pytest.mark.parametrize("array, message", [
    (np.full((4, 4, 3), np.nan, np.float32), "NaN or Inf"),
    (np.full((4, 4, 3), np.inf, np.float64), "NaN or Inf"),
    (np.full((4, 4, 3), 300.0, np.float32), r"values in \[300"),
    (np.full((4, 4, 3), -1.0, np.float32), r"values in \[-1"),
    (np.zeros((0, 5, 3), np.uint8), "zero size"),
    (np.zeros((4, 4, 2), np.uint8), "Expected an image array"),
    (np.zeros((2, 4, 4, 3), np.uint8), "load_images"),
    (np.zeros((4, 4, 3), np.complex64), "Unsupported image dtype"),
])
def test_bad_arrays_raise_image_error(array, message):
    with pytest.raises(ImageError, match=message):
        load_image(array)


def test_wrong_type_and_mismatched_sizes():
    with pytest.raises(ImageError, match="Cannot read an image"):
        load_image(12345)
    with pytest.raises(ImageError, match="different sizes"):
        load_images([np.zeros((4, 4, 3), np.uint8), np.zeros((5, 4, 3), np.uint8)])
    with pytest.raises(ImageError, match="No images"):
        load_images([])


def test_a_broken_header_of_a_known_format_is_an_image_error():
    import kerasviz
    from kerasviz.errors import ImageError

    with pytest.raises(ImageError, match="could not be decoded .*re-export"):
        kerasviz.load_image(b"BM" + bytes(60))  # a BMP whose header declares no known type


def test_conversions_in_bands_match_the_whole_image_formulas():
    """_array_to_rgb converts a band of rows at a time; the result is the per-pixel formula:
    alpha over the background rounded, and 16-bit / float scaled to 0..255 rounded."""
    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, (517, 301, 4), dtype=np.uint8)  # several bands, a short last one
    a = rgba[..., 3:].astype(np.float64) / 255
    ref = np.floor(rgba[..., :3] * a + np.array([10, 200, 255]) * (1 - a) + 0.5)
    got = load_image(rgba, background=(10, 200, 255))
    assert np.abs(got.astype(int) - ref).max() <= 1  # float64 ties at .5 may round either way
    assert (got == ref).mean() > 0.999
    wide = rng.integers(0, 65536, (517, 301, 3), dtype=np.uint16)
    np.testing.assert_array_equal(load_image(wide), np.floor(wide / 257 + 0.5).astype(np.uint8))
    unit = rng.random((517, 301), dtype=np.float32)
    got = load_image(unit)
    np.testing.assert_array_equal(got[..., 0], np.floor(unit * 255 + 0.5).astype(np.uint8))
    assert (got == got[..., :1]).all()
    rgb = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    out = load_image(rgb)
    np.testing.assert_array_equal(out, rgb)
    assert out is not rgb and out.flags.writeable  # the caller's array is never handed back


def test_the_pixel_limit_from_the_environment(monkeypatch):
    from kerasviz.errors import ArgumentError

    monkeypatch.setenv("KERASVIZ_MAX_PIXELS", "1e2")
    with pytest.raises(ImageError, match="max_pixels=100"):
        load_image(np.zeros((11, 10, 3), np.uint8))
    assert load_image(np.zeros((10, 10, 3), np.uint8)).shape == (10, 10, 3)
    for bad in ("lots", "0", "2.5", "-5"):
        monkeypatch.setenv("KERASVIZ_MAX_PIXELS", bad)
        with pytest.raises(ArgumentError, match="KERASVIZ_MAX_PIXELS=.*positive whole number"):
            load_image(np.zeros((4, 4, 3), np.uint8))
