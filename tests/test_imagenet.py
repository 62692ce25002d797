"""Tests of kerasviz.core.imagenet (bundled class index, lookup, search, decode) and `kerasviz classes`."""
from __future__ import annotations

import ast
import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest

from kerasviz.core import imagenet
from kerasviz.errors import ArgumentError, ModelError, UnknownClassError

DATA = Path(imagenet.__file__).resolve().parents[1] / "data"
#: MD5 that keras.applications.imagenet_utils.decode_predictions checks on its download.
KERAS_MD5 = "c2c37ea517e94d9795004a39431a14cb"


@pytest.fixture(scope="module")
def index() -> dict:
    return json.loads((DATA / "imagenet_class_index.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def seed_lines() -> list[list[str]]:
    lines = (DATA / "imagenet_synonyms.txt").read_text(encoding="utf-8").splitlines()
    return [[s.strip() for s in line.split(",")] for line in lines]


def _norm(text: str) -> str:
    return text.replace("_", " ").lower()


# --- the shipped data -------------------------------------------------------------------------

def test_class_index_is_keras_file_byte_for_byte():
    assert hashlib.md5((DATA / "imagenet_class_index.json").read_bytes()).hexdigest() == KERAS_MD5


def test_class_index_structure(index):
    assert list(index) == [str(i) for i in range(1000)]
    assert index["281"] == ["n02123045", "tabby"]
    assert index["999"] == ["n15075141", "toilet_tissue"]
    wnids = [w for w, _ in index.values()]
    assert len(set(wnids)) == 1000
    assert all(re.fullmatch(r"n\d{8}", w) for w in wnids)


def test_synonym_table(seed_lines):
    assert len(seed_lines) == imagenet.NUM_CLASSES == 1000
    assert all(s for line in seed_lines for s in line)
    assert seed_lines[281] == ["tabby", "tabby cat"]


def test_every_keras_name_is_a_synonym_of_its_class(index, seed_lines):
    # Holds for all 1000 classes: no exception to handle.
    for i in range(1000):
        assert _norm(index[str(i)][1]) in [_norm(s) for s in seed_lines[i]], i


def test_shared_names_are_the_known_few(index, seed_lines):
    by_short: dict[str, list[int]] = {}
    for i in range(1000):
        by_short.setdefault(_norm(index[str(i)][1]), []).append(i)
    assert {k: v for k, v in by_short.items() if len(v) > 1} == {
        "crane": [134, 517], "cardigan": [264, 474], "maillot": [638, 639]}
    by_syn: dict[str, set[int]] = {}
    for i, line in enumerate(seed_lines):
        for s in line:
            by_syn.setdefault(_norm(s), set()).add(i)
    shared = {k for k, v in by_syn.items() if len(v) > 1}
    assert {"crane", "maillot", "cardigan", "panther", "polecat", "crayfish"} <= shared
    assert len(shared) == 19


def test_table_is_loaded_once():
    assert imagenet._table() is imagenet._table()


def test_modules_import_no_tensorflow_or_keras_at_top_level():
    root = Path(imagenet.__file__).resolve().parents[1]
    for path in (root / "core" / "imagenet.py", root / "apps" / "cli" / "classes.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for n in names:
                assert n.split(".")[0] not in {"tensorflow", "keras"}, (path, n)


# --- lookup -----------------------------------------------------------------------------------

@pytest.mark.parametrize("query, expected", [
    (281, 281), (np.int64(281), 281), ("281", 281), (" 281 ", 281), ("0", 0), ("999", 999),
    ("tabby", 281), ("TABBY", 281), ("tabby cat", 281), ("Tabby_Cat", 281), ("  tabby   cat ", 281),
    ("tiger cat", 282), ("tiger_cat", 282), ("Persian_cat", 283),
    ("n02123045", 281), ("N02123045", 281),
    ("toilet tissue", 999), ("bathroom tissue", 999), ("jack-o'-lantern", 607),
])
def test_class_id(query, expected):
    assert imagenet.class_id(query) == expected


@pytest.mark.parametrize("query, expected", [
    ("crane", 134),          # two Keras short names: lowest id (bird); machine is n03126707
    ("maillot", 638),        # two Keras short names: lowest id
    ("cardigan", 474),       # exact Keras spelling wins: the sweater
    ("Cardigan", 264),       # exact Keras spelling wins: the corgi
    ("CARDIGAN", 264),       # no exact spelling: case-insensitive short name, lowest id
    ("partridge", 86),       # Keras short name of 86 beats synonym of 82
    ("polecat", 358),        # Keras short name of 358 beats synonym of 361
    ("panther", 286),        # synonym of 286 and 290 only: lowest id
    ("n03126707", 517),
])
def test_class_id_shared_names(query, expected):
    assert imagenet.class_id(query) == expected


def test_round_trips(index):
    for i in range(1000):
        assert imagenet.class_id(imagenet.wnid(i)) == i
        assert imagenet.class_id(str(i)) == i
        assert [imagenet.wnid(i), imagenet.name(i)] == index[str(i)]
        expected = {517: 134, 639: 638}.get(i, i)  # the shared-name rule
        assert imagenet.class_id(imagenet.name(i)) == expected


def test_name_wnid_synonyms():
    assert imagenet.name(281) == "tabby"
    assert imagenet.name(282) == "tiger_cat"
    assert imagenet.wnid(281) == "n02123045"
    assert imagenet.synonyms(281) == ["tabby", "tabby cat"]
    assert imagenet.name("tabby cat") == "tabby"       # any class_id() input works
    assert imagenet.wnid(class_id="tiger cat") == "n02123159"
    syns = imagenet.synonyms(281)
    syns.append("x")                                   # a copy: the table is unchanged
    assert imagenet.synonyms(281) == ["tabby", "tabby cat"]


@pytest.mark.parametrize("query, match", [
    ("tabbby", r"Received: 'tabbby'\. Closest: \['tabby'"),
    ("persian kat", r"Closest: \['persian cat'"),
    (1000, r"out of range.*Received: class_id=1000"),
    (-1, r"out of range"),
    ("1000", r"out of range"),
    ("n99999999", r"Unknown ImageNet WordNet id.*'n99999999'"),
    ("", r"Unknown ImageNet class"),
    (2.0, r"Expected an int id.*float"),
    (None, r"NoneType"),
    (True, r"bool"),
])
def test_class_id_errors(query, match):
    with pytest.raises(UnknownClassError, match=match):
        imagenet.class_id(query)


def test_unknown_class_error_is_a_value_error():
    with pytest.raises(ValueError):
        imagenet.name("no such thing")


# --- search -----------------------------------------------------------------------------------

def test_search_cat_ranks_domestic_cats_first():
    ids = [i for i, _, _ in imagenet.search("cat", limit=None)]
    assert ids[:5] == [281, 282, 283, 284, 285]
    assert ids.index(285) < ids.index(286) < ids.index(358)   # cougar (catamount), polecat
    assert ids.index(285) < ids.index(484)                     # catamaran
    assert ids[-1] in (358, 361)                               # substrings ("polecat") last
    first = imagenet.search("cat")[0]
    assert first == (281, "tabby", ["tabby", "tabby cat"])


def test_search_tiers_and_limit():
    assert [i for i, _, _ in imagenet.search("crane")] == [134, 517]
    assert [i for i, _, _ in imagenet.search("PANTHER")][:2] == [286, 290]
    assert [i for i, _, _ in imagenet.search("tiger_cat")] == [282]
    assert len(imagenet.search("a", limit=7)) == 7
    assert len(imagenet.search("a", limit=None)) > 20
    assert len(imagenet.search("a")) == 20
    assert imagenet.search("xyzzy") == []


def test_search_results_contain_the_word():
    for i, _, syns in imagenet.search("dog", limit=None):
        assert any("dog" in _norm(t) for t in [imagenet.name(i)] + syns)


@pytest.mark.parametrize("kwargs, match", [
    ({"word": "  "}, "non-empty word.*word='  '"),
    ({"word": None}, "non-empty word.*word=None"),
    ({"word": "cat", "limit": 0}, "limit=0"),
    ({"word": "cat", "limit": True}, "limit=True"),
])
def test_search_errors(kwargs, match):
    with pytest.raises(ArgumentError, match=match):
        imagenet.search(**kwargs)


# --- decode_predictions -----------------------------------------------------------------------

def _random_preds(n: int, seed: int = 0) -> np.ndarray:
    logits = np.random.default_rng(seed).normal(size=(n, 1000))
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return p.astype(np.float32)


def test_decode_one_hot():
    preds = np.zeros((1, 1000), np.float32)
    preds[0, 281] = 1.0
    (row,) = imagenet.decode_predictions(preds)
    assert row[0] == ("n02123045", "tabby", 1.0)
    assert type(row[0][2]) is float
    assert len(row) == 5
    assert [t[1] for t in row[1:]] == ["tench", "goldfish", "great_white_shark", "tiger_shark"]


def test_decode_structure_and_order():
    preds = _random_preds(3)
    out = imagenet.decode_predictions(preds, top=10)
    assert isinstance(out, list) and len(out) == 3
    for row, p in zip(out, preds):
        assert len(row) == 10
        scores = [s for _, _, s in row]
        assert scores == sorted(scores, reverse=True)
        assert row[0][0] == imagenet.wnid(int(p.argmax()))
        assert all(isinstance(t, tuple) and len(t) == 3 for t in row)
    assert imagenet.decode_predictions(np.zeros((0, 1000))) == []
    assert len(imagenet.decode_predictions(preds, top=1000)[0]) == 1000


def test_decode_accepts_lists_ints_and_tensors():
    preds = _random_preds(2)
    expected = imagenet.decode_predictions(preds)
    assert imagenet.decode_predictions(preds.tolist()) == expected
    assert imagenet.decode_predictions(np.eye(1000, dtype=np.int64)[[7]])[0][0][1] == "cock"
    tf = pytest.importorskip("tensorflow")
    assert imagenet.decode_predictions(tf.constant(preds)) == expected


@pytest.mark.parametrize("top", [1, 5, 17])
def test_decode_agrees_with_keras(monkeypatch, index, top):
    pytest.importorskip("keras")
    from kerasviz._keras_compat import imagenet_utils_module
    imagenet_utils = imagenet_utils_module()
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX", index)  # no download
    preds = _random_preds(4, seed=top)
    ours = imagenet.decode_predictions(preds, top=top)
    theirs = imagenet_utils.decode_predictions(preds, top=top)
    assert len(ours) == len(theirs) == 4
    for row_ours, row_theirs in zip(ours, theirs):
        assert [t[:2] for t in row_ours] == [tuple(t[:2]) for t in row_theirs]
        assert [t[2] for t in row_ours] == [float(t[2]) for t in row_theirs]


@pytest.mark.parametrize("preds, match", [
    (np.zeros(1000), r"shape \(N, 1000\).*pass preds\[None\].*\(1000,\)"),
    (np.zeros((2, 999)), r"shape \(N, 1000\).*Received: preds with shape \(2, 999\)"),
    (np.zeros((1, 1, 1000)), r"shape \(1, 1, 1000\)"),
    (np.zeros((1000, 1)), r"shape \(1000, 1\)"),
    (np.array([["a"] * 1000]), r"real numbers"),
    (np.zeros((1, 1000), bool), r"real numbers"),
    ([[0.0] * 1000, [0.0] * 999], r"not an array of shape|shape"),
])
def test_decode_shape_errors(preds, match):
    with pytest.raises(ArgumentError, match=match):
        imagenet.decode_predictions(preds)


def test_decode_nan_error():
    preds = _random_preds(3)
    preds[1, 5] = np.nan
    with pytest.raises(ArgumentError, match=r"NaN in rows \[1\]"):
        imagenet.decode_predictions(preds)


@pytest.mark.parametrize("top", [0, -1, 1001, 2.5, True, "5", None])
def test_decode_top_errors(top):
    with pytest.raises(ArgumentError, match=r"top must be an integer in \[1, 1000\]\. Received: top="):
        imagenet.decode_predictions(_random_preds(1), top=top)


def test_decode_errors_are_argument_errors_not_model_errors():
    """Bad predictions are a bad argument, not a model that cannot be used: callers that catch
    ``ValueError`` still catch them, callers that catch ``ModelError`` (load failures) do not."""
    with pytest.raises(ValueError) as info:
        imagenet.decode_predictions(np.zeros(5))
    assert type(info.value) is ArgumentError and not isinstance(info.value, ModelError)


# --- the `kerasviz classes` command -----------------------------------------------------------

@pytest.fixture
def cli(monkeypatch, capsys):
    """Run ``kerasviz.apps.cli.main`` with only this sub-command registered; return (rc, out, err)."""
    import kerasviz.apps.cli
    monkeypatch.setattr(kerasviz.apps.cli, "COMMANDS", ["classes"])

    def run(*argv):
        rc = kerasviz.apps.cli.main(["classes", *argv])
        out, err = capsys.readouterr()
        return rc, out, err
    return run


def test_cli_by_id_name_and_wnid(cli):
    line = "281 n02123045 tabby  (tabby, tabby cat)\n"
    for query in (["281"], ["tabby"], ["tabby cat"], ["tabby", "cat"], ["n02123045"]):
        assert cli(*query) == (0, line, "")
    assert cli("tiger", "cat")[1] == "282 n02123159 tiger_cat  (tiger cat)\n"


def test_cli_search(cli):
    rc, out, _ = cli("--search", "cat")
    lines = out.splitlines()
    assert rc == 0
    assert lines[0] == "281 n02123045 tabby  (tabby, tabby cat)"
    assert [ln.split()[0] for ln in lines[:5]] == ["281", "282", "283", "284", "285"]
    assert len(cli("--search", "a", "--limit", "3")[1].splitlines()) == 3
    assert len(cli("--search", "a")[1].splitlines()) == 20


def test_cli_json(cli):
    rc, out, _ = cli("--json", "--search", "cat", "--limit", "2")
    assert rc == 0
    assert json.loads(out) == [
        {"id": 281, "wnid": "n02123045", "name": "tabby", "synonyms": ["tabby", "tabby cat"]},
        {"id": 282, "wnid": "n02123159", "name": "tiger_cat", "synonyms": ["tiger cat"]}]
    assert json.loads(cli("--json", "crane")[1])[0]["id"] == 134


def test_cli_lists_all_without_arguments(cli):
    lines = cli()[1].splitlines()
    assert len(lines) == 1000
    assert lines[999] == "999 n15075141 toilet_tissue  (toilet tissue, toilet paper, bathroom tissue)"


def test_cli_unknown_class_exits_2_with_suggestion(cli):
    rc, out, err = cli("tabbby")
    assert (rc, out) == (2, "")
    assert "Closest: ['tabby'" in err and "Traceback" not in err
    rc, out, err = cli("--search", "xyzzy")
    assert rc == 2 and "No ImageNet class matches 'xyzzy'" in err


@pytest.mark.parametrize("argv", [["--limit", "0"], ["--limit", "x"], ["tabby", "--search", "cat"]])
def test_cli_usage_errors(cli, argv):
    with pytest.raises(SystemExit) as exc:
        cli(*argv)
    assert exc.value.code == 2
