"""County maps of isolation, lack of support and one social-infrastructure measure, offline.

Two renderings of the same county values (``data/processed/places_infrastructure.parquet``):

* an interactive page, ``county_maps.html``: a Vega-Lite specification (``county_maps.vl.json``, repeated over
  the three measures, each with its own colour scale) drawn by vega-embed, with vega, vega-lite, vega-embed
  (``templates/vendor/``) and the U.S. Census county TopoJSON of the npm package ``us-atlas`` 3.0.1
  (``templates/vendor/us-atlas/counties-10m.json``, projected ``albersUsa``) inlined, each checked against the
  sha256 of its vendor README: the page needs no network;
* a static figure for the PDF, ``county_maps.png`` / ``.svg`` (matplotlib), drawn from us-atlas's pre-projected
  ``counties-albers-10m.json``: the TopoJSON arcs are decoded here (a few lines: quantised, delta-encoded
  coordinates; ``~i`` = arc ``i`` reversed; TopoJSON specification, github.com/topojson/topojson-specification),
  which spares a GIS dependency.

Counties without a value (states that did not field the BRFSS 2022 module, Connecticut's legacy counties) are grey.
The maps describe counties (ecological): a caption on both says so, and that they make no causal claim.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.collections import PathCollection
from matplotlib.colors import Normalize
from matplotlib.path import Path as MplPath
from matplotlib.ticker import MaxNLocator

from analysis.core import config, io
from analysis.paper.plots_page import SCRIPTS, VendorError, checked_scripts, listed_files, sha256
from analysis.report.figures import PRINT_WIDTH_IN, new_figure, styled, write_figure
from analysis.studies.places.settings import load

ATLAS = Path(__file__).parent / "templates" / "vendor" / "us-atlas"
INTERACTIVE_ATLAS = "counties-10m.json"
STATIC_ATLAS = "counties-albers-10m.json"
MISSING_COLOUR = "#d9d9d9"
VEGA_LITE_SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
CAPTION = ("Ecological and descriptive: county values (PLACES 2024 model-based estimates; CHR&R 2025), not people; "
           "no causal claim. Grey: no estimate (states without the BRFSS 2022 social-determinants module; "
           "Connecticut's legacy counties).")


def checked_atlas(name: str, atlas: Path = ATLAS) -> dict:
    """The us-atlas TopoJSON ``name``, after checking its sha256 against the vendor README's table."""
    listed = listed_files(Path(atlas) / "README.md")
    path = Path(atlas) / name
    if name not in listed:
        raise VendorError(f"{Path(atlas) / 'README.md'}: no row for {name}; add its package, version and sha256")
    if not path.is_file():
        raise VendorError(f"{path} is missing: extract it from the us-atlas tarball as the vendor README says")
    if sha256(path) != listed[name]["sha256"]:
        raise VendorError(f"{path}: sha256 {sha256(path)} differs from {listed[name]['sha256']} in the vendor README")
    return json.loads(path.read_text(encoding="utf-8"))


def decode_arcs(topology: dict) -> list[np.ndarray]:
    """Every arc of a TopoJSON topology in plane coordinates (undoing quantisation and delta encoding)."""
    transform = topology.get("transform")
    arcs = []
    for arc in topology["arcs"]:
        points = np.asarray(arc, dtype=float)[:, :2]
        if transform:
            points = np.cumsum(points, axis=0) * np.asarray(transform["scale"]) + np.asarray(transform["translate"])
        arcs.append(points)
    return arcs


def _ring(indices: list[int], arcs: list[np.ndarray]) -> np.ndarray:
    parts = []
    for k, i in enumerate(indices):
        points = arcs[i] if i >= 0 else arcs[~i][::-1]
        parts.append(points if k == 0 else points[1:])  # consecutive arcs share their end point
    return np.concatenate(parts)


def feature_rings(topology: dict, object_name: str) -> dict[str, list[np.ndarray]]:
    """id -> the rings (exterior and holes) of every polygon of the object's geometries."""
    arcs = decode_arcs(topology)
    out: dict[str, list[np.ndarray]] = {}
    for geometry in topology["objects"][object_name]["geometries"]:
        kind = geometry.get("type")
        polygons = ([geometry["arcs"]] if kind == "Polygon" else geometry["arcs"] if kind == "MultiPolygon" else [])
        out[str(geometry.get("id", ""))] = [_ring(ring, arcs) for polygon in polygons for ring in polygon]
    return out


def _compound_path(rings: list[np.ndarray]) -> MplPath:
    vertices, codes = [], []
    for ring in rings:
        vertices.append(ring)
        codes.append(np.r_[MplPath.MOVETO, np.full(len(ring) - 2, MplPath.LINETO), MplPath.CLOSEPOLY])
    return MplPath(np.concatenate(vertices), np.concatenate(codes).astype(np.uint8))


@styled
def static_maps(values: pd.DataFrame, measures: dict[str, str], topology: dict):
    """One map per measure (rows), counties coloured by value (viridis; 2nd-98th percentile range), grey when
    missing, state borders in white. ``values``: ``fips`` and one column per measure."""
    counties = feature_rings(topology, "counties")
    states = feature_rings(topology, "states")
    paths = {fips: _compound_path(rings) for fips, rings in counties.items() if rings}
    # the text width, and short enough not to be shrunk to the page's height: type prints at its size
    caption_in, map_in = 0.45, 2.55
    total = map_in * len(measures) + caption_in
    fig = new_figure(PRINT_WIDTH_IN, total)
    indexed = values.set_index("fips")
    height = map_in / total
    for k, (column, label) in enumerate(measures.items()):
        ax = fig.add_axes((0.0, 1 - (k + 1) * height + 0.02, 0.86, height - 0.07))
        series = indexed[column].reindex(list(paths))
        finite = series.dropna()
        norm = Normalize(*np.percentile(finite, [2, 98])) if len(finite) else Normalize(0, 1)
        cmap = colormaps["viridis"]
        colours = [cmap(norm(v)) if pd.notna(v) else MISSING_COLOUR for v in series]
        shapes = PathCollection(list(paths.values()), facecolors=colours, edgecolors="none", lw=0)
        shapes.set_rasterized(True)  # 3,200 county outlines as vectors would make a 5 MB SVG
        ax.add_collection(shapes)
        border = [_compound_path(r) for r in states.values() if r]
        ax.add_collection(PathCollection(border, facecolors="none", edgecolors="white", linewidths=0.4))
        ax.set_xlim(-60, 960)
        ax.set_ylim(612, 10)  # the Albers plane's y grows downwards
        ax.set_aspect("equal")
        ax.axis("off")
        ax.set_title(label, fontsize=9, loc="left")
        bar = fig.add_axes((0.87, 1 - (k + 1) * height + 0.06, 0.02, height - 0.14))
        fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), cax=bar, ticks=MaxNLocator(4))
        bar.tick_params(labelsize=8)
    fig.text(0.01, 0.005, textwrap.fill(CAPTION, 105), fontsize=7.5)
    return fig


def vega_lite_spec(values: pd.DataFrame, measures: dict[str, str], topology: dict | None = None) -> dict:
    """The Vega-Lite specification: the county TopoJSON (inline when ``topology`` is given, else the file name)
    looked up to the county values by FIPS (the named dataset ``counties``), one map per measure (stacked), each
    titled with its label and with its own colour scale; counties without a value grey."""
    rows = json.loads(values[["fips", "county", *measures]].to_json(orient="records"))
    data = ({"values": topology} if topology is not None else {"url": INTERACTIVE_ATLAS})

    def view(column: str, label: str) -> dict:
        return {
            "width": 640, "height": 380, "title": {"text": label, "anchor": "start", "fontSize": 12},
            "projection": {"type": "albersUsa"},
            "layer": [
                {"mark": {"type": "geoshape", "fill": MISSING_COLOUR, "stroke": "white", "strokeWidth": 0.1}},
                {"transform": [{"filter": {"field": column, "valid": True}}],
                 "mark": {"type": "geoshape", "stroke": None},
                 "encoding": {"color": {"field": column, "type": "quantitative", "scale": {"scheme": "viridis"},
                                        "title": None},
                              "tooltip": [{"field": "county", "type": "nominal", "title": "County"},
                                          {"field": "id", "type": "nominal", "title": "FIPS"},
                                          {"field": column, "type": "quantitative", "title": label,
                                           "format": ".1f"}]}},
            ],
        }

    return {
        "$schema": VEGA_LITE_SCHEMA,
        "title": {"text": "US counties: isolation, lack of support and social infrastructure",
                  "subtitle": [line.strip() + "." for line in CAPTION.rstrip(".").split(". ")],
                  "subtitleFontSize": 10},
        "datasets": {"counties": rows},
        "data": {**data, "format": {"type": "topojson", "feature": "counties"}},
        "transform": [{"lookup": "id", "from": {"data": {"name": "counties"}, "key": "fips",
                                                "fields": ["county", *measures]}}],
        "vconcat": [view(column, label) for column, label in measures.items()],
        "resolve": {"scale": {"color": "independent"}},
    }


def maps_page(spec: dict) -> str:
    """A self-contained HTML page drawing ``spec`` with the inlined, sha256-checked vega scripts."""
    scripts = checked_scripts()
    inlined = "\n".join(f'  <script data-vendored="{name}">\n{scripts[name].rstrip()}\n  </script>' for name in SCRIPTS)
    payload = json.dumps(spec, separators=(",", ":")).replace("</", "<\\/")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>connected-health: county maps</title>
  <style>body {{ font-family: Helvetica, Arial, sans-serif; margin: 1.5rem; color: #222; }}
  .note {{ color: #555; font-size: 0.9rem; max-width: 52rem; }}</style>
{inlined}
</head>
<body>
  <h1>US counties: isolation, lack of support and social infrastructure</h1>
  <p class="note">{CAPTION} Boundaries: U.S. Census Bureau via us-atlas 3.0.1 (inlined). Hover a county for
  its value.</p>
  <div id="maps"></div>
  <script>
    vegaEmbed("#maps", {payload}, {{"actions": false, "renderer": "canvas"}});
  </script>
</body>
</html>
"""


def map_values(table: pd.DataFrame, measures: list[str]) -> pd.DataFrame:
    """``fips``, ``county`` ("Name, ST") and the measures, one row per county of the infrastructure table."""
    out = table[["fips", *measures]].copy()
    out["county"] = table["county_name"].astype(str) + ", " + table["state"].astype(str)
    return out[["fips", "county", *measures]]


def stage() -> str:
    """DVC stage ``county_maps``: the interactive page, its Vega-Lite spec and the static maps."""
    params = load()
    block = params.places.infrastructure
    if block is None:
        raise ValueError("params.yaml places.infrastructure is missing: nothing to map")
    measures = {**{k: v.label for k, v in block.mediators.items()},
                block.map_exposure: block.exposures[block.map_exposure].label}
    table = io.read_parquet(config.PROCESSED / "places_infrastructure.parquet")
    values = map_values(table, list(measures))
    out = config.REPORTS / "figures" / "places_maps"
    interactive = checked_atlas(INTERACTIVE_ATLAS)
    with io.staged_outputs():
        io.write_json(out / "county_maps.vl.json", vega_lite_spec(values, measures))
        io.write_text(out / "county_maps.html", maps_page(vega_lite_spec(values, measures, interactive)))
        written = write_figure(static_maps(values, measures, checked_atlas(STATIC_ATLAS)), out / "county_maps",
                               tuple(params.reports.figure_formats))
    return f"county maps: {len(measures)} measures, {values['fips'].nunique():,} counties, {len(written) + 2} files"
