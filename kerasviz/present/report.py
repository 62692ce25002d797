"""A self-contained HTML report: sections of text, tables and PNG figures written beside it.

Numpy / PIL only (no TensorFlow). Used by ``kerasviz demo``; the same writer suits any command
that leaves pictures for a person to look at.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from kerasviz.present.render import save_png


@dataclass
class _Figure:
    file: str
    caption: str


@dataclass
class _Section:
    title: str
    text: str = ""
    figures: list = field(default_factory=list)
    table: tuple | None = None


class Report:
    """Collects sections and figures, then writes ``index.html`` and its PNGs into a folder.

    Example::

        rep = Report("kerasviz demo", out_dir)
        rep.section("Grad-CAM", "Where the model looked.")
        rep.figure("gradcam_0", overlay_uint8, "circle (97 %)")
        rep.write()   # -> out_dir/index.html
    """

    def __init__(self, title: str, out_dir: str | Path):
        self.title = title
        self.out_dir = Path(out_dir)
        self.sections: list[_Section] = []

    def section(self, title: str, text: str = "") -> None:
        self.sections.append(_Section(title, text))

    def figure(self, name: str, image: np.ndarray, caption: str = "") -> Path:
        """Save ``uint8 (H, W, 3)`` as ``<name>.png`` in the report folder and show it in the
        current section; returns the PNG's path."""
        file = re.sub(r"[^A-Za-z0-9_.-]+", "_", name) + ".png"
        save_png(self.out_dir / file, image)
        self.sections[-1].figures.append(_Figure(file, caption))
        return self.out_dir / file

    def table(self, header: Sequence[str], rows: Sequence[Sequence]) -> None:
        self.sections[-1].table = (list(header), [list(r) for r in rows])

    def write(self) -> Path:
        """Write ``index.html``; returns its path."""
        e = html.escape
        parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{e(self.title)}</title>",
                 "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
                 "figure{display:inline-block;margin:6px;vertical-align:top;text-align:center}"
                 "figure img{image-rendering:pixelated;border:1px solid #ccc;max-width:520px}"
                 "figcaption{font-size:13px;max-width:260px;margin:auto}"
                 "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px}"
                 "</style></head><body>", f"<h1>{e(self.title)}</h1>"]
        for s in self.sections:
            parts.append(f"<h2>{e(s.title)}</h2>")
            if s.text:
                parts.append(f"<p>{e(s.text)}</p>")
            if s.table:
                header, rows = s.table
                parts.append("<table><tr>" + "".join(f"<th>{e(str(h))}</th>" for h in header) + "</tr>")
                parts += ["<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in r) + "</tr>" for r in rows]
                parts.append("</table>")
            for f in s.figures:
                parts.append(f"<figure><img src='{e(f.file)}' alt='{e(f.caption)}'>"
                             f"<figcaption>{e(f.caption)}</figcaption></figure>")
        parts.append("</body></html>")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        index = self.out_dir / "index.html"
        index.write_text("\n".join(parts), encoding="utf-8")
        return index
