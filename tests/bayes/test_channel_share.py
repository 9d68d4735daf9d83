"""The channel model: its panel from SAM's FMS and DCS figures (zero versus missing), and recovery."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayes.channel_share import (
    ChannelError,
    ChannelModel,
    ChannelShares,
    channel_panel,
    simulate_channel_panel,
)

PARTNERS = pd.DataFrame({"id": ["norway", "chad"], "region": ["Europe", "Sub-Saharan Africa"]})


def _evidence(rows: list[tuple[str, int, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [(p, "", f"{y}-12-31", k, v, "SAM") for p, y, k, v in rows],
        columns=["partner", "family", "date", "kind", "value", "source"],
    )


def test_a_year_counts_only_where_both_channels_are_reported() -> None:
    fms, dcs = "us_fms_agreements_usd_m", "us_dcs_authorizations_usd_m"
    evidence = _evidence(
        [
            ("norway", 2005, fms, 300.0),
            ("norway", 2005, dcs, 100.0),
            ("norway", 2006, fms, 0.0),  # a reported zero: the year is all DCS
            ("norway", 2006, dcs, 50.0),
            ("norway", 2007, dcs, 80.0),  # FMS not reported: the year says nothing about the split
            ("chad", 2005, fms, 0.2),  # under a million in all: one small case
            ("chad", 2005, dcs, 0.3),
        ]
    )
    panel = channel_panel(evidence, PARTNERS, ["norway", "chad"])
    observed = panel["observed"].to_pandas()
    assert observed.loc["norway"].tolist() == [True, True, False]
    assert not observed.loc["chad"].any()
    assert np.isnan(panel["fms_usd_m"].sel(partner="norway", year=2007))
    assert panel["fms_usd_m"].sel(partner="norway", year=2006) == 0.0


def test_a_panel_without_figures_is_refused_naming_the_kinds() -> None:
    with pytest.raises(ChannelError, match="us_fms_agreements_usd_m"):
        channel_panel(_evidence([("norway", 2005, "milex_constant_usd_m", 1.0)]), PARTNERS, ["norway"])


@pytest.mark.parametrize(
    ("config", "message"),
    [({"min_total_usd_m": -1}, "min_total_usd_m"), ({"trend_sd": 0}, r"model_config\['trend_sd'\]: 0")],
)
def test_invalid_settings_are_refused_naming_the_key(config: dict, message: str) -> None:
    with pytest.raises(ChannelError, match=message):
        ChannelModel(config)


@pytest.mark.slow
def test_the_channel_model_is_recovered_from_a_world_drawn_from_it() -> None:
    panel, truth = simulate_channel_panel(60, np.arange(2001, 2017), seed=7)
    model = ChannelModel(sampler_config={"random_seed": 3})
    tree = model.fit(panel, progressbar=False)
    assert model.status == "ok", model.diagnostics.failures
    post = tree["posterior"].to_dataset()
    for name in ("intercept", "sigma_partner", "trend_mean", "phi"):
        low, high = np.quantile(post[name].values, [0.01, 0.99])
        assert low <= truth[name] <= high, (name, low, high, truth[name])
    partner = post["partner_level"].mean(("chain", "draw")).values - float(post["intercept"].mean())
    assert np.corrcoef(partner, truth["partner"])[0, 1] > 0.8
    # P(FMS) read back from the file's group is the mean the world drew its fractions about
    shares = ChannelShares(tree, take=400)
    years = panel["year"].values
    x = (years - years.mean()) / 10.0
    region_index = np.arange(60) % 8
    logit = truth["intercept"] + truth["partner"][:, None]
    true_mu = 1 / (1 + np.exp(-(logit + truth["trend"][region_index][:, None] * x)))
    fitted = shares.probabilities(years).mean(axis=0)
    assert np.abs(fitted - true_mu).mean() < 0.08
