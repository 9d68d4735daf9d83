"""Readiness reports: validated row by row, stored as evidence, and preferred over the fleet proxy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayes.panel import build_panel
from evidence.loaders import LoadError, load_dataset
from sources.augment import add_evidence
from sources.readiness_reports import read_readiness_reports

HEADER = "partner,family,system,date,fleet_size,mission_capable_rate,average_age\n"


def _write(tmp_path: Path, body: str, name: str = "reports.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + body)
    return path


def test_rows_become_evidence_with_rates_as_shares(tmp_path: Path) -> None:
    path = _write(tmp_path, "p00,f00,,2010-06-30,24,75,12.5\np01,,F-16C,2011-01-15,10,0.6,\n")
    rows = read_readiness_reports(
        path, {"p00", "p01"}, {"f00", "fighter_aircraft"}, {"F-16C": "fighter_aircraft"}.get
    )
    by_kind = rows.groupby("kind")["value"].apply(list).to_dict()
    assert by_kind["reported_fleet_units"] == [24.0, 10.0]
    assert by_kind["reported_mission_capable_rate"] == [0.75, 0.6]
    assert by_kind["reported_fleet_mean_age"] == [12.5]
    assert set(rows.loc[rows["partner"] == "p01", "family"]) == {"fighter_aircraft"}
    assert rows["source"].str.contains("reports.csv:2").any()


def test_every_bad_cell_is_named(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "p99,f00,,2010-06-30,24,,\n"  # unknown partner
        "p00,f00,,30/06/2010,24,,\n"  # not ISO
        "p00,f00,,2010-06-30,-3,,\n"  # negative fleet
        "p00,f00,,2010-06-30,5,150,\n"  # rate over 100%
        "p00,,XYZ-1,2010-06-30,5,,\n"  # unknown system
        "p00,f00,,2010-06-30,5,,200\n",  # implausible age
    )
    with pytest.raises(LoadError) as caught:
        read_readiness_reports(path, {"p00"}, {"f00"}, lambda _: None)
    found = {(p.row, p.column) for p in caught.value.problems}
    assert found == {
        (2, "partner"),
        (3, "date"),
        (4, "fleet_size"),
        (5, "mission_capable_rate"),
        (6, "system"),
        (7, "average_age"),
    }
    missing = tmp_path / "missing.csv"
    missing.write_text("partner,date\np00,2010-01-01\n")
    with pytest.raises(LoadError, match="fleet_size"):
        read_readiness_reports(missing, {"p00"}, {"f00"})


def test_a_report_replaces_the_proxy_from_its_date_on(sim_world: Path, tmp_path: Path) -> None:
    """Fleet available = reported size x mission-capable rate; the reported age grows a year a year;
    earlier years and other cells keep the SIPRI-style proxy; the source dataset is untouched."""
    before = build_panel(load_dataset(sim_world), first_year=2000)
    path = _write(tmp_path, "p00,f00,,2010-03-01,40,50,7\n")
    dataset = load_dataset(sim_world)
    rows = read_readiness_reports(path, set(dataset.partners["id"]), set(dataset.families["id"]))
    out = tmp_path / "with_reports"
    after = build_panel(add_evidence(sim_world, rows, out), first_year=2000)
    units = after["fleet_units"].sel(partner="p00", family="f00")
    age = after["fleet_mean_age"].sel(partner="p00", family="f00")
    # the panel's fleet in year t is as of the end of t - 1
    assert units.sel(year=2011).item() == 20.0 and units.sel(year=2014).item() == 20.0
    np.testing.assert_allclose(age.sel(year=[2011, 2012, 2015]).values, [7.0, 8.0, 11.0])
    old = before["fleet_units"].sel(partner="p00", family="f00")
    assert units.sel(year=slice(2000, 2010)).equals(old.sel(year=slice(2000, 2010)))
    others = dict(partner=before["partner"].values[1:])
    assert after["fleet_units"].sel(**others).equals(before["fleet_units"].sel(**others))
    assert len(load_dataset(sim_world).evidence) == len(dataset.evidence)
    again = add_evidence(out, rows, out)  # the same rows twice: not stored twice
    assert len(again.evidence) == len(dataset.evidence) + 3


def test_a_failed_add_leaves_the_destination_as_it_was(sim_world: Path, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    add_evidence(
        sim_world, pd.DataFrame(columns=["partner", "family", "date", "kind", "value", "source"]), out
    )
    listing = sorted(p.name for p in out.iterdir())
    bad = pd.DataFrame(
        [
            {
                "partner": "nobody",
                "family": "f00",
                "date": "2010-01-01",
                "kind": "nlp_mention",
                "value": 1.0,
                "source": "",
            }
        ]
    )
    with pytest.raises(LoadError, match="nobody"):
        add_evidence(out, bad, out)
    assert sorted(p.name for p in out.iterdir()) == listing
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".ds-")]
