"""The arrival profile that turns yearly draws into windows in months."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from bayes.timing import MIN_DATED, ArrivalProfile, add_months


def test_add_months_clips_the_day() -> None:
    assert add_months(date(2022, 3, 1), 18) == date(2023, 9, 1)
    assert add_months(date(2022, 1, 31), 1) == date(2022, 2, 28)
    assert add_months(date(2022, 11, 15), 2) == date(2023, 1, 15)


def test_a_uniform_profile_gives_each_year_its_share_of_days() -> None:
    profile = ArrivalProfile.uniform()
    assert profile.share(2022, date(2022, 1, 1), date(2023, 1, 1)) == pytest.approx(1.0)
    assert profile.share(2022, date(2022, 7, 1), date(2024, 1, 1)) == pytest.approx(0.5)
    assert profile.share(2023, date(2022, 7, 1), date(2023, 4, 1)) == pytest.approx(0.25)
    assert profile.share(2021, date(2022, 7, 1), date(2023, 4, 1)) == 0.0


def test_year_only_records_leave_it_uniform_and_dated_ones_teach_it() -> None:
    sipri = pd.DataFrame({"received": ["2015-07-01"] * 100, "source": ["SIPRI trade register"] * 100})
    assert ArrivalProfile.from_lors(sipri).monthly == ArrivalProfile.uniform().monthly
    assert "uniform" in ArrivalProfile.from_lors(sipri).basis
    dated = pd.DataFrame(
        {"received": [f"2020-{m:02d}-15" for m in [3] * 60 + [9] * 20], "source": ["POST /v1/lors"] * 80}
    )
    profile = ArrivalProfile.from_lors(dated)
    assert profile.basis.startswith("learned from 80 dated requests")
    assert np.isclose(sum(profile.monthly), 1.0) and profile.monthly[2] == pytest.approx(61 / 92)
    few = dated.head(MIN_DATED - 1)
    assert "uniform" in ArrivalProfile.from_lors(few).basis
