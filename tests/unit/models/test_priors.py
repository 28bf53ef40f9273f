"""The neighbour-share scale prior that tightens with the region count above 25 regions."""

import pytest

from indicators import simulate_count_panel
from models import CountModel
from models.errors import SpecError
from models.priors import default_priors, merge_priors, scale_prior_for


def _share_ne_scale_sigma(model: CountModel, n_regions: int) -> float:
    panel, _ = simulate_count_panel(n_regions, 30, seed=1)
    design, state, _ = model.prepare(panel)
    pm_model = model.build(model.data_arrays(design, state), list(panel.regions))
    return float(pm_model["share_ne_scale"].owner.inputs[-1].eval())


def test_scale_prior_is_as_written_up_to_scale_regions_and_shrinks_above():
    prior = default_priors("count", "loglinear")["share_ne"]
    assert prior["scale_regions"] == 25
    assert scale_prior_for(prior, 25) == prior["scale"]
    assert scale_prior_for(prior, 100)["sigma"] == pytest.approx(0.25)
    assert scale_prior_for(prior, 100)["dist"] == "HalfNormal"
    assert prior["scale"]["sigma"] == 0.5  # not mutated


def test_scale_regions_needs_a_sigma():
    with pytest.raises(SpecError, match="sigma"):
        scale_prior_for({"scale": {"dist": "Gamma", "alpha": 2.0, "beta": 4.0}, "scale_regions": 5}, 10)


@pytest.mark.parametrize("n_regions, sigma", [(20, 0.5), (25, 0.5), (100, 0.25)])
def test_built_model_uses_the_region_count(n_regions, sigma):
    assert _share_ne_scale_sigma(CountModel("attacks"), n_regions) == pytest.approx(sigma)


def test_override_can_turn_the_shrinking_off_and_bad_values_are_refused():
    assert _share_ne_scale_sigma(
        CountModel("attacks", priors={"share_ne": {"scale_regions": None}}), 100) == pytest.approx(0.5)
    base = default_priors("count", "loglinear")
    for bad in (0, 2.5, "25", True):
        with pytest.raises(SpecError, match="scale_regions"):
            merge_priors(base, {"share_ne": {"scale_regions": bad}})


@pytest.mark.parametrize("centred", ["auto", True])
def test_a_shifted_hierarchical_parameter_has_the_unshifted_prior(centred):
    import numpy as np
    import pymc as pm
    from scipy import stats

    from models.priors import hierarchical

    prior = {"loc": {"dist": "Normal", "mu": 0.5, "sigma": 0.3}, "scale": {"dist": "HalfNormal", "sigma": 0.4},
             "centred": centred}
    flags = np.array([1.0, 1.0, 0.0, 1.0])

    def draws(shift: bool) -> np.ndarray:
        with pm.Model(coords={"region": list("abcd")}):
            slope = pm.Normal("slope", 2.0, 1.0)
            value = hierarchical("v", prior, centred=flags, shift=slope * np.array([3.0, -2.0, 5.0, 0.0]) if shift
                                 else None)
            return pm.draw(value, draws=4000, random_seed=1 if shift else 2)

    shifted, plain = draws(True), draws(False)
    for region in range(4):  # each region's prior is the same distribution with and without the shift
        assert stats.ks_2samp(shifted[:, region], plain[:, region]).pvalue > 1e-3
    assert abs(shifted[:, 0].mean() - 0.5) < 0.05 and abs(shifted[:, 0].std() - 0.45) < 0.05
