from __future__ import annotations

from pathlib import Path

import pytest

from priors import PriorError, load_priors

INVALID = Path(__file__).parent.parent / "fixtures" / "priors"


def test_default_priors_are_complete_and_explained() -> None:
    from bayes.terms import PRIOR_NAMES

    priors = load_priors()
    priors.require(PRIOR_NAMES)
    assert all(p.rationale for p in priors.priors.values())
    assert len(priors.hash) == 16


def test_hash_ignores_rationale_but_not_arguments(tmp_path: Path) -> None:
    text = load_priors().source and Path(load_priors().source).read_text()
    (tmp_path / "a.toml").write_text(text.replace("Partners differ", "Partners vary"))
    (tmp_path / "b.toml").write_text(text.replace("mu = -3.0", "mu = -2.5"))
    assert load_priors(tmp_path / "a.toml").hash == load_priors().hash
    assert load_priors(tmp_path / "b.toml").hash != load_priors().hash


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("unknown_dist.toml", r"\[sigma_partner\]: dist 'Cauchyish' is not one of"),
        ("negative_sigma.toml", r"\[sigma_family\]: sigma = -1.0 must be > 0"),
        ("missing_rationale.toml", r"\[intercept\]: 'rationale' is required"),
        ("missing_version.toml", r"top-level 'version' string is required"),
        ("not_toml.toml", r"not valid TOML"),
        ("extra_argument.toml", r"\[intercept\]: unknown argument\(s\) \['scale'\]"),
        ("text_argument.toml", r"\[intercept\]: mu = 'minus three' is not a finite number"),
    ],
)
def test_invalid_prior_files_are_refused_with_a_reason(name: str, message: str) -> None:
    with pytest.raises(PriorError, match=message) as info:
        load_priors(INVALID / name)
    assert name in str(info.value)


def test_model_refuses_priors_missing_a_parameter() -> None:
    from bayes.model import DemandModel

    partial = load_priors(INVALID / "missing_parameter.toml").as_dict()
    with pytest.raises(PriorError, match=r"missing prior\(s\) \['inv_sqrt_dispersion'\]"):
        DemandModel({"priors": partial})
