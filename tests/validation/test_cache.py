"""Another backtest's predictions are found by contender name, and a variant is never taken for ours."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from validation._cache import CacheIndex


def _entry(directory: Path, stem: str, **about: object) -> Path:
    task = {"origin": 2014, "horizon": 3, "samples": 1000, "seed": 2014}
    (directory / f"{stem}.json").write_text(json.dumps({"first_year": 1990, **task, **about}))
    np.savez(directory / f"{stem}.npz", cube=np.zeros(1))
    return directory / f"{stem}.npz"


def test_variants_are_found_by_their_own_names_only(tmp_path: Path) -> None:
    waves = _entry(tmp_path, "a", contender="ours[waves=on]", choices={"waves": "on"})
    # as records were written before they kept the variant's name: must not pass for ours
    _entry(tmp_path, "b", contender="ours", choices={"text_evidence": "requests"})
    _entry(tmp_path, "c", contender="ours", without=["nlp"])
    ours = _entry(tmp_path, "d", contender="ours", without=[])
    index = CacheIndex([tmp_path])
    assert index.find("ours[waves=on]", 2014, 3, 1000, 2014) == waves
    assert index.find("ours", 2014, 3, 1000, 2014) == ours
    assert index.find("ours", 2015, 3, 1000, 2015) is None
    assert len(index.entries) == 2
