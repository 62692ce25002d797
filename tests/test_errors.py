"""The error table: each bad argument of the public API raises the class :mod:`kerasviz.errors`
documents for it, with a message that names the fix; and in the CLI each ends in one line on
stderr with exit code 2.

A row is ``(id, call, error class, message fragment)``; ``call`` takes the :func:`ctx` fixture.
A row fails when the call raises nothing, raises another class (exactly: an ``ArgumentError``
where a ``ModelError`` is documented fails, and so does a bare ``ValueError`` or ``IndexError``),
or a message without the fragment or without a hint how to fix it.
``test_the_table_check_can_fail`` proves the check is not a tautology.
"""
import re
from types import SimpleNamespace

import keras
import numpy as np
import pytest

import kerasviz
from kerasviz import imagenet, render
from kerasviz.apps.demo import run_demo
from kerasviz.core import images as images_mod
from kerasviz.core import models as models_mod
from kerasviz.data import datasets, demo_models
from kerasviz.errors import (
    ArgumentError, ImageError, KerasvizError, LayerNotFoundError, ModelError, TargetError,
    OutputError, UnknownClassError, UnknownMethodError, WeightsNotFoundError)
from kerasviz.present.explanation import Explanation
from kerasviz.present.outputs import OutputFolder

#: words that show a message says how to fix the problem, not only what is wrong
FIX_WORDS = ("Expected", "must be", "Closest", "Available", "Pass ", "Give ", "Wrap it", "Load one",
             "expects", "needs", "Create it", "Retrain")


class _Subclassed(keras.Model):
    def __init__(self):
        super().__init__(name="subclassed")
        self.conv = keras.layers.Conv2D(2, 3)

    def call(self, x):
        return self.conv(x)


def _functional(size=16, classes=3):
    i = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="c1")(i)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    o = keras.layers.Dense(classes, activation="softmax", name="predictions")(x)
    return keras.Model(i, o, name="tiny")


def _two_inputs(size=16):
    i = keras.Input((size, size, 3), name="image")
    v = keras.Input((4,), name="vector")
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3, name="c1")(i))
    o = keras.layers.Dense(3, name="p")(keras.layers.Concatenate()([x, v]))
    return keras.Model([i, v], o, name="two_inputs")


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("errors")
    model = kerasviz.load_model(_functional(), preprocess=lambda x: x / 255.0,
                                class_names=["circle", "square", "star"])
    subclassed = _Subclassed()
    subclassed(np.zeros((1, 16, 16, 3), np.float32))
    maps = np.zeros((2, 16, 16), np.float32)
    maps[:, 4:8, 4:8] = 1.0
    exp = Explanation(maps=maps, raw=maps, method="gradcam", target=np.array([0, 1]),
                      images=np.full((2, 16, 16, 3), 100, np.uint8))
    (tmp / "garbage.h5").write_bytes(b"not a model")
    (tmp / "empty.png").write_bytes(b"")
    png = tmp / "ok.png"
    render.save_png(png, np.zeros((16, 16, 3), np.uint8))
    (tmp / "real").mkdir()
    (tmp / "link").symlink_to(tmp / "real")
    return SimpleNamespace(
        tmp=tmp, png=str(png), garbage=tmp / "garbage.h5", empty=tmp / "empty.png",
        model=model, bare=_functional(), subclassed=subclassed, unbuilt=keras.Sequential([keras.layers.Dense(2)]),
        two=_two_inputs(), x=np.random.default_rng(0).random((2, 16, 16, 3)).astype(np.float32),
        u8=np.zeros((2, 16, 16, 3), np.uint8), exp=exp,
        bare_exp=Explanation(maps=maps, raw=maps, method="saliency", target=None),
        img=np.zeros((16, 16, 3), np.uint8), m=maps[0], acts=np.random.default_rng(1).random(
            (6, 6, 4)).astype(np.float32))


def _preds():
    return np.random.default_rng(0).random((1, 1000))


def _nan_preds():
    p = np.random.default_rng(0).random((2, 1000))
    p[1, 3] = np.nan
    return p


E = kerasviz.explain
ROWS = [
    # --- kerasviz.load_image / load_images -----------------------------------------------------
    ("load_image missing file", lambda c: kerasviz.load_image(c.tmp / "nope.png"),
     ImageError, r"nope\.png' does not exist"),
    ("load_image folder", lambda c: kerasviz.load_image(c.tmp), ImageError, "is a folder"),
    ("load_image object", lambda c: kerasviz.load_image(12345), ImageError,
     r"Cannot read an image from object of type int\. Expected a file path, bytes"),
    ("load_image float out of range", lambda c: kerasviz.load_image(np.full((4, 4, 3), 300.0)),
     ImageError, r"Expected \[0, 1\] or \[0, 255\]"),
    ("load_image empty file", lambda c: kerasviz.load_image(c.empty), ImageError,
     r"is empty \(0 bytes\)\. Expected an image file"),
    ("load_image NaN", lambda c: kerasviz.load_image(np.full((4, 4, 3), np.nan)), ImageError,
     r"NaN or Inf values\. Expected finite values"),
    ("load_image zero size", lambda c: kerasviz.load_image(np.zeros((0, 4, 3), np.uint8)),
     ImageError, r"zero size\. Expected at least 1×1 pixels"),
    ("load_image batch", lambda c: kerasviz.load_image(c.u8), ImageError, "use load_images"),
    ("load_image size 0", lambda c: kerasviz.load_image(c.png, size=0), ArgumentError,
     r"size must be a positive int or a \(height, width\) pair.*Received: size=0"),
    ("load_image size triple", lambda c: kerasviz.load_image(c.png, size=(1, 2, 3)),
     ArgumentError, r"Received: size=\(1, 2, 3\)"),
    ("load_image interpolation", lambda c: kerasviz.load_image(c.png, interpolation="cubic"),
     ArgumentError, r"interpolation must be one of .*Closest: \['bicubic'\]"),
    ("load_image max_pixels 0", lambda c: kerasviz.load_image(c.png, max_pixels=0),
     ArgumentError, r"max_pixels must be an integer ≥ 1\. Received: max_pixels=0"),
    ("load_image over max_pixels", lambda c: kerasviz.load_image(c.img, max_pixels=10),
     ImageError, "Pass a larger max_pixels"),
    ("load_image size over max_pixels", lambda c: kerasviz.load_image(c.png, size=10**6),
     ArgumentError, r"size must be at most max_pixels=100000000 pixels.*Received: size=1000000"),
    ("load_image interpolation array", lambda c: kerasviz.load_image(
        c.png, interpolation=np.array([1.0, 2.0])), ArgumentError, "interpolation must be one of"),
    ("load_image background", lambda c: kerasviz.load_image(c.png, background=(0, 0)),
     ArgumentError, r"background must be an RGB triple of ints in \[0, 255\]"),
    ("load_images empty", lambda c: kerasviz.load_images([]), ImageError,
     "Expected at least one image"),
    ("load_images None", lambda c: kerasviz.load_images(None), ImageError,
     "object of type NoneType. Expected a file path"),
    ("load_images sizes differ",
     lambda c: kerasviz.load_images([c.img, np.zeros((5, 4, 3), np.uint8)]), ImageError,
     r"Pass size=\(H, W\)"),
    ("resize size", lambda c: images_mod.resize(c.img, (0, 4)), ArgumentError,
     r"Received: size=\(0, 4\)"),
    # --- kerasviz.load_model / fetch_weights ------------------------------------------------------
    ("load_model unknown name", lambda c: kerasviz.load_model("vgg61"), ModelError,
     r"Unknown model 'vgg61'.*Closest: \[.*'vgg16'"),
    ("load_model demo typo", lambda c: kerasviz.load_model("shape"), ModelError,
     r"Closest: \['shapes'"),
    ("load_model missing file", lambda c: kerasviz.load_model(c.tmp / "none.keras"), ModelError,
     r"none\.keras' does not exist"),
    ("load_model corrupt file", lambda c: kerasviz.load_model(c.garbage), ModelError,
     r"Could not .* model file .*Expected a \.keras or \.h5 file written by model\.save"),
    ("load_model number", lambda c: kerasviz.load_model(42), ArgumentError,
     r"needs a model name, a \.keras/\.h5 path or a keras\.Model\. Received: name_or_path=42"),
    ("load_model preprocess", lambda c: kerasviz.load_model(c.bare, preprocess="unit"),
     ArgumentError, r"preprocess must be a callable.*Received: preprocess='unit'"),
    ("load_model class_names", lambda c: kerasviz.load_model(c.bare, class_names="cats"),
     ArgumentError, r"class_names must be 'imagenet' or a list of names"),
    ("load_model weights type", lambda c: kerasviz.load_model("vgg16", weights=np.zeros(2)),
     ArgumentError, r"weights must be 'imagenet', None or the path of a weights file"),
    ("load_model weights file", lambda c: kerasviz.load_model("vgg16", weights=c.tmp / "w.h5"),
     WeightsNotFoundError, r"Expected weights='imagenet', None or an existing file"),
    ("fetch_weights unknown", lambda c: kerasviz.fetch_weights("vgg61"), ModelError,
     r"Expected one of \[.*'vgg16'.*Closest: \[.*'vgg16'"),
    ("load_demo_model unknown", lambda c: demo_models.load_demo_model("shape"), ModelError,
     r"Expected one of \['sensors', 'shapes', 'shapes_shuffled'\].*Closest: \['shapes', 'shapes_shuffled'\]"),
    # --- kerasviz.preprocess / model_info / deprocess ---------------------------------------------
    ("model_info of a name", lambda c: kerasviz.model_info("vgg16"), ModelError,
     r"model_info needs a keras\.Model.*Load one with kerasviz\.load_model"),
    ("preprocess of a name", lambda c: kerasviz.preprocess("shapes", c.u8), ModelError,
     r"needs a keras\.Model.*Load one with kerasviz\.load_model"),
    ("preprocess unknown preprocessing", lambda c: kerasviz.preprocess(c.bare, c.u8),
     ModelError, r"Pass preprocess=callable"),
    ("preprocess not callable", lambda c: kerasviz.preprocess(c.model, c.u8, preprocess=1),
     ArgumentError, r"preprocess must be a callable"),
    ("preprocess empty float batch", lambda c: kerasviz.preprocess(c.model, c.x[:0]),
     ImageError, r"No images given\. Expected a batch of at least one image.*\(0, 16, 16, 3\)"),
    ("preprocess NaN", lambda c: kerasviz.preprocess(c.model, c.x * np.nan), ImageError,
     "NaN or Inf"),
    ("preprocess wrong size", lambda c: kerasviz.preprocess(c.model, c.x[:, :8]), ImageError,
     r"expects input of shape \(N, 16, 16, 3\).*Pass uint8 images or file paths"),
    ("deprocess_input mode", lambda c: models_mod.deprocess_input(c.x, "caffee"), ArgumentError,
     r"mode must be one of .*Closest: \['caffe'\]"),
    # --- kerasviz.decode_predictions / imagenet ---------------------------------------------------
    ("decode top 0", lambda c: kerasviz.decode_predictions(_preds(), top=0), ArgumentError,
     r"top must be an integer in \[1, 1000\]\. Received: top=0"),
    ("decode top str", lambda c: kerasviz.decode_predictions(_preds(), top="5"), ArgumentError,
     r"Received: top='5'"),
    ("decode 1-D", lambda c: kerasviz.decode_predictions(np.zeros(1000)), ArgumentError,
     r"pass preds\[None\]"),
    ("decode NaN", lambda c: kerasviz.decode_predictions(_nan_preds()), ArgumentError,
     r"NaN in rows \[1\]\. Expected finite scores"),
    ("class_id typo", lambda c: imagenet.class_id("tabbby"), UnknownClassError,
     r"Closest: \['tabby'"),
    ("class_id out of range", lambda c: imagenet.class_id(1000), UnknownClassError,
     r"Expected 0 <= id < 1000\. Received: class_id=1000"),
    ("class_id float", lambda c: imagenet.class_id(2.5), UnknownClassError,
     r"Expected an int id, a WordNet id or a class name"),
    ("search empty", lambda c: imagenet.search(" "), ArgumentError, "needs a non-empty word"),
    ("search limit", lambda c: imagenet.search("cat", limit=0), ArgumentError,
     r"limit must be an integer ≥ 1\. Received: limit=0"),
    # --- as_target / Output ---------------------------------------------------------------------
    ("as_target unit range", lambda c: kerasviz.as_target(c.model, 7), TargetError,
     r"Expected 0 <= unit < 3.*Received: target=7"),
    ("as_target list length", lambda c: kerasviz.as_target(c.model, [0, 1], n=3), TargetError,
     r"Expected 3 entries"),
    ("as_target empty list", lambda c: kerasviz.as_target(c.model, []), TargetError,
     "Expected at least one target"),
    ("as_target float", lambda c: kerasviz.as_target(c.model, 2.5), TargetError,
     "Expected a unit index or class name"),
    ("as_target class typo", lambda c: kerasviz.as_target(c.model, "cirle"), UnknownClassError,
     r"Closest: \['circle'\]"),
    ("as_target n 0", lambda c: kerasviz.as_target(c.model, 0, n=0), ArgumentError,
     r"n must be an integer ≥ 1\. Received: n=0"),
    ("as_target subclassed", lambda c: kerasviz.as_target(c.subclassed, 0), ModelError,
     r"subclassed model.*Wrap it"),
    ("Output type", lambda c: kerasviz.Output(1.5), TargetError,
     r"needs an output index \(int\) or an output name \(str\)\. Received: Output\(1\.5\)"),
    ("Output index", lambda c: kerasviz.as_target(c.model, kerasviz.Output(3)), TargetError,
     r"Expected -1 <= index < 1"),
    ("Output name", lambda c: kerasviz.as_target(c.model, kerasviz.Output("prediction")),
     TargetError, r"Closest: \['predictions'\]"),
    # --- explain(): its non-method arguments ----------------------------------------------------
    ("explain name as model", lambda c: E("shapes", c.u8), ModelError,
     r"explain needs a keras\.Model.*Load one with kerasviz\.load_model"),
    ("explain subclassed", lambda c: E(c.subclassed, c.x), ModelError, r"subclassed.*Wrap it"),
    ("explain unbuilt", lambda c: E(c.unbuilt, c.x), ModelError,
     r"not built.*keras\.Input\(shape=\.\.\.\)"),
    ("explain images None", lambda c: E(c.model, None), ImageError, "explain needs images"),
    ("explain empty list", lambda c: E(c.model, []), ImageError, "Expected at least one image"),
    ("explain empty float batch", lambda c: E(c.model, c.x[:0]), ImageError, "No images given"),
    ("explain empty uint8 batch", lambda c: E(c.model, c.u8[:0]), ImageError,
     "Expected at least one image"),
    ("explain missing file", lambda c: E(c.model, c.tmp / "no.png"), ImageError,
     "does not exist"),
    ("explain wrong size", lambda c: E(c.model, c.x[:, :8]), ImageError,
     "Pass uint8 images or file paths"),
    ("explain preprocess", lambda c: E(c.model, c.u8, preprocess="unit"), ArgumentError,
     "preprocess must be a callable"),
    ("explain batch_size 0", lambda c: E(c.model, c.x, batch_size=0), ArgumentError,
     r"batch_size must be an integer ≥ 1\. Received: batch_size=0"),
    ("explain batch_size str", lambda c: E(c.model, c.x, batch_size="8"), ArgumentError,
     r"Received: batch_size='8'"),
    ("explain extra_inputs on one input", lambda c: E(c.model, c.x, extra_inputs=[c.x]),
     ArgumentError, "extra_inputs must be None"),
    ("explain extra_inputs missing", lambda c: E(c.two, c.x), ArgumentError,
     r"Expected extra_inputs= a list of 1 array"),
    ("explain extra_inputs shape", lambda c: E(c.two, c.x, extra_inputs=[np.zeros((1, 4))]),
     ArgumentError, r"'vector' expects shape \(N=2, 4\), one row per image"),
    ("explain extra_inputs scalar", lambda c: E(c.two, c.x, extra_inputs=[3.0]),
     ArgumentError, r"expects shape \(N=2, 4\).*Received: extra input of shape \(\)"),
    ("explain extra_inputs text", lambda c: E(c.two, c.x, extra_inputs=[[["a"] * 4] * 2]),
     ArgumentError, r"expects numbers of shape \(N=2, 4\)"),
    ("explain method", lambda c: E(c.model, c.x, method="gradcamm"), UnknownMethodError,
     r"Closest: \['gradcam"),
    ("explain layer", lambda c: E(c.model, c.x, layer="c9"), LayerNotFoundError, "c9"),
    ("explain target", lambda c: E(c.model, c.x, target=5), TargetError,
     r"Expected 0 <= unit < 3"),
    # --- Explanation ----------------------------------------------------------------------------
    ("overlay alpha", lambda c: c.exp.overlay(alpha=1.5), ArgumentError,
     r"alpha must be a finite number in \[0\.0, 1\.0\]\. Received: alpha=1\.5"),
    ("overlay colormap", lambda c: c.exp.overlay(colormap="jett"), ArgumentError,
     r"colormap must be one of .*Closest: \['jet'\]"),
    ("overlay image count", lambda c: c.exp.overlay(c.u8[:1]), ImageError,
     "Expected 2 images, one per map"),
    ("overlay no images", lambda c: c.bare_exp.overlay(), ImageError, r"Pass images=uint8"),
    ("boxes threshold", lambda c: c.exp.boxes(threshold=2), ArgumentError,
     r"threshold must be a finite number in \[0\.0, 1\.0\]\. Received: threshold=2"),
    ("boxes smooth", lambda c: c.exp.boxes(smooth=-1), ArgumentError,
     r"smooth must be a finite number ≥ 0\.0"),
    ("crop threshold NaN", lambda c: c.exp.crop(threshold=float("nan")), ArgumentError,
     "threshold must be a finite number"),
    ("plot cols", lambda c: c.exp.plot(cols=0), ArgumentError, "cols must be an integer ≥ 1"),
    # --- render --------------------------------------------------------------------------------
    ("colorize colormap", lambda c: render.colorize(c.m, "rainbow"), ArgumentError,
     r"colormap must be one of \['jet'"),
    ("colorize batch", lambda c: render.colorize(c.exp.maps), ArgumentError,
     r"one 2-D \(H, W\) map.*For a batch pass maps\[i\]"),
    ("overlay alpha<0", lambda c: render.overlay(c.img, c.m, alpha=-0.1), ArgumentError,
     "alpha must be a finite number in"),
    ("overlay grey image", lambda c: render.overlay(c.img[..., 0], c.m), ImageError,
     r"Expected one uint8 RGB image of shape \(H, W, 3\)"),
    ("box_from_map text", lambda c: render.box_from_map("abc"), ArgumentError,
     r"map must be a 2-D \(H, W\) array of numbers"),
    ("box_from_map threshold", lambda c: render.box_from_map(c.m, 1.5), ArgumentError,
     "threshold must be a finite number in"),
    ("crop threshold", lambda c: render.crop(c.img, c.m, -1), ArgumentError,
     "Received: threshold=-1"),
    ("tile cols", lambda c: render.tile(c.u8, cols=0), ArgumentError,
     r"cols must be an integer ≥ 1\. Received: cols=0"),
    ("tile pad", lambda c: render.tile(c.u8, pad=-1), ArgumentError, "pad must be an integer ≥ 0"),
    ("tile empty", lambda c: render.tile([]), ArgumentError,
     r"needs a non-empty stack of equally sized images"),
    ("tile sizes differ", lambda c: render.tile([c.img, c.img[:4]]), ArgumentError,
     "equally sized images"),
    ("resize_nearest factor", lambda c: render.resize_nearest(c.img, 0), ArgumentError,
     "factor must be an integer ≥ 1"),
    ("resize_map size", lambda c: render.resize_map(c.m, (0, 5)), ArgumentError,
     r"Received: size=\(0, 5\)"),
    ("blur sigma", lambda c: render.blur(c.m, float("nan")), ArgumentError,
     "sigma must be a finite number"),
    ("draw_box box", lambda c: render.draw_box(c.img, [1, 2, 3]), ArgumentError,
     r"box must be 4 numbers \[x0, y0, x1, y1\]"),
    ("draw_box thickness", lambda c: render.draw_box(c.img, [1, 2, 3, 4], thickness=0),
     ArgumentError, "thickness must be an integer ≥ 1"),
    ("title_band text", lambda c: render.title_band(c.img, 5), ArgumentError,
     "text must be a string"),
    ("draw_box color", lambda c: render.draw_box(c.img, [1, 2, 3, 4], color=7), ArgumentError,
     r"color must be an RGB triple of ints in \[0, 255\]"),
    ("title_band height", lambda c: render.title_band(c.img, "t", height=2), ArgumentError,
     "height must be an integer ≥ 8"),
    # --- datasets -------------------------------------------------------------------------------
    ("shapes n", lambda c: datasets.shapes(0), ArgumentError,
     r"n must be an integer ≥ 1\. Received: n=0"),
    ("shapes size", lambda c: datasets.shapes(2, size=16), ArgumentError,
     r"size must be an integer ≥ 32\. Received: size=16"),
    ("shapes seed", lambda c: datasets.shapes(2, seed="abc"), ArgumentError,
     r"seed must be an integer ≥ 0\. Received: seed='abc'"),
    ("sensors n", lambda c: datasets.sensors(2.5), ArgumentError, r"Received: n=2\.5"),
    ("sensors obstacles", lambda c: datasets.sensors(2, obstacles="up"), ArgumentError,
     r"obstacles must be one of \['left', 'right'\]\. Received: obstacles='up'"),
    ("sensor_readings kind", lambda c: datasets.sensor_readings(
        [{"kind": "cone", "center": (1, 1)}]), ArgumentError,
     r"obstacle kind must be one of \['disc', 'box'\]"),
    ("run_demo n_images", lambda c: run_demo(c.tmp / "demo", n_images=0), ArgumentError, r"n_images must be an integer ≥ 1"),
    # --- output folders (checked before any model work) -----------------------------------------
    ("run_demo out is a file", lambda c: run_demo(c.png), OutputError, r"ok\.png' is a file"),
    ("run_demo out not empty", lambda c: run_demo(c.tmp), OutputError,
     r"is not empty: it holds files that kerasviz did not write.*--force"),
    ("output folder is a link", lambda c: OutputFolder(c.tmp / "link", "explain"), OutputError,
     "is a symbolic link"),
    ("output file name", lambda c: OutputFolder(c.tmp / "o", "explain").write_bytes("../x", b""),
     OutputError, r"plain names.*Received: '\.\./x'"),
    # --- channel_grid -----------------------------------------------------------------------------
    ("channel_grid cols", lambda c: kerasviz.channel_grid(c.acts, cols=0), ArgumentError,
     "cols must be an integer ≥ 1"),
    ("channel_grid colormap", lambda c: kerasviz.channel_grid(c.acts, colormap="jett"),
     ArgumentError, r"Closest: \['jet'\]"),
    ("channel_grid pad", lambda c: kerasviz.channel_grid(c.acts, pad=-1), ArgumentError,
     "pad must be an integer ≥ 0"),
    ("channel_grid batch", lambda c: kerasviz.channel_grid(np.zeros((2, 6, 6, 4))),
     ArgumentError, r"For a batch pass acts\[i\]"),
    ("channel_grid channels", lambda c: kerasviz.channel_grid(c.acts, channels=[99]),
     ArgumentError, r"channels.*\[0, 4\)"),
    ("channel_grid sort", lambda c: kerasviz.channel_grid(c.acts, sort="max"), ArgumentError,
     r"Expected None, 'mean'"),
]


def check_row(ctx, call, error, fragment):
    """The check every row goes through (see the module docstring)."""
    with pytest.raises(Exception) as info:
        call(ctx)
    exc = info.value
    assert type(exc) is error, f"expected {error.__name__}, got {type(exc).__name__}: {exc}"
    assert isinstance(exc, KerasvizError)
    message = str(exc)
    assert re.search(fragment, message), f"{fragment!r} not in {message!r}"
    assert any(w in message for w in FIX_WORDS), f"the message names no fix: {message!r}"


@pytest.mark.parametrize("call, error, fragment", [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_bad_argument_raises_its_documented_error(ctx, call, error, fragment):
    check_row(ctx, call, error, fragment)


def test_table_ids_are_unique():
    ids = [r[0] for r in ROWS]
    assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1]


@pytest.mark.parametrize("call, error, fragment", [
    (lambda c: None, ArgumentError, ""),                                        # raises nothing
    (lambda c: datasets.shapes(0), ModelError, "n must be"),                    # wrong class
    (lambda c: datasets.shapes(0), ArgumentError, "no such words"),             # wrong message
    (lambda c: [][1], ArgumentError, ""),                                       # not ours
    (lambda c: (_ for _ in ()).throw(ArgumentError("bad")), ArgumentError, "bad"),  # names no fix
])
def test_the_table_check_can_fail(ctx, call, error, fragment):
    with pytest.raises((AssertionError, pytest.fail.Exception)):
        check_row(ctx, call, error, fragment)


def test_every_error_class_documented_in_the_tree_is_used_in_the_table():
    import kerasviz.errors as errors_mod

    used = {r[2] for r in ROWS}
    for cls in (ArgumentError, ImageError, ModelError, TargetError, UnknownClassError,
                UnknownMethodError, LayerNotFoundError, WeightsNotFoundError, OutputError):
        assert cls in used, cls.__name__
        assert cls.__name__ in errors_mod.__doc__
        assert issubclass(cls, ValueError) or cls in (WeightsNotFoundError, OutputError)


def test_argument_error_is_not_a_model_error_nor_an_image_error():
    """The point of the tree: catching ModelError / ImageError must not catch bad option values."""
    with pytest.raises(ArgumentError) as info:
        datasets.shapes(2, size=8)
    assert not isinstance(info.value, (ModelError, ImageError, TargetError))
    assert isinstance(info.value, ValueError)


# --- the CLI: one line on stderr, exit code 2 -------------------------------------------------

@pytest.fixture(scope="module")
def picture(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "pic.png"
    render.save_png(path, np.zeros((96, 96, 3), np.uint8))
    return str(path)


def _cli(capsys, argv):
    from kerasviz.apps.cli import main

    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


CLI_ROWS = [
    # (id, argv (PIC = a picture, TMP = a temporary folder), fragment on stderr)
    ("explain alpha", ["explain", "-m", "shapes", "PIC", "--alpha", "2"],
     r"--alpha must be a finite number in \[0\.0, 1\.0\]\. Received: --alpha=2\.0"),
    ("explain threshold", ["explain", "-m", "shapes", "PIC", "--threshold", "-1"],
     "--threshold must be a finite number"),
    ("explain colormap", ["explain", "-m", "shapes", "PIC", "--colormap", "jett"],
     r"Closest: \['jet'\]"),
    ("explain batch size", ["explain", "-m", "shapes", "PIC", "--batch-size", "0"],
     r"--batch-size must be an integer ≥ 1"),
    ("explain preprocess", ["explain", "-m", "shapes", "PIC", "--preprocess", "unitt"],
     r"Unknown preprocessing.*Closest: \['unit'"),
    ("explain option", ["explain", "-m", "shapes", "PIC", "--method", "smoothgrad", "--option",
                        "sample=3"], r"Unknown --option 'sample'.*Closest: \['samples'"),
    ("explain option value", ["explain", "-m", "shapes", "PIC", "--method", "smoothgrad",
                              "--option", "samples=abc"], r"samples must be .*Received: samples='abc'"),
    ("explain option range", ["explain", "-m", "shapes", "PIC", "--method", "integrated_gradients",
                              "--option", "steps=0"], r"steps must be .*Received: steps=0"),
    ("explain unknown model", ["explain", "-m", "vgg61", "PIC"], r"Closest: \[.*'vgg16'"),
    ("explain missing image", ["explain", "-m", "shapes", "TMP/none.png"], "does not exist"),
    ("explain target", ["explain", "-m", "shapes", "PIC", "--target", "99", "--out", "TMP/o"],
     r"Expected 0 <= unit < 5"),
    ("explain layer", ["explain", "-m", "shapes", "PIC", "--layer", "conv99", "--out", "TMP/o"],
     "conv99"),
    ("explain out is a file", ["explain", "-m", "shapes", "PIC", "--out", "PIC"],
     r"output folder .*pic\.png' is a file"),
    ("activations cols", ["activations", "-m", "shapes", "PIC", "--cols", "0"],
     "--cols must be an integer ≥ 1"),
    ("activations colormap", ["activations", "-m", "shapes", "PIC", "--colormap", "virdis"],
     r"Closest: \['viridis'\]"),
    ("activations zero tol", ["activations", "-m", "shapes", "PIC", "--zero-tol", "-1"],
     "--zero-tol must be a finite number ≥ 0"),
    ("filters cols", ["filters", "-m", "shapes", "--cols", "0"], "--cols must be an integer ≥ 1"),
    ("demo images", ["demo", "--images", "0", "--out", "TMP/d"],
     r"--images must be an integer ≥ 1\. Received: --images=0"),
    ("classes unknown", ["classes", "tabbby"], r"Closest: \['tabby'"),
    ("fetch-weights unknown", ["fetch-weights", "vgg61"], r"Closest: \[.*'vgg16'"),
]


@pytest.mark.parametrize("argv, fragment", [r[1:] for r in CLI_ROWS], ids=[r[0] for r in CLI_ROWS])
def test_cli_user_errors_are_one_line_and_exit_2(capsys, picture, tmp_path, argv, fragment):
    argv = [a.replace("PIC", picture).replace("TMP", str(tmp_path)) for a in argv]
    rc, out, err = _cli(capsys, argv)
    lines = err.strip().splitlines()
    assert rc == 2, (rc, err)
    assert len(lines) == 1, err
    assert lines[0].startswith(f"kerasviz {argv[0]}: error: "), lines[0]
    assert re.search(fragment, lines[0]), (fragment, lines[0])
    assert "Traceback" not in err


def test_cli_checks_options_before_loading_a_model(capsys, picture, monkeypatch):
    import kerasviz.core.models

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the options were checked")

    monkeypatch.setattr(kerasviz.core.models, "load_model", refuse)
    monkeypatch.setattr(kerasviz, "load_model", refuse, raising=False)
    rc, _, err = _cli(capsys, ["explain", "-m", "shapes", picture, "--alpha", "7"])
    assert rc == 2 and "--alpha" in err


@pytest.mark.parametrize("argv", [
    ["explain", "--batch-size", "x"],
    ["explain", "--no-such-flag"],
    ["no-such-command"],
    [],
    ["classes", "--limit", "0"],
    ["filters"],                       # --model is required
])
def test_cli_usage_errors_exit_2(capsys, argv):
    from kerasviz.apps.cli import main

    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err
