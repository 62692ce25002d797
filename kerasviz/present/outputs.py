"""Output folders that are never half-written, never silently overwritten, never written through
a link.

Every command that writes files does it through one :class:`OutputFolder`:

* It is opened **before any heavy work**, so a bad ``--out`` costs one line, not a model run. A
  folder that exists and is not empty must be a previous run of the *same* command (its
  manifest, ``kerasviz-run.json``, says so); anything else is refused unless ``force=True``. A
  symbolic link, as the folder or as any file in it, is refused.
* Each file is written to a temporary name in the same folder, flushed to disk and renamed into
  place (``os.replace``: atomic on POSIX and Windows), so a file is either the old one, the new
  one or absent; a killed run leaves at most a ``*.kerasviz-tmp`` file, removed by the next run.
* The manifest is written with the first file (``"complete": false``, the command and its
  settings; a run that fails before writing anything leaves the folder untouched) and last
  (``"complete": true`` with the list of files), so an interrupted run is recognisable, and a new
  run of the same command first deletes the files the previous one listed: no stale ``stats.json``
  beside new grids, no old ``index.html`` over new pictures. A batch run instead *resumes*
  (``resume=True``): it keeps what the previous run of the same settings finished.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from kerasviz.errors import OutputError

MANIFEST = "kerasviz-run.json"
TMP_SUFFIX = ".kerasviz-tmp"


class OutputFolder:
    """A folder owned by one run of one command.

    Args:
        path: the folder (created with its parents if missing).
        command: what writes it (``"explain"``, ``"demo"``, ``"batch"``); a non-empty folder
            written by another command is refused.
        settings: JSON-able settings of the run (model, methods, options). With ``resume=True`` a
            folder holding a run with other settings is refused (its results would not match).
        force: write into a non-empty folder that is not a previous run of this command (files
            of the same names are replaced; others are left alone).
        resume: keep the previous run's files (a batch run continues where it stopped).

    Raises:
        OutputError: the folder is a file or a link, or holds something this run must not
            overwrite.
    """

    def __init__(self, path: str | os.PathLike, command: str, settings: dict | None = None, *,
                 force: bool = False, resume: bool = False):
        self.path = Path(path)
        self.command = command
        self.settings = dict(settings or {})
        self.files: list[str] = []
        previous = check_folder(self.path, command, self.settings if resume else None, force=force)
        #: True when this run continues a previous one (same command and settings).
        self.resumed = bool(previous) and resume and previous.get("settings") == self.settings
        self._previous = previous
        self._started = False

    def _start(self) -> None:
        """On the first write: create the folder, remove a killed run's temporary files and the
        previous run's files (unless resumed), write the manifest as ``"complete": false``. A run
        that fails before writing anything leaves the folder as it was."""
        if self._started:
            return
        self._started = True
        self.path.mkdir(parents=True, exist_ok=True)
        for stale in self.path.glob(f"*{TMP_SUFFIX}"):
            if not stale.is_symlink():
                stale.unlink()
        if self.resumed:  # every plain file here belongs to the run being continued
            self.files = sorted(f.name for f in self.path.iterdir()
                                if f.name != MANIFEST and _own_file(self.path, f.name))
        else:
            for name in (self._previous or {}).get("files", []):
                if _own_file(self.path, name):
                    (self.path / name).unlink()
        self._write_manifest(complete=False)

    # -- writing ------------------------------------------------------------------------------
    def write_bytes(self, name: str, data: bytes) -> Path:
        """Write ``data`` to ``<folder>/<name>`` atomically; returns the path. ``name`` is a
        plain file name (no folders)."""
        if Path(name).name != name or name in ("", ".", "..", MANIFEST) or name.endswith(TMP_SUFFIX):
            raise OutputError(f"Output file names must be plain names inside the folder. "
                              f"Received: {name!r}.")
        self._start()
        target = self.path / name
        _atomic_write(target, data)
        if name not in self.files:
            self.files.append(name)
        return target

    def write_text(self, name: str, text: str) -> Path:
        return self.write_bytes(name, text.encode("utf-8"))

    def write_png(self, name: str, image) -> Path:
        """``uint8 (H, W, 3)`` RGB or ``(H, W)`` grey as a PNG."""
        from kerasviz.present.render import png_bytes

        return self.write_bytes(name, png_bytes(image))

    def write_npy(self, name: str, array) -> Path:
        return self.write_bytes(name, npy_bytes(array))

    def append_line(self, name: str, record: dict) -> None:
        """Append ``record`` as one JSON line to ``<folder>/<name>``, flushed to disk: a record
        is the commit point of a finished piece of work (a line cut short by a kill is dropped by
        :meth:`read_lines`)."""
        self._start()
        target = self.path / name
        _refuse_link(target)
        line = (json.dumps(record, allow_nan=False) + "\n").encode("utf-8")
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(target, flags, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        if name not in self.files:
            self.files.append(name)

    def read_lines(self, name: str, keep=None) -> list[dict]:
        """The complete JSON records of ``<folder>/<name>`` (a missing file: none). A cut-short
        last line, or records for which ``keep(record)`` is false, are removed from the file
        (rewritten atomically)."""
        target = self.path / name
        if not target.is_file() or target.is_symlink():
            return []
        records, dropped = [], False
        for line in target.read_bytes().splitlines(keepends=True):
            try:
                record = json.loads(line) if line.endswith(b"\n") else None
            except ValueError:
                record = None
            if isinstance(record, dict) and (keep is None or keep(record)):
                records.append(record)
            else:
                dropped = True
        if dropped:
            _atomic_write(target, b"".join((json.dumps(r) + "\n").encode() for r in records))
        return records

    def remove(self, name: str) -> None:
        """Delete ``<folder>/<name>`` if it is a plain file (a previous run's index)."""
        if _own_file(self.path, name):
            (self.path / name).unlink()
        if name in self.files:
            self.files.remove(name)

    def finish(self) -> Path:
        """Mark the run complete (the manifest lists its files); call after the index is
        written. Returns the folder."""
        self._start()
        self._write_manifest(complete=True)
        return self.path

    def _write_manifest(self, complete: bool) -> None:
        record = {"command": self.command, "settings": self.settings, "complete": complete,
                  "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "files": sorted(self.files)}
        _atomic_write(self.path / MANIFEST, (json.dumps(record, indent=1) + "\n").encode())


def check_folder(path: str | os.PathLike, command: str, settings: dict | None = None, *,
                 force: bool = False) -> dict | None:
    """Check that ``command`` may write ``path`` (what :class:`OutputFolder` checks first; call
    it alone to refuse a bad folder before heavy work). ``settings``: those of a run that would
    resume (compared with the previous run's). Returns the previous run's manifest, or None.

    Raises:
        OutputError: as :class:`OutputFolder`.
    """
    p = Path(path)
    if p.is_symlink():
        raise OutputError(f"The output folder {str(p)!r} is a symbolic link; kerasviz never "
                          f"writes through links. Give the real folder "
                          f"({os.path.realpath(p)!r}) or another --out.")
    if p.exists() and not p.is_dir():
        raise OutputError(f"The output folder {str(p)!r} is a file. Expected a folder (new or "
                          f"from a previous run). Give another --out.")
    if not p.exists() or not any(p.iterdir()):
        return None
    previous = _read_manifest(p / MANIFEST)
    if previous is None or previous.get("command") != command:
        if force:
            return None
        what = (f"a previous 'kerasviz {previous.get('command')}' run" if previous
                else "files that kerasviz did not write")
        raise OutputError(f"The output folder {str(p)!r} is not empty: it holds {what}. "
                          f"Give a new or empty --out, or add --force to write into it "
                          f"(files of the same names are replaced).")
    if settings is not None and previous.get("settings") != settings and not force:
        changed = _differences(previous.get("settings"), settings)
        raise OutputError(f"The output folder {str(p)!r} holds a 'kerasviz {command}' run "
                          f"with other settings ({changed}); its results would not match. "
                          f"Give a new --out, or add --force to start over in it.")
    return previous


def npy_bytes(array) -> bytes:
    """``array`` as the bytes of a ``.npy`` file (no pickled objects)."""
    import io

    import numpy as np

    buf = io.BytesIO()
    np.save(buf, np.asarray(array), allow_pickle=False)
    return buf.getvalue()


def _atomic_write(target: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``target``, flush it to disk, rename it over
    ``target``. Refuses when ``target`` is a symbolic link."""
    _refuse_link(target)
    tmp = target.with_name(f".{target.name}.{os.getpid()}{TMP_SUFFIX}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, 0o644)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _refuse_link(target: Path) -> None:
    if target.is_symlink():
        raise OutputError(f"{str(target)!r} is a symbolic link; kerasviz never writes through or "
                          f"over links. Give an output folder without links (remove the link, or "
                          f"choose another --out).")


def _own_file(folder: Path, name: str) -> bool:
    """Whether ``name`` (from a manifest) is a plain regular file directly in ``folder``."""
    path = folder / name
    return Path(name).name == name and path.is_file() and not path.is_symlink()


def _read_manifest(path: Path) -> dict | None:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _differences(old, new) -> str:
    old, new = old or {}, new or {}
    keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    return ", ".join(f"{k}: {old.get(k)!r} then, {new.get(k)!r} now" for k in keys[:3])
