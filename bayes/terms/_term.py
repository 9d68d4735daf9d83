"""What every term of the model is: its priors, its switch, its part of the fit and of every numpy
evaluation (fitted years, forecasts, simulation). See :mod:`bayes.terms` for why terms are classes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:
    from bayes.config import ModelConfig
    from bayes.design import Design
    from priors import PriorSet

# What a term's rate contribution reads besides its parameters, keyed by name: ``decade`` (year,),
# ``partner_dynamic`` (..., partner, year), ``family_dynamic`` (..., family, year), ``fleet_size`` and
# ``fleet_age`` (partner, family, year), ``nlp_lags`` and ``notice_lags`` (lag, partner, family, year),
# ``wave`` (..., region, family, year) with ``region_index`` (partner,). The fit's inputs cover the
# fitted years; a forecast's the forecast years.
Inputs = Mapping[str, Any]


class Dense:
    """Places effects on the whole (..., partner, family, year) cube by broadcasting, for pytensor
    tensors without a sample axis and numpy arrays with leading sample axes alike. ``cast`` gives
    numpy covariates the graph's float type (the fit runs in float32)."""

    def __init__(self, cast: str | None = None) -> None:
        self.cast = cast

    def scalar(self, x: Any) -> Any:
        return x[..., None, None, None]

    def partner(self, x: Any) -> Any:
        return x[..., :, None, None]

    def family(self, x: Any) -> Any:
        return x[..., None, :, None]

    def partner_family(self, x: Any) -> Any:
        return x[..., :, :, None]

    def partner_year(self, x: Any) -> Any:
        return x[..., :, None, :]

    def family_year(self, x: Any) -> Any:
        return x[..., None, :, :]

    def year(self, x: Any) -> Any:
        return x

    def group_family_year(self, x: Any, group_index: np.ndarray) -> Any:
        """(..., group, family, year) effects on each partner through its group (its region)."""
        return x[..., group_index, :, :]

    def cell(self, x: np.ndarray) -> Any:
        return x.astype(self.cast) if self.cast else x


class Cells:
    """Gathers effects at listed cells only (pytensor, no sample axis), so the gradient of a few
    thousand non-zero cells never touches the dense cube."""

    def __init__(self, idx: tuple[np.ndarray, ...], cast: str) -> None:
        import pytensor.tensor as pt

        self.idx = idx
        self.cast = cast
        self.pi, self.fi, self.ti = (pt.as_tensor_variable(i.astype("int32")) for i in idx)

    def scalar(self, x: Any) -> Any:
        return x

    def partner(self, x: Any) -> Any:
        return x[self.pi]

    def family(self, x: Any) -> Any:
        return x[self.fi]

    def partner_family(self, x: Any) -> Any:
        return x[self.pi, self.fi]

    def partner_year(self, x: Any) -> Any:
        return x[self.pi, self.ti]

    def family_year(self, x: Any) -> Any:
        return x[self.fi, self.ti]

    def year(self, x: Any) -> Any:
        return x[self.ti]

    def group_family_year(self, x: Any, group_index: np.ndarray) -> Any:
        return x[np.asarray(group_index)[self.idx[0]], self.fi, self.ti]

    def cell(self, x: np.ndarray) -> Any:
        return x[self.idx].astype(self.cast)


Place = Dense | Cells


@dataclass
class BuildContext:
    """What a term's :meth:`Term.build` reads and adds to, inside the PyMC model's context: the
    design, the priors, the float type, which terms are on, the parameters built so far and the
    inputs of the rate (the fitted years')."""

    design: Design
    priors: PriorSet
    config: ModelConfig
    float_x: str
    present: Mapping[str, bool]
    params: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)


@dataclass
class FutureContext:
    """What a term's :meth:`Term.future_inputs` reads: the forecast's draws (sample axis first),
    its horizon and years, the fitted panel's constant data, the design scales and the settings."""

    params: Mapping[str, np.ndarray]
    horizon: int
    years: np.ndarray
    reference_year: int
    centre_year: float
    constant_data: Any  # xr.Dataset
    scales: Mapping[str, Any]
    config: ModelConfig
    present: Mapping[str, bool]
    trend_damping: float
    history: np.ndarray | None = None  # the fitted counts (partner, family, year), for terms that read them


class Term:
    """One term of the model. Subclasses set the class attributes and override what they contribute:

    - ``name``: the term's name; ``switch``: the name under ``model_config['components']`` that turns
      it off for ablations (None: always on while the data can inform it);
    - ``priors``: the prior names it declares (each must be in the prior set);
    - ``stored``: the posterior variables it stores (parameters and derived effects);
    - ``optional``: per presence flag, the stored variables that exist only when the flag is on;
    - ``constant_without``: stored variables that are constants (zeros) when the term is off, which
      the convergence gates skip;
    - ``checked``: the scalars simulation-based calibration ranks;
    - :meth:`presence`: its presence flags -- whether the data can inform it, the settings ask for it
      and its switch leaves it on (stored in the posterior file as ``components``);
    - :meth:`build`: its random variables, parameters and inputs in the PyMC graph;
    - :meth:`rate`: its addends to log mu, for the fit and every numpy evaluation;
    - :meth:`added_rate`: expected counts it adds to mu itself (requests on the book);
    - :meth:`fitted_inputs` / :meth:`future_inputs`: what :meth:`rate` reads on the fitted years and
      on forecast years;
    - :meth:`feeds_back` / :meth:`draw_sequential`: for a term that reads the counts themselves, how
      forecast years are drawn one after another.
    """

    name: ClassVar[str]
    switch: ClassVar[str | None] = None
    priors: ClassVar[tuple[str, ...]] = ()
    stored: ClassVar[tuple[str, ...]] = ()
    optional: ClassVar[dict[str, tuple[str, ...]]] = {}
    constant_without: ClassVar[tuple[str, ...]] = ()
    checked: ClassVar[tuple[str, ...]] = ()
    per_draw_inputs: ClassVar[tuple[str, ...]] = ()  # forecast inputs with a leading sample axis

    def wanted(self, config: ModelConfig) -> bool:
        """Whether the settings may turn the term on (its priors are required only then)."""
        return True

    def presence(self, design: Design, config: ModelConfig) -> dict[str, bool]:
        return {}

    def build(self, ctx: BuildContext) -> None:
        raise NotImplementedError

    def rate(self, params: Mapping[str, Any], inputs: Inputs, at: Place) -> Iterator[Any]:
        """Addends of log mu placed by ``at``; none for terms outside the rate (units, conversion)."""
        return iter(())

    def added_rate(self, params: Mapping[str, Any], inputs: Inputs, at: Place) -> Any | None:
        """Expected counts added to mu itself rather than to log mu (orders from requests already on
        the book arrive on top of the rate), placed by ``at``; None for a term without any."""
        return None

    def active(self, params: Mapping[str, Any], inputs: Inputs) -> bool:
        """Whether this evaluation includes the term: its parameters (and inputs) are there."""
        return False

    def fitted_inputs(self, params: Mapping[str, Any], design: Design) -> dict[str, Any]:
        return {}

    def future_inputs(self, ctx: FutureContext, rng: np.random.Generator) -> dict[str, Any]:
        return {}

    def feeds_back(self, params: Mapping[str, Any], inputs: Inputs) -> bool:
        """Whether forecast counts must be drawn year by year because the term reads them."""
        return False

    @staticmethod
    def draw_sequential(
        rng: np.random.Generator,
        log_mu: np.ndarray,
        params: Mapping[str, Any],
        inputs: Inputs,
        dispersion: Any,
        zero_inflation: Any = None,
    ) -> np.ndarray:
        raise NotImplementedError
