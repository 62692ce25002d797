"""MkDocs hooks for the kerasviz site (registered in ``mkdocs.yml``; read no TensorFlow).

* ``index.md`` is generated from the repository's ``README.md`` (one source for the front page;
  its ``docs/`` prefixes are dropped so links and pictures resolve inside the site, and links to
  other repository files become their paths in code).
* ``contributing.md`` is generated from ``CONTRIBUTING.md`` and added to the navigation only when
  that file exists, so the site never links a missing file.
* The API reference pages are generated from ``kerasviz/__init__.py``'s ``_API`` table (read with
  ``ast``, not imported): one page per subpackage, one ``::: module.name`` entry per public name,
  so a new public name or a moved module appears without editing the docs.
* Any link to outside the repository (``http://``, ``https://``, ``//host``) in a page is a
  warning, so ``mkdocs build --strict`` fails on it.
"""
from __future__ import annotations

import ast
import logging
import re
from pathlib import Path

from mkdocs.structure.files import File

log = logging.getLogger("mkdocs.hooks.kerasviz")

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = "API reference"

#: subpackage -> (page file, title, one-line description); unknown subpackages get their own page
ROLES = {
    "methods": ("explaining", "Explaining decisions", "`kerasviz.explain`, the method registry"),
    "present": ("presentation", "Presentation", "the `Explanation` result object, `kerasviz.compare` and `kerasviz.render`"),
    "core": ("inputs", "Inputs", "images, models and weights, layers, targets, ImageNet classes"),
    "inside": ("inside", "Inside the network", "activations, statistics, filter weights and patterns"),
    "metrics": ("metrics", "Metrics and sanity checks", "`kerasviz.evaluate`, faithfulness metrics, the randomisation checks"),
    "data": ("data", "Demo data and models", "the shipped data generators and demo models"),
    "apps": ("apps", "Batch runs", "`kerasviz.batch_explain` over many images, resumable"),
    "": ("errors", "Errors and caches", "the error tree and `kerasviz.clear_caches`"),
}


def _public_api() -> tuple[dict[str, str], str]:
    """``(_API, errors module)`` read statically from ``kerasviz/__init__.py``."""
    tree = ast.parse((ROOT / "kerasviz" / "__init__.py").read_text())
    api, errors = {}, "kerasviz.errors"
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "_API" for t in targets):
                api = ast.literal_eval(node.value)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.endswith("errors"):
            errors = node.module
    if not api:
        raise RuntimeError("kerasviz/__init__.py has no _API table; docs/hooks.py reads it")
    return api, errors


#: defining path -> public name, for the headings of the API reference
PUBLIC_NAMES: dict[str, str] = {}


def _reference_pages() -> dict[str, tuple[str, str]]:
    """``{file name: (title, markdown)}`` of the API reference."""
    api, errors = _public_api()
    modules = {path for name, path in api.items() if path.endswith("." + name)}
    entries: dict[str, list[tuple[str, str]]] = {}
    for name, path in api.items():
        is_module = path.endswith("." + name)
        if not is_module and path in modules:
            continue  # documented inside its module's entry (kerasviz.imagenet.decode_predictions)
        parts = path.split(".")
        sub = len(parts) > 2 or (ROOT / "kerasviz" / parts[-1]).is_dir()  # kerasviz.methods
        role = parts[1] if sub and not parts[1].startswith("_") else ""
        entries.setdefault(role, []).append((name, path if is_module else f"{path}.{name}"))
    entries.setdefault("", []).insert(0, ("errors", errors))
    pages = {}
    order = list(ROLES) + sorted(r for r in entries if r not in ROLES)
    for role in order:
        if role not in entries:
            continue
        slug, title, about = ROLES.get(role, (role, role.capitalize(), f"`kerasviz.{role}`"))
        md = [f"# {title}", "", f"API reference: {about}. Generated from the docstrings "
              "(each entry is headed by its public name).", ""]
        for name, target in entries[role]:
            PUBLIC_NAMES[target] = f"kerasviz.{name}"
            md += [f"::: {target}", "    options:", f'      heading: "kerasviz.{name}"',
                   f'      toc_label: "kerasviz.{name}"', ""]
        pages[f"reference/{slug}.md"] = (title, "\n".join(md))
    return pages


def on_config(config):
    pages = _reference_pages()
    config.extra["_kv_reference"] = pages
    nav = config.nav or []
    for i, item in enumerate(nav):
        if isinstance(item, dict) and REFERENCE in item:
            nav[i] = {REFERENCE: ["reference/index.md"] + [{t: f} for f, (t, _) in pages.items()]}
            if (ROOT / "CONTRIBUTING.md").is_file():
                nav.insert(i, {"Contributing": "contributing.md"})
            break
    else:
        raise RuntimeError(f"mkdocs.yml's nav needs an '{REFERENCE}' entry (docs/hooks.py fills it)")
    return config


_LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")


def _into_site(markdown: str) -> str:
    """A root-level Markdown file as a page at the site's root: ``docs/x.md`` becomes ``x.md``,
    ``CONTRIBUTING.md`` the Contributing page, and a link to any other repository file (which
    is not part of the site) its path in code, e.g. `tests/test_methods_contract.py`."""
    def fix(m):
        bang, text, target = m.groups()
        if target.startswith(("#", "http:", "https:", "//", "mailto:")):
            return m.group(0)  # anchors stay; external links are reported by on_page_markdown
        path, _, anchor = target.partition("#")
        if path.startswith("docs/"):
            return f"{bang}[{text}]({target[5:]})"
        if path == "CONTRIBUTING.md" and (ROOT / path).is_file():
            return f"[{text}](contributing.md{'#' + anchor if anchor else ''})"
        return text if text.strip("`") == path else f"{text} (`{path}`)"
    return _LINK.sub(fix, re.sub(r'src="docs/', 'src="', markdown))


def on_files(files, config):
    files.append(File.generated(config, "index.md", content=_into_site((ROOT / "README.md").read_text())))
    contributing = ROOT / "CONTRIBUTING.md"
    if contributing.is_file():
        files.append(File.generated(config, "contributing.md",
                                    content=_into_site(contributing.read_text())))
    for path, (_, md) in config.extra["_kv_reference"].items():
        files.append(File.generated(config, path, content=md))
    return files


_EXTERNAL_MD = re.compile(r"(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_EXTERNAL_HTML = re.compile(r"""(?:href|src)=["'](?:https?:)?//""")


def on_page_markdown(markdown, page, config, files):
    if page.file.src_uri == "reference/index.md":
        markdown += "\n" + "\n".join(f"- [{t}]({f.split('/', 1)[1]})"
                                      for f, (t, _) in config.extra["_kv_reference"].items()) + "\n"
    for match in _EXTERNAL_MD.finditer(markdown):
        log.warning("%s links outside the repository (%s): the docs must work offline",
                    page.file.src_uri, match.group(0))
    return markdown


def _public_toc(items):
    for item in items:
        if item.id in PUBLIC_NAMES:
            item.title = PUBLIC_NAMES[item.id]
        _public_toc(item.children)


def on_page_content(html, page, config, files):
    if page.file.src_uri.startswith("reference/"):
        # mkdocstrings' readthedocs class template ignores the `heading` option: name classes
        # (and anything else headed by its defining path) by their public name here.
        for path, public in PUBLIC_NAMES.items():
            html = re.sub(rf'(<h\d id="{re.escape(path)}"[^>]*>\s*<span class="doc doc-object-name[^"]*">)'
                          rf"[^<]*(</span>)", rf"\g<1>{public}\g<2>", html)
        _public_toc(page.toc.items)
    if _EXTERNAL_HTML.search(html):
        log.warning("%s has a link outside the repository (from a docstring?)", page.file.src_uri)
    return html


def on_post_build(config):
    """The built site loads nothing from the network (theme assets, fonts, scripts included), and
    the build read the docstrings without importing kerasviz or TensorFlow."""
    import sys

    for module in ("tensorflow", "keras", "kerasviz"):
        if module in sys.modules:
            log.warning("the docs build imported %s: the API reference must be read statically "
                        "(allow_inspection: false)", module)
    site = Path(config.site_dir)
    for path in sorted(site.rglob("*.html")):
        for match in _EXTERNAL_HTML.finditer(path.read_text(encoding="utf-8")):
            log.warning("built page %s references the network: %s…",
                        path.relative_to(site), match.group(0))
            break
