"""The `dvc plots` page works offline: the template DVC fills (.dvc/config plots.html_template) has the
placeholder, loads nothing from the network, and inlines vendored vega, vega-lite and vega-embed whose
sha256 match the vendor README; the project's Vega-Lite templates (.dvc/plots/) fill with DVC's renderer."""

from __future__ import annotations

import configparser
import hashlib
import json
import re
from pathlib import Path

import pytest
import yaml

from analysis.paper import plots_page
from analysis.paper.triangulation import COLUMNS as TRIANGULATION_COLUMNS
from support.config import ROOT

REMOTE = re.compile(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", re.I)


@pytest.fixture(scope="module")
def template() -> str:
    return plots_page.TEMPLATE.read_text(encoding="utf-8")


def markup(template: str) -> str:
    """The template without the inlined library code (which names URLs in strings it never fetches)."""
    return re.sub(r"(<script data-vendored=\"[^\"]+\">).*?(</script>)", r"\1\2", template, flags=re.S)


def test_dvc_config_points_at_the_template():
    config = configparser.ConfigParser()
    config.read(ROOT / ".dvc" / "config")
    assert (ROOT / ".dvc" / config["plots"]["html_template"]).resolve() == plots_page.TEMPLATE.resolve()


def test_template_has_the_placeholder_and_no_cdn_scripts(template):
    assert template.count(plots_page.PLOTS_PLACEHOLDER) == 1
    for placeholder in plots_page.OTHER_PLACEHOLDERS:  # {scripts} would bring back DVC's CDN <script src=...>
        assert placeholder not in template
    assert not re.search(r"<script\b[^>]*\bsrc\s*=", template, flags=re.I)
    page = markup(template)
    assert not re.search(r"<(link|img|iframe)\b[^>]*\b(src|href)\s*=", page, flags=re.I)
    assert not REMOTE.search(page), REMOTE.search(page)
    assert "@import" not in markup(template)


def test_vendored_files_match_the_readme():
    listed = plots_page.listed_files()
    assert sorted(listed) == sorted(plots_page.SCRIPTS)
    assert {row["package"] for row in listed.values()} == {"vega", "vega-lite", "vega-embed"}
    for name, row in listed.items():
        path = plots_page.VENDOR / name
        assert hashlib.sha256(path.read_bytes()).hexdigest() == row["sha256"], name
        assert re.fullmatch(r"\d+\.\d+\.\d+", row["version"])
        licence = (path.parent / "LICENSE").read_text()
        assert "Redistribution and use in source and binary forms" in licence, name


def test_template_inlines_exactly_the_vendored_files_in_load_order(template):
    inlined = plots_page.inlined_scripts(template)
    assert list(inlined) == list(plots_page.SCRIPTS)  # vega, then vega-lite, then vega-embed
    for name, text in inlined.items():
        assert text == (plots_page.VENDOR / name).read_text(encoding="utf-8").rstrip(), name
    assert plots_page.render_template(template) == template  # refresh: python -m analysis.paper.plots_page


def test_a_changed_vendored_file_is_refused(tmp_path):
    vendor = tmp_path / "vendor"
    for name in (*plots_page.SCRIPTS, "README.md"):
        (vendor / name).parent.mkdir(parents=True, exist_ok=True)
        (vendor / name).write_bytes((plots_page.VENDOR / name).read_bytes())
    with (vendor / plots_page.SCRIPTS[1]).open("a") as f:
        f.write("\n// edited\n")
    with pytest.raises(plots_page.VendorError, match="vega-lite.min.js: sha256 .* differs"):
        plots_page.render_template(plots_page.TEMPLATE.read_text(encoding="utf-8"), vendor)


def test_refreshing_fills_empty_slots_and_refuses_a_template_without_them(template):
    emptied = plots_page.SLOT.sub(lambda m: m.group(1) + m.group(4), template)
    assert len(emptied) < 10_000 and plots_page.render_template(emptied) == template
    with pytest.raises(plots_page.VendorError, match="script slots"):
        plots_page.render_template(emptied.replace('data-vendored="vega/vega.min.js"', "data-x"))
    with pytest.raises(plots_page.VendorError, match="scripts"):
        plots_page.render_template(emptied.replace("</body>", "{scripts}</body>"))


def test_dvc_renders_the_project_plots_into_an_offline_page(tmp_path):
    from dvc_render import VegaRenderer, render_html

    rows = [{"label": "A", "estimate": "1.2", "ci_low": "1.1", "ci_high": "1.3", "n": "10", "rev": "workspace"},
            {"label": "B", "estimate": "0.9", "ci_low": "0.7", "ci_high": "1.1", "n": "8", "rev": "workspace"}]
    templates = ROOT / ".dvc" / "plots"
    renderers = [VegaRenderer(rows, "forest", template="forest", template_dir=str(templates), x="estimate",
                              y="label", title="t"),
                 VegaRenderer(rows, "flow", template="flow", template_dir=str(templates), x="n", y="label")]
    for renderer in renderers:
        spec = renderer.get_filled_template()
        assert "<DVC_METRIC" not in json.dumps(spec)
        assert spec["data"]["values"] == rows
    page = Path(render_html(renderers, tmp_path / "index.html", html_template=plots_page.TEMPLATE)).read_text()
    assert page.count("vegaEmbed('#") == 2
    assert "cdn.jsdelivr" not in page and not re.search(r"<script[^>]*\bsrc=", page)


def test_dvc_yaml_data_plots_use_the_project_templates_and_columns():
    plots = yaml.safe_load((ROOT / "dvc.yaml").read_text())["plots"]
    data_plots = [next(iter(p.values())) for p in plots if isinstance(p, dict)]
    assert len(data_plots) >= 2
    for plot in data_plots:
        assert (ROOT / ".dvc" / "plots" / f"{plot['template']}.json").is_file()
        assert all(Path(f).suffix == ".csv" for f in plot["y"])
    forest = [p for p in data_plots if p["template"] == "forest"]
    assert forest and {"estimate", "ci_low", "ci_high", "label"} <= set(TRIANGULATION_COLUMNS)
