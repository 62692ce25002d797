"""Griffe extension: show kerasviz's reST-flavoured docstrings as Markdown in the API reference.

The docstrings are Google style (sections ``Args:``, ``Returns:``, ``Raises:``) with a few reST
habits that read well in ``help()``: ``:func:`x``` roles, ``::`` before a literal block and simple
``====`` tables. mkdocstrings renders Markdown, so this turns the roles into code spans, ``::``
into ``:`` and the simple tables into Markdown tables. The source files are not changed.
"""
from __future__ import annotations

import re

import griffe

_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|data|attr|mod|exc|obj):`~?([^`]+)`")
_RULE = re.compile(r"^ *=+( +=+)+ *$")


def _table(lines: list[str]) -> list[str]:
    """Convert one reST simple table (rules included) to Markdown rows."""
    rule = lines[0]
    starts = [m.start() for m in re.finditer(r"=+", rule)]
    rows: list[list[str]] = []
    for line in lines[1:]:
        if _RULE.match(line):
            continue
        cells = [line[a:b].strip() for a, b in zip(starts, starts[1:] + [None])]
        if rows and not cells[0]:  # continuation line: append to the previous row's cells
            rows[-1] = [f"{old} {new}".strip() for old, new in zip(rows[-1], cells)]
        else:
            rows.append(cells)
    if not rows:
        return lines
    out = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    out += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return out


_SECTION = re.compile(r"^(\s*)(Args|Arguments|Parameters|Raises):\s*$")
_ENTRY = re.compile(r"^(\s+)([\w*]+(?:\s*,\s*[\w*]+)+):(\s.*)$")   # "a, b: description"
_PAIR = re.compile(r"^\s+[\w.*]+(\s*\([^)]*\))?:(\s|$)")


def _google_sections(lines: list[str]) -> list[str]:
    """Split "a, b: text" argument entries into one entry per name (same text), and turn a
    ``Raises:`` section that is prose ("As for `activations`.") into a paragraph."""
    out, section = [], None
    for i, line in enumerate(lines):
        m = _SECTION.match(line)
        if m:
            section = m.group(2)
            nxt = next((n for n in lines[i + 1:] if n.strip()), "")
            if section == "Raises" and not _PAIR.match(nxt):
                out.append(f"{m.group(1)}*Raises:*")
                section = None
                continue
        elif line.strip() and not line.startswith((" ", "\t")):
            section = None
        e = _ENTRY.match(line) if section in ("Args", "Arguments", "Parameters") else None
        if e:
            out += [f"{e.group(1)}{name.strip()}:{e.group(3)}" for name in e.group(2).split(",")]
        else:
            out.append(line)
    return out


def _inline(text: str) -> str:
    text = _ROLE.sub(r"`\1`", text)
    return re.sub(r"``([^`]+)``", r"`\1`", text)


def to_markdown(text: str) -> str:
    # tables first: their columns are found by position, before roles shorten the text
    lines, out, i = "\n".join(_google_sections(text.splitlines())).splitlines(), [], 0
    while i < len(lines):
        if _RULE.match(lines[i]):
            j, rules = i + 1, 1
            while j < len(lines) and rules < 3:
                rules += bool(_RULE.match(lines[j]))
                j += 1
            if rules == 3:
                out += ([""] if out and out[-1].strip() else []) + _table(lines[i:j]) + [""]
                i = j
                continue
        line = lines[i]
        if line.rstrip().endswith("::"):
            line = line.rstrip()[:-1] if not line.strip() == "::" else ""
        out.append(line)
        i += 1
    return _inline("\n".join(out))


class ReSTToMarkdown(griffe.Extension):
    def on_object(self, *, obj, loader, **kwargs):
        if obj.docstring is not None:
            obj.docstring.value = to_markdown(obj.docstring.value)
