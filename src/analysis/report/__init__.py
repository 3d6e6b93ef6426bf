"""Generic report helpers that studies use: Table 1 and regression tables (``tables``); survival curves,
forest plot and flow diagrams (``figures``). Builders are pure functions returning DataFrames or Figures;
the ``write_*`` functions save them through the atomic writers of ``analysis.core.io``. Nothing here knows
a study: labels, types and conventions are passed in by the study's own report module."""
