"""Levels: the overall intercept, partners nested in regions (their mean shifted by alliance
memberships), families nested in categories, and the partner × family interaction.

    intercept + partner[p] + family[f] + partner_family[p, f]

The group effects are integrated out (:func:`grouped_normal`) and both sets of levels sum to zero, so
the intercept alone carries the overall level. The interaction -- thousands of sparsely observed
cells -- is non-centred (``sigma * z``) and sums to zero over partners and over families.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import numpy as np

from bayes.terms._term import BuildContext, Inputs, Place, Term


def grouped_normal(
    name: str,
    mean: Any,
    sigma_within: Any,
    sigma_group: Any,
    group: np.ndarray,
    dim: str,
    float_x: str,
    centred: bool,
) -> Any:
    """Members of groups (partners in regions), summing to zero: x ~ N(mean, S) conditioned on
    sum(x) = 0, with S = sigma_within^2 I + sigma_group^2 Z Z' and Z the membership matrix -- the
    group effects integrated out in closed form. ``mean`` must itself sum to zero.

    Marginalising keeps groups of one member (North America, single-family categories) from forming
    a ridge between a group effect and its only member's deviation, which is what made an explicit
    nesting fail its gates on the real panel. Conditioning on the sum, rather than centring free
    levels afterwards, leaves the sampler no direction the likelihood cannot see: free levels' common
    shift is informed by the prior alone, and across 131 partners it is a direction far longer than
    any other, which the diagonal mass matrix cannot rescale (it kept every draw at tree depth 6).

    ``centred`` writes the density directly on the zero-sum subspace (PyMC's zero-sum transform;
    the Gaussian density there is the full one divided by the density of sum(x) at 0). Otherwise
    x = mean + K M z with z ~ N(0, I): M = sigma_within (I - P) + sqrt(sigma_within^2 + n_g
    sigma_group^2) P, P averaging within each group, is a square root of S, and K = I - w 1'/(1'w),
    w = S 1, conditions on the sum (Kriging), best where many members have little data.
    """
    import pymc as pm
    import pytensor.tensor as pt
    from pymc.distributions.transforms import ZeroSumTransform

    n_groups = int(group.max()) + 1
    onehot = np.zeros((len(group), n_groups), dtype=float_x)
    onehot[np.arange(len(group)), group] = 1.0
    members = onehot.sum(axis=0)  # per group
    n = float(len(group))

    def weights(a, b):
        """w = S 1 per member, and 1'w = var(sum(x)), for a = sigma_within^2, b = sigma_group^2."""
        w = a + b * members[group]
        return w, n * a + b * float(np.sum(members**2))

    if not centred:
        z = pm.Normal(f"z_{name}", 0.0, 1.0, dims=dim)
        z_bar = (pt.dot(z, onehot) / members)[group]
        scale = pt.sqrt(pt.square(sigma_within) + members * pt.square(sigma_group))[group]
        x = sigma_within * (z - z_bar) + scale * z_bar
        w, v = weights(pt.square(sigma_within), pt.square(sigma_group))
        return pm.Deterministic(name, mean + x - w * pt.sum(x) / v, dims=dim)

    def logp(value, mu, sw, sg):
        d = value - mu
        s1 = pt.dot(d, onehot)
        s2 = pt.dot(pt.square(d), onehot)
        a, b = pt.square(sw), pt.square(sg)
        quad = (s2 - b / (a + members * b) * pt.square(s1)) / a
        full = -0.5 * pt.sum(
            members * np.log(2 * np.pi) + (members - 1) * pt.log(a) + pt.log(a + members * b) + quad
        )
        _, v = weights(a, b)
        # density on the subspace: divide by that of sum(x) ~ N(0, v) at 0 (and by sqrt(n), the
        # length of the normal that the zero-sum coordinates leave out)
        return full + 0.5 * pt.log(2 * np.pi * v) - 0.5 * np.log(n)

    def random(mu, sw, sg, rng=None, size=None):
        sw, sg = np.asarray(sw), np.asarray(sg)
        batch = np.broadcast_shapes(sw.shape, sg.shape)
        g = rng.normal(0.0, 1.0, (*batch, n_groups)) * sg[..., None]
        x = g[..., group] + rng.normal(0.0, 1.0, (*batch, len(group))) * sw[..., None]
        w, v = weights(sw[..., None] ** 2, sg[..., None] ** 2)
        return mu + x - w * x.sum(axis=-1, keepdims=True) / v

    return pm.CustomDist(
        name,
        mean,
        sigma_within,
        sigma_group,
        logp=logp,
        random=random,
        signature="(n),(),()->(n)",
        dims=dim,
        transform=ZeroSumTransform([-1]),
    )


def condition_zero_sum(
    x: np.ndarray, group: np.ndarray, sigma_within: float, sigma_group: float
) -> np.ndarray:
    """A draw of grouped levels (mean zero) turned into one conditioned on summing to zero, as
    :func:`grouped_normal` defines them: x - w sum(x) / sum(w), w = S 1 (the simulator's levels)."""
    w = sigma_within**2 + sigma_group**2 * np.bincount(group)[group]
    return x - w * x.sum() / w.sum()


class Levels(Term):
    name = "levels"
    switch = "alliance"  # the alliance shift of partner levels; the levels themselves are always on
    priors = (
        "intercept",
        "sigma_partner",
        "sigma_region",
        "sigma_family",
        "sigma_category",
        "sigma_partner_family",
        "alliance_effect",
    )
    stored = (*priors, "partner_effect", "family_effect", "partner_family_effect")
    optional: ClassVar[dict[str, tuple[str, ...]]] = {"alliance": ("alliance_effect",)}
    checked = ("intercept", "sigma_partner", "sigma_family", "sigma_partner_family")

    def presence(self, design, config) -> dict[str, bool]:
        return {"alliance": bool(design.alliances) and config.switched_on("alliance")}

    def build(self, ctx: BuildContext) -> None:
        import pymc as pm
        import pytensor.tensor as pt

        p, d, fx = ctx.priors, ctx.design, ctx.float_x
        n_p, n_f, _ = d.counts.shape
        intercept = p["intercept"].create()
        sigma_partner = p["sigma_partner"].create()
        sigma_region = p["sigma_region"].create()
        sigma_family = p["sigma_family"].create()
        sigma_category = p["sigma_category"].create()
        sigma_pf = p["sigma_partner_family"].create()
        partner_mean = pt.zeros(n_p, dtype=fx)
        if ctx.present["alliance"]:
            alliance_effect = p["alliance_effect"].create(dims="alliance")
            partner_mean = pt.dot(d.alliance.astype(fx), alliance_effect)
        partner = grouped_normal(
            "partner_effect",
            partner_mean,
            sigma_partner,
            sigma_region,
            d.region_index,
            "partner",
            fx,
            centred=ctx.config.centred["partner"],
        )
        family = grouped_normal(
            "family_effect",
            pt.zeros(n_f, dtype=fx),
            sigma_family,
            sigma_category,
            d.category_index,
            "family",
            fx,
            centred=ctx.config.centred["family"],
        )
        z_pf = pm.ZeroSumNormal("z_partner_family", sigma=1.0, dims=("partner", "family"), n_zerosum_axes=2)
        pf = pm.Deterministic("partner_family_effect", sigma_pf * z_pf, dims=("partner", "family"))
        ctx.params.update(
            {
                "intercept": intercept,
                "partner_effect": partner,
                "family_effect": family,
                "partner_family_effect": pf,
            }
        )

    def active(self, params: Mapping[str, Any], inputs: Inputs) -> bool:
        return True

    def rate(self, params: Mapping[str, Any], inputs: Inputs, at: Place) -> Iterator[Any]:
        yield at.scalar(params["intercept"])
        yield at.partner(params["partner_effect"])
        yield at.family(params["family_effect"])
        yield at.partner_family(params["partner_family_effect"])
