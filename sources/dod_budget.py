"""Domestic procurement plans and assumed line capacities from DoD President's Budget P-1 line items.

`read_budget` reads the flattened P-1 resource summaries of PB2013–PB2017 (DoD Comptroller J-books as
extracted by 540co/dod-president-budget-procurement-rdte-data, CC0). `build` keeps only the line items
named in ``default_data/dod_line_items.csv``, turns their relative periods into fiscal years, sums them per
system family and writes ``domestic_plans.csv`` and ``line_capacities.csv``. Run as a script::

    python -m sources.dod_budget --budget PATH --lors LORS_CSV --out DIR [--mapping CSV]

Rules (the dataset's SOURCE.md repeats them):

- Mapping: a row counts when its service equals a table row's service and its title (whitespace collapsed)
  fully matches that row's pattern, ignoring case. Table rows with an empty family name lines left out on
  purpose. A title that matches two table rows is an error. Advance-procurement rows (CostType ``C``; their
  titles elsewhere say "Advance Procurement" and match no pattern), rows in units other than "Each" and rows
  with no quantity at all are skipped.
- Periods: PriorYear = BY−2 (enacted), CurrentYear = BY−1, BudgetYearOne = BY (the request; base + OCO where
  the total is blank), BudgetYearTwo…Five = BY+1…BY+4 (plans), with BY = ``meta_budget_year``.
- As of: a budget *states* a line when one of its rows for the line carries a quantity; blank periods inside
  that budget's window then read as zero (the J-books leave zero years blank), while rows with no quantity at
  all say nothing (not reported and zero look alike there). For each line and fiscal year the newest budget
  that states the line and covers the year wins. PBAmended outranks the PB of the same
  budget year: it was submitted one to two months later and adds the OCO request to BudgetYearOne, while its
  other periods repeat the PB.
- Families: the quantity of a family in a fiscal year is the sum over its lines.
- Carry-forward: the default panel forecasts from 2022, past the budgets' last year (FY2021), so each
  family's FY2021 quantity is held flat through FY2026, labelled as an assumption.
- Capacities: no public line-rate data exists here, so they are assumptions derived from demand: the minimum
  sustaining rate is 50% of the mean yearly units FY2013–FY2021 (domestic quantity plus SIPRI U.S.-supplied
  units ordered), the maximum rate 150% of the largest such yearly sum, both to two significant figures.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import re
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from importlib.resources import files
from pathlib import Path

import pandas as pd

from evidence import taxonomy
from evidence.loaders import LoadError, Problem, load_table
from evidence.records import DOMESTIC_PLANS, LINE_CAPACITIES, LORS, LORStatus
from evidence.writers import atomic_write_text, write_table

log = logging.getLogger(__name__)

DEFAULT_MAPPING = Path(str(files("evidence") / "default_data" / "dod_line_items.csv"))

QUANTITY = "Quantity__"
# Period → offset of its fiscal year from the budget year.
PERIODS: tuple[tuple[str, int], ...] = (
    ("PriorYear", -2),
    ("CurrentYear", -1),
    ("BudgetYearOne", 0),
    ("BudgetYearTwo", 1),
    ("BudgetYearThree", 2),
    ("BudgetYearFour", 3),
    ("BudgetYearFive", 4),
)
REQUIRED_COLUMNS: tuple[str, ...] = (
    "meta_budget_year",
    "meta_budget_cycle",
    "meta_service_agency_name",
    "LineItemTitle",
    *(QUANTITY + period for period, _ in PERIODS),
)
# Read when present, blank otherwise.
OPTIONAL_COLUMNS: tuple[str, ...] = (
    "LineItemNumber",
    "CostType",
    "quantityUnits",
    QUANTITY + "BudgetYearOneBase",
    QUANTITY + "BudgetYearOneOCO",
)
MAPPING_COLUMNS: tuple[str, ...] = ("service", "pattern", "family", "note")

CYCLE_RANK: dict[str, int] = {"PB": 0, "PBAmended": 1}
ADVANCE_PROCUREMENT = "C"
UNIT = "each"

CARRY_THROUGH = 2026
CAPACITY_YEARS = range(2013, 2022)
MIN_SHARE = 0.5
MAX_FACTOR = 1.5
SIGNIFICANT_DIGITS = 2

SECTION_BEGIN = "<!-- sources.dod_budget: begin -->"
SECTION_END = "<!-- sources.dod_budget: end -->"


@dataclass(frozen=True, slots=True)
class LineRule:
    """One row of the mapping table: a programme's line item(s) in one service, and its family."""

    row: int  # line number in the mapping CSV (header = 1)
    service: str
    pattern: re.Pattern[str]
    family: str  # empty: left out on purpose
    note: str


@dataclass(frozen=True, slots=True)
class Statement:
    """What one budget says about one line: a quantity for every fiscal year of its seven-year window."""

    rule: int  # index into the rules
    budget_year: int
    cycle: str
    quantities: dict[int, float]
    periods: dict[int, str]

    @property
    def rank(self) -> tuple[int, int]:
        return self.budget_year, CYCLE_RANK[self.cycle]

    @property
    def label(self) -> str:
        amended = " amended" if self.cycle == "PBAmended" else ""
        return f"DoD PB{self.budget_year}{amended} P-1"


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise LoadError([Problem(str(path), None, None, None, "file not found")])
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, OSError) as exc:
        raise LoadError([Problem(str(path), None, None, None, f"cannot be read: {exc}")]) from exc


def _missing_columns(frame: pd.DataFrame, required: Iterable[str], path: Path) -> list[Problem]:
    return [
        Problem(str(path), None, c, None, "required column missing")
        for c in required
        if c not in frame.columns
    ]


def _title_key(title: str) -> str:
    return " ".join(str(title).split())


def read_mapping(path: Path | str = DEFAULT_MAPPING) -> list[LineRule]:
    """The mapping table, validated: every pattern compiles and every family is a taxonomy id (or empty)."""
    path = Path(path)
    frame = _read_csv(path)
    problems = _missing_columns(frame, MAPPING_COLUMNS[:3], path)
    if problems:
        raise LoadError(problems)
    rules: list[LineRule] = []
    for i, record in enumerate(frame.to_dict("records")):
        row = i + 2
        service, pattern, family = (str(record[c]).strip() for c in MAPPING_COLUMNS[:3])
        for column, value in (("service", service), ("pattern", pattern)):
            if not value:
                problems.append(Problem(str(path), row, column, value, "required value is empty"))
        if family and family not in taxonomy.FAMILY_BY_ID:
            problems.append(Problem(str(path), row, "family", family, "unknown family id"))
        try:
            compiled = re.compile(pattern, re.IGNORECASE)
        except re.error as exc:
            problems.append(Problem(str(path), row, "pattern", pattern, f"not a regular expression: {exc}"))
            continue
        rules.append(LineRule(row, service, compiled, family, str(record.get("note", "")).strip()))
    if problems:
        raise LoadError(problems)
    return rules


def read_budget(path: Path | str) -> pd.DataFrame:
    """The P-1 line-item CSV as strings, with every required column checked and optional ones blank-filled.

    ``_row`` holds each record's line number in the file, for error messages.
    """
    path = Path(path)
    frame = _read_csv(path)
    problems = _missing_columns(frame, REQUIRED_COLUMNS, path)
    if problems:
        raise LoadError(problems)
    for column in OPTIONAL_COLUMNS:
        if column not in frame.columns:
            frame[column] = ""
    frame["_row"] = range(2, len(frame) + 2)
    frame.attrs["source_file"] = str(path)
    return frame


def match_rules(budget: pd.DataFrame, rules: Sequence[LineRule]) -> pd.Series:
    """For every budget row, the index of the rule it matches (-1 for none); two matches are an error."""
    by_service: dict[str, list[int]] = defaultdict(list)
    for i, rule in enumerate(rules):
        by_service[rule.service].append(i)
    source = budget.attrs.get("source_file", "budget")
    problems: list[Problem] = []
    matched: list[int] = []
    for service, title, row in zip(
        budget["meta_service_agency_name"], budget["LineItemTitle"], budget["_row"], strict=True
    ):
        key = _title_key(title)
        hits = [i for i in by_service.get(service.strip(), []) if rules[i].pattern.fullmatch(key)]
        if len(hits) > 1:
            rows = ", ".join(str(rules[i].row) for i in hits)
            problems.append(
                Problem(
                    source,
                    int(row),
                    "LineItemTitle",
                    title,
                    f"matches mapping rows {rows}; make one specific",
                )
            )
        matched.append(hits[0] if hits else -1)
    if problems:
        raise LoadError(problems)
    return pd.Series(matched, index=budget.index, dtype="int64")


def _quantity(cell: str, source: str, row: int, column: str, problems: list[Problem]) -> float | None:
    text = str(cell).strip().replace(",", "")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        problems.append(Problem(source, row, column, cell, "not a number"))
        return None
    if not math.isfinite(value) or value < 0:
        problems.append(Problem(source, row, column, cell, "not a finite, non-negative number"))
        return None
    return value


def statements(budget: pd.DataFrame, rules: Sequence[LineRule]) -> list[Statement]:
    """One `Statement` per (line, budget) where the budget gives the line a quantity."""
    source = budget.attrs.get("source_file", "budget")
    rule_of = match_rules(budget, rules)
    problems: list[Problem] = []
    # (rule, budget year, cycle) → rows' period values; rows with identical values are one row told twice.
    groups: dict[tuple[int, int, str], dict[tuple[float | None, ...], int]] = defaultdict(dict)
    for index in budget.index[rule_of >= 0]:
        rule = rules[rule_of[index]]
        if not rule.family:
            continue
        record = budget.loc[index]
        row = int(record["_row"])
        if str(record["CostType"]).strip() == ADVANCE_PROCUREMENT:
            continue
        units = str(record["quantityUnits"]).strip()
        if units and units.lower() != UNIT:
            log.warning(
                "%s row %d (%s): quantity unit %r, not Each; skipped", source, row, rule.family, units
            )
            continue
        values = [
            _quantity(record[QUANTITY + period], source, row, QUANTITY + period, problems)
            for period, _ in PERIODS
        ]
        if values[2] is None:
            parts = [
                _quantity(record[QUANTITY + part], source, row, QUANTITY + part, problems)
                for part in ("BudgetYearOneBase", "BudgetYearOneOCO")
            ]
            if any(p is not None for p in parts):
                values[2] = sum(p or 0.0 for p in parts)
        if all(v is None for v in values):
            continue
        year_text, cycle = str(record["meta_budget_year"]).strip(), str(record["meta_budget_cycle"]).strip()
        if not re.fullmatch(r"\d{4}", year_text):
            problems.append(Problem(source, row, "meta_budget_year", year_text, "not a four-digit year"))
            continue
        if cycle not in CYCLE_RANK:
            problems.append(
                Problem(source, row, "meta_budget_cycle", cycle, f"not one of {sorted(CYCLE_RANK)}")
            )
            continue
        groups[(rule_of[index], int(year_text), cycle)].setdefault(tuple(values), row)
    if problems:
        raise LoadError(problems)

    out: list[Statement] = []
    for (rule, budget_year, cycle), rows in sorted(groups.items()):
        quantities: dict[int, float] = {}
        periods: dict[int, str] = {}
        for p, (period, offset) in enumerate(PERIODS):
            stated = [(values[p], row) for values, row in rows.items() if values[p]]
            # Rows of one budget that split a line (a renumbered line, an appropriation transfer) fill
            # different periods; two rows claiming the same period would be counted twice.
            if len(stated) > 1:
                lines = ", ".join(str(row) for _, row in stated)
                problems.append(
                    Problem(
                        source,
                        stated[1][1],
                        QUANTITY + period,
                        stated[1][0],
                        f"rows {lines} of PB{budget_year} ({cycle}) both state this period for mapping row "
                        f"{rules[rule].row}",
                    )
                )
            quantities[budget_year + offset] = sum(v for v, _ in stated)
            periods[budget_year + offset] = period
        out.append(Statement(rule, budget_year, cycle, quantities, periods))
    if problems:
        raise LoadError(problems)
    return out


def newest(found: Sequence[Statement], rules: Sequence[LineRule]) -> pd.DataFrame:
    """Per line and fiscal year, the quantity of the newest budget that states the line and covers the year.

    The result has one row per (line, year) with the line's family, the winning budget's rank and a source.
    """
    best: dict[tuple[int, int], Statement] = {}
    for statement in found:
        for year in statement.quantities:
            current = best.get((statement.rule, year))
            if current is None or statement.rank > current.rank:
                best[(statement.rule, year)] = statement
    rows = [
        {
            "rule": rule,
            "family": rules[rule].family,
            "fiscal_year": year,
            "quantity": s.quantities[year],
            "rank": s.rank,
            "source": f"{s.label}, {s.periods[year]}",
        }
        for (rule, year), s in sorted(best.items())
    ]
    return pd.DataFrame(rows, columns=["rule", "family", "fiscal_year", "quantity", "rank", "source"])


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def domestic_plans(lines: pd.DataFrame, carry_through: int = CARRY_THROUGH) -> pd.DataFrame:
    """Family × fiscal-year sums (DOMESTIC_PLANS layout), then the last budget year held flat."""
    columns = [c.name for c in DOMESTIC_PLANS.columns]
    if lines.empty:
        return pd.DataFrame(columns=columns)
    last_year = int(lines["fiscal_year"].max())
    rows: list[dict[str, object]] = []
    for (family, year), group in lines.groupby(["family", "fiscal_year"], sort=True):
        ordered = group.sort_values("rank", ascending=False)["source"]
        rows.append(
            {
                "family": family,
                "fiscal_year": int(year),
                "quantity": float(group["quantity"].sum()),
                "source": "; ".join(dict.fromkeys(ordered)),
            }
        )
    plans = pd.DataFrame(rows)
    carried = []
    for record in plans[plans["fiscal_year"] == last_year].to_dict("records"):
        for year in range(last_year + 1, carry_through + 1):
            carried.append(
                {
                    "family": record["family"],
                    "fiscal_year": year,
                    "quantity": record["quantity"],
                    "source": f"assumption: FY{last_year} quantity ({record['source']}) held flat",
                }
            )
    plans = pd.concat([plans, pd.DataFrame(carried, columns=columns)], ignore_index=True)
    return plans.sort_values(["family", "fiscal_year"], ignore_index=True)[columns]


def foreign_units(lors: pd.DataFrame, years: Iterable[int] = CAPACITY_YEARS) -> dict[tuple[str, int], float]:
    """Units ordered per (family, order year) in a LORS table; withdrawn requests are never produced."""
    kept = lors[lors["status"] != str(LORStatus.WITHDRAWN)]
    order_year = pd.to_datetime(kept["received"]).dt.year
    kept = kept.assign(year=order_year, units=pd.to_numeric(kept["quantity"]).fillna(0.0))
    kept = kept[kept["year"].isin(list(years))]
    return {(f, int(y)): float(u) for (f, y), u in kept.groupby(["family", "year"])["units"].sum().items()}


def round_significant(value: float, digits: int = SIGNIFICANT_DIGITS) -> float:
    if value == 0:
        return 0.0
    exponent = math.floor(math.log10(abs(value))) - digits + 1
    return float(Decimal(repr(value)).quantize(Decimal(1).scaleb(exponent), rounding=ROUND_HALF_UP))


CAPACITY_SOURCE = (
    "assumption (no public line-rate data): min_sustaining_rate = 50% of mean yearly units "
    "FY{first}-FY{last} (DoD P-1 domestic quantity + SIPRI U.S.-supplied units ordered), "
    "max_rate = 150% of the largest yearly sum; 2 significant figures"
)


def line_capacities(
    plans: pd.DataFrame, foreign: dict[tuple[str, int], float], years: Iterable[int] = CAPACITY_YEARS
) -> pd.DataFrame:
    """Assumed rates for every family with a domestic plan; a year without a budget figure counts as zero."""
    years = list(years)
    domestic = {
        (f, int(y)): float(q) for f, y, q in plans[["family", "fiscal_year", "quantity"]].itertuples(False)
    }
    source = CAPACITY_SOURCE.format(first=years[0], last=years[-1])
    rows = []
    for family in sorted(plans["family"].unique()):
        home = [domestic.get((family, y), 0.0) for y in years]
        abroad = [foreign.get((family, y), 0.0) for y in years]
        totals = [h + a for h, a in zip(home, abroad, strict=True)]
        rows.append(
            {
                "family": family,
                "min_sustaining_rate": round_significant(MIN_SHARE * sum(totals) / len(years)),
                "max_rate": round_significant(MAX_FACTOR * max(totals)),
                "source": source,
            }
        )
    return pd.DataFrame(rows, columns=[c.name for c in LINE_CAPACITIES.columns])


@dataclass(frozen=True)
class BuildSummary:
    budget: str
    budget_sha256: str
    budget_rows: int
    budgets: list[str]
    mapping_rows: int
    lines_mapped: int
    lines_left_out: int
    statements: int
    amended_overrides: dict[str, int]
    first_fiscal_year: int
    last_budget_fiscal_year: int
    carried_through: int
    plan_rows: int
    families: list[str] = field(default_factory=list)
    families_without_last_year: list[str] = field(default_factory=list)
    unused_mapping_rows: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _amended_overrides(found: Sequence[Statement]) -> dict[str, int]:
    """Per period, the (line, year) pairs where PBAmended differs from the PB of the same budget year."""
    by_key = {(s.rule, s.budget_year, s.cycle): s for s in found}
    counts: dict[str, int] = defaultdict(int)
    for (rule, year, cycle), amended in by_key.items():
        plain = by_key.get((rule, year, "PB"))
        if cycle == "PBAmended" and plain is not None:
            for fiscal_year, quantity in amended.quantities.items():
                if quantity != plain.quantities[fiscal_year]:
                    counts[amended.periods[fiscal_year]] += 1
    return dict(counts)


def build(
    budget_path: Path | str,
    lors_path: Path | str,
    out: Path | str,
    mapping: Path | str = DEFAULT_MAPPING,
    carry_through: int = CARRY_THROUGH,
) -> BuildSummary:
    """Write domestic_plans.csv and line_capacities.csv into ``out`` and (re)write their SOURCE.md section."""
    budget_path, out = Path(budget_path), Path(out)
    rules = read_mapping(mapping)
    budget = read_budget(budget_path)
    lors = load_table(lors_path, LORS)
    found = statements(budget, rules)
    lines = newest(found, rules)
    plans = domestic_plans(lines, carry_through)
    capacities = line_capacities(plans, foreign_units(lors))

    last_year = int(lines["fiscal_year"].max()) if not lines.empty else carry_through
    matched = match_rules(budget, rules)
    used = set(matched[matched >= 0])
    families = sorted(plans["family"].unique())
    summary = BuildSummary(
        budget=budget_path.name,
        budget_sha256=_sha256(budget_path),
        budget_rows=len(budget),
        budgets=[
            f"PB{y}{' amended' if c == 'PBAmended' else ''}"
            for y, c in sorted({(x.budget_year, x.cycle) for x in found})
        ],
        mapping_rows=len(rules),
        lines_mapped=sum(1 for r in rules if r.family),
        lines_left_out=sum(1 for r in rules if not r.family),
        statements=len(found),
        amended_overrides=_amended_overrides(found),
        first_fiscal_year=int(lines["fiscal_year"].min()) if not lines.empty else last_year,
        last_budget_fiscal_year=last_year,
        carried_through=carry_through,
        plan_rows=len(plans),
        families=families,
        families_without_last_year=sorted(
            set(families) - set(plans.loc[plans["fiscal_year"] == last_year, "family"])
        ),
        unused_mapping_rows=[r.row for i, r in enumerate(rules) if i not in used],
    )
    if summary.unused_mapping_rows:
        log.warning("mapping rows matching no budget row: %s", summary.unused_mapping_rows)

    out.mkdir(parents=True, exist_ok=True)
    formatted = plans.assign(quantity=plans["quantity"].map(_number))
    write_table(formatted, out / "domestic_plans.csv")
    write_table(
        capacities.assign(
            min_sustaining_rate=capacities["min_sustaining_rate"].map(_number),
            max_rate=capacities["max_rate"].map(_number),
        ),
        out / "line_capacities.csv",
    )
    _write_source_section(out / "SOURCE.md", _source_section(summary, plans, capacities, Path(mapping)))
    log.info(
        "built %s: %d domestic plan rows over %d families, %d line capacities",
        out,
        len(plans),
        len(families),
        len(capacities),
    )
    return summary


def _source_section(s: BuildSummary, plans: pd.DataFrame, capacities: pd.DataFrame, mapping: Path) -> str:
    last = s.last_budget_fiscal_year
    budget_rows = plans[plans["fiscal_year"] <= last].groupby("family").size()
    carried_rows = plans[plans["fiscal_year"] > last].groupby("family").size()
    final = plans[plans["fiscal_year"] == last].set_index("family")["quantity"]
    caps = capacities.set_index("family")
    table = "\n".join(
        f"| {f} | {budget_rows.get(f, 0)} | {carried_rows.get(f, 0)} | "
        f"{_number(final[f]) if f in final.index else '—'} | {_number(caps.at[f, 'min_sustaining_rate'])} | "
        f"{_number(caps.at[f, 'max_rate'])} |"
        for f in s.families
    )
    early = ", ".join(s.families_without_last_year) or "none"
    overrides = ", ".join(f"{n} in {period}" for period, n in s.amended_overrides.items()) or "none"
    budgets = f"{s.budgets[0]}–{s.budgets[-1]}" if s.budgets else "no budget"
    first_cap, last_cap = CAPACITY_YEARS[0], CAPACITY_YEARS[-1]
    return f"""{SECTION_BEGIN}
## Domestic plans and line capacities (`domestic_plans.csv`, `line_capacities.csv`)

Source: U.S. DoD President's Budget procurement justification books, P-1 line items of {budgets}
(DoD Comptroller / Military Department J-book XML as extracted by 540.co; public repository
`540co/dod-president-budget-procurement-rdte-data`, CC0 1.0), flattened to
`{s.budget}` ({s.budget_rows} rows, sha256 `{s.budget_sha256}`).
Built by `sources.dod_budget` (see `scripts/build_default_data.sh`). U.S. own procurement, not foreign
demand.

- **Mapping** — only line items named in `evidence/default_data/{mapping.name}` count: {s.lines_mapped}
  programme rows with a family, and {s.lines_left_out} rows naming lines left out on purpose (empty family,
  reason in `note`). A budget row counts when its service equals the table's and its title (whitespace
  collapsed) fully matches the table's regular expression, ignoring case; a title matching two table rows is
  an error. Only end items of one system family counted in "Each": modifications, spares, support equipment,
  mixed-family and mixed-unit aggregate lines are not mapped. Advance-procurement rows (CostType `C`, or
  titles saying "Advance Procurement", which match no pattern) and rows with no quantity at all are skipped.
- **As-of rule** — PriorYear = BY−2 (enacted), CurrentYear = BY−1, BudgetYearOne = BY (the request; base +
  OCO where the total is blank), BudgetYearTwo…Five = BY+1…BY+4 (plans), BY = `meta_budget_year`. A budget
  *states* a line when one of its rows for the line carries a quantity; blank periods in that budget's
  seven-year window then count as zero (the J-books leave zero years blank). For each line and fiscal year
  the newest budget that states the line and covers the year wins. A budget whose rows for a line carry no
  quantity at all (e.g. F/A-18E/F in PB2016, Excalibur in PB2017) does not state it, since "not reported"
  and "zero" cannot be told apart there; older budgets then still speak for those years. PBAmended outranks
  the PB of the same budget year: it came one to two months later and adds the OCO request to BudgetYearOne,
  repeating the PB's other periods (line-years where the two differ: {overrides}). The
  `source` column names the budget and period, e.g. "DoD PB2017 P-1, BudgetYearTwo"; a family-year whose
  lines come from different budgets lists each.
- **Families** — quantity = sum over the family's lines; FY{s.first_fiscal_year}–FY{last}.
- **Carry-forward (assumption)** — the default panel forecasts from 2022, past the budgets' last year, so each
  family's FY{last} quantity is held flat for FY{last + 1}–FY{s.carried_through}, with `source` "assumption:
  FY{last} quantity (…) held flat". Families with no FY{last} figure get no such rows: {early}.
- **Line capacities (assumption)** — there is no public line-rate data here. `min_sustaining_rate` = 50% of
  the mean yearly units FY{first_cap}–FY{last_cap} (domestic quantity, zero in years no budget covers, plus
  SIPRI U.S.-supplied units ordered per `lors.csv`, withdrawn requests excluded); `max_rate` = 150% of the
  largest such yearly sum; both to two significant figures. The foreign part is family-wide, so a family
  whose exports come from lines with no mapped domestic item (e.g. F-16 in fighter_aircraft) gets rates
  above what its mapped domestic lines alone suggest. Calendar order years stand in for fiscal years.

| family | budget rows | carried rows | FY{last} quantity | min_sustaining_rate | max_rate |
|---|---|---|---|---|---|
{table}
{SECTION_END}
"""


def _write_source_section(path: Path, section: str) -> None:
    """Replace this module's section of SOURCE.md (or append it), leaving the rest as it was."""
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    pattern = re.compile(re.escape(SECTION_BEGIN) + r".*?" + re.escape(SECTION_END) + r"\n?", re.DOTALL)
    text = pattern.sub("", text).rstrip("\n")
    atomic_write_text(path, (text + "\n\n" if text else "") + section)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Build domestic_plans.csv and line_capacities.csv from DoD P-1 line items."
    )
    parser.add_argument("--budget", type=Path, required=True, help="P-1 line-item resource summary CSV")
    parser.add_argument("--lors", type=Path, required=True, help="LORs table (foreign units for capacities)")
    parser.add_argument("--out", type=Path, required=True, help="dataset directory to write into")
    parser.add_argument("--mapping", type=Path, default=DEFAULT_MAPPING, help="line item → family table")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        summary = build(args.budget, args.lors, args.out, mapping=args.mapping)
    except LoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary.as_dict(), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
