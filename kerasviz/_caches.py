"""Every per-model cache of kerasviz, so that one call can empty them all.

A cache is keyed weakly by the user's model (a model that is no longer used is collected with
its replays and compiled graphs). Modules create theirs with :func:`model_cache`;
:func:`kerasviz.clear_caches` empties every one (for example after changing a model's layers in
place, or to free memory between experiments).
"""
from __future__ import annotations

import weakref

_CACHES: list = []


def model_cache() -> "weakref.WeakKeyDictionary":
    """A new ``WeakKeyDictionary`` keyed by models, registered for :func:`clear_caches`."""
    cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
    _CACHES.append(cache)
    return cache


def clear_caches() -> None:
    """Empty every kerasviz cache: model replays, compiled explanation and pattern graphs.
    What a model was registered with (preprocessing, class names) is kept. The next call on a
    model rebuilds what it needs."""
    for cache in _CACHES:
        cache.clear()
