"""The page template of ``dvc plots show`` / ``dvc plots diff``: a page that draws every plot offline.

How DVC uses a template (dvc-render 1.x, ``dvc_render/html.py``): it reads the file set as
``plots.html_template`` in ``.dvc/config`` and replaces the text ``{plot_divs}`` (required) with one
``<div>`` per plot, ``{scripts}`` with the scripts its renderers ask for and ``{refresh_tag}`` with an
optional ``<meta http-equiv="refresh">``; plain string replacement, so other braces are left alone.
The Vega-Lite renderer's scripts are ``<script src="https://cdn.jsdelivr.net/npm/vega@5...">`` (and
vega-lite, vega-embed): a page with ``{scripts}`` would load them from the CDN and render blank with no
network. The project's template has no ``{scripts}`` placeholder (so DVC's CDN tags are dropped) and
inlines the vendored builds of ``templates/vendor/`` instead; each plot's div then calls ``vegaEmbed``
on the inlined library. Image plots (PNG/SVG) are copied next to the page by DVC and need no script.

The page (``templates/dvc-plots.html``) is edited by hand except for its three script slots, which are
filled from the vendored files after checking them against the sha256 listed in
``templates/vendor/README.md``:

    .venv/bin/python -m analysis.paper.plots_page
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from analysis.core import io

TEMPLATES = Path(__file__).parent / "templates"
VENDOR = TEMPLATES / "vendor"
TEMPLATE = TEMPLATES / "dvc-plots.html"
#: The vendored scripts, in the order they must load (vega-lite needs vega; vega-embed needs both).
SCRIPTS = ("vega/vega.min.js", "vega-lite/vega-lite.min.js", "vega-embed/vega-embed.min.js")
#: DVC's placeholders (dvc_render.html.HTML): the template must hold the first and none of the others.
PLOTS_PLACEHOLDER = "{plot_divs}"
OTHER_PLACEHOLDERS = ("{scripts}", "{refresh_tag}")

#: A slot of the template: a script element named by its vendored file, filled with that file's text.
SLOT = re.compile(r'(<script data-vendored="([^"]+)">\n)(.*?)(\n  </script>)', flags=re.S)


class VendorError(ValueError):
    """A vendored script is missing, or differs from the sha256 recorded in the vendor README."""


def listed_files(readme: Path = VENDOR / "README.md") -> dict[str, dict[str, str]]:
    """The vendor README's table: file (relative to the vendor folder) -> package, version, sha256."""
    rows = {}
    for line in Path(readme).read_text(encoding="utf-8").splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and re.fullmatch(r"[0-9a-f]{64}", cells[3]):
            rows[cells[2]] = {"package": cells[0], "version": cells[1], "sha256": cells[3]}
    return rows


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def checked_scripts(vendor: Path = VENDOR) -> dict[str, str]:
    """The text of every script of :data:`SCRIPTS`, after checking it against the README's sha256."""
    listed = listed_files(Path(vendor) / "README.md")
    texts = {}
    for name in SCRIPTS:
        path = Path(vendor) / name
        if name not in listed:
            raise VendorError(f"{Path(vendor) / 'README.md'}: no row for {name}; add its package, version and sha256")
        if not path.is_file():
            raise VendorError(f"{path} is missing: download it as the vendor README says")
        if sha256(path) != listed[name]["sha256"]:
            raise VendorError(f"{path}: sha256 {sha256(path)} differs from {listed[name]['sha256']} in the vendor "
                              "README; download the file again or update the README on purpose")
        text = path.read_text(encoding="utf-8")
        if "</script" in text.lower() or any(p in text for p in (PLOTS_PLACEHOLDER, *OTHER_PLACEHOLDERS)):
            raise VendorError(f"{path} contains '</script' or a DVC placeholder: it cannot be inlined as is")
        texts[name] = text
    return texts


def render_template(template: str, vendor: Path = VENDOR) -> str:
    """``template`` with each slot (``<script data-vendored="vega/vega.min.js">``, one per file of
    :data:`SCRIPTS`, in load order) filled with the checked vendored file; the rest of the page is kept."""
    scripts = checked_scripts(vendor)
    slots = [m.group(2) for m in SLOT.finditer(template)]
    if slots != list(SCRIPTS):
        raise VendorError(f"the plots template has script slots {slots}; it needs one per vendored file, in load "
                          f"order: {list(SCRIPTS)}")
    if template.count(PLOTS_PLACEHOLDER) != 1 or any(p in template for p in OTHER_PLACEHOLDERS):
        raise VendorError(f"the plots template needs {PLOTS_PLACEHOLDER} once and none of {OTHER_PLACEHOLDERS} "
                          "(DVC would replace {scripts} with its CDN script tags)")
    return SLOT.sub(lambda m: m.group(1) + scripts[m.group(2)].rstrip() + m.group(4), template)


def inlined_scripts(template: str) -> dict[str, str]:
    """The scripts inlined in a template, by vendored file name."""
    return {m.group(2): m.group(3) for m in SLOT.finditer(template)}


def refresh_template(path: Path = TEMPLATE, vendor: Path = VENDOR) -> Path:
    """Refill the template's script slots from the vendored files, in place (atomically)."""
    return io.write_text(path, render_template(Path(path).read_text(encoding="utf-8"), vendor))


if __name__ == "__main__":
    print(f"refreshed the vendored scripts of {refresh_template()}")
