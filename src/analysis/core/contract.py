"""The table contract every study's analysis table keeps: its variables, their schema, and the errors.

A study lists its columns once, as :class:`Variable` records (name, label, type, codebook source items,
derivation rule, allowed values). From that one list come the pandera schema that validates the table
(:func:`table_schema`), the typed, ordered table the cleaning stage writes (:func:`finish_table`) and the
data dictionary shipped beside it (:func:`data_dictionary`), so the documentation cannot drift from the data.

Errors: :class:`SourceDataError` when a publisher's file does not look like its codebook says, and
:class:`CleaningError` when a built table breaks its contract; both name the file or table, the column
and the value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

# pandera (about 0.3 s CPU at import) is imported by the functions that build or check a schema, so a fetch stage,
# which needs only SourceDataError, does not load it (issue 23).
if TYPE_CHECKING:
    import pandera.pandas as pa


class SourceDataError(ValueError):
    """A public file does not look like its codebook says: names the file, column and value."""


class CleaningError(ValueError):
    """A built analysis table breaks its contract (columns, types or allowed values)."""


@dataclass(frozen=True)
class Variable:
    """One column of an analysis table, documented where it is defined."""

    name: str
    label: str
    dtype: str  # "int", "float", "binary", "category", "string"
    source: str  # codebook items it comes from
    rule: str  # how it is derived, in words
    values: tuple | None = None  # allowed categories (category) or (min, max) (int/float)
    nullable: bool = True


DTYPES = ("int", "float", "binary", "category", "string")


def pandera_column(var: Variable) -> pa.Column:
    """The pandera column of a variable: its type and its allowed values or range."""
    import pandera.pandas as pa

    checks = []
    if var.dtype == "category" and var.values:
        checks.append(pa.Check.isin(list(var.values)))
    elif var.dtype == "binary":
        checks.append(pa.Check.isin([0, 1]))
    elif var.values and var.dtype in ("int", "float"):
        lo, hi = var.values
        if lo is not None:
            checks.append(pa.Check.ge(lo))
        if hi is not None:
            checks.append(pa.Check.le(hi))
    dtype = {"int": "Int64", "float": "float64", "binary": "Int8", "category": None, "string": str}[var.dtype]
    return pa.Column(dtype, checks=checks, nullable=var.nullable, coerce=var.dtype != "category")


def table_schema(variables: Iterable[Variable], unique: list[str], *,
                 extra_checks: Mapping[str, Sequence[pa.Check]] | None = None,
                 table_checks: Sequence[pa.Check] = ()) -> pa.DataFrameSchema:
    """Strict pandera schema of a table: exactly ``variables``, ``unique`` rows, optional extra checks."""
    import pandera.pandas as pa

    columns = {}
    for var in variables:
        column = pandera_column(var)
        more = list((extra_checks or {}).get(var.name, ()))
        if more:
            column = column.set_checks([*column.checks, *more])
        columns[var.name] = column
    return pa.DataFrameSchema(columns, strict=True, unique=unique, checks=list(table_checks) or None)


def data_dictionary(table: pd.DataFrame, variables: Iterable[Variable]) -> pd.DataFrame:
    """Name, label, type, source items, rule and % missing for every column of a table."""
    out = pd.DataFrame([{"name": v.name, "label": v.label, "type": v.dtype, "source": v.source, "rule": v.rule}
                        for v in variables])
    out["pct_missing"] = [round(100 * table[n].isna().mean(), 1) if n in table else float("nan")
                          for n in out["name"]]
    return out


def data_dictionaries(tables: Mapping[str, tuple[pd.DataFrame, Iterable[Variable]]]) -> pd.DataFrame:
    """One data dictionary for several tables of a study: :func:`data_dictionary` of each ``name -> (table,
    variables)``, stacked, with the table's name in a ``table`` column."""
    return pd.concat([data_dictionary(table, variables).assign(table=name)
                      for name, (table, variables) in tables.items()], ignore_index=True)


def finish_table(table: pd.DataFrame, variables: Sequence[Variable]) -> pd.DataFrame:
    """Order the columns as the contract lists them and give each its type."""
    missing = [v.name for v in variables if v.name not in table.columns]
    extra = [c for c in table.columns if c not in {v.name for v in variables}]
    if missing or extra:
        raise CleaningError(f"the table's columns differ from its contract: missing {missing}, unexpected {extra}")
    out = table[[v.name for v in variables]].copy()
    for var in variables:
        col = out[var.name]
        if var.dtype == "binary":
            out[var.name] = col.astype("float64").astype("Int8")
        elif var.dtype == "int":
            out[var.name] = col.astype("float64").round().astype("Int64")
        elif var.dtype == "float":
            out[var.name] = col.astype("float64")
        elif var.dtype == "string":
            out[var.name] = col.astype(str)
        elif var.dtype == "category":
            values = col.astype("object").where(col.notna(), None)
            out[var.name] = pd.Categorical(values, categories=list(var.values))
    return out.reset_index(drop=True)


def validate_table(table: pd.DataFrame, schema: pa.DataFrameSchema, what: str) -> pd.DataFrame:
    """Validate against the schema; a failure raises CleaningError naming up to five columns and values."""
    import pandera.errors

    try:
        return schema.validate(table, lazy=True)
    except pandera.errors.SchemaErrors as err:
        cases = err.failure_cases.head(5)
        detail = "; ".join(f"column {r.column}: {r.check} failed for value {r.failure_case!r}"
                           for r in cases.itertuples())
        raise CleaningError(f"the {what} breaks its schema: {detail}") from err
