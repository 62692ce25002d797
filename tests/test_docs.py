"""The documentation's interactive examples (``>>>`` blocks) are run as doctests, so the
outputs the pages show are what kerasviz prints today."""
import doctest
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted(p for p in [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *(ROOT / "docs").rglob("*.md")]
               if p.exists() and ">>> " in p.read_text(encoding="utf-8"))


def test_some_page_has_examples():
    assert PAGES, "no >>> examples found in the docs"


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_examples_in_page(page):
    result = doctest.testfile(str(page), module_relative=False, optionflags=doctest.ELLIPSIS,
                              verbose=False, report=True)
    assert result.attempted > 0 and result.failed == 0, result
