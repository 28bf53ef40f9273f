"""Priors as data: defaults per family and form (each family's priors.py), overridden key by key,
made into PyMC variables.

A prior is ``{"dist": "Normal", "mu": 0, "sigma": 1}``: a PyMC distribution name and its
parameters, JSON-able so it can sit in a ModelSpec. A hierarchical (region-level) parameter is a
dict with a ``loc`` and a ``scale`` prior and is drawn non-centred by default:
``x[r] = loc + scale * z[r]``, ``z ~ Normal(0, 1)``; ``"centred": true`` draws
``x[r] ~ Normal(loc, scale)`` instead; ``"centred": "auto"`` mixes the two by how informative
each region's data are (see `hierarchical`).
"""

from __future__ import annotations

import copy
import math
from typing import Any

import pymc as pm

from models.core.errors import SpecError
from models.core.registry import family as registered  # filled when `models` is imported


def default_priors(family: str, form: str) -> dict[str, Any]:
    """Return a deep copy of the default priors of a family's form (registered with the family, see
    models.core.registry)."""
    defaults = registered(family).priors
    if form not in defaults:
        raise SpecError(f"no priors defined for {family + '/' + form!r}; known: "
                        f"{sorted(family + '/' + f for f in defaults)}")
    return copy.deepcopy(dict(defaults[form]))


def merge_priors(defaults: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Return defaults overlaid with overrides key by key; an unknown key raises SpecError naming its path."""
    merged = copy.deepcopy(defaults)
    for name, value in overrides.items():
        if name not in merged:
            raise SpecError(f"unknown prior 'priors.{name}'; known: {sorted(merged)}")
        if not isinstance(value, dict):
            raise SpecError(f"prior 'priors.{name}' must be a dict, got {type(value).__name__}")
        if "dist" in value or "dist" in merged[name]:
            merged[name] = copy.deepcopy(value)
            continue
        if "shrinkage" in merged[name]:
            merged[name] = merged_shrinkage(name, merged[name], value)
            continue
        for part, sub in value.items():
            if part == "centred":
                if sub not in (True, False, "auto"):
                    raise SpecError(f"'priors.{name}.centred' must be true, false or \"auto\", got {sub!r}")
                merged[name]["centred"] = sub
            elif part in ("loc", "scale", "uninformed"):
                merged[name][part] = copy.deepcopy(sub)
            elif part == "scale_regions":
                if sub is not None and (not isinstance(sub, int) or isinstance(sub, bool) or sub < 1):
                    raise SpecError(f"'priors.{name}.scale_regions' must be a positive integer or null, got {sub!r}")
                merged[name]["scale_regions"] = sub
            else:
                raise SpecError(f"unknown key 'priors.{name}.{part}'; use loc, scale, centred or scale_regions")
    return merged


def create(name: str, prior: dict[str, Any], **kwargs: Any) -> Any:
    """Return a PyMC random variable named `name` from a prior dict (inside a model context)."""
    params = dict(prior)
    dist_name = params.pop("dist", None)
    dist = getattr(pm, str(dist_name), None)
    if dist is None or not isinstance(dist, type):
        raise SpecError(f"prior for {name!r}: unknown distribution {dist_name!r}")
    try:
        return dist(name, **params, **kwargs)
    except TypeError as exc:
        raise SpecError(f"prior for {name!r}: {exc}") from exc


def hierarchical(name: str, prior: dict[str, Any], dims: str = "region", centred: Any = None, quiet: Any = None,
                 shift: Any = None) -> Any:
    """Return a region-level variable `name` with partial pooling.

    prior["centred"]: False (default) non-centred ``loc + scale * z``; True centred
    ``Normal(loc, scale)``; "auto" centred where `centred` (a 0/1 vector, e.g. pm.Data) is 1 and
    non-centred elsewhere, through one vector ``{name}_raw`` whose prior is Normal(loc, scale)
    on centred entries and Normal(0, 1) on the others: long, informative series sample best
    centred, short or quiet ones non-centred. With prior["uninformed"] = {"mu", "sigma"} the
    regions flagged by `quiet` (0/1) take that fixed Normal instead of the population: a series
    of zeros says only "below e^-6 a month", and pooling it with warring regions drags the
    population scale into a funnel. With prior["scale_regions"] = n, a model with R > n regions
    (the length of `dims`) draws the scale with its prior's sigma times sqrt(n / R)
    (`scale_prior_for`); up to n regions the prior is as written. With `shift` (a region vector, for
    example a slope times each region's mean covariate), centred entries sample ``value + shift`` instead of
    the value, Normal(loc + shift, scale): the same prior (a shift), but a region's raw parameter is then its
    level where its data sit, not where the covariate is 0, and does not trade off against the slope.
    """
    loc = create(f"{name}_loc", prior["loc"])
    n_regions = len(pm.modelcontext(None).coords.get(dims, ()) or ())
    scale = create(f"{name}_scale", scale_prior_for(prior, n_regions))
    mode = prior.get("centred", False)
    if mode == "auto" and centred is not None:
        fixed = prior.get("uninformed")
        q = quiet if (fixed is not None and quiet is not None) else 0.0
        c = centred * (1 - q)
        offset = 0.0 if shift is None else c * shift
        raw = pm.Normal(f"{name}_raw", mu=c * loc + offset, sigma=c * scale + (1 - c), dims=dims)
        pooled = loc + scale * raw
        if fixed is not None and quiet is not None:
            pooled = (1 - q) * pooled + q * (float(fixed["mu"]) + float(fixed["sigma"]) * raw)
        return pm.Deterministic(name, c * (raw - offset) + (1 - c) * pooled, dims=dims)
    if mode is True:
        if shift is not None:
            shifted = pm.Normal(f"{name}_shifted", mu=loc + shift, sigma=scale, dims=dims)
            return pm.Deterministic(name, shifted - shift, dims=dims)
        return pm.Normal(name, mu=loc, sigma=scale, dims=dims)
    z = pm.Normal(f"{name}_z", 0.0, 1.0, dims=dims)
    return pm.Deterministic(name, loc + scale * z, dims=dims)


def scale_prior_for(prior: dict[str, Any], n_regions: int) -> dict[str, Any]:
    """Return the scale prior of a hierarchical `prior` for a model of `n_regions` regions: as written,
    or, with ``prior["scale_regions"] = n`` and more than n regions, with its ``sigma`` times
    sqrt(n / n_regions) (a large panel adds dimensions along a weakly identified scale's ridge; see
    models/NOTES_count_model.md, session 3)."""
    scale = dict(prior["scale"])
    n = prior.get("scale_regions")
    if n is None or n_regions <= n:
        return scale
    if "sigma" not in scale:
        raise SpecError(f"scale_regions needs a scale prior with a sigma, got {scale}")
    scale["sigma"] = float(scale["sigma"]) * math.sqrt(n / n_regions)
    return scale


def region_or_pooled(name: str, prior: dict[str, Any], like: Any, dims: str = "region", **kwargs: Any) -> Any:
    """Return a region-level variable `name`: `hierarchical` for a loc/scale prior, or, when the prior
    is a plain distribution ``{"dist": ...}``, one population value ``{name}_loc`` shared by every
    region (broadcast to the shape of `like`): fewer hyper-parameters, faster mixing."""
    if "dist" in prior:
        return pm.Deterministic(name, create(f"{name}_loc", prior) + 0.0 * like, dims=dims)
    return hierarchical(name, prior, dims=dims, **kwargs)


SHRINKAGE_KEYS = ("global_scale", "slab_scale", "slab_df", "local_df")


def shrunk_positive(name: str, prior: dict[str, Any], active: Any, dims: str = "region") -> Any:
    """Return a positive region vector `name` under a regularised horseshoe (Piironen & Vehtari 2017), zero where
    `active` (a 0/1 region vector) is 0.

    ``name = tau * lambda_tilde_r * z_r`` with ``z_r ~ HalfNormal(1)``, local scales ``lambda_r ~ HalfCauchy(1)``
    (``local_df`` != 1: HalfStudentT(local_df), lighter tails that sample better),
    the global ``tau ~ HalfNormal(global_scale)`` and a slab ``c^2 ~ InvGamma(slab_df / 2, slab_df / 2 *
    slab_scale^2)`` that keeps a large effect near ``slab_scale`` instead of unbounded: most regions' values sit
    near 0 and the few the data support escape. `prior`: {"shrinkage": "horseshoe", "global_scale",
    "slab_scale", "slab_df", optional "local_df"}.
    """
    tau = pm.HalfNormal(f"{name}_tau", sigma=float(prior["global_scale"]))
    local_df = float(prior.get("local_df", 1.0))
    local = (pm.HalfCauchy(f"{name}_local", beta=1.0, dims=dims) if local_df == 1.0
             else pm.HalfStudentT(f"{name}_local", nu=local_df, sigma=1.0, dims=dims))
    half_df = float(prior["slab_df"]) / 2.0
    slab = pm.InverseGamma(f"{name}_slab", alpha=half_df, beta=half_df * float(prior["slab_scale"]) ** 2)
    local_tilde = pm.math.sqrt(slab * local**2 / (slab + tau**2 * local**2))
    z = pm.HalfNormal(f"{name}_z", sigma=1.0, dims=dims)
    return tau * local_tilde * z * active


def merged_shrinkage(name: str, base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Return a shrinkage prior overlaid with `override` key by key; raises SpecError on an unknown key or a value
    that is not a positive number."""
    merged = copy.deepcopy(base)
    for part, sub in override.items():
        if part not in SHRINKAGE_KEYS:
            raise SpecError(f"unknown key 'priors.{name}.{part}'; use {', '.join(SHRINKAGE_KEYS)}")
        if isinstance(sub, bool) or not isinstance(sub, int | float) or not sub > 0:
            raise SpecError(f"'priors.{name}.{part}' must be a positive number, got {sub!r}")
        merged[part] = float(sub)
    return merged
