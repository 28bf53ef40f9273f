"""Scale priors that tighten with the region count, and the neighbour coefficient's horseshoe (issue 27)."""

import numpy as np
import pymc as pm
import pytest

from indicators import simulate_count_panel
from models import CountModel
from models.core.errors import SpecError
from models.fitting.priors import default_priors, merge_priors, scale_prior_for, shrunk_positive

SHRINKING = {"share_level": {"scale_regions": 25}}


def _built(model: CountModel, n_regions: int, graph: str = "grid"):
    panel, _ = simulate_count_panel(n_regions, 30, seed=1, graph=graph)
    design, state, _ = model.prepare(panel)
    return model.build(model.data_arrays(design, state), list(panel.regions))


def _share_level_scale_sigma(model: CountModel, n_regions: int) -> float:
    return float(_built(model, n_regions)["share_level_scale"].owner.inputs[-1].eval())


def test_scale_prior_is_as_written_up_to_scale_regions_and_shrinks_above():
    prior = merge_priors(default_priors("count", "loglinear"), SHRINKING)["share_level"]
    assert scale_prior_for(prior, 25) == prior["scale"]
    assert scale_prior_for(prior, 100)["sigma"] == pytest.approx(0.25)
    assert scale_prior_for(prior, 100)["dist"] == "HalfNormal"
    assert prior["scale"]["sigma"] == 0.5  # not mutated


def test_scale_regions_needs_a_sigma():
    with pytest.raises(SpecError, match="sigma"):
        scale_prior_for({"scale": {"dist": "Gamma", "alpha": 2.0, "beta": 4.0}, "scale_regions": 5}, 10)


@pytest.mark.parametrize("n_regions, sigma", [(20, 0.5), (25, 0.5), (100, 0.25)])
def test_built_model_uses_the_region_count(n_regions, sigma):
    assert _share_level_scale_sigma(CountModel("attacks", priors=SHRINKING), n_regions) == pytest.approx(sigma)
    assert _share_level_scale_sigma(CountModel("attacks"), n_regions) == pytest.approx(0.5)  # default: as written


def test_bad_scale_regions_are_refused():
    base = default_priors("count", "loglinear")
    for bad in (0, 2.5, "25", True):
        with pytest.raises(SpecError, match="scale_regions"):
            merge_priors(base, {"share_level": {"scale_regions": bad}})


def test_the_horseshoe_puts_most_mass_near_zero_and_lets_a_few_escape():
    prior = default_priors("count", "loglinear")["spillover"]
    with pm.Model(coords={"region": [f"r{i}" for i in range(200)]}):
        value = shrunk_positive("phi", prior, active=np.r_[np.ones(199), 0.0])
        draws = pm.draw(value, draws=200, random_seed=3)
    assert np.all(draws[:, -1] == 0.0)  # a region without neighbours has no channel
    live = draws[:, :-1]
    assert np.all(live >= 0)
    assert np.median(live) < 0.05  # most regions: no channel to speak of
    assert 0.005 < np.mean(live > 0.2) < 0.2  # a few: a real one
    assert live.max() < 3.0  # the slab bounds the tail (an unregularised horseshoe reaches far beyond)


def test_horseshoe_overrides_are_merged_and_checked():
    base = default_priors("count", "loglinear")
    merged = merge_priors(base, {"spillover": {"global_scale": 0.05}})["spillover"]
    assert merged["global_scale"] == 0.05 and merged["slab_scale"] == base["spillover"]["slab_scale"]
    for bad in ({"global_scale": 0}, {"slab_scale": "0.3"}, {"slab_df": True}, {"loc": 1.0}):
        with pytest.raises(SpecError, match="priors.spillover"):
            merge_priors(base, {"spillover": bad})


@pytest.mark.parametrize("form", ["loglinear", "linear"])
def test_the_neighbour_coefficient_is_a_horseshoe_only_with_spillover(form):
    names = {spill: {v.name for v in _built(CountModel("attacks", form=form, spillover=spill), 4, "ring").free_RVs}
             for spill in (True, False)}
    assert {"phi_hs_tau", "phi_hs_local", "phi_hs_slab", "phi_hs_z"} <= names[True]
    assert not any(name.startswith("phi_hs") for name in names[False])
