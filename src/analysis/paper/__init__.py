"""The cross-study layer: what reads every study's records. Triangulation across designs, the
manuscript, the executed notebooks, the STROBE checklist, the reviewer index and the DVC plots page.

Imports point down only: ``paper`` may read any study; no study imports ``paper``.
"""

#: ``python -m analysis paper <step>``: step -> module of this folder whose ``stage()`` runs it.
STEPS = {"triangulation": "triangulation", "notebook": "notebooks", "manuscript": "manuscript",
         "index": "index", "strobe": "strobe", "county-maps": "county_maps"}
