"""The contract every model family implements, and the steps they share (fit, panel guard, dims, state).

A family's model class subclasses `FamilyModel` (abstract: a class missing a required method cannot be
instantiated) and declares its name, kind, simulator and default priors; `models.register_family(ModelClass)`
puts it in the registry (models.core.registry), checking the whole entry.
"""

from __future__ import annotations

import inspect
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np
import pymc as pm
import xarray as xr

from indicators import Panel
from models.core.errors import GateWarning, SpecError
from models.core.registry import check_kind, check_priors, check_simulator, takes_condition
from models.core.spec import ModelSpec, SamplerConfig
from models.fitting.design import last_window
from models.fitting.diagnostics import compute_diagnostics
from models.fitting.fit import Fit
from models.fitting.gate import gate
from models.fitting.priors import default_priors, merge_priors
from models.fitting.sampling import sample_posterior

MODEL_FIELDS = ("indicator", "covariates", "spillover", "normalise")
"""The constructor arguments every family takes; the others are the family's options (`option_errors`)."""


class FamilyModel(ABC):
    """Abstract base of a model family's model class; `fit(panel)` returns a `Fit`.

    The contract a family implements
    --------------------------------
    - class attributes: ``family``, the registered name; ``kind``, the indicator kind it models;
      ``simulate = staticmethod(f)``, its joint simulator (``f(spec, params, state, *, idx, uniforms, cut,
      scenario, covariates) -> paths``, see models.core.registry.Family); ``default_priors``, ``{form: {parameter:
      prior}}``. Each is checked when the class is defined; `register_family(ModelClass)` checks them all
      (a keyword there may stand in for one the class lacks). ``region_data``: the names of the `data_arrays`
      entries with dim "region" (the others have dim "obs", except "x" with ("obs", "covariate") and those
      named in ``extra_dims``).
    - ``__init__(indicator, covariates=(), spillover=True, normalise="target", **options)``: validates the
      options (SpecError; `option_errors` reports them by name, as the service's model requests do) and calls
      ``self.use_spec(ModelSpec(...))``, which also merges the default priors of the spec's family and form
      (registered with the family) with ``spec.priors``.
    - ``prepare(panel) -> (design, state, info)``: the likelihood cells (``self.indicator_values`` guards
      the panel), the simulation state (``base_state`` gives weights, alive, has_ne, x_last) and the info
      dict (``base_info`` gives skipped, no-neighbour and stale regions, n_obs, covariate transforms).
    - ``data_arrays(design, state) -> {name: array}``: what changes between fits of one shape family.
    - ``build(data, regions) -> pm.Model``: starts with ``self.model_with_data(data, regions, observed=...)``.
    - ``value_ceiling``: the largest value a scenario may set (None: no bound; shares: 1).
    """

    family: ClassVar[str] = ""
    kind: ClassVar[str] = ""
    simulate: ClassVar[Callable[..., Any] | None] = None
    default_priors: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    region_data: tuple[str, ...] = ("has_ne",)
    extra_dims: dict[str, str] = {}
    value_ceiling: float | None = None

    spec: ModelSpec
    priors: dict[str, Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Check what the new class declares itself (family, kind, simulate, default_priors); raises SpecError
        saying what is wrong."""
        super().__init_subclass__(**kwargs)
        own = cls.__dict__
        owner = f"class {cls.__name__}"
        if not isinstance(own.get("family", ""), str):
            raise SpecError(f"{owner}: family must be the family's name, a string, got {own['family']!r}")
        if "kind" in own:
            check_kind(own["kind"], owner)
        if "default_priors" in own:
            check_priors(own["default_priors"], owner)
        if own.get("simulate") is not None:
            simulate = cls.simulate
            check_simulator(simulate, owner, conditions=takes_condition(simulate))

    @classmethod
    def option_errors(cls, options: Mapping[str, Any], indicator: str = "indicator") -> dict[str, str]:
        """Return {option: why it is refused} for `options`, the keyword arguments of this class beyond
        indicator, covariates, spillover and normalise ("" for a refused combination of valid ones); {} when
        the class accepts them. Each option is tried alone, then all together, by building the model."""
        parameters = inspect.signature(cls.__init__).parameters
        taken = [name for name, p in parameters.items()
                 if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and name not in ("self", *MODEL_FIELDS)]
        errors = {name: f"{name} is set beside the options, not among them" if name in MODEL_FIELDS else
                  f"{cls.family} models take no option {name!r}; they take {', '.join(taken) or 'none'}"
                  for name in options if name not in taken}
        for name, value in options.items():
            if name not in errors:
                errors.update(cls._refusal(name, indicator, {name: value}))
        return errors or cls._refusal("", indicator, options)

    @classmethod
    def _refusal(cls, label: str, indicator: str, options: Mapping[str, Any]) -> dict[str, str]:
        """Return {label: why} when building the model with `options` fails, else {}."""
        try:
            cls(indicator, **options)
        except (SpecError, TypeError, ValueError) as exc:
            return {label: str(exc)}
        return {}

    def use_spec(self, spec: ModelSpec) -> None:
        """Set `spec` and the priors it implies (family defaults for its form, overridden by spec.priors);
        returns nothing."""
        self.spec = spec
        self.priors = merge_priors(default_priors(spec.family, spec.form), spec.priors)

    # -- data -------------------------------------------------------------------------------
    def indicator_values(self, panel: Panel) -> np.ndarray:
        """Return the (region, period) values of the modelled indicator; raises SpecError when the panel
        lacks it or has fewer than 2 months."""
        name = self.spec.indicator
        if not panel.has(name):
            raise SpecError(f"the panel has no indicator {name!r} (it has {panel.indicators}); "
                            "send observations for it or choose another indicator")
        values = np.asarray(panel.values(name), dtype=float)
        if values.shape[1] < 2:
            raise SpecError(f"{name!r} needs at least 2 months of data, the panel has {values.shape[1]}")
        return values

    def data_dims(self, name: str) -> str | tuple[str, str]:
        """Return the dims of the data array `name` (see the class docstring)."""
        if name in self.region_data:
            return "region"
        if name == "x":
            return ("obs", "covariate")
        return self.extra_dims.get(name, "obs")

    def add_covariate_data(self, data: dict[str, np.ndarray], design: Any) -> None:
        """Add the lagged standardised covariates `design.x_lag` to `data` as "x" when the model has covariates;
        returns nothing."""
        if self.spec.covariates:
            data["x"] = design.x_lag

    def model_with_data(self, data: dict[str, np.ndarray], regions: list[str], *, observed: str,
                        **coords: Any) -> tuple[pm.Model, dict[str, Any]]:
        """Return (an empty PyMC model with coords region, obs (the cells of `data[observed]`), `coords`
        and covariate, its pm.Data variables by name)."""
        all_coords = {"region": regions, "obs": np.arange(data[observed].size), **coords,
                      "covariate": list(self.spec.covariates)}
        with pm.Model(coords=all_coords) as model:
            variables = {k: pm.Data(k, v, dims=self.data_dims(k)) for k, v in data.items()}
        return model, variables

    # -- fit --------------------------------------------------------------------------------
    def fit(self, panel: Panel, draws: int = 1000, tune: int = 1000, chains: int = 2, seed: int = 1,
            sampler: str = "nutpie", warn: bool = True, complete: bool = True,
            config: SamplerConfig | None = None) -> Fit:
        """Return a Fit of this model to `panel` (posterior, diagnostics, simulation state).

        A nutpie model compiled for the same spec and shapes is reused with new data. A fit that misses the
        serving gate (models.fitting.gate, default thresholds) warns with a GateWarning naming the worst parameter
        and what to do, unless warn=False (fit_servable and backtests judge their runs themselves).
        complete=False leaves out what `complete` adds (fit_servable adds it once, to the pooled chains).
        `config` (a SamplerConfig) gives every sampler setting at once; the keywords draws to sampler are ignored then.
        """
        if config is None:
            config = SamplerConfig(sampler=sampler, draws=draws, tune=tune, chains=chains, seed=seed)
        design, state, info = self.prepare(panel)
        regions = list(panel.regions)
        data = self.data_arrays(design, state)
        key = f"{self.spec.spec_id}|R={len(regions)}|K={len(self.spec.covariates)}"
        pm_model = self.build(data, regions)
        keep = [v.name for v in pm_model.free_RVs] + [v.name for v in pm_model.deterministics]
        tree, timings = sample_posterior(lambda: pm_model, data, config, cache_key=key, keep=keep)
        tree = relabel(tree, regions, list(self.spec.covariates))
        diagnostics = compute_diagnostics(tree, **timings)
        info["sampler"] = config.to_dict()
        if warn:
            warn_if_not_servable(diagnostics)
        fit = Fit(spec=self.spec, posterior=tree, data_hash=panel.content_hash(), regions=regions,
                  last_period=panel.periods[-1], state=state, info=info, diagnostics=diagnostics)
        return self.complete(fit, panel) if complete else fit

    def complete(self, fit: Fit, panel: Panel) -> Fit:
        """Return the fit with what its forecasts need beyond the posterior (a family may add to its state); as is
        by default."""
        return fit

    @abstractmethod
    def prepare(self, panel: Panel) -> tuple[Any, dict[str, np.ndarray], dict]:
        """Return (design, simulation state, info) of `panel`; each family implements it."""

    @abstractmethod
    def data_arrays(self, design: Any, state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Return the pm.Data arrays of the model; each family implements it."""

    @abstractmethod
    def build(self, data: dict[str, np.ndarray], regions: list[str]) -> pm.Model:
        """Return the PyMC model over `data`; each family implements it."""


def relabel(tree: xr.DataTree, regions: list[str], covariates: list[str]) -> xr.DataTree:
    """Return the posterior and sample stats with region and covariate coordinates named by their ids."""
    post = tree["posterior"].to_dataset()
    if "region" in post.dims:
        post = post.assign_coords(region=regions)
    if "covariate" in post.dims:
        post = post.assign_coords(covariate=covariates)
    return xr.DataTree.from_dict({"posterior": post, "sample_stats": tree["sample_stats"].to_dataset()})


def region_mean(values: np.ndarray, region_idx: np.ndarray, n_regions: int) -> np.ndarray:
    """Return per region the mean of `values` over its likelihood cells (`region_idx`), 0 for a region without any."""
    counts = np.bincount(region_idx, minlength=n_regions).astype(float)
    return np.divide(np.bincount(region_idx, weights=values, minlength=n_regions), counts,
                     out=np.zeros(n_regions), where=counts > 0)


def base_state(values: np.ndarray, weights: np.ndarray, covariates: list[np.ndarray],
               has_ne: np.ndarray) -> dict[str, np.ndarray]:
    """Return the simulation state every family starts from: neighbour `weights`, `alive` (regions with
    data), `has_ne` and `x_last` (each covariate's last observed value per region, 0 when none)."""
    n_regions = values.shape[0]
    x_last = np.zeros((n_regions, len(covariates)))
    for k, cov in enumerate(covariates):
        x_last[:, k] = np.nan_to_num(last_window(cov, 1)[:, 0], nan=0.0)
    return {"weights": weights, "alive": (~np.isnan(values)).any(axis=1), "has_ne": has_ne, "x_last": x_last}


def base_info(regions: list[str], values: np.ndarray, design: Any, transforms: list[dict],
              normalise: str) -> dict[str, Any]:
    """Return the info every family records: skipped_regions (no cell in the likelihood),
    no_neighbour_regions, stale_regions (months each region ends before the last period), n_obs,
    covariate_transforms and normalise. `design` has `fitted`, `has_ne` and `y`."""
    observed = ~np.isnan(values)
    last_obs = [int(np.flatnonzero(o)[-1]) if o.any() else -1 for o in observed]
    n_per = values.shape[1]
    return {
        "skipped_regions": [r for r, f in zip(regions, design.fitted) if not f],
        "no_neighbour_regions": [r for r, h in zip(regions, design.has_ne) if not h],
        "stale_regions": {r: n_per - 1 - k for r, k in zip(regions, last_obs) if 0 <= k < n_per - 1},
        "n_obs": int(design.y.size),
        "covariate_transforms": transforms,
        "normalise": normalise,
    }


def warn_if_not_servable(diagnostics: dict) -> None:
    """Warn (GateWarning) when `diagnostics` miss the default serving gate; returns nothing."""
    verdict = gate(diagnostics)
    if not verdict.passed:
        warnings.warn(f"this fit misses the serving gate: {'; '.join(verdict.reasons)}. Its forecasts may not be "
                      "trustworthy: fit with more draws and tune, or use models.fit_servable(model, panel), which "
                      "adds chains until the gate passes.", GateWarning, stacklevel=3)
