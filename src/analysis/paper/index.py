"""The reviewer's index, ``reports/index.html``: one page linking the paper and its STROBE checklist, every
rendered notebook, figure and table, with a provenance panel.

Provenance (read when the page is built, by the last stage of ``dvc repro``):

* the git commit of the code (and whether the working tree had uncommitted changes);
* ``dvc.lock``: every stage's outputs with their md5 hashes (data and results);
* the data manifests (``data/raw/*.manifest.json``): each public file's origin, bytes, sha256 and
  retrieval time;
* the Python version, the sha256 of the lock (``requirements.txt``, README.md "The lock"), and each locked
  package's version beside the one installed in the running environment;
* when the page was built.

The manuscript section links every output of the ``paper`` stage as ``dvc.yaml`` declares it (the paper and,
once declared there, the supplement), so a document added to that stage is linked without a change here. The
"Cited" section links every file the paper and supplement point to, read from those rendered documents
(Markdown and HTML links, and file paths written as code), so a file another section starts citing is covered.
The page also links the reviewer's inputs (``params.yaml``, the published anchors) and every other file under
``reports/`` (CSV tables, the executed ``.ipynb`` notebooks, the coverage simulation).

Plain HTML with inline CSS: it opens from the file system with no network and no JavaScript. Long values
(hashes, paths, URLs) wrap inside their cells, so the page fits a 1,280 px window.
"""

from __future__ import annotations

import html
import json
import os
import platform
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import yaml

from analysis.core import config, io
from analysis.paper import lock

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; max-width: 70rem; margin: 2rem auto;
       padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.5rem 0 1rem; max-width: 100%; }
th, td { border-bottom: 1px solid #eee; padding: 0.2rem 0.6rem; text-align: left; vertical-align: top;
         overflow-wrap: break-word; }
td.long { overflow-wrap: anywhere; min-width: 6rem; } td.hash { font-family: monospace; font-size: 0.75rem; }
li, figcaption, p { overflow-wrap: anywhere; }
code { font-size: 0.8rem; } .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(16rem, 1fr));
gap: 1rem; } .grid figure { margin: 0; } .grid img { width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.8rem; } .note { color: #666; font-size: 0.85rem; }
"""


def _git(root: Path, *args: str) -> str:
    try:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def provenance(root: Path) -> dict:
    """Commit, dvc.lock outputs, data manifests, package versions and build time, as plain data."""
    root = Path(root)
    commit = _git(root, "rev-parse", "HEAD")
    dirty = bool(_git(root, "status", "--porcelain", "--untracked-files=no"))
    lock_path = root / "dvc.lock"
    outputs = []
    if lock_path.exists():
        dvc_lock = yaml.safe_load(lock_path.read_text()) or {}
        for stage, spec in (dvc_lock.get("stages") or {}).items():
            for out in spec.get("outs") or []:
                outputs.append({"stage": stage, "path": out.get("path"), "md5": out.get("md5", ""),
                                "files": out.get("nfiles", 1)})
    sources = []
    for manifest in sorted((root / "data" / "raw").glob("*.manifest.json")):
        data = json.loads(manifest.read_text())
        for f in data.get("files", []):
            sources.append({"manifest": manifest.name, "name": f.get("key", f.get("path", "")),
                            "origin": f"{f.get('origin', '')}: {f.get('location', '')}",
                            "publisher": f.get("publisher_url", ""), "bytes": f.get("bytes", ""),
                            "sha256": f.get("sha256", ""), "retrieved": f.get("retrieved_at",
                                                                              data.get("retrieved_at", ""))})
    packages, lock_sha256 = [], ""
    lock_file = root / "requirements.txt"
    if lock_file.exists():
        lock_sha256 = lock.sha256(lock_file)
        present = lock.installed()
        for name, pinned in lock.read_pins(lock_file).items():
            versions = present.get(name)
            packages.append({"package": name, "pinned": pinned,
                             "installed": ", ".join(versions) if versions else "not installed"})
    return {"commit": commit or "unknown (not a git checkout)", "dirty": dirty, "outputs": outputs,
            "sources": sources, "packages": packages, "python": platform.python_version(),
            "lock_sha256": lock_sha256, "built": datetime.now(UTC).isoformat(timespec="seconds")}


#: Files a reviewer checks beside the outputs, relative to the project root: the one configuration file and the
#: published estimates the triangulation sets beside this project's.
REVIEWER_INPUTS = ("params.yaml", "data/reference/published_anchors.csv")
#: Link targets in the rendered documents: Markdown ``](target)``, HTML ``href``/``src``, and file paths written
#: as code (`` `data/reference/published_anchors.csv` ``).
_TARGET = re.compile(r"\]\(<?([^)\s>]+)>?(?:\s[^)]*)?\)|(?:href|src)=[\"']([^\"']+)[\"']"
                     r"|`([\w./-]+\.(?:csv|md|html|json|yaml|yml|ipynb|png|svg|pdf|txt|tex|bib))`")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def paper_outputs(root: Path, stage: str = "paper") -> list[str]:
    """The outputs ``dvc.yaml`` declares for the ``paper`` stage (project-relative paths, in declared order); none
    outside a DVC project (no ``dvc.yaml``)."""
    pipeline = Path(root) / "dvc.yaml"
    if not pipeline.is_file():
        return []
    spec = yaml.safe_load(pipeline.read_text(encoding="utf-8")) or {}
    outs = ((spec.get("stages") or {}).get(stage) or {}).get("outs") or []
    return [next(iter(o)) if isinstance(o, dict) else str(o) for o in outs]


def cited_files(documents: list[Path], root: Path) -> list[Path]:
    """Every existing file the documents link to or name as a path, resolved project-relative: a link relative
    to the document's folder, a code path relative to the project root or, failing that, to the document's
    folder. URLs, ``data:`` URIs and in-page anchors are not files and are left out."""
    root = Path(root).resolve()
    found: dict[Path, None] = {}
    for doc in documents:
        text = Path(doc).read_text(encoding="utf-8", errors="replace")
        base = Path(doc).resolve().parent
        for link, attr, code in _TARGET.findall(text):
            target = (link or attr or code).split("#")[0].split("?")[0]
            if not target or _SCHEME.match(target) or target.startswith("/"):
                continue
            candidates = [root / target, base / target] if code else [base / target]
            for cand in candidates:
                cand = cand.resolve()
                if cand.is_file() and cand.is_relative_to(root) and cand != Path(doc).resolve():
                    found[cand.relative_to(root)] = None
                    break
    return list(found)


def _href(path: Path, reports: Path, root: Path) -> str:
    """A link from ``reports/index.html`` to a project-relative path."""
    return Path(os.path.relpath(Path(root).resolve() / path, Path(reports).resolve())).as_posix()


#: Columns of long unbroken values (hashes, paths, URLs): they wrap anywhere, so the tables fit a 1,280 px window.
_LONG = {"path": "long", "origin": "long", "publisher": "long", "md5": "long hash", "sha256": "long hash"}


def _table(rows: list[dict], columns: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    cells = [f"<td class='{_LONG[c]}'>" if c in _LONG else "<td>" for c in columns]
    body = "".join("<tr>" + "".join(f"{cell}{html.escape(str(r.get(c, '')))}</td>" for cell, c in zip(cells, columns))
                   + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _links(reports: Path, pattern: str) -> list[Path]:
    return sorted(p.relative_to(reports) for p in reports.glob(pattern) if p.is_file())


def _item(href: str, note: str = "") -> str:
    return f"<li><a href='{html.escape(href)}'>{html.escape(href)}</a>{note}</li>"


def render_index(reports: Path, root: Path) -> str:
    """The index page as HTML text (links relative to ``reports``)."""
    reports, root = Path(reports), Path(root)
    prov = provenance(root)
    linked: set[str] = {"index.html"}

    def link(href: str, note: str = "") -> str:
        linked.add(href)
        return _item(href, note)

    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
             "<meta name='viewport' content='width=device-width, initial-scale=1'><title>connected-health: reviewer "
             f"index</title><style>{_CSS}</style></head><body>",
             "<h1>connected-health: reviewer index</h1>",
             "<p class='note'>Everything here is generated by <code>dvc repro</code> from public data; every "
             "number in the paper comes from the metrics files listed below.</p>", "<h2>Manuscript</h2><ul>"]
    documents = [root / out for out in paper_outputs(root) if (root / out).is_file()]
    for doc in documents:
        parts.append(link(_href(doc.relative_to(root), reports, root)))
    if (reports / "strobe.html").exists():
        parts.append(link("strobe.html", ": the STROBE checklist for cohort studies, each item linked to the "
                                          "section, notebook, table or figure that answers it"))
    parts.append("</ul><h2>Notebooks (executed)</h2><ul>")
    for p in _links(reports, "notebooks/*.html"):
        ipynb = p.with_suffix(".ipynb")
        extra = (f" (<a href='{ipynb.as_posix()}'>ipynb</a>)" if (reports / ipynb).exists() else "")
        linked.update({p.as_posix(), ipynb.as_posix()})
        parts.append(f"<li><a href='{p.as_posix()}'>{p.stem}</a>{extra}</li>")
    cited = cited_files([d for d in documents if d.suffix in (".md", ".html")], root)
    parts.append("</ul><h2>Cited by the paper and supplement</h2><p class='note'>Every file the manuscript "
                 "links to or names, read from the rendered documents.</p><ul>")
    parts += [link(_href(c, reports, root)) for c in cited if _href(c, reports, root) != "index.html"]
    parts.append("</ul><h2>Inputs a reviewer checks</h2><ul>")
    parts += [link(_href(Path(f), reports, root)) for f in REVIEWER_INPUTS if (root / f).is_file()]
    parts.append("</ul><h2>Figures</h2><div class='grid'>")
    for p in _links(reports, "**/*.png"):
        svg = p.with_suffix(".svg")
        linked.update({p.as_posix(), svg.as_posix()})
        parts.append(f"<figure><a href='{p.as_posix()}'><img src='{p.as_posix()}' alt='{html.escape(p.stem)}'></a>"
                     f"<figcaption>{html.escape(p.as_posix())}"
                     + (f" (<a href='{svg.as_posix()}'>svg</a>)" if (reports / svg).exists() else "")
                     + "</figcaption></figure>")
    parts.append("</div><h2>Tables</h2><ul>")
    for p in _links(reports, "tables/**/*.html"):
        formats = [s for s in (".csv", ".md", ".tex") if (reports / p.with_suffix(s)).exists()]
        linked.update({p.as_posix(), *(p.with_suffix(s).as_posix() for s in formats)})
        extra = ", ".join(f"<a href='{p.with_suffix(s).as_posix()}'>{s[1:]}</a>" for s in formats)
        parts.append(f"<li><a href='{p.as_posix()}'>{html.escape(p.as_posix())}</a> ({extra})</li>")
    parts.append("</ul><h2>Metrics (model records)</h2><ul>")
    parts += [link(p.as_posix()) for p in _links(reports, "metrics/*") if p.suffix in (".json", ".csv")]
    parts.append("</ul><h2>Other outputs</h2><p class='note'>Every other file under <code>reports/</code>: the "
                 "triangulation and coverage tables, the checklist's source, table sources.</p><ul>")
    parts += [link(p.as_posix()) for p in _links(reports, "**/*")
              if p.as_posix() not in linked and not p.name.startswith(".")]
    parts.append("</ul><h2>Provenance</h2>")
    parts.append(f"<p>Code: git commit <code>{html.escape(prov['commit'])}</code>"
                 + (" (with uncommitted changes)" if prov["dirty"] else "")
                 + f"; Python {prov['python']}; page built {prov['built']}.</p>")
    differ = [p for p in prov["packages"] if p["installed"] != p["pinned"]]
    if prov["lock_sha256"]:
        parts.append(f"<p>Environment: the lock <code>requirements.txt</code>, sha256 <code>{prov['lock_sha256']}"
                     f"</code>, pins {len(prov['packages'])} packages; "
                     + (f"<strong>{len(differ)} installed at another version or missing</strong> (below)."
                        if differ else "every one installed at its locked version.") + "</p>")
    else:
        parts.append("<p>Environment: <strong>no lock (requirements.txt) found</strong>.</p>")
    parts.append("<h3>Outputs (dvc.lock)</h3>" + _table(prov["outputs"], ["stage", "path", "md5", "files"]))
    parts.append("<h3>Public data files (fetch manifests)</h3>"
                 + _table(prov["sources"], ["manifest", "name", "publisher", "origin", "bytes", "sha256", "retrieved"]))
    parts.append("<h3>Packages (requirements.txt)</h3>" + _table(prov["packages"], ["package", "pinned", "installed"]))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_index(reports: Path, root: Path) -> Path:
    return io.write_text(Path(reports) / "index.html", render_index(reports, root))


def stage() -> str:
    """DVC stage ``index``: ``reports/index.html``, the reviewer's entry page with provenance."""
    return f"reviewer index: {write_index(config.REPORTS, Path('.'))}"
