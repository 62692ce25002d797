"""Read a PyTorch checkpoint of the *legacy* (non-zip) format into numpy arrays, without PyTorch
and without running pickled code.

Why a reader of our own: PyTorch's own safe loader, ``torch.load(weights_only=True)``, needs
PyTorch (hundreds of MB) to read a 17 MB file; pickle scanners on PyPI (``picklescan``,
``fickling``) tell whether a pickle is dangerous but do not turn its tensors into arrays; and a
plain ``pickle.load`` executes whatever callables the file names. We found no small, maintained
package that reads ``.pth`` tensors without torch, while the legacy format is short to read safely:
The legacy format is short to read safely:

1. four pickles of metadata: a magic number, the protocol version (1001), a ``sys_info`` dict
   (byte order, sizes), then
2. the object itself (a state dict): an ``OrderedDict`` of tensors, each pickled as
   ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)``,
   where ``storage`` is a *persistent id* ``("storage", torch.FloatStorage, key, device,
   numel, view)``,
3. a pickle of the sorted storage keys, then for each key: its element count (int64, little
   endian) and its raw bytes.

The unpickler below resolves only the few globals such a file names (``OrderedDict``,
``_rebuild_tensor[_v2]``, the ``torch.*Storage`` classes), mapped to harmless stand-ins; any
other global (``os.system``, ``builtins.eval``…) raises :class:`ModelError` before anything runs.
"""
from __future__ import annotations

import collections
import pickle
import struct
from pathlib import Path
from typing import Any

import numpy as np

from kerasviz.errors import ModelError

_MAGIC = 0x1950A86A20F9469CFC6C
_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class _Storage:
    """A storage named in the pickle; its bytes come after the pickle (see the module doc)."""

    def __init__(self, dtype: type, numel: int):
        self.dtype, self.numel, self.data = np.dtype(dtype), int(numel), None


class _Tensor:
    """A tensor whose storage is read later: ``(storage, offset, size, stride)``."""

    def __init__(self, storage: _Storage, offset: int, size: tuple, stride: tuple):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def to_numpy(self) -> np.ndarray:
        data = self.storage.data
        if not self.size:
            return data[self.offset].copy()
        if any(s < 0 for s in self.stride) or self.offset < 0:
            raise ModelError("Corrupt checkpoint: negative tensor stride or offset.")
        last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride))
        if min(self.size) > 0 and last >= data.size:
            raise ModelError(f"Corrupt checkpoint: a tensor of size {self.size} reaches past its "
                             f"storage of {data.size} elements.")
        item = data.itemsize
        view = np.lib.stride_tricks.as_strided(
            data[self.offset:], self.size, tuple(s * item for s in self.stride), writeable=False)
        return np.array(view)  # a C-contiguous copy


def _rebuild_tensor(storage, offset, size, stride, *_ignored) -> _Tensor:
    if not isinstance(storage, _Storage):
        raise ModelError("Corrupt checkpoint: a tensor without a storage.")
    return _Tensor(storage, int(offset), size, stride)


class _SafeUnpickler(pickle.Unpickler):
    """Resolves only the globals of a tensor state dict; refuses every other one."""

    def __init__(self, file, storages: dict[str, _Storage]):
        super().__init__(file)
        self._storages = storages

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _STORAGE_DTYPES[name]
        raise ModelError(f"Refused to load the checkpoint: it names the global {module}.{name}. "
                         f"Expected only a state dict of tensors (OrderedDict, "
                         f"torch._utils._rebuild_tensor_v2, torch.*Storage); kerasviz never runs "
                         f"other pickled code.")

    def persistent_load(self, pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise ModelError(f"Unsupported persistent id in the checkpoint: {pid!r:.80}.")
        _, dtype, key, _device, numel = pid[:5]
        if len(pid) > 5 and pid[5] is not None:
            raise ModelError("Unsupported checkpoint: storage views (PyTorch < 0.4).")
        if key not in self._storages:
            self._storages[key] = _Storage(dtype, numel)
        return self._storages[key]


def load_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """Read a legacy (non-zip) PyTorch state dict file.

    Args:
        path: a ``.pth`` / ``.pt`` file written by ``torch.save`` with
            ``_use_new_zipfile_serialization=False`` (or by PyTorch < 1.6).

    Returns:
        ``{name: array}`` in file order; arrays keep the tensors' shapes (PyTorch layout, e.g.
        conv kernels ``(out, in, kh, kw)``) and dtypes (``float32``, ``int64``…).

    Raises:
        ModelError: a zip-format or otherwise unreadable file, a global other than those of a
            tensor state dict, or truncated storage data.
    """
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(4)
        if head.startswith(b"PK"):
            raise ModelError(f"'{path}' is a zip-format PyTorch checkpoint. Expected the legacy "
                             f"format (torch.save(..., _use_new_zipfile_serialization=False)).")
        f.seek(0)
        try:
            meta = [pickle.Unpickler(f).load() for _ in range(3)]
            if meta[0] != _MAGIC or meta[1] != 1001 or not meta[2].get("little_endian"):
                raise ModelError(f"'{path}' is not a little-endian legacy PyTorch checkpoint "
                                 f"(magic number, protocol {meta[1]!r}).")
            storages: dict[str, _Storage] = {}
            obj = _SafeUnpickler(f, storages).load()
            keys = pickle.Unpickler(f).load()
        except (pickle.UnpicklingError, EOFError, AttributeError, TypeError, ValueError) as exc:
            if isinstance(exc, ModelError):
                raise
            raise ModelError(f"Could not read '{path}' as a legacy PyTorch checkpoint: "
                             f"{exc}") from None
        for key in keys:
            storage = storages[key]
            head = f.read(8)
            numel = struct.unpack("<q", head)[0] if len(head) == 8 else -1
            raw = f.read(max(numel, 0) * storage.dtype.itemsize)
            if numel != storage.numel or len(raw) != numel * storage.dtype.itemsize:
                raise ModelError(f"'{path}' is truncated or corrupt (storage {key}).")
            storage.data = np.frombuffer(raw, storage.dtype)
    if not isinstance(obj, dict):
        raise ModelError(f"'{path}' holds a {type(obj).__name__}. Expected a state dict.")
    return {name: t.to_numpy() if isinstance(t, _Tensor) else t for name, t in obj.items()}
