"""Named U.S. systems under the system families: the catalogue and the designation matcher.

A family (``sam``, ``rocket_artillery``) lumps systems that different lines build: PATRIOT interceptors
with Stinger and the Standard Missile, HIMARS with the M270. The catalogue
(``default_data/systems.csv``, reviewed by hand) names the systems that U.S. orders are for. Each row has
an id, a display name, the one family it sits in, the production line that builds it where the DoD budget
shows one, and aliases. The aliases are one case-insensitive regular expression, searched in SIPRI weapon
designations (``AIM-120C AMRAAM``) and DSCA item designations (``AIM-120C-7 AMRAAM``).

A designation belongs to the first system, in file order, whose aliases it matches and whose family is the
row's family. The family condition keeps systems nested in families (a King Air that SIPRI files as a
special-mission aircraft is not the light-aircraft King Air), so a family's count is the sum of its
systems' and of its unnamed remainder. ``scripts/build_systems.py`` applies the catalogue to the register
and the DSCA labels, writes what each designation maps to (``default_data/system_aliases.csv``), and
prints coverage and what is left unmapped, for review.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path

import pandas as pd

from evidence.taxonomy import FAMILY_BY_ID
from totaldemand.errors import UserError

COLUMNS = ("system", "name", "family", "line", "aliases", "note")
_ID = re.compile(r"[a-z][a-z0-9_]{0,63}")


class CatalogueError(UserError):
    """A catalogue that cannot be used; the message names the file, row, field and reason."""


@dataclass(frozen=True)
class System:
    id: str
    name: str
    family: str
    line: str | None  # production line id, where a DoD budget line builds it
    aliases: re.Pattern[str]
    note: str = ""


def default_catalogue_path() -> Path:
    return Path(str(files("evidence") / "default_data" / "systems.csv"))


def default_aliases_path() -> Path:
    return Path(str(files("evidence") / "default_data" / "system_aliases.csv"))


class Catalogue:
    """The systems, in file order (the order decides between aliases that overlap)."""

    def __init__(self, systems: Iterable[System]) -> None:
        self.systems = tuple(systems)
        self.by_id = {s.id: s for s in self.systems}
        self._by_family: dict[str, list[System]] = {}
        for s in self.systems:
            self._by_family.setdefault(s.family, []).append(s)

    def families(self) -> set[str]:
        return set(self._by_family)

    def get(self, system: str) -> System | None:
        return next((s for s in self.systems if s.id == system), None)

    def of_family(self, family: str) -> tuple[System, ...]:
        return tuple(self._by_family.get(family, ()))

    def system_for(self, designation: str, family: str | None = None) -> str | None:
        """The system a designation names, or None. ``family``: the row's family (SIPRI rows have one);
        None matches across families, for sources without one (DSCA item lists)."""
        candidates = self.systems if family is None else self._by_family.get(family, ())
        text = designation.strip()
        for s in candidates:
            if s.aliases.search(text):
                return s.id
        return None

    def assign(self, designations: pd.Series, families: pd.Series) -> pd.Series:
        """The system of each (designation, family) row; None where no system matches."""
        keys = pd.DataFrame({"d": designations.fillna("").astype(str), "f": families.astype(str)})
        unique = keys.drop_duplicates()
        found = {(d, f): self.system_for(d, f) for d, f in zip(unique["d"], unique["f"], strict=True) if d}
        return pd.Series(
            [found.get((d, f)) for d, f in zip(keys["d"], keys["f"], strict=True)],
            index=designations.index,
            dtype=object,
        )


def parse_catalogue(
    text: str, source: str = "catalogue", families: Collection[str] | None = None
) -> Catalogue:
    """A catalogue from its CSV text; every problem is raised with its row and field. ``families``:
    the family ids a row may name (default: the taxonomy's; a simulated world has its own)."""
    known = FAMILY_BY_ID if families is None else set(families)
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise CatalogueError(f"{source}: the header must be {','.join(COLUMNS)}, not {reader.fieldnames}")
    systems: list[System] = []
    seen: set[str] = set()
    for row_number, row in enumerate(reader, start=2):

        def fail(field: str, reason: str, row_number: int = row_number, row: dict = row) -> CatalogueError:
            return CatalogueError(f"{source} row {row_number}, {field} {row.get(field)!r}: {reason}")

        if None in row or any(v is None for v in row.values()):
            raise CatalogueError(f"{source} row {row_number}: expected {len(COLUMNS)} fields")
        sid, family, line = row["system"].strip(), row["family"].strip(), row["line"].strip()
        if not _ID.fullmatch(sid):
            raise fail(
                "system", "an id is lowercase letters, digits and _ (at most 64), starting with a letter"
            )
        if sid in seen:
            raise fail("system", "given twice")
        if family not in known:
            raise fail("family", "not a known family (evidence.taxonomy)")
        if line and not _ID.fullmatch(line):
            raise fail("line", "a line id is lowercase letters, digits and _, starting with a letter")
        if not row["name"].strip():
            raise fail("name", "empty")
        if not row["aliases"].strip():
            raise fail("aliases", "empty: the system would match nothing")
        try:
            aliases = re.compile(row["aliases"], re.IGNORECASE)
        except re.error as exc:
            raise fail("aliases", f"not a regular expression ({exc})") from None
        if aliases.search(""):
            raise fail("aliases", "matches the empty designation, so every row")
        seen.add(sid)
        systems.append(System(sid, row["name"].strip(), family, line or None, aliases, row["note"].strip()))
    if not systems:
        raise CatalogueError(f"{source}: no systems")
    return Catalogue(systems)


def load_catalogue(path: Path | str | None = None) -> Catalogue:
    """The catalogue at ``path``; the shipped one by default (read once)."""
    if path is None:
        return _default_catalogue()
    path = Path(path)
    return parse_catalogue(path.read_text(encoding="utf-8"), str(path))


@cache
def _default_catalogue() -> Catalogue:
    path = default_catalogue_path()
    return parse_catalogue(path.read_text(encoding="utf-8"), str(path))


def coverage(lors: pd.DataFrame, catalogue: Catalogue, since: int = 2000, until: int | None = None) -> float:
    """Share of LOR rows received in ``since``..``until`` (years, inclusive) whose designation maps to a
    system: the catalogue's coverage of the orders, by count."""
    years = pd.to_datetime(lors["received"]).dt.year
    rows = lors[(years >= since) & ((years <= until) if until is not None else True)]
    if rows.empty:
        raise ValueError(f"no LORs received from {since} to {until or 'the end'}")
    return float(catalogue.assign(rows["designation"], rows["family"]).notna().mean())
