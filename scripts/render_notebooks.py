"""Execute the notebooks in a clean kernel and render them into the documentation.

    python scripts/render_notebooks.py            # all of notebooks/*.ipynb
    python scripts/render_notebooks.py 02         # the ones whose name starts with 02

Each notebook runs from a fresh ``python3`` kernel (nbclient), is written as
``docs/notebooks/<name>.md`` with its outputs (text as code blocks, figures as PNG or JPEG files
under ``docs/notebooks/img/``) and is never saved back: the notebooks stay stripped in git
(``tests/test_notebooks.py`` checks that, runs them the same way, and checks that the rendered
pages show the current code). TensorFlow's C++ start-up lines, which no environment variable
silences in TF 2.21, are left out of the pages; any other stderr output is kept.
"""
from __future__ import annotations

import base64
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
PAGES = ROOT / "docs" / "notebooks"
TIMEOUT_S = 600  # per cell
LARGE_PNG_BYTES = 250_000

#: A line TensorFlow's C++ runtime prints at start-up ("I0000 00:00:… port.cc:153] …").
_TF_LOG_LINE = re.compile(r"^(?:[IWEF]\d{4} \d\d:\d\d:[\d.]+ +\d+ [\w.]+:\d+\] .*"
                          r"|WARNING: All log messages before absl::InitializeLog\(\) is called .*"
                          r"|To enable the following instructions: .*, in other operations, .*"
                          r"|\s*)$")


def notebooks(prefix: str = "") -> list[Path]:
    """The notebooks in ``notebooks/`` whose file name starts with ``prefix``, sorted."""
    return sorted(NOTEBOOKS.glob(f"{prefix}*.ipynb"))


def execute(path: Path):
    """The notebook at ``path`` executed top to bottom in a fresh kernel whose working folder is
    ``notebooks/`` (a ``nbformat.NotebookNode``; raises ``nbclient``'s CellExecutionError on the
    first failing cell)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=TIMEOUT_S, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    return nb


def noise_free(text: str) -> str:
    """``text`` without TensorFlow's C++ start-up lines."""
    return "".join(line for line in text.splitlines(keepends=True) if not _TF_LOG_LINE.match(line))


def doc_links(markdown: str) -> str:
    """Links from a notebook (relative to ``notebooks/``) made relative to ``docs/notebooks/``."""
    markdown = markdown.replace("](../docs/", "](../")
    return re.sub(r"\]\((\d\d_\w+)\.ipynb\)", r"](\1.md)", markdown)


def _save_figure(png: bytes, stem: Path) -> str:
    """Write a figure as ``stem.png``, or as ``stem.jpg`` when the PNG is large (photos and noisy
    filter patterns: JPEG is 5-10x smaller at no visible loss); returns the file name."""
    if len(png) <= LARGE_PNG_BYTES:
        stem.with_suffix(".png").write_bytes(png)
        return stem.name + ".png"
    import io

    from PIL import Image

    Image.open(io.BytesIO(png)).convert("RGB").save(stem.with_suffix(".jpg"), quality=85)
    return stem.name + ".jpg"


def to_markdown(nb, name: str, images: Path) -> str:
    """The executed notebook as one Markdown page; figures are written to ``images/`` as
    ``<name>_<cell>_<k>.png`` (or ``.jpg``) and linked as ``img/…``."""
    parts = [f"<!-- Rendered from notebooks/{name}.ipynb by scripts/render_notebooks.py: edit the "
             f"notebook, then run the script. -->\n"]
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            parts.append(doc_links(cell.source) + "\n")
            continue
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        parts.append(f"```python\n{cell.source}\n```\n")
        for k, out in enumerate(cell.get("outputs", [])):
            if out.output_type == "stream":
                text = noise_free(out.text) if out.name == "stderr" else out.text
                if text.strip():
                    parts.append(f"```text\n{text.rstrip()}\n```\n")
            elif out.output_type in ("display_data", "execute_result"):
                if "image/png" in out.data:
                    png = base64.b64decode(out.data["image/png"])
                    file = _save_figure(png, images / f"{name}_{i}_{k}")
                    parts.append(f"![output of cell {i}](img/{file})\n")
                elif "text/plain" in out.data:
                    parts.append(f"```text\n{out.data['text/plain'].rstrip()}\n```\n")
    return "\n".join(parts)


def render(path: Path) -> float:
    """Execute one notebook and write its page; returns the seconds it ran."""
    start = time.perf_counter()
    nb = execute(path)
    seconds = time.perf_counter() - start
    images = PAGES / "img"
    images.mkdir(parents=True, exist_ok=True)
    for old in [*images.glob(f"{path.stem}_*.png"), *images.glob(f"{path.stem}_*.jpg")]:
        old.unlink()
    page = PAGES / f"{path.stem}.md"
    tmp = page.with_suffix(".md.tmp")
    tmp.write_text(to_markdown(nb, path.stem, images))
    tmp.replace(page)
    return seconds


def main(argv: list[str]) -> int:
    paths = notebooks(argv[0] if argv else "")
    if not paths:
        print(f"no notebook in {NOTEBOOKS} starts with {argv[0]!r}", file=sys.stderr)
        return 2
    for path in paths:
        print(f"{path.name}: {render(path):.0f} s -> docs/notebooks/{path.stem}.md", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
