"""Calibration of the U.S. share model: its predicted U.S. share against the share observed later, by region.

At an origin the share model is fitted to every supplier's orders known then (as the decomposed forecast
fits it); for each later year, each partner × family cell's orders from every supplier (known after the
fact: this checks the split, not the demand) are split by the model's P(U.S.) with the history as of the
origin. Per region, the predicted U.S. orders (mean and a 90% interval, Binomial draw by draw) are set
against the observed ones, and the PIT of the observed count says whether the spread is right: over many
regions, a calibrated model's PIT values are uniform and 90% of observed counts fall in the 90% intervals.

Run::

    python -m validation.share_calibration --origin 2015 --last 2021 [--data DIR] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from bayes.panel import build_panel
from bayes.us_share import USShareModel, share_panel
from evidence.loaders import Dataset, default_dataset_path, load_dataset

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RegionCalibration:
    region: str
    orders: int  # from every supplier, the held-out years, the origin's partners and families
    observed_us: int
    predicted_us: float
    lower_90: float
    upper_90: float
    pit: float  # P(predicted < observed) + P(predicted == observed) / 2

    @property
    def observed_share(self) -> float:
        return self.observed_us / self.orders if self.orders else float("nan")

    @property
    def predicted_share(self) -> float:
        return self.predicted_us / self.orders if self.orders else float("nan")


@dataclass(frozen=True)
class ShareCalibration:
    origin: int
    first_year: int
    last_year: int
    status: str
    fit_seconds: float
    regions: list[RegionCalibration]

    def covered(self) -> float:
        """The fraction of regions whose observed U.S. orders fall in the 90% interval."""
        inside = [r.lower_90 <= r.observed_us <= r.upper_90 for r in self.regions if r.orders]
        return float(np.mean(inside)) if inside else float("nan")

    def as_dict(self) -> dict:
        out = asdict(self)
        for row, region in zip(out["regions"], self.regions, strict=True):
            row |= {"observed_share": region.observed_share, "predicted_share": region.predicted_share}
        return out | {"covered_90": self.covered()}

    def table(self) -> str:
        lines = [
            f"U.S. share, fitted to {self.first_year}-{self.origin}, held out "
            f"{self.origin + 1}-{self.last_year} (gates: {self.status}, fit {self.fit_seconds:.0f}s)",
            "| region | orders | observed U.S. share | predicted (90%) | PIT |",
            "|---|---|---|---|---|",
        ]
        for r in sorted(self.regions, key=lambda r: -r.orders):
            if not r.orders:
                continue
            lines.append(
                f"| {r.region} | {r.orders} | {r.observed_share:.2f} | {r.predicted_share:.2f} "
                f"({r.lower_90 / r.orders:.2f}-{r.upper_90 / r.orders:.2f}) | {r.pit:.2f} |"
            )
        lines.append(f"observed inside the 90% interval in {self.covered():.0%} of regions")
        return "\n".join(lines)


def calibrate(
    dataset: Dataset,
    origin: int,
    last_year: int,
    first_year: int = 1990,
    seed: int = 0,
    progressbar: bool = True,
) -> ShareCalibration:
    """Fit the share model at ``origin`` on what was known then; check it on the years after it."""
    if not origin < last_year:
        raise ValueError(f"last_year {last_year} must be after the origin {origin}")
    known = dataset.restrict_to(origin)
    demand = build_panel(known, first_year=first_year, last_year=origin)
    axes = [str(p) for p in demand["partner"].values], [str(f) for f in demand["family"].values]
    train = share_panel(known.supplier_orders, known.partners, first_year, origin, *axes)
    model = USShareModel(sampler_config={"random_seed": seed})
    tree = model.fit(train, progressbar)
    held = share_panel(dataset.supplier_orders, dataset.partners, origin + 1, last_year, *axes)
    years = held["year"].values
    p_us = model.probabilities(train, years, seed)  # (draws, P, F, Y), history as of the origin
    every = held["all_count"].values
    rng = np.random.default_rng(seed)
    draws = rng.binomial(np.broadcast_to(every, p_us.shape), p_us)
    regions = held["partner_region"].values.astype(str)
    out = []
    for region in sorted(set(regions)):
        at = regions == region
        predicted = draws[:, at].sum(axis=(1, 2, 3))
        observed = int(held["us_count"].values[at].sum())
        out.append(
            RegionCalibration(
                region,
                int(every[at].sum()),
                observed,
                float(predicted.mean()),
                float(np.quantile(predicted, 0.05)),
                float(np.quantile(predicted, 0.95)),
                float(np.mean(predicted < observed) + np.mean(predicted == observed) / 2),
            )
        )
    return ShareCalibration(
        origin, first_year, last_year, model.status, float(tree.attrs["fit_seconds"]), out
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Calibration of the U.S. share model by region.")
    parser.add_argument("--origin", type=int, required=True, help="last year the fit may see")
    parser.add_argument("--last", type=int, required=True, help="last held-out year")
    parser.add_argument("--first-year", type=int, default=1990)
    parser.add_argument("--data", type=Path, default=None, help="dataset directory (default: embedded)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    dataset = load_dataset(args.data or default_dataset_path())
    try:
        result = calibrate(dataset, args.origin, args.last, args.first_year, args.seed)
    except ValueError as exc:
        parser.exit(2, f"error: {exc}\n")
    print(result.table())
    if args.out:
        args.out.write_text(json.dumps(result.as_dict(), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
