"""The fitting steps every model family shares: prepare the panel, build the PyMC model, sample, relabel, diagnose."""

from __future__ import annotations

import xarray as xr

from models.diagnostics import compute_diagnostics
from models.fit import Fit
from models.sampling import sample_posterior
from models.spec import SamplerConfig


def fit_family(model, panel, config: SamplerConfig) -> Fit:
    """Return the Fit of a family model (CountModel, ShareModel, AmountModel) to `panel`.

    The model supplies `spec`, `prepare(panel) -> (design, state, info)`, `data_arrays(design, state)`
    and `build(data, regions)`; a nutpie model compiled for the same spec and shapes is reused with new data.
    """
    design, state, info = model.prepare(panel)
    regions = list(panel.regions)
    data = model.data_arrays(design, state)
    key = f"{model.spec.spec_id}|R={len(regions)}|K={len(model.spec.covariates)}"
    pm_model = model.build(data, regions)
    keep = [v.name for v in pm_model.free_RVs] + [v.name for v in pm_model.deterministics]
    tree, timings = sample_posterior(lambda: pm_model, data, config, cache_key=key, keep=keep)
    tree = relabel(tree, regions, list(model.spec.covariates))
    diagnostics = compute_diagnostics(tree, **timings)
    info["sampler"] = config.to_dict()
    return Fit(spec=model.spec, posterior=tree, data_hash=panel.content_hash(), regions=regions,
               last_period=panel.periods[-1], state=state, info=info, diagnostics=diagnostics)


def relabel(tree: xr.DataTree, regions: list[str], covariates: list[str]) -> xr.DataTree:
    """Return the posterior and sample stats with region and covariate coordinates named by their ids."""
    post = tree["posterior"].to_dataset()
    if "region" in post.dims:
        post = post.assign_coords(region=regions)
    if "covariate" in post.dims:
        post = post.assign_coords(covariate=covariates)
    return xr.DataTree.from_dict({"posterior": post, "sample_stats": tree["sample_stats"].to_dataset()})
