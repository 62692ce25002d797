"""The 1000 ImageNet (ILSVRC-2012) classes, offline.

Two tables ship in ``kerasviz/data/``, read lazily on first use and cached:

* ``imagenet_class_index.json``: byte-for-byte the file Keras downloads for
  :func:`keras.applications.imagenet_utils.decode_predictions` (same MD5,
  ``c2c37ea517e94d9795004a39431a14cb``): ``{"281": ["n02123045", "tabby"], ...}``.
* ``imagenet_synonyms.txt``: line ``i`` lists the comma-separated WordNet synonyms
  of class ``i`` (``"tabby, tabby cat"``).

Looking a class up (:func:`class_id`) is case-insensitive and treats ``_`` and
spaces alike. A few names belong to two classes; the rule is:

1. a Keras short name spelled exactly (case included) wins: ``"cardigan"`` is the
   sweater (474), ``"Cardigan"`` the corgi (264);
2. then a Keras short name ignoring case, then any synonym;
3. among classes that still tie, the lowest id wins: ``"crane"`` is the bird (134,
   not the machine 517), ``"maillot"`` is 638 (not 639), ``"panther"`` is the cougar
   (286, not the jaguar 290).

Pass the id or the WordNet id (``"n03126707"``) to reach the other class.

This module imports neither TensorFlow nor Keras; tensors are read with
:func:`numpy.asarray`.
"""
from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from kerasviz import _validate
from kerasviz.errors import ArgumentError, UnknownClassError, suggest

__all__ = [
    "NUM_CLASSES",
    "class_id",
    "decode_predictions",
    "name",
    "search",
    "synonyms",
    "wnid",
]

#: Number of ImageNet classes.
NUM_CLASSES = 1000

_DATA = Path(__file__).resolve().parents[1] / "data"
_WNID = re.compile(r"n\d{8}", re.IGNORECASE)


class _Table(NamedTuple):
    wnids: tuple[str, ...]            # class id -> "n02123045"
    names: tuple[str, ...]            # class id -> Keras short name "tabby"
    synonyms: tuple[tuple[str, ...], ...]  # class id -> ("tabby", "tabby cat")
    by_wnid: dict[str, int]           # "n02123045" -> 281
    by_exact_name: dict[str, int]     # Keras short name, exact spelling -> lowest id
    by_name: dict[str, int]           # normalised Keras short name -> lowest id
    by_synonym: dict[str, int]        # normalised synonym -> lowest id
    texts: tuple[tuple[str, ...], ...]  # class id -> normalised short name + synonyms


def _norm(text: str) -> str:
    """Lower-case, ``_`` as space, single spaces, no outer spaces."""
    return " ".join(str(text).replace("_", " ").lower().split())


@functools.lru_cache(maxsize=None)
def _table() -> _Table:
    index = json.loads((_DATA / "imagenet_class_index.json").read_text(encoding="utf-8"))
    lines = (_DATA / "imagenet_synonyms.txt").read_text(encoding="utf-8").splitlines()
    wnids = tuple(index[str(i)][0] for i in range(NUM_CLASSES))
    names = tuple(index[str(i)][1] for i in range(NUM_CLASSES))
    syns = tuple(tuple(s.strip() for s in line.split(",")) for line in lines[:NUM_CLASSES])
    by_exact: dict[str, int] = {}
    by_name: dict[str, int] = {}
    by_syn: dict[str, int] = {}
    for i in range(NUM_CLASSES):  # setdefault keeps the lowest id
        by_exact.setdefault(names[i], i)
        by_name.setdefault(_norm(names[i]), i)
        for s in syns[i]:
            by_syn.setdefault(_norm(s), i)
    texts = tuple(
        tuple(dict.fromkeys([_norm(names[i])] + [_norm(s) for s in syns[i]]))
        for i in range(NUM_CLASSES))
    return _Table(wnids, names, syns, {w: i for i, w in enumerate(wnids)},
                  by_exact, by_name, by_syn, texts)


def _check_id(value: int, received: Any) -> int:
    if not 0 <= value < NUM_CLASSES:
        raise UnknownClassError(
            f"ImageNet class id out of range. Expected 0 <= id < {NUM_CLASSES}. "
            f"Received: class_id={received!r}")
    return value


def class_id(name_or_wnid: int | str) -> int:
    """Return the class id (0-999) of an ImageNet class.

    Args:
        name_or_wnid: an id (``int``, NumPy integer or a string of digits such as
            ``"281"``), a WordNet id (``"n02123045"``), a Keras short name
            (``"tiger_cat"``) or any synonym (``"tabby cat"``). Names are
            case-insensitive; ``_`` and spaces are the same. Shared names follow
            the rule in the module docstring (``"crane"`` -> 134).

    Returns:
        The class id, an ``int`` in ``[0, 1000)``.

    Raises:
        UnknownClassError: the id is out of range or the name / WordNet id is
            unknown; the message lists the closest class names.
    """
    return _lookup(name_or_wnid)


def _lookup(value: Any) -> int:
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return _check_id(int(value), value)
    if not isinstance(value, str):
        raise UnknownClassError(
            "Invalid ImageNet class. Expected an int id, a WordNet id or a class name. "
            f"Received: class_id={value!r} of type {type(value).__name__}")
    text = value.strip()
    if text.isascii() and text.isdigit():
        return _check_id(int(text), value)
    table = _table()
    if _WNID.fullmatch(text):
        found = table.by_wnid.get(text.lower())
        if found is None:
            raise UnknownClassError(
                f"Unknown ImageNet WordNet id. Received: {value!r}. "
                f"{suggest(text.lower(), table.wnids)}")
        return found
    key = _norm(text)
    for found in (table.by_exact_name.get(text.replace(" ", "_")),
                  table.by_name.get(key), table.by_synonym.get(key)):
        if found is not None:
            return found
    options = list(dict.fromkeys(t for texts in table.texts for t in texts))
    raise UnknownClassError(
        "Unknown ImageNet class. Expected a class id 0-999, a WordNet id like "
        f"'n02123045' or a class name. Received: {value!r}. {suggest(key, options)}")


def wnid(class_id: int | str) -> str:
    """Return the WordNet id of a class, e.g. ``wnid(281) == "n02123045"``.

    Args:
        class_id: anything :func:`class_id` accepts (``281``, ``"tabby"``, ...).

    Raises:
        UnknownClassError: see :func:`class_id`.
    """
    return _table().wnids[_lookup(class_id)]


def name(class_id: int | str) -> str:
    """Return Keras' short name of a class, e.g. ``name(282) == "tiger_cat"``.

    This is the name :func:`decode_predictions` (and Keras') reports.

    Args:
        class_id: anything :func:`class_id` accepts (``281``, ``"tabby"``, ...).

    Raises:
        UnknownClassError: see :func:`class_id`.
    """
    return _table().names[_lookup(class_id)]


def synonyms(class_id: int | str) -> list[str]:
    """Return the WordNet synonyms of a class, e.g. ``["tabby", "tabby cat"]`` for 281.

    Args:
        class_id: anything :func:`class_id` accepts (``281``, ``"tabby"``, ...).

    Raises:
        UnknownClassError: see :func:`class_id`.
    """
    return list(_table().synonyms[_lookup(class_id)])


def search(word: str, limit: int | None = 20) -> list[tuple[int, str, list[str]]]:
    """Find classes whose name or synonyms contain ``word``, best matches first.

    Matching is case-insensitive, with ``_`` as a space. Classes rank by the best
    of these tiers, then by class id:

    0. ``word`` is the Keras short name (``"crane"`` -> 134, 517);
    1. ``word`` is one of the synonyms (``"panther"`` -> cougar, jaguar);
    2. ``word`` is a whole word of the name or a synonym (``"cat"`` -> tabby
       ("tabby cat"), tiger cat, Persian cat, Siamese cat, Egyptian cat, ...);
    3. a word of the name or a synonym starts with ``word`` (``"cat"`` ->
       catamount, catamaran);
    4. ``word`` occurs anywhere (``"cat"`` -> oystercatcher, polecat).

    Args:
        word: text to look for; several words are searched as one phrase.
        limit: the most results to return; ``None`` for all.

    Returns:
        ``[(class_id, keras_short_name, synonyms), ...]``; empty if nothing matches.

    Raises:
        ArgumentError: ``word`` is not a non-empty string or ``limit`` is not a positive int.
    """
    key = _norm(word) if isinstance(word, str) else ""
    if not key:
        raise ArgumentError(f"search needs a non-empty word, e.g. search('cat'). "
                            f"Received: word={word!r}")
    if limit is not None:
        limit = _validate.positive_int("limit", limit)
    word_re = re.compile(rf"(?<![a-z0-9]){re.escape(key)}(?![a-z0-9])")
    prefix_re = re.compile(rf"(?<![a-z0-9]){re.escape(key)}")
    table = _table()
    ranked = []
    for i, texts in enumerate(table.texts):
        if texts[0] == key:
            tier = 0
        elif key in texts:
            tier = 1
        elif any(word_re.search(t) for t in texts):
            tier = 2
        elif any(prefix_re.search(t) for t in texts):
            tier = 3
        elif any(key in t for t in texts):
            tier = 4
        else:
            continue
        ranked.append((tier, i))
    ranked.sort()
    return [(i, table.names[i], list(table.synonyms[i])) for _, i in ranked[:limit]]


def decode_predictions(preds: Any, top: int = 5) -> list[list[tuple[str, str, float]]]:
    """Decode ImageNet scores into the top classes, like Keras, but offline.

    Same structure as :func:`keras.applications.imagenet_utils.decode_predictions`:
    one list per row of ``preds``, ``top`` tuples ``(wnid, keras_short_name, score)``
    sorted by score, highest first. Differences: scores are Python ``float``; equal
    scores are ordered by class id (Keras' order among ties is arbitrary); a 1-D
    ``(1000,)`` vector is rejected like Keras does (pass ``preds[None]``), so the
    return type never depends on the input's rank.

    Args:
        preds: scores of shape ``(N, 1000)``, any real dtype: NumPy array,
            TensorFlow tensor, nested list, anything :func:`numpy.asarray` reads.
            Probabilities or logits; only their order matters.
        top: how many classes per row, ``1 <= top <= 1000``.

    Returns:
        ``N`` lists of ``top`` tuples ``(str, str, float)``, e.g.
        ``[[("n02123045", "tabby", 0.82), ("n02123159", "tiger_cat", 0.11), ...]]``.

    Raises:
        ArgumentError: ``preds`` is not a real-valued array of shape ``(N, 1000)``,
            contains NaN, or ``top`` is not an int in ``[1, 1000]``.
    """
    top = _validate.integer("top", top, 1, NUM_CLASSES)
    try:
        scores = np.asarray(preds)
    except (ValueError, TypeError) as exc:
        raise ArgumentError(
            f"Predictions are not an array of shape (N, {NUM_CLASSES}): {exc}") from exc
    if scores.dtype == bool or not (np.issubdtype(scores.dtype, np.integer)
                                    or np.issubdtype(scores.dtype, np.floating)):
        raise ArgumentError(
            "Predictions must be real numbers. "
            f"Received: preds with dtype {scores.dtype} and shape {scores.shape}")
    if scores.ndim != 2 or scores.shape[1] != NUM_CLASSES:
        hint = " (one image? pass preds[None])" if scores.shape == (NUM_CLASSES,) else ""
        raise ArgumentError(
            f"preds must be of shape (N, {NUM_CLASSES}), one row of ImageNet scores "
            f"per image{hint}. Received: preds with shape {scores.shape}")
    scores = scores.astype(np.float64, copy=False)
    bad_rows = np.flatnonzero(np.isnan(scores).any(axis=1))
    if bad_rows.size:
        raise ArgumentError(
            f"Predictions contain NaN in rows {bad_rows[:10].tolist()}"
            f"{' ...' if bad_rows.size > 10 else ''}. Expected finite scores.")
    table = _table()
    order = np.argsort(-scores, axis=1, kind="stable")[:, :int(top)]
    return [[(table.wnids[j], table.names[j], float(row[j])) for j in idx.tolist()]
            for row, idx in zip(scores, order)]
