"""Country × year figures from sources beside the arms-transfers register, as partner-level evidence.

The military-expenditure (:mod:`sources.milex`) and U.S. arms-sales (:mod:`sources.sam`) adapters share
this module's three steps:

1. :func:`match_names` maps the source's country names to partner ids: first through the source's alias
   table (the mismatches its SOURCE.md lists, spelled as a SIPRI recipient), then through
   :mod:`evidence.gazetteer`, which holds every SIPRI recipient spelling. A name that matches neither is
   *unmatched* and logged, never given a made-up id; names the alias table maps to ``None`` (aggregates
   such as SAM's ``Global``) are *excluded* and logged too.
2. :func:`evidence_rows` turns ``partner, year, kind, value`` figures into rows of the ``evidence`` layout:
   family blank (the figure concerns the partner as a whole) and dated 31 December of the year the figure
   describes, because that is the earliest it can be known. ``Dataset.restrict_to(origin)`` then keeps
   exactly the figures for years up to the origin. A missing figure has no row; a zero has a row with 0.
3. :func:`write_part` keeps the rows of one dataset's partners and writes them beside the dataset as
   ``evidence-<name>.csv``, which :func:`evidence.loaders.load_dataset` reads with its evidence, and logs
   which partners with orders have no figure at all, so a failed name match cannot pass unnoticed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from evidence import gazetteer
from evidence.loaders import EVIDENCE_PART_PREFIX, load_table
from evidence.records import EVIDENCE, LORS, PARTNERS, LORStatus
from evidence.writers import atomic_write_text, write_table

log = logging.getLogger(__name__)

EVIDENCE_COLUMNS = [c.name for c in EVIDENCE.columns]
# Statuses that mean the partner placed an order: the partners the name matching must not lose.
ORDERED = (LORStatus.EXECUTED.value, LORStatus.FIRM.value)


@dataclass(frozen=True)
class NameMatch:
    """Source country name → partner id, and the names left without one."""

    ids: dict[str, str]
    unmatched: list[str] = field(default_factory=list)  # no alias and not a SIPRI recipient spelling
    excluded: list[str] = field(default_factory=list)  # mapped to None on purpose (aggregates)


def match_names(names: Iterable[str], aliases: Mapping[str, str | None], source: str) -> NameMatch:
    """Map ``names`` to gazetteer partner ids via ``aliases`` (source name → SIPRI recipient name, or
    ``None`` to exclude it); log the unmatched and excluded names."""
    ids: dict[str, str] = {}
    unmatched: list[str] = []
    excluded: list[str] = []
    for name in sorted(set(names)):
        if name in aliases:
            target = aliases[name]
            if target is None:
                excluded.append(name)
                continue
            # An alias that the gazetteer does not know would make up an id: an error in the table.
            if not gazetteer.is_known(target):
                raise ValueError(f"{source}: alias {name!r} → {target!r} is not a gazetteer name")
            ids[name] = gazetteer.partner_for(target).id
        elif gazetteer.is_known(name):
            ids[name] = gazetteer.partner_for(name).id
        else:
            unmatched.append(name)
    if unmatched:
        log.warning("%s: %d names match no partner id: %s", source, len(unmatched), "; ".join(unmatched))
    if excluded:
        log.info("%s: %d names excluded (not a country): %s", source, len(excluded), "; ".join(excluded))
    return NameMatch(ids, unmatched, excluded)


def evidence_rows(figures: pd.DataFrame, source: str) -> pd.DataFrame:
    """``partner, year, kind, value`` figures as ``evidence`` rows dated 31 Dec of ``year``, family blank,
    sorted by partner, kind and date."""
    rows = pd.DataFrame(
        {
            "partner": figures["partner"].astype(str).to_numpy(),
            "family": "",
            "date": [f"{int(y):04d}-12-31" for y in figures["year"]],
            "kind": figures["kind"].astype(str).to_numpy(),
            "value": figures["value"].to_numpy(dtype=float),
            "source": source,
        }
    )
    return rows.sort_values(["partner", "kind", "date"], kind="stable").reset_index(drop=True)


def number_text(value: float) -> str:
    """A figure as written in the CSV: at most six decimals (a dollar in US$ million), no float noise."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


@dataclass(frozen=True)
class PartSummary:
    """What :func:`write_part` wrote and what it could not place, for the log and SOURCE.md."""

    name: str
    path: str
    rows: int
    partners: int
    first_year: int | None
    last_year: int | None
    rows_by_kind: dict[str, int]
    not_partners: list[str]  # ids with figures that are not partners of the dataset (rows left out)
    ordering_partners: int  # state partners with at least one order in lors.csv
    ordering_without_figures: list[str]  # of those, the ones with no figure at all
    unmatched: list[str]
    excluded: list[str]

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def write_part(rows: pd.DataFrame, dataset: Path, name: str, match: NameMatch) -> PartSummary:
    """Write the ``rows`` of ``dataset``'s partners to ``dataset/evidence-<name>.csv``.

    Rows of countries that are not partners of the dataset (e.g. the supplier itself) are left out and
    logged; so are the partners with orders that get no figure (coverage gaps, or a name that failed to
    match: the warning of :func:`match_names` tells which)."""
    dataset = Path(dataset)
    partners = load_table(dataset / "partners.csv", PARTNERS)
    known = set(partners["id"])
    inside = rows["partner"].isin(known)
    not_partners = sorted(set(rows.loc[~inside, "partner"]))
    if not_partners:
        log.info(
            "%s: %d rows of %d countries that are not partners of %s left out: %s",
            name,
            int((~inside).sum()),
            len(not_partners),
            dataset,
            ", ".join(not_partners),
        )
    kept = rows[inside].reset_index(drop=True)
    ordering: set[str] = set()
    lors_path = dataset / "lors.csv"
    if lors_path.is_file():
        lors = load_table(lors_path, LORS)
        states = set(partners.loc[partners["is_state"].astype(bool), "id"])
        ordering = set(lors.loc[lors["status"].isin(ORDERED), "partner"]) & states
    without = sorted(ordering - set(kept["partner"]))
    if without:
        log.warning(
            "%s: %d of %d state partners with orders have no figure: %s",
            name,
            len(without),
            len(ordering),
            ", ".join(without),
        )
    out = kept[EVIDENCE_COLUMNS].assign(value=kept["value"].map(number_text))
    path = dataset / f"{EVIDENCE_PART_PREFIX}{name}.csv"
    write_table(out, path)
    years = pd.to_datetime(kept["date"]).dt.year
    summary = PartSummary(
        name=name,
        path=path.name,
        rows=len(kept),
        partners=int(kept["partner"].nunique()),
        first_year=int(years.min()) if len(kept) else None,
        last_year=int(years.max()) if len(kept) else None,
        rows_by_kind={str(k): int(n) for k, n in kept["kind"].value_counts().sort_index().items()},
        not_partners=not_partners,
        ordering_partners=len(ordering),
        ordering_without_figures=without,
        unmatched=list(match.unmatched),
        excluded=list(match.excluded),
    )
    log.info("wrote %s: %d rows, %d partners", path, summary.rows, summary.partners)
    return summary


def section_markers(module: str) -> tuple[str, str]:
    return f"<!-- {module}: begin -->", f"<!-- {module}: end -->"


def write_source_section(path: Path, module: str, body: str) -> None:
    """Replace ``module``'s marked section of a SOURCE.md (or append it), leaving the rest as it was:
    the SIPRI build rewrites that file whole, and each later build step adds its own section back."""
    begin, end = section_markers(module)
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end) + r"\n?", re.DOTALL)
    text = pattern.sub("", text).rstrip("\n")
    atomic_write_text(path, (text + "\n\n" if text else "") + f"{begin}\n{body.strip()}\n{end}\n")


def summary_table(summary: PartSummary) -> str:
    """The build counts as a markdown table (lists joined; an empty list as —)."""

    def cell(value: object) -> str:
        if isinstance(value, list):
            return ", ".join(map(str, value)) or "—"
        if isinstance(value, dict):
            return ", ".join(f"{k} {v}" for k, v in value.items()) or "—"
        return "—" if value is None else str(value)

    lines = ["| count | value |", "|---|---|"]
    lines += [f"| {k} | {cell(v)} |" for k, v in summary.as_dict().items()]
    return "\n".join(lines)
