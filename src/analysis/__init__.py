"""connected-health: social connection, depression, cardiovascular disease and mortality.

The package reads like the pipeline (see ``dvc.yaml``):

* ``core/``: configuration, atomic io, fetching, the table contract, the index builder, metrics format;
* ``estimators/``: the statistical library (survival, survey GLM, mixed, panel, SEM, weights, vcov): no study in it;
* ``report/``: generic table and figure helpers that studies use;
* ``studies/<name>/``: everything one study knows (source, measures, schema, clean, models, metrics, report);
  ``studies`` is a namespace package (no ``__init__.py``), so a study's stages read only their own folder;
* ``paper/``: what reads every study: triangulation, manuscript, notebooks, STROBE, reviewer index.

Imports point down only: paper -> studies -> report -> estimators -> core. ``python -m analysis <study> <step>``
runs one DVC stage (``analysis.cli``).
"""

__version__ = "0.1.0"
