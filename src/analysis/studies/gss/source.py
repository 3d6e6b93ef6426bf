"""General Social Survey (GSS) panels: 2006-2010, 2008-2012, 2010-2014 (long) and 2016-2020 (wide).

Files: the R data files of the ``gssr`` package (``data/gss_panel06_long.rda`` ... ``gss_panel20.rda``,
built by gssr from NORC's Stata panel releases), or our mirror's Parquet conversions of them (same
columns and values). ``read_panel`` reads either and keeps only the columns asked for.

How values arrive, checked on the files (not assumed):

* Long panels (2006-2014): nearly every column is a categorical of **value labels as strings**, in
  gssr's title case ("Very Happy", "Sev Times a Mnth"); counts too ("0".."30" for ``mntlhlth``,
  "89 or Older" for ``age``). gssr ran ``haven::zap_missing`` before labelling, so NORC's missing
  codes (Iap, Dk, Na) are already NA; the labels still appear as empty categories of ``educ`` and
  ``degree``, and ``numgiven`` keeps "-1" (inapplicable: not asked that wave). ``wave`` is a float
  1/2/3, ``firstid`` a 4-character string, ``year`` a string label, weights floats. Rows of
  persons not interviewed at a wave are present with ``year`` NA.
* 2016-2020 panel: one row per 2016 (``_1a``) or 2018 (``_1b``) respondent, 2020 re-interview in
  ``_2``; every item a **float GSS code**. gssr read NORC's Stata file with haven, which turns the
  extended missing values (.d don't know, .i iap, .n no answer, .s skipped on web, ...) into NA:
  the file holds no negative or 8/9/98/99-style codes at all (checked over all 4,294 numeric
  columns). NORC's numeric missing codes -100/-99/-98/-97 are still listed below, so a release that
  carries them reads as missing.

``CODEBOOK`` writes down, for every item we use, the GSS codebook's codes and wording and the labels
the long panels use for them. ``recode`` turns a column into GSS codes (categorical items) or
numbers (counts): a missing label or code becomes NaN; a label or code the codebook does not
document is a ``SourceDataError`` naming the file, column, value and person. Nothing unknown
becomes NaN silently.

Codebook reference: NORC, GSS 1972-2024 cumulative codebook and the 2016-2020 GSS Panel codebook
(R1a); wording and codes as given in the ``gssrdoc`` help pages (one per variable). The labels of
the 2006-2014 panel files are NORC's older short labels ("Sev Times a Week"), which the current
codebook words differently ("once or twice a week", same code 2): both are listed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.core import io
from analysis.core.contract import SourceDataError
from analysis.core.fetch import fetch_study

# The long panels: label used in the analysis -> gssr object (file stem).
LONG_PANELS: dict[str, str] = {
    "2006-2010": "gss_panel06_long",
    "2008-2012": "gss_panel08_long",
    "2010-2014": "gss_panel10_long",
}
PANEL_2020 = "gss_panel20"
# Suffixes of the 2016-2020 panel: 2016 baseline, 2018 baseline, 2020 re-interview.
SUFFIX_2016, SUFFIX_2018, SUFFIX_2020 = "_1a", "_1b", "_2"

# Labels that mean "no answer to use" in the long panels (compared case-insensitively): NORC's
# missing categories (inapplicable, don't know, no answer, ...) and the old numeric IAP code "-1".
MISSING_LABELS = frozenset({
    "iap", "inapplicable", "dk", "don't know", "dont know", "do not know/cannot choose", "na",
    "no answer", "dk, na, iap", "refused", "skipped on web", "uncodeable", "not imputable",
    "not available in this year", "not available in this release", "see codebook",
    "i don't have a job", "-1", "-97", "-98", "-99", "-100",
})
# NORC's numeric missing codes (2021+ releases): -100 inapplicable, -99 no answer, -98 don't know /
# cannot choose, -97 skipped on web. None occur in gssr's gss_panel20 (haven made them NA).
MISSING_CODES = frozenset({-100.0, -99.0, -98.0, -97.0})


@dataclass(frozen=True)
class Item:
    """One GSS variable as we use it.

    ``codes``: GSS code -> codebook label (categorical items); ``labels``: the long panels' value
    label -> GSS code. A count item has ``count = (lo, hi)`` instead (numbers as strings in the long
    panels, floats in 2016-2020), with ``special`` labels such as "89 or Older" -> 89.
    """

    name: str
    question: str
    codes: Mapping[float, str] | None = None
    labels: Mapping[str, float] | None = None
    count: tuple[float, float] | None = None
    integer: bool = True
    special: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.codes is None) == (self.count is None):
            raise ValueError(f"{self.name}: an item has either codes or a count range")
        if self.labels is not None and self.codes is not None:
            unknown = set(self.labels.values()) - set(self.codes)
            if unknown:
                raise ValueError(f"{self.name}: labels map to undocumented codes {unknown}")


# The card shared by SOCREL, SOCOMMUN, SOCFREND, SOCBAR ("Would you use this card and tell me which
# answer comes closest to how often you do the following things"). Codebook label / panel label:
SOCIAL_EVENING_CODES = {
    1: "almost daily",
    2: "once or twice a week",  # panel files: "Sev Times a Week"
    3: "several times a month",
    4: "about once a month",
    5: "several times a year",
    6: "about once a year",
    7: "never",
}
SOCIAL_EVENING_LABELS = {
    "Almost Daily": 1, "Sev Times a Week": 2, "Sev Times a Mnth": 3, "Once a Month": 4,
    "Sev Times a Year": 5, "Once a Year": 6, "Never": 7,
    # the current codebook's wording, should a release carry it
    "Once or Twice a Week": 2, "Several Times a Month": 3, "About Once a Month": 4,
    "Several Times a Year": 5, "About Once a Year": 6,
}
LONELY_CODES = {1: "never", 2: "rarely", 3: "sometimes", 4: "often", 5: "very often"}

_items = [
    Item("socrel", "Spend a social evening with relatives?", SOCIAL_EVENING_CODES, SOCIAL_EVENING_LABELS),
    Item("socommun", "Spend a social evening with someone who lives in your neighborhood?",
         SOCIAL_EVENING_CODES, SOCIAL_EVENING_LABELS),
    Item("socfrend", "Spend a social evening with friends who live outside the neighborhood?",
         SOCIAL_EVENING_CODES, SOCIAL_EVENING_LABELS),
    Item("socbar", "Go to a bar or tavern?", SOCIAL_EVENING_CODES, SOCIAL_EVENING_LABELS),
    Item("marital", "Are you currently -- married, widowed, divorced, separated, or have you never been "
         "married? (no category for cohabiting)",
         {1: "married", 2: "widowed", 3: "divorced", 4: "separated", 5: "never married"},
         {"Married": 1, "Widowed": 2, "Divorced": 3, "Separated": 4, "Never Married": 5}),
    Item("attend", "How often do you attend religious services?",
         {0: "never", 1: "less than once a year", 2: "about once or twice a year", 3: "several times a year",
          4: "about once a month", 5: "2-3 times a month", 6: "nearly every week", 7: "every week",
          8: "several times a week"},
         {"Never": 0, "Lt Once a Year": 1, "Once a Year": 2, "Sevrl Times a Yr": 3, "Once a Month": 4,
          "2-3x a Month": 5, "Nrly Every Week": 6, "Every Week": 7, "More Thn Once Wk": 8}),
    Item("numgiven", "From time to time, most people discuss important matters with other people. Looking "
         "back over the last six months, who are the people with whom you discussed matters important to "
         "you? NUMBER of names given (6 = top code); -1 = not asked", count=(0, 6)),
    Item("health", "Would you say your own health, in general, is excellent, good, fair, or poor?",
         {1: "excellent", 2: "good", 3: "fair", 4: "poor"},
         {"Excellent": 1, "Good": 2, "Fair": 3, "Poor": 4}),
    Item("happy", "Taken all together, how would you say things are these days -- would you say that you "
         "are very happy, pretty happy, or not too happy?",
         {1: "very happy", 2: "pretty happy", 3: "not too happy"},
         {"Very Happy": 1, "Pretty Happy": 2, "Not Too Happy": 3}),
    Item("mntlhlth", "Now thinking about your mental health, which includes stress, depression, and "
         "problems with emotions, for how many days during the past 30 days was your mental health not "
         "good?", count=(0, 30)),
    Item("age", "Respondent's age (89 = 89 or older)", count=(18, 89), special={"89 or Older": 89}),
    Item("sex", "Respondent's sex", {1: "male", 2: "female"}, {"Male": 1, "Female": 2}),
    Item("race", "What race do you consider yourself?", {1: "white", 2: "black", 3: "other"},
         {"White": 1, "Black": 2, "Other": 3}),
    Item("educ", "Highest year of school completed (0-20; 20 = 8 or more years of college)", count=(0, 20)),
    Item("degree", "Respondent's highest degree",
         {0: "less than high school", 1: "high school", 2: "associate/junior college", 3: "bachelor's",
          4: "graduate"},
         {"Lt High School": 0, "High School": 1, "Junior College": 2, "Bachelor": 3, "Graduate": 4}),
    Item("realinc", "Family income in constant 1986 dollars (NORC, from the income category midpoints "
         "and the CPI-U)", count=(0, 1e7), integer=False),
    Item("wrkstat", "Last week were you working full time, part time, going to school, keeping house, or "
         "what?",
         {1: "working full time", 2: "working part time",
          3: "with a job, but not at work because of temporary illness, vacation, strike",
          4: "unemployed, laid off, looking for work", 5: "retired", 6: "in school", 7: "keeping house",
          8: "other"},
         {"Working Fulltime": 1, "Working Parttime": 2, "Temp not Working": 3, "Unempl, Laid Off": 4,
          "Retired": 5, "School": 6, "Keeping House": 7, "Other": 8}),
    Item("lonely1", "How often in the past 4 weeks have you felt that? A. You lack companionship?",
         LONELY_CODES, {v.title(): k for k, v in LONELY_CODES.items()}),
    Item("lonely2", "How often in the past 4 weeks have you felt that? B. You are isolated from others?",
         LONELY_CODES, {v.title(): k for k, v in LONELY_CODES.items()}),
    Item("lonely3", "How often in the past 4 weeks have you felt that? C. You are left out?",
         LONELY_CODES, {v.title(): k for k, v in LONELY_CODES.items()}),
    Item("ballot", "Split ballot of the interview (NORC's random thirds; a panel member nearly always keeps it "
         "at the re-interviews: 2 persons of the 2010-2014 panel changed). "
         "HEALTH is asked on ballots A and C, the SOCREL-SOCOMMUN-SOCFREND "
         "block on A and B (the 2006 panel's 2010 wave also asked it on C)",
         {1: "ballot a", 2: "ballot b", 3: "ballot c"}, {"Ballot a": 1, "Ballot b": 2, "Ballot c": 3}),
    # Social trust (GSS Q161-163a; gssrdoc help pages TRUST, HELPFUL, FAIR). Note FAIR's codes run the other
    # way: 1 is the distrusting answer. "Depends" (code 3) is a volunteered answer, not a missing code.
    Item("trust", "Generally speaking, would you say that most people can be trusted or that you can't be too "
         "careful in life?", {1: "most people can be trusted", 2: "can't be too careful", 3: "depends"},
         {"can Trust": 1, "Cannot Trust": 2, "Depends": 3}),
    Item("helpful", "Would you say that most of the time people try to be helpful, or that they are mostly just "
         "looking out for themselves?", {1: "try to be helpful", 2: "looking out for themselves", 3: "depends"},
         {"Helpful": 1, "Lookout for Self": 2, "Depends": 3}),
    Item("fair", "Do you think most people would try to take advantage of you if they got a chance, or would "
         "they try to be fair?", {1: "would take advantage of you", 2: "would try to be fair", 3: "depends"},
         {"Take Advantage": 1, "Fair": 2, "Depends": 3}),
    # Internet use, 2016-2020 panel (ballots A and B; gssrdoc COMPUSE, WEBMOB, EMAILHR/EMAILMIN, USEWWW,
    # WWWHR/WWWMIN). Hours 0-168 and minutes 0-59 are counts: 168 = every hour of the week.
    Item("compuse", "Do you personally ever use a computer at home, at work, or at some other location?",
         {1: "yes", 2: "no"}),
    Item("webmob", "Do you have access to the Internet or World Wide Web in your home through an "
         "Internet-enabled mobile device like a smart phone? (asked if COMPUSE = no)", {1: "yes", 2: "no"}),
    Item("emailhr", "About how many minutes or hours per week do you spend sending and answering electronic "
         "mail or e-mail? a. Hours per week", count=(0, 168)),
    Item("emailmin", "(EMAILHR) b. Minutes per week", count=(0, 59)),
    Item("usewww", "Other than for e-mail, do you ever use the Internet or World Wide Web? (asked if e-mail "
         "time is 0)", {1: "yes", 2: "no"}),
    Item("wwwhr", "Not counting e-mail, about how many minutes or hours per week do you use the Web? (Include "
         "time you spend visiting regular web sites and time spent using interactive Internet services like "
         "chat rooms, Usenet groups, discussion forums, bulletin boards, and the like.) a. Hours per week",
         count=(0, 168)),
    Item("wwwmin", "(WWWHR) b. Minutes per week", count=(0, 59)),
    Item("facebook", "Which of the following social networking or social media sites are you a member or "
         "regular user of? Facebook (2016 only, ballots B and C)", {1: "yes", 2: "no"}),
    Item("mode", "Interview mode, 2016-2020 panel (MODE_1A/_1B/_2): 1 in person, 2 over the phone, 4 web. "
         "Checked on the file: baselines 1 or 2 (93% / 7%); the 2020 re-interview 2 (542, 30%) or 4 (1,281, "
         "70%), the COVID-era push-to-web design with a phone option (gssr's gss_panel20 help page)",
         {1: "in person", 2: "over the phone", 4: "web"}),
    Item("panstat", "2016-2020 panel status (as published; 1 = re-interviewed in 2020)",
         {0: "not released for re-interview (2016 subsample not fielded)", 1: "re-interviewed in 2020",
          2: "released, not re-interviewed", 3: "not re-interviewed (NORC code 3)",
          33: "not re-interviewed (NORC code 33)"}),
]
CODEBOOK: dict[str, Item] = {item.name: item for item in _items}


def item_for(column: str) -> Item | None:
    """The codebook item of a column, with or without the 2016-2020 suffix (``health_1a`` -> health)."""
    if column in CODEBOOK:
        return CODEBOOK[column]
    for suffix in (SUFFIX_2016, SUFFIX_2018, SUFFIX_2020):
        if column.endswith(suffix) and column[: -len(suffix)] in CODEBOOK:
            return CODEBOOK[column[: -len(suffix)]]
    return None


# ---------------------------------------------------------------------------------------------
# Readers


def read_panel(path: str | Path, columns: Iterable[str], optional: Iterable[str] = ()) -> pd.DataFrame:
    """Read one gssr panel file (``.parquet`` from the mirror or ``.rda`` from gssr) with only
    ``columns`` (a missing one is an error) and ``optional`` (absent -> all-NA column)."""
    path = Path(path)
    columns, optional = list(columns), [c for c in optional if c not in columns]
    name = path.name.lower()
    try:
        if name.endswith(".parquet"):
            import pyarrow.parquet as pq

            available = set(pq.read_schema(path).names)
            frame = io.read_parquet(path, columns=[c for c in columns + optional if c in available])
        elif name.endswith(".rda") or name.endswith(".rdata"):
            frame = _read_rda(path)
        else:
            raise SourceDataError(f"{path}: unknown GSS file type (expected .parquet or .rda)")
    except (OSError, ValueError) as err:
        if isinstance(err, SourceDataError):
            raise
        raise SourceDataError(f"{path}: cannot be read as a GSS panel file ({err})") from err
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise SourceDataError(f"{path}: column {absent[0]} is missing (needed: {', '.join(columns)})")
    out = frame[[c for c in columns + optional if c in frame.columns]].reset_index(drop=True)
    for col in optional:
        if col not in out.columns:
            out[col] = np.nan
    return out


def _read_rda(path: Path) -> pd.DataFrame:
    try:
        import pyreadr
    except ImportError as err:  # pragma: no cover - pinned in requirements.txt
        raise SourceDataError(f"{path}: reading .rda needs the package pyreadr (pip install pyreadr)") from err
    try:
        objects = pyreadr.read_r(str(path))
    except Exception as err:  # pyreadr raises its own error types
        raise SourceDataError(f"{path}: cannot be read as an R data file ({err})") from err
    if len(objects) != 1:
        raise SourceDataError(f"{path}: expected one data frame, found {list(objects)}")
    return next(iter(objects.values()))


def panel_path(raw_dir: str | Path, stem: str) -> Path:
    """The fetched file of one panel in ``raw_dir`` (Parquet from the mirror or .rda from gssr)."""
    for ext in (".parquet", ".rda"):
        candidate = Path(raw_dir) / f"{stem}{ext}"
        if candidate.exists():
            return candidate
    raise SourceDataError(f"{Path(raw_dir) / stem}.parquet (or .rda): not found; run the fetch stage first "
                          "(python -m analysis gss fetch)")


# ---------------------------------------------------------------------------------------------
# Recoding


def recode(frame: pd.DataFrame, column: str, source: str | Path = "<table>", *, id_column: str | None = None,
           item: str | None = None) -> pd.Series:
    """The column as GSS codes (categorical items) or numbers (counts), missing answers as NaN.

    Works on label strings (long panels) and on numeric codes (2016-2020 panel) alike. ``item``
    names the codebook entry when the column name does not (default: the column, suffix removed).
    Raises SourceDataError naming the file, column, value and person (``id_column``) for any label
    or code the codebook does not document.
    """
    if column not in frame.columns:
        raise SourceDataError(f"{source}: column {column} is missing")
    spec = CODEBOOK.get(item) if item else item_for(column)
    if spec is None:
        raise SourceDataError(f"{source}: column {column} has no entry in the GSS CODEBOOK (sources/gss.py)")
    values = frame[column]
    if _is_numeric(values):
        out, bad = _recode_numbers(values.astype("float64"), spec)
    else:
        out, bad = _recode_labels(values, spec)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        value = values.iloc[i]
        shown = f"{float(value):g}" if isinstance(value, (int, float, np.number)) else repr(value)
        who = f"{id_column} {frame[id_column].iloc[i]}" if id_column and id_column in frame else f"row {i}"
        documented = (", ".join(f"{k:g} {v}" for k, v in spec.codes.items()) if spec.codes
                      else f"{spec.count[0]:g}-{spec.count[1]:g}")
        raise SourceDataError(
            f"{source}: column {column} has the value {shown} ({who}), which the GSS codebook does not "
            f"document for {spec.name} (documented: {documented}). Add it to CODEBOOK in "
            f"src/analysis/studies/gss/source.py only after checking the codebook."
        )
    return pd.Series(out, index=frame.index, name=column, dtype="float64")


def _is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not isinstance(values.dtype, pd.CategoricalDtype)


def _recode_numbers(values: pd.Series, spec: Item) -> tuple[np.ndarray, pd.Series]:
    values = values.mask(values.isin(MISSING_CODES))
    present = values.notna()
    if spec.codes is not None:
        valid = values.isin(list(spec.codes))
    else:
        lo, hi = spec.count
        valid = values.between(lo, hi) & ((values % 1 == 0) if spec.integer else True)
    return values.to_numpy(dtype="float64"), present & ~valid


def _recode_labels(values: pd.Series, spec: Item) -> tuple[np.ndarray, pd.Series]:
    text = values.astype("object").where(values.notna(), None)
    key = text.map(lambda v: None if v is None else " ".join(str(v).split()).casefold())
    missing = key.isna() | key.isin(MISSING_LABELS)
    if spec.labels is not None:
        lookup = {" ".join(k.split()).casefold(): float(v) for k, v in spec.labels.items()}
        out = key.map(lookup).astype("float64")
    else:
        specials = {k.casefold(): float(v) for k, v in spec.special.items()}
        numbers = pd.to_numeric(key.where(~key.isin(specials)), errors="coerce")
        out = numbers.where(~key.isin(specials), key.map(specials)).astype("float64")
        lo, hi = spec.count
        ok = out.between(lo, hi) & ((out % 1 == 0) if spec.integer else True)
        out = out.where(ok)
    out = out.where(~missing)
    bad = ~missing & out.isna()
    return out.to_numpy(dtype="float64"), bad


def stage() -> str:
    """DVC stage ``fetch_gss``: the study's public files into ``data/raw/gss`` (mirror or publishers)."""
    return fetch_study("gss", ["gss"])
