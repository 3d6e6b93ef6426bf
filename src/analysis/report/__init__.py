"""Reports: Table 1 and regression tables (``tables``), survival curves, forest plot and cohort
flow diagram (``figures``).  Builders are pure functions returning DataFrames or Figures; the
``write_*`` functions save them through the atomic writers of ``analysis.io``."""

from analysis.report.tables import (
    regression_table,
    regression_tables,
    table1,
    table1_wide,
    write_regression_tables,
    write_table,
    write_table1,
)

__all__ = [
    "regression_table",
    "regression_tables",
    "table1",
    "table1_wide",
    "write_regression_tables",
    "write_table",
    "write_table1",
]
