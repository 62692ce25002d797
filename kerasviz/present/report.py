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

from kerasviz.present.outputs import OutputFolder
from kerasviz.present.render import colormap_stops


@dataclass
class _Figure:
    file: str
    caption: str
    legend: str | None = None   # colormap name: a colour scale is drawn under the figure
    pixelated: bool = False     # crisp enlarged pixels (small synthetic images), not photos


@dataclass
class _Section:
    title: str
    text: str = ""
    figures: list = field(default_factory=list)
    table: tuple | None = None
    notes: list = field(default_factory=list)
    inline: bool = False        # figures side by side (a row of small pictures)


class Report:
    """Collects sections and figures, then writes ``index.html`` and its PNGs into a folder.

    Each PNG is written when it is added and ``index.html`` last, all through an
    :class:`~kerasviz.present.outputs.OutputFolder` (atomic files; a run killed midway leaves no
    index over new pictures).

    Example::

        rep = Report("kerasviz demo", OutputFolder(out_dir, "demo"))
        rep.section("Grad-CAM", "Where the model looked.")
        rep.figure("gradcam_0", overlay_uint8, "circle (97 %)")
        rep.write()   # -> out_dir/index.html
    """

    def __init__(self, title: str, folder: OutputFolder):
        self.title = title
        self.folder = folder
        self.sections: list[_Section] = []

    def section(self, title: str, text: str = "", inline: bool = False) -> None:
        """Start a section; ``inline=True`` puts its figures side by side."""
        self.sections.append(_Section(title, text, inline=inline))

    def note(self, text: str) -> None:
        """A one-line remark in the current section (e.g. why a part was skipped)."""
        self.sections[-1].notes.append(text)

    def figure(self, name: str, image: np.ndarray, caption: str = "", *,
               legend: str | None = None, pixelated: bool = False) -> Path:
        """Save ``uint8 (H, W, 3)`` as ``<name>.png`` in the report folder and show it in the
        current section; returns the PNG's path. ``legend``: the colormap of the heatmaps in the
        picture, drawn as a colour scale (low → high attribution) under it."""
        file = re.sub(r"[^A-Za-z0-9_.-]+", "_", name) + ".png"
        path = self.folder.write_png(file, image)
        self.sections[-1].figures.append(_Figure(file, caption, legend, pixelated))
        return path

    def table(self, header: Sequence[str], rows: Sequence[Sequence]) -> None:
        self.sections[-1].table = (list(header), [list(r) for r in rows])

    def write(self) -> Path:
        """Write ``index.html`` and mark the folder's run complete; returns the index's path."""
        e = html.escape
        parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
                 f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
                 f"<title>{e(self.title)}</title><style>{_CSS}</style></head><body>",
                 f"<h1>{e(self.title)}</h1>"]
        for s in self.sections:
            parts.append(f"<section><h2>{e(s.title)}</h2>")
            if s.text:
                parts.append(f"<p>{e(s.text)}</p>")
            parts += [f"<p class='note'>{e(n)}</p>" for n in s.notes]
            if s.table:
                header, rows = s.table
                parts.append("<div class='scroll'><table><tr>"
                             + "".join(f"<th>{e(str(h))}</th>" for h in header) + "</tr>")
                parts += ["<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in r) + "</tr>" for r in rows]
                parts.append("</table></div>")
            if s.inline:
                parts.append("<div class='inline'>")
            for f in s.figures:
                cls = " class='pixelated'" if f.pixelated else ""
                parts.append(f"<figure><img{cls} src='{e(f.file)}' alt='{e(f.caption)}'>"
                             + (_legend(f.legend) if f.legend else "")
                             + f"<figcaption>{e(f.caption)}</figcaption></figure>")
            if s.inline:
                parts.append("</div>")
            parts.append("</section>")
        parts.append("</body></html>")
        index = self.folder.write_text("index.html", "\n".join(parts))
        self.folder.finish()
        return index


_CSS = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:1.5em auto;padding:0 12px;"
        "color:#222;line-height:1.45}"
        "figure{margin:14px 0;max-width:100%}"
        "figure img{display:block;max-width:100%;height:auto;border:1px solid #ccc}"
        "img.pixelated{image-rendering:pixelated}"
        ".inline{display:flex;flex-wrap:wrap;gap:10px}.inline figure{max-width:220px}"
        "figcaption{font-size:14px;color:#444;margin-top:4px}"
        ".legend{display:flex;align-items:center;gap:6px;font-size:12px;color:#555;"
        "max-width:360px;margin-top:4px}.legend .bar{flex:1;height:10px;border:1px solid #aaa}"
        ".note{background:#f4f6f8;border-left:4px solid #8aa;padding:6px 10px}"
        ".scroll{overflow-x:auto}table{border-collapse:collapse;font-size:14px}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}")


def _legend(colormap: str) -> str:
    """A colour scale for heatmaps drawn with ``colormap``: low → high attribution."""
    gradient = ",".join(colormap_stops(colormap))
    return (f"<div class='legend' data-colormap='{html.escape(colormap)}'><span>low</span>"
            f"<span class='bar' style='background:linear-gradient(to right,{gradient})'></span>"
            f"<span>high attribution</span></div>")
